//! SigV4 for the admin and inference APIs (service `execute-api`) and the streaming Function URL
//! (service `lambda`) with the operator's credentials, fetched
//! from the provider and kept until five minutes before they expire: the default chain's
//! providers (SSO, assume-role, IMDS) may make a network call each time they are asked.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use gateway_model::GatewayError;
use tokio::sync::Mutex;

/// The service a signature's credential scope names: each endpoint checks its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// API Gateway (the admin API, the inference HTTP API).
    ExecuteApi,
    /// A Lambda Function URL with `AuthType: AWS_IAM` (stream-url).
    Lambda,
}

impl Service {
    /// The name in the credential scope.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExecuteApi => "execute-api",
            Self::Lambda => "lambda",
        }
    }
}

/// Credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// Signs requests for one region with the operator's credentials.
pub struct Signer {
    provider: SharedCredentialsProvider,
    region: String,
    cached: Mutex<Option<Credentials>>,
}

impl Signer {
    /// A signer for `region` with credentials from `provider`.
    pub fn new(provider: SharedCredentialsProvider, region: impl Into<String>) -> Self {
        Self {
            provider,
            region: region.into(),
            cached: Mutex::new(None),
        }
    }

    /// The region the signatures name.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Fails, naming the provider's complaint, when there are no credentials to sign with (at
    /// start, so the operator learns it before opening the page).
    pub async fn check(&self) -> Result<(), GatewayError> {
        self.credentials().await.map(|_| ())
    }

    async fn credentials(&self) -> Result<Credentials, GatewayError> {
        let mut cached = self.cached.lock().await;
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|e| e > SystemTime::now() + RENEW_BEFORE)
        };
        if let Some(c) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        // The provider's error names the provider and what it missed, never a secret.
        let c = self.provider.provide_credentials().await.map_err(|e| {
            GatewayError::new(
                gateway_model::error::ErrorKind::UpstreamAccessDenied,
                format!("no AWS credentials to sign with: {e}"),
            )
        })?;
        *cached = Some(c.clone());
        Ok(c)
    }

    /// Signs `request` (its URI absolute, its headers those to send) for `body` and `service`:
    /// adds `authorization`, `x-amz-date` and, with temporary credentials,
    /// `x-amz-security-token`.
    pub async fn sign(
        &self,
        request: &mut http::Request<()>,
        body: &[u8],
        service: Service,
    ) -> Result<(), GatewayError> {
        let credentials = self.credentials().await?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service.as_str())
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| GatewayError::internal(format!("SigV4 parameters: {e}")))?
            .into();
        let uri = request.uri().to_string();
        let headers = request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        let signable = SignableRequest::new(
            request.method().as_str(),
            &uri,
            headers,
            SignableBody::Bytes(body),
        )
        .map_err(|e| GatewayError::internal(format!("SigV4 request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| GatewayError::internal(format!("SigV4 signing: {e}")))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}
