//! Cache keys: SHA-256 of a canonical serialisation (object keys sorted, no whitespace) of
//! everything that decides an answer. Only the hash is stored, never the request.

use std::fmt;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::AnswerKind;
use crate::call::Prepared;
use crate::convert::request::GuardrailSpec;

/// Bumped when the key's inputs or the stored format change: old entries stop matching.
const KEY_VERSION: u32 = 1;

/// A SHA-256 key, shown as 64 hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key of `prepared` (resolved model; messages, system, tools and tool choice,
    /// inference config with the `maxTokens` actually sent, additional request fields and
    /// response paths, prompt variables, performance and service tier, and the guardrail the
    /// call carries), the caller guardrail applied around it (if any), and a fingerprint of the
    /// local content policy; and `scope`, the API key the answer belongs to (`None`: shared).
    /// `requestMetadata` is left out: it labels the call, it does not change the answer.
    pub fn of(
        kind: AnswerKind,
        prepared: &Prepared,
        caller_guardrail: Option<&GuardrailSpec>,
        content_policy: &str,
        scope: Option<&str>,
    ) -> CacheKey {
        let mut request = prepared.parts.to_json();
        if let Value::Object(o) = &mut request {
            o.remove("requestMetadata");
        }
        let material = json!({
            "v": KEY_VERSION,
            "kind": kind.as_str(),
            "model": prepared.resolved.model.id.as_str(),
            "invoked": prepared.resolved.target.id(),
            "request": request,
            "caller_guardrail": caller_guardrail.map(|g| json!([g.identifier, g.version])),
            "content_policy": hex(&Sha256::digest(content_policy.as_bytes())),
            "scope": scope,
        });
        CacheKey::of_value(&material)
    }

    /// The hash of a JSON value's canonical form.
    pub fn of_value(v: &Value) -> CacheKey {
        let mut text = String::new();
        canonical(v, &mut text);
        CacheKey(Sha256::digest(text.as_bytes()).into())
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({})", self.to_hex())
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// JSON with object keys sorted at every level, whatever order the map keeps.
pub fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&o[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
