//! Webhook delivery: the job's summary, signed, POSTed with bounded retries to an address that
//! passed the URL checks at delivery time (see `url_guard`), never following redirects (a
//! redirect could point anywhere) and never through a proxy (`webhook_post`: one hyper
//! connection to the checked address).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::id::JobOwner;
use super::record::{WebhookOutcome, WebhookStatus, now_ms};
use super::signature::signature_header;
use super::url_guard::{UrlPolicy, WebhookUrl};
use super::webhook_post::post;

/// POSTs per delivery, and the pause before each retry (0.5 s, 1 s, 2 s after the first three).
const BACKOFF: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];
/// Attempts per delivery.
pub const MAX_ATTEMPTS: u32 = 3;
/// Timeout of one POST (connect + answer).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// A signing key (the deployment's, or one owner's derived from it). `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret(Arc<Vec<u8>>);

impl WebhookSecret {
    /// Wraps key bytes.
    pub fn new(key: impl Into<Vec<u8>>) -> WebhookSecret {
        WebhookSecret(Arc::new(key.into()))
    }

    /// The key that signs `owner`'s deliveries. Per API key: the 64 lowercase hex digits of
    /// HMAC-SHA256(deployment key, `"webhook:" + key_id`), used as text (its ASCII bytes are
    /// the HMAC key), so a tenant that can verify its own deliveries cannot forge another
    /// tenant's, and the deployment key never leaves the function. Without keys
    /// (`GATEWAY_AUTH=none`) the deployment key itself.
    pub fn for_owner(&self, owner: &JobOwner) -> WebhookSecret {
        match owner {
            JobOwner::Deployment => self.clone(),
            JobOwner::Key(id) => {
                // HMAC takes a key of any length: `new_from_slice` cannot fail.
                let tag = Hmac::<Sha256>::new_from_slice(self.expose())
                    .map(|mut m| {
                        m.update(format!("webhook:{}", id.as_str()).as_bytes());
                        hex::encode(m.finalize().into_bytes())
                    })
                    .unwrap_or_default();
                WebhookSecret::new(tag.into_bytes())
            }
        }
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Sends webhooks. Built once per cold start (the TLS root store is loaded once).
#[derive(Debug, Clone)]
pub struct WebhookSender {
    tls: Option<Arc<rustls::ClientConfig>>,
    policy: UrlPolicy,
    secret: Option<WebhookSecret>,
}

impl WebhookSender {
    /// A sender with the deployment's URL policy and signing key (`None`: webhooks are not sent
    /// and the job records why).
    pub fn new(policy: UrlPolicy, secret: Option<WebhookSecret>) -> WebhookSender {
        WebhookSender {
            tls: inference_core::sdk_http::rustls_config().map(Arc::new),
            policy,
            secret,
        }
    }

    /// The URL policy.
    pub fn policy(&self) -> UrlPolicy {
        self.policy
    }

    /// `owner`'s signing key (`None`: no deployment key configured).
    pub fn secret_for(&self, owner: &JobOwner) -> Option<WebhookSecret> {
        self.secret.as_ref().map(|s| s.for_owner(owner))
    }

    /// Delivers `body` to `url`, signed with `owner`'s key: up to [`MAX_ATTEMPTS`] POSTs with
    /// backoff, stopping early when the next pause would pass `deadline`. Retries connection
    /// failures, timeouts, 408, 429 and 5xx; any other 4xx is final (the receiver refused this
    /// delivery).
    pub async fn deliver(
        &self,
        url: &str,
        body: &[u8],
        owner: &JobOwner,
        deadline: Option<Instant>,
    ) -> WebhookOutcome {
        let mut outcome = WebhookOutcome {
            status: WebhookStatus::Failed,
            attempts: 0,
            last_status_code: None,
            last_error: None,
        };
        let Some(secret) = &self.secret_for(owner) else {
            outcome.last_error =
                Some("no webhook signing key configured (GATEWAY_WEBHOOK_SECRET): not sent".into());
            return outcome;
        };
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                let pause = BACKOFF[(attempt - 1) as usize];
                if deadline.is_some_and(|d| Instant::now() + pause + ATTEMPT_TIMEOUT > d) {
                    break;
                }
                tokio::time::sleep(pause).await;
            }
            // Checked again on every attempt: the URL must still parse under the policy and
            // its name must still resolve only to allowed addresses.
            let target = match WebhookUrl::parse(url, self.policy) {
                Ok(t) => t,
                Err(e) => {
                    outcome.last_error = Some(e.message().to_owned());
                    return outcome;
                }
            };
            let addr = match target.resolve(self.policy).await {
                Ok(a) => a,
                Err(e) => {
                    outcome.last_error = Some(e.message().to_owned());
                    return outcome;
                }
            };
            outcome.attempts += 1;
            match self.post_once(&target, addr, body, secret).await {
                Ok(code) if (200..300).contains(&code) => {
                    outcome.status = WebhookStatus::Delivered;
                    outcome.last_status_code = Some(code);
                    outcome.last_error = None;
                    return outcome;
                }
                Ok(code) => {
                    outcome.last_status_code = Some(code);
                    outcome.last_error = Some(format!("receiver answered {code}"));
                    if (400..500).contains(&code) && code != 408 && code != 429 {
                        return outcome;
                    }
                }
                Err(e) => outcome.last_error = Some(e),
            }
        }
        outcome
    }

