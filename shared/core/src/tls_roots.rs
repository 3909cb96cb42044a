//! Which file of CA certificates TLS trusts: the system's bundle, read once, not its hashed
//! directory.
//!
//! The SDK's HTTPS client (and the webhooks' client) load the system's trust store with
//! `rustls-native-certs`, at cold start. With neither `SSL_CERT_FILE` nor `SSL_CERT_DIR` set it
//! reads the bundle file *and* every file of the certificate directory: on Debian-style systems
//! `/etc/ssl/certs` holds one file per CA besides the bundle (about 290 entries, each stat'ed and
//! most opened and parsed), which cost 3.5 ms of a 7 ms init in `make bench`. The directory holds
//! the same CAs as the bundle (`update-ca-certificates` and `update-ca-trust` write both), so the
//! function points `SSL_CERT_FILE` at the bundle before any thread starts. An operator's own
//! `SSL_CERT_FILE` or `SSL_CERT_DIR` is left alone.

use std::path::Path;

/// The system bundles, in `openssl-probe`'s order: Debian/Ubuntu/Alpine (and Amazon Linux's
/// compatibility link), Amazon Linux/RHEL/Fedora, openSUSE, older RHEL, macOS/BSD.
const BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",
];

/// The bundle to trust, or `None` when the operator chose (either variable set) or the system
/// has no bundle (then the usual probe runs).
fn choose(var: impl Fn(&str) -> bool, exists: impl Fn(&Path) -> bool) -> Option<&'static str> {
    if var("SSL_CERT_FILE") || var("SSL_CERT_DIR") {
        return None;
    }
    BUNDLES.iter().copied().find(|b| exists(Path::new(b)))
}

/// Sets `SSL_CERT_FILE` to the system bundle (see the module's doc). Call it first in `main`,
/// before the runtime starts any thread: it writes the process environment.
pub fn prefer_system_bundle() {
    let chosen = choose(|v| std::env::var_os(v).is_some(), |p| p.is_file());
    if let Some(bundle) = chosen {
        // SAFETY: called at the top of `main`, before the tokio runtime (or anything else)
        // starts a thread, so nothing reads the environment concurrently.
        unsafe { std::env::set_var("SSL_CERT_FILE", bundle) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn the_first_bundle_present_is_chosen_when_the_operator_set_nothing() {
        let debian = |p: &Path| p == Path::new("/etc/ssl/certs/ca-certificates.crt");
        assert_eq!(
            choose(none, debian),
            Some("/etc/ssl/certs/ca-certificates.crt")
        );
        let amazon_linux = |p: &Path| p == Path::new("/etc/pki/tls/certs/ca-bundle.crt");
        assert_eq!(
            choose(none, amazon_linux),
            Some("/etc/pki/tls/certs/ca-bundle.crt")
        );
    }

    #[test]
    fn an_operators_choice_is_left_alone() {
        let all = |_: &Path| true;
        assert_eq!(choose(|v| v == "SSL_CERT_FILE", all), None);
        assert_eq!(choose(|v| v == "SSL_CERT_DIR", all), None);
    }

    #[test]
    fn without_a_bundle_the_usual_probe_runs() {
        assert_eq!(choose(none, |_| false), None);
    }
}
