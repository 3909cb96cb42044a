//! Scripted faults: prompt markers (`[[fault:NAME]]` anywhere in the request body), faults
//! armed through `POST /_local/faults`, and a seeded random throttle rate.

use std::sync::Mutex;

use serde::Deserialize;

use crate::errors::BedrockError;
use crate::generate::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    Timeout,
    ModelError,
    NotReady,
    Quota,
    Unavailable,
    Internal,
    AccessDenied,
    /// After N stream events, a `modelStreamErrorException` frame.
    StreamErrorAfter(u32),
    /// After N stream events, a `throttlingException` frame.
    StreamThrottleAfter(u32),
}

impl Fault {
    /// Parses `throttle`, `stream_error_after=3`, ...
    pub fn parse(s: &str) -> Option<Fault> {
        let (name, arg) = match s.split_once('=') {
            Some((n, a)) => (n.trim(), a.trim().parse::<u32>().ok()),
            None => (s.trim(), None),
        };
        Some(match name {
            "throttle" | "throttling" => Fault::Throttle,
            "timeout" => Fault::Timeout,
            "model_error" => Fault::ModelError,
            "not_ready" => Fault::NotReady,
            "quota" => Fault::Quota,
            "unavailable" => Fault::Unavailable,
            "internal" => Fault::Internal,
            "access_denied" => Fault::AccessDenied,
            "stream_error_after" | "stream_error" => Fault::StreamErrorAfter(arg.unwrap_or(1)),
            "stream_throttle_after" | "stream_throttle" => {
                Fault::StreamThrottleAfter(arg.unwrap_or(1))
            }
            _ => return None,
        })
    }

    pub fn is_stream(self) -> bool {
        matches!(
            self,
            Fault::StreamErrorAfter(_) | Fault::StreamThrottleAfter(_)
        )
    }

    /// The error Bedrock answers with, in its usual wording.
    pub fn error(self, model_id: &str, region: &str) -> BedrockError {
        match self {
            Fault::Throttle => BedrockError::Throttling("Too many requests, please wait before trying again.".into()),
            Fault::Timeout => {
                BedrockError::ModelTimeout("Model has timed out in processing the request. Try your request again.".into())
            }
            Fault::ModelError => BedrockError::ModelError {
                message: "The model encountered an unexpected error during processing. Try your request again.".into(),
                original_status_code: 500,
                resource_name: format!("arn:aws:bedrock:{region}::foundation-model/{model_id}"),
            },
            Fault::NotReady => BedrockError::ModelNotReady(
                "Model is not ready to serve inference requests. The AWS SDK will automatically retry the operation up to 5 times.".into(),
            ),
            Fault::Quota => BedrockError::ServiceQuotaExceeded(
                "Your request exceeded the service quota for your account. You can view your service quotas at https://docs.aws.amazon.com/servicequotas/latest/userguide/gs-request-quota.html.".into(),
            ),
            Fault::Unavailable => BedrockError::ServiceUnavailable("Bedrock is unable to process your request.".into()),
            Fault::Internal => {
                BedrockError::InternalServer("The server encountered an internal error while processing the request.".into())
            }
            Fault::AccessDenied => {
                BedrockError::AccessDenied("You don't have access to the model with the specified model ID.".into())
            }
            Fault::StreamErrorAfter(_) => BedrockError::ModelStreamError {
                message: "The model encountered an error while streaming the response.".into(),
                original_status_code: 500,
                original_message: "Internal model error".into(),
            },
            Fault::StreamThrottleAfter(_) => {
                BedrockError::Throttling("Too many requests, please wait before trying again.".into())
            }
        }
    }

    pub fn after(self) -> u32 {
        match self {
            Fault::StreamErrorAfter(n) | Fault::StreamThrottleAfter(n) => n,
            _ => 0,
        }
    }
}

/// Finds the first `[[fault:...]]` marker in a request body.
pub fn from_body(body: &[u8]) -> Option<Fault> {
    const OPEN: &[u8] = b"[[fault:";
    let start = body.windows(OPEN.len()).position(|w| w == OPEN)? + OPEN.len();
    let end = body[start..].windows(2).position(|w| w == b"]]")? + start;
    Fault::parse(std::str::from_utf8(&body[start..end]).ok()?)
}

