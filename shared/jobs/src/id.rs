//! Job IDs (`job_` + 32 lowercase hex digits, parsed in one place), idempotency keys, and
//! whose a job is.

use std::fmt;
use std::str::FromStr;

use inference_core::auth::KeyId;
use inference_core::error::GatewayError;

const PREFIX: &str = "job_";
const HEX_LEN: usize = 32;

/// A job's ID. Only [`JobId::parse`] (and the constructors) make one, so a `JobId` in hand is
/// always well formed and safe to use in an S3 key or a log line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(String);

impl JobId {
    /// A fresh random ID (128 random bits; UUID v4's 122 plus fixed bits). Every job gets one,
    /// with or without an idempotency key: an ID says nothing about the key, and knowing a key
    /// tells nothing about the ID (`idempotency` maps one to the other per owner).
    pub fn random() -> JobId {
        JobId(format!("{PREFIX}{}", uuid::Uuid::new_v4().simple()))
    }

    /// Parses `job_<32 lowercase hex>`; anything else is a 404-worthy "no such job".
    pub fn parse(s: &str) -> Result<JobId, GatewayError> {
        let ok = s.strip_prefix(PREFIX).is_some_and(|h| {
            h.len() == HEX_LEN && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if ok {
            Ok(JobId(s.to_owned()))
        } else {
            Err(GatewayError::not_found(format!(
                "no job {:?}: job IDs look like job_ followed by 32 hex digits",
                truncate(s, 80)
            )))
        }
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for JobId {
    type Err = GatewayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobId::parse(s)
    }
}

/// A caller's idempotency key: 1 to 128 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks the key's shape; a bad key is the caller's 400.
    pub fn parse(s: &str) -> Result<IdempotencyKey, GatewayError> {
        if s.is_empty() || s.len() > 128 || !s.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(GatewayError::invalid_request(
                "idempotency_key: expected 1 to 128 printable ASCII characters without spaces",
            ));
        }
        Ok(IdempotencyKey(s.to_owned()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whose a job is: the API key that submitted it, or, with `GATEWAY_AUTH=none`, the deployment
/// (one owner for every caller). Idempotency keys and webhook signing keys are per owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOwner {
    /// The submitting key (its public ID).
    Key(KeyId),
    /// No API keys: every submission is the deployment's.
    Deployment,
}

impl JobOwner {
    /// The owner of a job submitted by `key_id` (`None`: auth is off).
    pub fn of(key_id: Option<&KeyId>) -> JobOwner {
        key_id.map_or(JobOwner::Deployment, |k| JobOwner::Key(k.clone()))
    }

    /// A stable name, used only inside hashed or derived values: `key:<id>` or `deployment`.
    pub fn scope(&self) -> String {
        match self {
            JobOwner::Key(k) => format!("key:{}", k.as_str()),
            JobOwner::Deployment => "deployment".to_owned(),
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_parse_and_differ() {
        let a = JobId::random();
        let b = JobId::random();
        assert_ne!(a, b);
        assert_eq!(JobId::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.as_str().len(), 4 + 32);
    }

    #[test]
    fn owners_have_distinct_scopes() {
        let a = JobOwner::of(Some(&KeyId::parse("key_00000000000000aa").unwrap()));
        let b = JobOwner::of(Some(&KeyId::parse("key_00000000000000bb").unwrap()));
        assert_ne!(a.scope(), b.scope());
        assert_ne!(a.scope(), JobOwner::of(None).scope());
        assert_eq!(JobOwner::of(None), JobOwner::Deployment);
    }

    #[test]
    fn malformed_ids_are_not_found() {
        for s in [
            "",
            "job_",
            "job_XYZ",
            "job_0123456789abcdef0123456789ABCDEF",
            "jobs_0123456789abcdef0123456789abcdef",
            "job_0123456789abcdef0123456789abcdef0",
            "../etc/passwd",
        ] {
            assert_eq!(JobId::parse(s).unwrap_err().status(), 404, "{s}");
        }
    }

    #[test]
    fn idempotency_key_shape() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"x".repeat(128)).is_ok());
        for bad in ["", " x", "a b", "é", &"x".repeat(129)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad}");
        }
    }
}
