//! Webhook URLs that name private, loopback, link-local or metadata addresses in every
//! spelling a URL parser accepts, submitted to `POST /v1/jobs` (production policy: https only,
//! no loopback): each is a 400 at submission, before anything is stored or queued.

use serde_json::json;

use crate::case::{Case, case};
use crate::event::post;
use crate::world::Target;

use super::converse;

/// (name, URL). All https, so the address (or the credentials) is the only reason to refuse.
const REFUSED: [(&str, &str); 52] = [
    (
        "metadata_dotted",
        "https://169.254.169.254/latest/meta-data/",
    ),
    ("metadata_decimal", "https://2852039166/"),
    ("metadata_hex", "https://0xa9fea9fe/"),
    ("metadata_hex_upper", "https://0XA9FEA9FE/"),
    ("metadata_octal", "https://0251.0376.0251.0376/"),
    ("metadata_octal_whole", "https://025177524776/"),
    ("metadata_hex_dotted", "https://0xa9.0xfe.0xa9.0xfe/"),
    ("metadata_mixed_radix", "https://0xa9.254.0251.0xfe/"),
    ("metadata_short_three", "https://169.254.43518/"),
    ("metadata_short_two", "https://169.16689662/"),
    ("metadata_trailing_dot", "https://169.254.169.254./"),
    ("metadata_leading_zeros", "https://169.254.169.0254/"),
    ("metadata_fullwidth", "https://１６９.２５４.１６９.２５４/"),
    ("metadata_ideographic_dots", "https://169。254。169。254/"),
    ("metadata_port_443", "https://169.254.169.254:443/"),
    ("metadata_percent_encoded", "https://%31%36%39.254.169.254/"),
    ("ecs_task_metadata", "https://169.254.170.2/v2/credentials"),
    ("loopback", "https://127.0.0.1/"),
    ("loopback_short", "https://127.1/"),
    ("loopback_zero_short", "https://0/"),
    ("loopback_hex", "https://0x7f000001/"),
    ("loopback_octal", "https://0177.0.0.1/"),
    ("loopback_decimal", "https://2130706433/"),
    ("loopback_other", "https://127.255.255.254/"),
    ("localhost", "https://localhost/"),
    ("localhost_trailing_dot", "https://localhost./"),
    ("localhost_upper", "https://LOCALHOST/"),
    ("localhost_subdomain", "https://api.localhost/"),
    ("unspecified", "https://0.0.0.0/"),
    ("private_10", "https://10.0.0.1/"),
    ("private_172", "https://172.16.0.1/"),
    ("private_192", "https://192.168.0.1/"),
    ("cgnat_alibaba_metadata", "https://100.100.100.200/"),
    ("ietf_oracle_metadata", "https://192.0.0.192/"),
    ("broadcast", "https://255.255.255.255/"),
    ("ipv6_loopback", "https://[::1]/"),
    ("ipv6_loopback_long", "https://[0:0:0:0:0:0:0:1]/"),
    ("ipv6_unspecified", "https://[::]/"),
    ("ipv4_mapped_metadata", "https://[::ffff:169.254.169.254]/"),
    ("ipv4_mapped_metadata_hex", "https://[::ffff:a9fe:a9fe]/"),
    ("ipv4_compatible_loopback", "https://[::127.0.0.1]/"),
    ("ipv4_translated_metadata", "https://[::ffff:0:a9fe:a9fe]/"),
    ("nat64_metadata", "https://[64:ff9b::a9fe:a9fe]/"),
    (
        "nat64_metadata_dotted",
        "https://[64:ff9b::169.254.169.254]/",
    ),
    ("nat64_local_use", "https://[64:ff9b:1::a9fe:a9fe]/"),
    ("nat64_local_use_48", "https://[64:ff9b:1:a9fe:a9fe::]/"),
    ("six_to_four_metadata", "https://[2002:a9fe:a9fe::]/"),
    ("ipv6_link_local", "https://[fe80::1]/"),
    ("aws_ipv6_metadata", "https://[fd00:ec2::254]/"),
    ("userinfo_trick", "https://good.example@169.254.169.254/"),
    (
        "userinfo_password",
        "https://good.example:x@169.254.169.254/",
    ),
    ("backslash_trick", "https://169.254.169.254\\@good.example/"),
];

/// Refused for other reasons than the address, and must stay refused.
const REFUSED_OTHERWISE: [(&str, &str); 8] = [
    ("http_scheme", "http://93.184.216.34/"),
    ("file_scheme", "file:///etc/passwd"),
    ("gopher_scheme", "gopher://169.254.169.254:70/"),
    ("port_22", "https://93.184.216.34:22/"),
    ("zone_id", "https://[fe80::1%25eth0]/"),
    (
        "encoded_at_in_host",
        "https://good.example%40169.254.169.254/",
    ),
    ("unresolvable_name", "https://metadata.google.internal/"),
    ("empty_host", "https:///path"),
];

/// Every row.
pub fn cases() -> Vec<Case> {
    let job =
        |url: &str| post("/v1/jobs").json(json!({"request": converse("hi"), "webhook_url": url}));
    let mut out: Vec<Case> = REFUSED
        .iter()
        .chain(REFUSED_OTHERWISE.iter())
        .map(|(name, url)| case(name, Target::Invoke, job(url), 400).kind("invalid_request"))
        .collect();
    // The control: a public address is accepted (the job is queued).
    out.push(case(
        "public_address_accepted",
        Target::Invoke,
        job("https://93.184.216.34/hook"),
        202,
    ));
    out
}