/// Body of `POST /_local/faults`.
#[derive(Debug, Deserialize)]
pub struct ArmRequest {
    pub fault: String,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// Alternative to `stream_error_after=N`: `{"fault": "stream_error", "after": N}`.
    #[serde(default)]
    pub after: Option<u32>,
}

fn one() -> u32 {
    1
}

#[derive(Debug)]
struct Armed {
    fault: Fault,
    remaining: u32,
    operation: Option<String>,
    model: Option<String>,
}

#[derive(Debug)]
pub struct Faults {
    armed: Mutex<Vec<Armed>>,
    random: Option<Mutex<(Rng, f64)>>,
}

impl Faults {
    pub fn new(rate: f64, seed: u64) -> Self {
        Faults {
            armed: Mutex::new(Vec::new()),
            random: (rate > 0.0).then(|| Mutex::new((Rng::new(seed), rate.min(1.0)))),
        }
    }

    pub fn arm(&self, req: ArmRequest) -> Result<(), String> {
        let mut fault =
            Fault::parse(&req.fault).ok_or_else(|| format!("unknown fault {:?}", req.fault))?;
        if let Some(n) = req.after {
            fault = match fault {
                Fault::StreamErrorAfter(_) => Fault::StreamErrorAfter(n),
                Fault::StreamThrottleAfter(_) => Fault::StreamThrottleAfter(n),
                f => f,
            };
        }
        if let Ok(mut a) = self.armed.lock() {
            a.push(Armed {
                fault,
                remaining: req.count.max(1),
                operation: req.operation,
                model: req.model,
            });
        }
        Ok(())
    }

    pub fn clear(&self) {
        if let Ok(mut a) = self.armed.lock() {
            a.clear();
        }
    }

    /// Takes an armed fault that names `op` explicitly: control-plane operations are faulted
    /// only on request, so a fault armed for "any operation" (or a random rate) keeps hitting
    /// the runtime calls it was meant for.
    pub fn take_named(&self, op: &str) -> Option<Fault> {
        let mut armed = self.armed.lock().ok()?;
        let a = armed.iter_mut().find(|a| {
            a.remaining > 0
                && !a.fault.is_stream()
                && a.operation
                    .as_deref()
                    .is_some_and(|o| o.eq_ignore_ascii_case(op))
        })?;
        a.remaining -= 1;
        let f = a.fault;
        armed.retain(|a| a.remaining > 0);
        Some(f)
    }

    /// Takes the fault (if any) for this call: armed faults first, then a marker in the body,
    /// then the random rate. Stream faults only apply to streaming operations.
    pub fn take(
        &self,
        op: &str,
        model_ids: &[&str],
        body: &[u8],
        streaming: bool,
    ) -> Option<Fault> {
        if let Ok(mut armed) = self.armed.lock()
            && !armed.is_empty()
        {
            let hit = armed.iter_mut().find(|a| {
                a.remaining > 0
                    && (streaming || !a.fault.is_stream())
                    && a.operation
                        .as_deref()
                        .is_none_or(|o| o.eq_ignore_ascii_case(op))
                    && a.model.as_deref().is_none_or(|m| model_ids.contains(&m))
            });
            if let Some(a) = hit {
                a.remaining -= 1;
                let f = a.fault;
                armed.retain(|a| a.remaining > 0);
                return Some(f);
            }
        }
        if let Some(f) = from_body(body).filter(|f| streaming || !f.is_stream()) {
            return Some(f);
        }
        let random = self.random.as_ref()?;
        let mut g = random.lock().ok()?;
        let rate = g.1;
        (g.0.next_f64() < rate).then_some(Fault::Throttle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        assert_eq!(
            from_body(br#"{"x":"a [[fault:throttle]]"}"#),
            Some(Fault::Throttle)
        );
        assert_eq!(
            from_body(b"[[fault:stream_error_after=3]]"),
            Some(Fault::StreamErrorAfter(3))
        );
        assert_eq!(from_body(b"[[fault:nope]]"), None);
        let f = Faults::new(0.5, 42);
        let hits = (0..100)
            .filter(|_| f.take("Converse", &[], b"", false).is_some())
            .count();
        assert!((30..70).contains(&hits));
    }
}
