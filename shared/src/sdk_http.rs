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
use aws_sdk_bedrockruntime::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};

/// The SDK's HTTPS client with rustls and `ring` (http and https endpoints). Connections are
/// made at the first request; the CA roots are loaded once per process.
pub fn https_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The standard configuration chain (region, credentials, `AWS_ENDPOINT_URL_*`) with
/// [`https_client`]: what a function loads once per cold start.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}
