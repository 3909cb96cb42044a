//! Counting one request for one model: from Bedrock when the model supports CountTokens, from
//! the local estimator otherwise (or when CountTokens fails with an error that says "not now").

use inference_core::catalog::{Capability, ModelEntry};
use inference_core::estimate::{self, Family, NotCountable};
use inference_core::policy::{MaxTokens, MaxTokensSource};
use inference_core::resolve::{Resolved, resolve};
use inference_core::{CallContext, CountInput, Gateway, GatewayError};
use serde::Serialize;

use crate::accuracy::{self, EstimateError};
use crate::fit::{Fit, fit};
use crate::request::CountRequest;

/// Where `input_tokens` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Bedrock's CountTokens: exact.
    Bedrock,
    /// The local estimator: see `estimate_error`.
    Estimate,
}

/// Why a count that should have come from Bedrock is an estimate.
#[derive(Debug, Clone, Serialize)]
pub struct Fallback {
    /// Always `bedrock`.
    pub from: &'static str,
    /// The CountTokens failure.
    pub error: FallbackError,
}

/// The CountTokens failure behind a [`Fallback`].
#[derive(Debug, Clone, Serialize)]
pub struct FallbackError {
    /// Gateway error type (`throttled`, `service_unavailable`, `timeout`, ...).
    #[serde(rename = "type")]
    pub error_type: &'static str,
    /// Bedrock's error name (`ThrottlingException`), when Bedrock answered.
    pub upstream: Option<String>,
    /// The message, as for an error response.
    pub message: String,
}

/// One model's count.
#[derive(Debug, Clone)]
pub struct Counted {
    pub resolved: Resolved,
    pub input_tokens: u64,
    pub source: Source,
    pub estimate_error: Option<EstimateError>,
    pub fallback: Option<Fallback>,
    pub not_countable: Vec<NotCountable>,
    pub max_tokens: MaxTokens,
    pub fit: Fit,
}

/// Resolves `name` and checks the allowlist. Converse-form requests also need a model that takes
/// Converse (embedding models are counted with a native body).
pub fn resolve_model(
    gateway: &Gateway,
    req: &CountRequest,
    name: &str,
) -> Result<Resolved, GatewayError> {
    if let CountInput::Converse(parts) = &req.input {
        // The tier the request asks for prices the estimate; one the model lacks is refused.
        return gateway
            .resolve_allowed(name, Capability::Converse)?
            .with_tier(parts.tier()?);
    }
    let resolved = resolve(&gateway.catalog(), gateway.config(), name)?;
    gateway
        .policy()
        .check_allowed(&resolved.model, Some(&resolved.target))?;
    Ok(resolved)
}

/// Counts `req` for an already resolved model.
pub async fn count(
    gateway: &Gateway,
    req: &CountRequest,
    resolved: Resolved,
    ctx: &CallContext,
) -> Result<Counted, GatewayError> {
    let max_tokens = max_tokens(
        gateway,
        &resolved.model,
        req.requested_max_tokens(&resolved.model),
    )?;
    let mut fallback = None;
    if resolved.model.supports(Capability::CountTokens) {
        match gateway
            .count_input_tokens(&resolved.model, &req.input, ctx)
            .await
        {
            Ok(input_tokens) => {
                return Ok(finish(gateway, resolved, input_tokens, max_tokens, |c| {
                    c.source = Source::Bedrock;
                }));
            }
            // Throttling, 5xx, timeouts: the count is still useful as an estimate, said so.
            Err(e) if e.is_retryable() => fallback = Some(fallback_from(&e)),
            // Validation and access errors would fail the real call too: the caller must know.
            Err(e) => return Err(e),
        }
    }
    let family = Family::for_model(&resolved.model).ok_or_else(|| {
        GatewayError::invalid_request(format!(
            "model {} (family {:?}) has no local token estimator and no CountTokens support",
            resolved.model.id, resolved.model.family
        ))
    })?;
    let estimate = match req.native() {
        Some(native) => estimate::estimate_native(family, native)?,
        None => estimate::estimate_request(family, &req.body)?,
    };
    let input_tokens = u64::from(estimate.tokens);
    Ok(finish(gateway, resolved, input_tokens, max_tokens, |c| {
        c.source = Source::Estimate;
        c.estimate_error = accuracy::of(family);
        c.fallback = fallback;
        c.not_countable = estimate.not_countable;
    }))
}

fn finish(
    gateway: &Gateway,
    resolved: Resolved,
    input_tokens: u64,
    max_tokens: MaxTokens,
    set: impl FnOnce(&mut Counted),
) -> Counted {
    let fit = fit(
        &resolved.model,
        input_tokens,
        max_tokens.value,
        gateway.config().max_tokens_cap,
    );
    let mut c = Counted {
        resolved,
        input_tokens,
        source: Source::Estimate,
        estimate_error: None,
        fallback: None,
        not_countable: Vec::new(),
        max_tokens,
        fit,
    };
    set(&mut c);
    c
}

/// The caller's `maxTokens`, or the default a call would send. Unlike a real call, a value over a
/// limit is not refused here: reporting that it doesn't fit is the point of counting.
fn max_tokens(
    gateway: &Gateway,
    model: &ModelEntry,
    requested: Option<i64>,
) -> Result<MaxTokens, GatewayError> {
    match requested {
        None => Ok(MaxTokens {
            value: gateway.policy().default_max_tokens(model),
            source: MaxTokensSource::Default,
        }),
        Some(n) if n < 1 => Err(GatewayError::invalid_request(format!(
            "inferenceConfig.maxTokens must be at least 1, got {n}"
        ))),
        Some(n) => Ok(MaxTokens {
            value: u32::try_from(n).unwrap_or(u32::MAX),
            source: MaxTokensSource::Request,
        }),
    }
}

fn fallback_from(e: &GatewayError) -> Fallback {
    tracing::warn!(error_type = e.error_type(), error = %e, "CountTokens failed; using the local estimate");
    Fallback {
        from: "bedrock",
        error: FallbackError {
            error_type: e.error_type(),
            upstream: e.upstream().map(|u| u.error.clone()),
            message: e.message().to_owned(),
        },
    }
}
