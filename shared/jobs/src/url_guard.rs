//! Webhook URL safety: the gateway POSTs to URLs its callers choose, from inside the account's
//! network, so a URL must not reach private, loopback, link-local or metadata addresses (SSRF).
//!
//! The check runs at submission (so a bad URL is a 400 at once) and again at delivery, on the
//! addresses DNS gives then (a name may be re-pointed after submission: DNS rebinding). Delivery
//! then connects to the exact address that passed, never resolving the name a second time.
//! IP spellings such as `http://2852039166/`, `http://0x7f000001/` or `http://0177.0.0.1/` are
//! normalised by the WHATWG URL parser before the check, so they cannot slip past it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::Url;

use inference_core::error::GatewayError;

/// Longest accepted webhook URL.
pub const MAX_URL_LEN: usize = 2048;

/// Ports a webhook URL may name (none named: 443).
const WEB_PORTS: [u16; 2] = [443, 8443];

/// How long a DNS lookup of a webhook host may take.
const DNS_TIMEOUT: Duration = Duration::from_secs(3);

/// What the deployment allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// `http://` as well as `https://` (`GATEWAY_ALLOW_HTTP_WEBHOOKS`, local development only).
    pub allow_http: bool,
    /// Loopback targets (127.0.0.0/8, ::1, `localhost`): the same local development flag, so a
    /// test can run its receiver on 127.0.0.1. Never private or link-local ranges.
    pub allow_loopback: bool,
}

impl UrlPolicy {
    /// The policy of the local development flag (`GATEWAY_ALLOW_HTTP_WEBHOOKS=true`): plain HTTP
    /// and loopback receivers; everything else as in production.
    pub fn local_development(enabled: bool) -> UrlPolicy {
        UrlPolicy {
            allow_http: enabled,
            allow_loopback: enabled,
        }
    }
}

/// Why an address is not a webhook target (`None` from [`refusal`]: a public address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Loopback (allowed only by the local development flag).
    Loopback,
    /// Any other non-public range, named.
    Forbidden(&'static str),
}

/// A webhook URL that passed the syntactic checks (scheme, no credentials, a host, IP literals
/// public or allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: Url,
}

fn bad(msg: impl Into<String>) -> GatewayError {
    GatewayError::invalid_request(format!("webhook_url: {}", msg.into()))
}

