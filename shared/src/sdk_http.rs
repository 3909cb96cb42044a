//! The HTTPS client every AWS SDK client of the gateway uses.
//!
//! The SDK's `default-https-client` feature is rustls with the aws-lc-rs provider, a C crypto
//! library that was the largest single crate of each function binary. The gateway turns that
//! feature off everywhere and hands each SDK configuration this client: the same hyper 1 +
//! rustls connector, trust store (the system's roots, `tls_roots` in `inference-core`) and proxy
//! handling (`HTTP(S)_PROXY`/`NO_PROXY`, as the default client does for the latest behavior
//! version), with the `ring` provider. A configuration built without it cannot send a request
//! (the SDK fails every call with "a http_client is required").

use aws_config::SdkConfig;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_sdk_bedrockruntime::config::SharedAsyncSleep;
use aws_sdk_bedrockruntime::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::HttpConnectorSettings;

/// The SDK's HTTPS client with rustls and `ring` (http and https endpoints). Connections are
/// made at the first request; the CA roots are loaded once per process.
pub fn https_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        connector(settings.cloned(), components.and_then(|c| c.sleep_impl()))
    })
}

/// One connector of [`https_client`]'s kind (same TLS, roots and proxy handling) for the
/// gateway's own SigV4-signed calls, which need no SDK client crate around them (the results
/// bucket's objects: `gateway_jobs::s3`). Timeouts use tokio's timer.
pub fn https_connector(settings: HttpConnectorSettings) -> Connector {
    connector(Some(settings), None)
}

fn connector(
    settings: Option<HttpConnectorSettings>,
    sleep: Option<SharedAsyncSleep>,
) -> Connector {
    let mut connector =
        ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
    connector.set_connector_settings(settings);
    connector.set_sleep_impl(sleep);
    connector.set_proxy_config(Some(ProxyConfig::from_env()));
    connector.build()
}

/// A rustls client configuration on the same stack as [`https_client`] (`ring`, the system's
/// roots), for the gateway's own HTTPS clients (webhooks, `gateway-admin console`); `None` when
/// the provider offers no safe protocol version.
pub fn rustls_config() -> Option<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Some(config)
}

/// The standard configuration chain (region, credentials, `AWS_ENDPOINT_URL_*`) with
/// [`https_client`]: what a function loads once per cold start.
///
/// Where the environment holds an access key (always on Lambda), the credentials are read from
/// it directly. The default chain would pick the same credentials (the environment comes first
/// in it), but building it builds every later provider too, among them the web-identity
/// provider's STS client: about 0.25 ms of CPU at each cold start for a client never called.
/// The region likewise: where the environment names one (`AWS_REGION` is always set on
/// Lambda), it is read from there, the default chain's first answer, without building the
/// chain's profile and instance-metadata providers (an IMDS client) after it.
pub async fn load_sdk_config() -> SdkConfig {
    let env = |k: &str| std::env::var(k).ok();
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client());
    if env_has_access_key(env) {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if env_has_region(env) {
        loader = loader.region(EnvironmentVariableRegionProvider::new());
    }
    loader.load().await
}

/// Whether the environment region provider would answer (`AWS_REGION`, else
/// `AWS_DEFAULT_REGION`, not empty).
fn env_has_region(var: impl Fn(&str) -> Option<String>) -> bool {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .any(|k| var(k).is_some_and(|v| !v.trim().is_empty()))
}

/// Whether the environment provider would answer: both key variables set and not empty.
fn env_has_access_key(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |k| var(k).is_some_and(|v: String| !v.trim().is_empty());
    set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_environment_answers_only_with_both_key_variables() {
        const BOTH: &[(&str, &str)] = &[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ];
        assert!(env_has_access_key(env(BOTH)));
        assert!(!env_has_access_key(env(&[("AWS_ACCESS_KEY_ID", "AKID")])));
        const BLANK: &[(&str, &str)] = &[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", " "),
        ];
        assert!(!env_has_access_key(env(BLANK)));
        // Web identity, ECS, profiles, IMDS: the default chain as before.
        assert!(!env_has_access_key(env(&[(
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "/run/t"
        )])));
    }

    #[test]
    fn the_environment_names_the_region_with_either_variable() {
        assert!(env_has_region(env(&[("AWS_REGION", "eu-west-1")])));
        assert!(env_has_region(env(&[("AWS_DEFAULT_REGION", "eu-west-1")])));
        assert!(!env_has_region(env(&[("AWS_REGION", " ")])));
        // No region variable (a profile or instance metadata): the default chain as before.
        assert!(!env_has_region(env(&[("AWS_ACCESS_KEY_ID", "AKID")])));
    }
}