    async fn post_once(
        &self,
        target: &WebhookUrl,
        addr: std::net::SocketAddr,
        body: &[u8],
        secret: &WebhookSecret,
    ) -> Result<u16, String> {
        let signature = signature_header(secret.expose(), now_ms() / 1000, body);
        post(
            self.tls.as_ref(),
            target.url(),
            addr,
            body,
            signature,
            ATTEMPT_TIMEOUT,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_urls_are_never_contacted() {
        let sender = WebhookSender::new(
            UrlPolicy::local_development(true),
            Some(WebhookSecret::new("k")),
        );
        for url in [
            "http://169.254.169.254/latest",
            "http://10.0.0.1/",
            "http://2852039166/",
        ] {
            let o = sender
                .deliver(url, b"{}", &JobOwner::Deployment, None)
                .await;
            assert_eq!(o.status, WebhookStatus::Failed);
            assert_eq!(o.attempts, 0, "{url}");
            assert!(o.last_error.unwrap().contains("address"));
        }
    }

    #[tokio::test]
    async fn without_a_key_nothing_is_sent() {
        let sender = WebhookSender::new(UrlPolicy::local_development(true), None);
        let o = sender
            .deliver("http://127.0.0.1:9/", b"{}", &JobOwner::Deployment, None)
            .await;
        assert_eq!(o.attempts, 0);
        assert!(o.last_error.unwrap().contains("signing key"));
    }

    #[test]
    fn each_key_signs_with_its_own_derived_secret() {
        use crate::signature::{signature_header, verify_signature};
        use inference_core::auth::KeyId;
        let deployment = WebhookSecret::new("deployment-secret");
        let a = JobOwner::Key(KeyId::parse("key_00000000000000aa").unwrap());
        let b = JobOwner::Key(KeyId::parse("key_00000000000000bb").unwrap());
        let (sa, sb) = (deployment.for_owner(&a), deployment.for_owner(&b));
        // Stable, 64 hex digits, and neither the deployment key nor each other.
        assert_eq!(sa.expose(), deployment.for_owner(&a).expose());
        assert_eq!(sa.expose().len(), 64);
        assert!(sa.expose().iter().all(u8::is_ascii_hexdigit));
        assert_ne!(sa.expose(), sb.expose());
        assert_ne!(sa.expose(), deployment.expose());
        assert_eq!(
            deployment.for_owner(&JobOwner::Deployment).expose(),
            deployment.expose()
        );
        // The documented derivation, spelled out.
        let mut m = Hmac::<Sha256>::new_from_slice(b"deployment-secret").unwrap();
        m.update(b"webhook:key_00000000000000aa");
        assert_eq!(
            sa.expose(),
            hex::encode(m.finalize().into_bytes()).as_bytes()
        );
        // A's delivery verifies with A's key only.
        let h = signature_header(sa.expose(), 10, b"{}");
        verify_signature(sa.expose(), &h, b"{}", 10, 300).unwrap();
        assert!(verify_signature(sb.expose(), &h, b"{}", 10, 300).is_err());
        assert!(verify_signature(deployment.expose(), &h, b"{}", 10, 300).is_err());
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let s = WebhookSecret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
