//! Job IDs: `job_` + 32 lowercase hex digits, parsed in one place.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use inference_core::error::GatewayError;

const PREFIX: &str = "job_";
const HEX_LEN: usize = 32;

/// A job's ID. Only [`JobId::parse`] (and the constructors) make one, so a `JobId` in hand is
/// always well formed and safe to use in an S3 key or a log line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(String);

impl JobId {
    /// A fresh random ID (128 random bits), for jobs submitted without an idempotency key.
    pub fn random() -> JobId {
        JobId(format!("{PREFIX}{}", uuid::Uuid::new_v4().simple()))
    }

    /// The ID a job with this idempotency key gets. Deterministic, so two concurrent submissions
    /// with the same key race on one DynamoDB item (a conditional put), not on an eventually
    /// consistent index lookup: exactly one of them creates the job.
    pub fn for_idempotency_key(key: &IdempotencyKey) -> JobId {
        let digest = Sha256::digest(format!("idempotency-key:{}", key.as_str()).as_bytes());
        JobId(format!("{PREFIX}{}", hex::encode(&digest[..HEX_LEN / 2])))
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
    fn idempotency_keys_give_stable_ids() {
        let k = IdempotencyKey::parse("order-42").unwrap();
        assert_eq!(
            JobId::for_idempotency_key(&k),
            JobId::for_idempotency_key(&k)
        );
        let other = IdempotencyKey::parse("order-43").unwrap();
        assert_ne!(
            JobId::for_idempotency_key(&k),
            JobId::for_idempotency_key(&other)
        );
        JobId::parse(JobId::for_idempotency_key(&k).as_str()).unwrap();
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
