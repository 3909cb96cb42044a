//! The S3 client bedrock-local writes async-invoke output and reads and writes batch jobs
//! with: the default configuration (so `AWS_ENDPOINT_URL_S3` points it at moto), path-style
//! addressing, and dummy credentials when none are set (never the instance-metadata service).

/// Splits `s3://bucket/prefix` into the bucket and the prefix without its outer slashes.
pub fn parse_s3_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let ok = bucket.len() >= 3
        && bucket.len() <= 63
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    ok.then(|| (bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// The SDK's HTTPS client with rustls and `ring`: the workspace turns the SDK's
/// `default-https-client` (aws-lc-rs) off, so every SDK configuration names its client (the
/// gateway's is `gateway_model::sdk_http`; the emulator does not link that crate).
pub fn https_client() -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Builds the client (once per store: callers keep it in a `OnceCell`).
pub async fn client(region: String) -> aws_sdk_s3::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .http_client(https_client());
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && std::env::var_os("AWS_PROFILE").is_none()
    {
        loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "bedrock-local",
        ));
    }
    let shared = loader.load().await;
    let conf = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// An S3 SDK error as one line, for a job's failure message.
pub fn describe<E: std::error::Error>(e: &E) -> String {
    aws_sdk_s3::error::DisplayErrorContext(e).to_string()
}
