//! The webhook URL guard (`gateway_jobs::url_guard`), against an independent classification
//! written with `std::net`'s own predicates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use gateway_jobs::url_guard::{UrlPolicy, WebhookUrl, refusal};

const PROD: UrlPolicy = UrlPolicy {
    allow_http: false,
    allow_loopback: false,
};
const LOCAL: UrlPolicy = UrlPolicy {
    allow_http: true,
    allow_loopback: true,
};

/// Where `std::net` says an IPv4 address must not be a webhook target: `Some(true)` loopback,
/// `Some(false)` another non-public range, `None` public as far as std can tell.
pub fn std_v4(ip: Ipv4Addr) -> Option<bool> {
    if ip.is_loopback() {
        return Some(true);
    }
    let [a, b, ..] = ip.octets();
    let forbidden = ip.is_private()
        || ip.is_link_local() // includes 169.254.169.254, the instance metadata service
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared (CGNAT), Ipv4Addr::is_shared is unstable
        || a >= 240; // reserved, Ipv4Addr::is_reserved is unstable
    forbidden.then_some(false)
}

/// The same for IPv6: std's predicates, and the IPv4 address inside mapped, compatible, NAT64
/// and 6to4 addresses.
pub fn std_v6(ip: Ipv6Addr) -> Option<bool> {
    if ip.is_loopback() {
        return Some(true);
    }
    let s = ip.segments();
    if ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local() // includes fd00:ec2::254, the metadata service over IPv6
        || ip.is_unicast_link_local()
        || (s[0] == 0x2001 && s[1] == 0x0db8)
    {
        return Some(false);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = ip.to_ipv4() {
        // ::ffff:a.b.c.d and ::a.b.c.d.
        return std_v4(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return std_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return std_v4(embedded(s[1], s[2]));
    }
    None
}

/// Either family.
pub fn std_refusal(ip: IpAddr) -> Option<bool> {
    match ip {
        IpAddr::V4(v4) => std_v4(v4),
        IpAddr::V6(v6) => std_v6(v6),
    }
}

/// An IPv4 address as the C resolver's `inet_aton` reads text (1 to 4 parts, each decimal,
/// `0x` hex or `0` octal; the last part fills the remaining bytes). A host name that reads as
/// an address here would reach that address through `getaddrinfo`, whatever the URL parser
/// made of it.
pub fn inet_aton(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or(p.strip_prefix("0X")) {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        // Digits only: `from_str_radix` alone would also take a sign (`+9`), which
        // `inet_aton` does not.
        if (digits.is_empty() && radix != 16) || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let n = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        nums.push(n);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|&n| n > 255) || *last >= 1u64 << (8 * (4 - head.len())) {
        return None;
    }
    let mut v: u64 = 0;
    for (i, &n) in head.iter().enumerate() {
        v |= n << (8 * (3 - i));
    }
    Some(Ipv4Addr::from((v | last) as u32))
}

/// What the URL's host is, read independently of the guard: an IP literal (std's parser), a
/// name the C resolver reads as an address, or `localhost`.
fn host_refusal(url: &url::Url) -> Option<bool> {
    let host = url.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return std_refusal(ip);
    }
    // One trailing dot is a fully qualified name; `3..` is no address to the resolver.
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return Some(true);
    }
    inet_aton(&name).and_then(|ip| std_refusal(IpAddr::V4(ip)))
}

fn check_policy(text: &str, policy: UrlPolicy) {
    let Ok(url) = WebhookUrl::parse(text, policy) else {
        return;
    };
    match host_refusal(url.url()) {
        Some(true) => assert!(
            policy.allow_loopback,
            "{text:?} is accepted in production but its host is loopback"
        ),
        Some(false) => panic!("{text:?} is accepted but its host is not public ({url:?})"),
        None => {}
    }
    let scheme = url.url().scheme();
    assert!(
        scheme == "https" || (policy.allow_http && scheme == "http"),
        "{text:?}: scheme {scheme}"
    );
    assert!(url.url().username().is_empty() && url.url().password().is_none());
}

/// Any text as a webhook URL under both policies, and the input's first bytes as an address:
/// what std calls non-public is never accepted (loopback only under the local flag).
pub fn check(data: &[u8]) {
    if data.len() >= 16 {
        let v6: [u8; 16] = data[..16].try_into().expect("16 bytes");
        let v4: [u8; 4] = data[..4].try_into().expect("4 bytes");
        for ip in [IpAddr::from(v6), IpAddr::from(v4)] {
            if let Some(loopback) = std_refusal(ip) {
                let r = refusal(ip);
                assert!(
                    r.is_some(),
                    "{ip} is not public (std) but the guard allows it"
                );
                if !loopback {
                    assert_ne!(r, Some(gateway_jobs::url_guard::Refusal::Loopback), "{ip}");
                }
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    check_policy(&text, PROD);
    check_policy(&text, LOCAL);
}