impl WebhookUrl {
    /// Parses and checks a URL without DNS (IP literals are checked here; names by
    /// [`WebhookUrl::resolve`]).
    pub fn parse(s: &str, policy: UrlPolicy) -> Result<WebhookUrl, GatewayError> {
        if s.len() > MAX_URL_LEN {
            return Err(bad(format!("longer than {MAX_URL_LEN} characters")));
        }
        let url = Url::parse(s).map_err(|e| bad(format!("not a valid URL ({e})")))?;
        match url.scheme() {
            "https" => {}
            "http" if policy.allow_http => {}
            "http" => return Err(bad("must be https")),
            other => return Err(bad(format!("scheme {other:?} is not allowed; use https"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not contain credentials"));
        }
        // Receivers listen on the web ports; any other port would let a caller probe or reach
        // services that happen to share a public address (the local flag lifts this).
        if let Some(port) = url.port()
            && !policy.allow_loopback
            && !WEB_PORTS.contains(&port)
        {
            return Err(bad(format!(
                "port {port} is not allowed; use 443 (or 8443)"
            )));
        }
        match url.host() {
            None => return Err(bad("has no host")),
            Some(url::Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), policy)?,
            Some(url::Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), policy)?,
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if (d == "localhost" || d.ends_with(".localhost")) && !policy.allow_loopback {
                    return Err(bad("loopback hosts are not allowed"));
                }
            }
        }
        Ok(WebhookUrl { url })
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The host name when the host is a name (not an IP literal).
    pub fn domain(&self) -> Option<&str> {
        self.url.domain()
    }

    /// Resolves the host now and checks every address it gives (all must pass: a name that
    /// answers with one public and one private address is refused). Returns the address to
    /// connect to.
    pub async fn resolve(&self, policy: UrlPolicy) -> Result<SocketAddr, GatewayError> {
        let port = self.url.port_or_known_default().unwrap_or(443);
        let host = match self.url.host() {
            Some(url::Host::Ipv4(ip)) => return Ok(SocketAddr::new(IpAddr::V4(ip), port)),
            Some(url::Host::Ipv6(ip)) => return Ok(SocketAddr::new(IpAddr::V6(ip), port)),
            Some(url::Host::Domain(d)) => d.to_owned(),
            None => return Err(bad("has no host")),
        };
        let addrs: Vec<SocketAddr> =
            tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
                .await
                .map_err(|_| bad(format!("resolving {host} timed out")))?
                .map_err(|e| bad(format!("cannot resolve {host}: {e}")))?
                .collect();
        let first = *addrs
            .first()
            .ok_or_else(|| bad(format!("{host} has no addresses")))?;
        for a in &addrs {
            check_ip(a.ip(), policy).map_err(|e| {
                bad(format!(
                    "{host} resolves to a refused address ({})",
                    e.message()
                ))
            })?;
        }
        Ok(first)
    }
}

fn check_ip(ip: IpAddr, policy: UrlPolicy) -> Result<(), GatewayError> {
    match refusal(ip) {
        None => Ok(()),
        Some(Refusal::Loopback) if policy.allow_loopback => Ok(()),
        Some(Refusal::Loopback) => Err(bad(format!("{ip} is a loopback address"))),
        Some(Refusal::Forbidden(what)) => Err(bad(format!("{ip} is {what}"))),
    }
}

/// Classifies an address: `None` for a public unicast address, otherwise why not.
pub fn refusal(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn refusal_v4(ip: Ipv4Addr) -> Option<Refusal> {
    use Refusal::Forbidden as F;
    let ranges: [([u8; 4], u32, Refusal); 16] = [
        ([127, 0, 0, 0], 8, Refusal::Loopback),
        (
            [0, 0, 0, 0],
            8,
            F("an unspecified (\"this network\") address"),
        ),
        ([10, 0, 0, 0], 8, F("a private address")),
        ([172, 16, 0, 0], 12, F("a private address")),
        ([192, 168, 0, 0], 16, F("a private address")),
        (
            [169, 254, 0, 0],
            16,
            F("a link-local or instance metadata address"),
        ),
        (
            [100, 64, 0, 0],
            10,
            F("a carrier-grade NAT (shared) address"),
        ),
        (
            [192, 0, 0, 0],
            24,
            F("an IETF protocol (and metadata) address"),
        ),
        ([192, 0, 2, 0], 24, F("a documentation address")),
        ([198, 51, 100, 0], 24, F("a documentation address")),
        ([203, 0, 113, 0], 24, F("a documentation address")),
        ([198, 18, 0, 0], 15, F("a benchmarking address")),
        ([192, 88, 99, 0], 24, F("a 6to4 relay address")),
        ([224, 0, 0, 0], 4, F("a multicast address")),
        ([240, 0, 0, 0], 4, F("a reserved or broadcast address")),
        ([255, 255, 255, 255], 32, F("the broadcast address")),
    ];
    ranges
        .into_iter()
        .find(|(net, bits, _)| in_v4(ip, *net, *bits))
        .map(|(_, _, r)| r)
}

fn refusal_v6(ip: Ipv6Addr) -> Option<Refusal> {
    use Refusal::Forbidden as F;
    let s = ip.segments();
    if ip == Ipv6Addr::LOCALHOST {
        return Some(Refusal::Loopback);
    }
    if ip == Ipv6Addr::UNSPECIFIED {
        return Some(F("the unspecified address"));
    }
    // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d):
    // judged by the IPv4 address inside.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return refusal_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return refusal_v4(embedded(s[6], s[7]));
    }
    // The local-use NAT64 prefix (RFC 8215): a network's own translator, to any IPv4 address
    // behind it, wherever the prefix length puts that address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return Some(F("a local-use NAT64 address"));
    }
    // 6to4 (2002:aabb:ccdd::/48) carries an IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return refusal_v4(embedded(s[1], s[2])).or(Some(F("a 6to4 address")));
    }
    let ranges: [(u16, u16, &'static str); 7] = [
        (0xfe00, 0xfc00, "a unique local (private) address"), // fc00::/7
        (0xffc0, 0xfe80, "a link-local address"),             // fe80::/10
        (0xffc0, 0xfec0, "a site-local address"),             // fec0::/10
        (0xff00, 0xff00, "a multicast address"),              // ff00::/8
        (0xffff, 0x0100, "a discard address"),                // 100::/64 (approx. 100::/16)
        (0xffff, 0x2001, ""),                                 // 2001::/16, refined below
        (0xffff, 0x0000, "a reserved address"),               // ::/16 (rest)
    ];
    for (mask, net, what) in ranges {
        if s[0] & mask == net {
            if net == 0x2001 {
                // 2001:db8::/32 documentation; 2001::/32 Teredo; 2001:10::/28 ORCHID.
                return match s[1] {
                    0x0db8 => Some(F("a documentation address")),
                    0x0000 => Some(F("a Teredo address")),
                    0x0010..=0x001f => Some(F("an ORCHID address")),
                    _ => None,
                };
            }
            return Some(F(what));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROD: UrlPolicy = UrlPolicy {
        allow_http: false,
        allow_loopback: false,
    };
    const LOCAL: UrlPolicy = UrlPolicy {
        allow_http: true,
        allow_loopback: true,
    };

    fn refused(url: &str, policy: UrlPolicy) -> bool {
        WebhookUrl::parse(url, policy).is_err()
    }

    #[test]
    fn public_https_urls_pass() {
        for u in [
            "https://example.com/hook",
            "https://93.184.216.34/hook",
            "https://[2606:2800:220:1:248:1893:25c8:1946]/x",
            "https://hooks.example.com:8443/a?b=c",
        ] {
            assert!(!refused(u, PROD), "{u}");
        }
    }

    #[test]
    fn scheme_credentials_and_shape() {
        assert!(refused("http://example.com/", PROD));
        assert!(!refused("http://example.com/", LOCAL));
        for u in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
            "https://user:pw@example.com/",
            "https://user@example.com/",
            "not a url",
            "https://",
            "/relative",
        ] {
            assert!(refused(u, LOCAL), "{u}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(refused(&long, PROD));
        // Other ports than the web ones: refused in production, allowed by the local flag.
        for u in [
            "https://example.com:22/",
            "https://example.com:6379/",
            "https://93.184.216.34:8080/",
            "https://example.com:0/",
        ] {
            assert!(refused(u, PROD), "{u}");
            assert!(!refused(u, LOCAL), "{u}");
        }
        assert!(!refused("https://example.com:443/", PROD));
    }

    #[test]
    fn private_link_local_metadata_and_cgnat_are_refused_even_locally() {
        for u in [
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://100.100.100.200/", // Alibaba metadata (CGNAT range)
            "http://192.0.0.192/",     // Oracle metadata
            "http://0.0.0.0/",
            "http://0/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[fd00:ec2::254]/", // AWS IMDS over IPv6
            "http://[fc00::1]/",
            "http://[fe80::1]/",
            "http://[::]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[64:ff9b:1::a9fe:a9fe]/",
            "http://[64:ff9b:1:a9fe:a9:fe00::]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://[2001:db8::1]/",
            "http://[ff02::1]/",
        ] {
            assert!(refused(u, LOCAL), "{u}");
            assert!(refused(&u.replacen("http", "https", 1), PROD), "{u}");
        }
    }

    #[test]
    fn other_spellings_of_private_addresses_are_normalised_and_refused() {
        for u in [
            "http://2852039166/",          // 169.254.169.254 in decimal
            "http://0xa9fea9fe/",          // ... in hex
            "http://0251.0376.0251.0376/", // ... in octal
            "http://169.254.43518/",       // ... with a 16-bit last part
            "http://0x0a.0.0.1/",          // 10.0.0.1
            "http://012.0.0.1/",           // 10.0.0.1 in octal
            "http://167772161/",           // 10.0.0.1 in decimal
        ] {
            assert!(refused(u, LOCAL), "{u}");
        }
    }

    #[test]
    fn loopback_only_with_the_local_flag() {
        for u in [
            "http://127.0.0.1:8080/hook",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost/",
            "http://api.localhost/",
        ] {
            assert!(!refused(u, LOCAL), "{u} (local)");
            assert!(refused(u, PROD), "{u} (prod)");
            assert!(
                refused(&u.replacen("http", "https", 1), PROD),
                "{u} (prod, https)"
            );
        }
    }

    #[test]
    fn classification() {
        assert_eq!(refusal("8.8.8.8".parse().unwrap()), None);
        assert_eq!(refusal("2a00:1450::1".parse().unwrap()), None);
        assert_eq!(
            refusal("127.9.9.9".parse().unwrap()),
            Some(Refusal::Loopback)
        );
        assert_eq!(refusal("::1".parse().unwrap()), Some(Refusal::Loopback));
        assert!(refusal("172.15.0.1".parse().unwrap()).is_none());
        assert!(refusal("172.32.0.1".parse().unwrap()).is_none());
        assert!(refusal("100.128.0.1".parse().unwrap()).is_none());
    }

    #[tokio::test]
    async fn resolution_checks_every_address() {
        let u = WebhookUrl::parse("http://localhost:9/x", LOCAL).unwrap();
        let a = u.resolve(LOCAL).await.unwrap();
        assert!(a.ip().is_loopback());
        assert_eq!(a.port(), 9);
        // The same name under the production policy is refused at parse time; an IP literal
        // resolves to itself without DNS.
        let ip = WebhookUrl::parse("https://93.184.216.34/", PROD).unwrap();
        assert_eq!(ip.resolve(PROD).await.unwrap().port(), 443);
    }
}
