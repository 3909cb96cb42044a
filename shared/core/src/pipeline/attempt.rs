//! The attempt stage: one candidate loop for every call kind.
//!
//! The requested model is tried first, then `GATEWAY_FALLBACK_MODELS`. Each candidate is
//! admitted (a refusal of the caller's own model is the caller's error; a fallback that does
//! not fit is recorded and skipped), then sent with the deadline's operation timeout. A failure
//! is recorded; only "not now" failures (throttling, quota, not ready) move on to the next.

use std::time::Instant;

use crate::context::CallContext;
use crate::error::GatewayError;
use crate::resilience::{FallbackStep, candidates, operation_timeout, should_fall_back};
use crate::resolve::Resolved;

use super::Gateway;

/// Per-call SDK settings: the operation timeout left before the function's deadline.
pub(crate) type Override = aws_sdk_bedrockruntime::config::Builder;

/// Why a candidate was not sent.
#[derive(Debug)]
pub(crate) enum Refused {
    /// It failed admission: the caller's error for the requested model, a recorded skip for a
    /// fallback.
    Error(GatewayError),
    /// A fallback that does not apply, recorded as given.
    Skip(FallbackStep),
}

impl From<GatewayError> for Refused {
    fn from(e: GatewayError) -> Self {
        Refused::Error(e)
    }
}

/// An admitted candidate: the loop needs its resolution for metrics and fallback steps.
pub(crate) trait Candidate {
    /// What the candidate calls.
    fn resolved(&self) -> &Resolved;
}

impl Candidate for crate::call::Prepared {
    fn resolved(&self) -> &Resolved {
        &self.resolved
    }
}

/// One call kind's two steps, for [`Gateway::try_candidates`].
pub(crate) trait Attempt: Sync {
    /// What admission produces for a candidate.
    type Candidate: Candidate + Send + Sync;
    /// What a successful send returns.
    type Output: Send;
    /// The operation name in metrics.
    const OPERATION: &'static str;

    /// Admits candidate `i` (0: the requested model), named `name`.
    fn admit(
        &self,
        i: usize,
        name: &str,
    ) -> impl Future<Output = Result<Self::Candidate, Refused>> + Send;

    /// Sends the call to an admitted candidate with the per-call timeout.
    fn send(
        &self,
        candidate: &Self::Candidate,
        timeout: Option<Override>,
    ) -> impl Future<Output = Result<Self::Output, GatewayError>> + Send;
}

/// One request's candidates of one call kind: the gateway, the request's context, and what the
/// admit stage made of the request (`Admitted` for Converse, `NativeRequest` for native bodies).
pub(crate) struct CallAttempt<'a, R> {
    pub(crate) gw: &'a Gateway,
    pub(crate) ctx: &'a CallContext,
    pub(crate) req: &'a R,
}

impl<'a, R> CallAttempt<'a, R> {
    /// The candidates of `req` on `gw` for the request of `ctx`.
    pub(crate) fn new(gw: &'a Gateway, ctx: &'a CallContext, req: &'a R) -> Self {
        CallAttempt { gw, ctx, req }
    }
}

/// The candidate that answered, its output and the attempts abandoned before it.
#[derive(Debug)]
pub(crate) struct Sent<C, T> {
    pub(crate) candidate: C,
    pub(crate) output: T,
    pub(crate) fallback: Vec<FallbackStep>,
}

impl Gateway {
    /// Runs the attempt's `admit` then `send` over the candidates of `requested` until one
    /// answers.
    pub(crate) async fn try_candidates<A: Attempt>(
        &self,
        ctx: &CallContext,
        requested: &str,
        started: Instant,
        attempt: &A,
    ) -> Result<Sent<A::Candidate, A::Output>, GatewayError> {
        let operation = A::OPERATION;
        let mut fallback = Vec::new();
        let mut last_err = None;
        for (i, name) in candidates(requested, &self.config).iter().enumerate() {
            let candidate = match attempt.admit(i, name).await {
                Ok(c) => c,
                // The caller's own model failing admission is the caller's error.
                Err(Refused::Error(e)) if i == 0 => return Err(e),
                Err(Refused::Error(e)) => {
                    fallback.push(FallbackStep::new(name.clone(), &e));
                    continue;
                }
                Err(Refused::Skip(step)) => {
                    fallback.push(step);
                    continue;
                }
            };
            let timeout = self.timeout_override(ctx)?;
            match attempt.send(&candidate, timeout).await {
                Ok(output) => {
                    return Ok(Sent {
                        candidate,
                        output,
                        fallback,
                    });
                }
                Err(e) => {
                    let resolved = candidate.resolved();
                    let model = resolved.model.id.as_str();
                    self.record_failure(ctx, operation, model, started, &e, fallback.len());
                    if !should_fall_back(&e) {
                        return Err(e);
                    }
                    fallback.push(FallbackStep::new(resolved.target.id(), &e));
                    last_err = Some(e);
                    // The next candidate reserves at its own price: release this one's
                    // reservation (a refused call costs nothing).
                    self.settle_call(ctx, None).await;
                }
            }
        }
        Err(last_err.unwrap_or_else(|| GatewayError::internal("no model could be called")))
    }

    /// The operation timeout for a call made now (`None` without a deadline; 504 when no time
    /// is left).
    pub(crate) fn timeout_override(
        &self,
        ctx: &CallContext,
    ) -> Result<Option<Override>, GatewayError> {
        let t = operation_timeout(ctx.deadline, self.config.deadline_margin, Instant::now())?;
        Ok(t.map(|d| {
            Override::default().timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(self.config.connect_timeout)
                    .operation_timeout(d)
                    .build(),
            )
        }))
    }

    /// Records a failed Bedrock call: one metrics record and a warning (never the content).
    pub(crate) fn record_failure(
        &self,
        ctx: &CallContext,
        operation: &str,
        model: &str,
        started: Instant,
        e: &GatewayError,
        fallbacks: usize,
    ) {
        let mut m = self.metrics(ctx, operation, model);
        m.latency = Some(started.elapsed());
        m.fallbacks = fallbacks as u64;
        m.error(e);
        m.emit(&self.config);
        tracing::warn!(request_id = %ctx.request_id, operation, model, error_type = e.error_type(), status = e.status().as_u16(), error = %e, "bedrock call failed");
    }
}

/// Sends an SDK fluent call, with the per-call timeout override when there is one.
macro_rules! send_within {
    ($call:expr, $timeout:expr) => {
        match $timeout {
            Some(o) => $call.customize().config_override(o).send().await,
            None => $call.send().await,
        }
    };
}
pub(crate) use send_within;
