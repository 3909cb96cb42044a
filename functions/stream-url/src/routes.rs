//! The gateway's own streaming routes: `POST /converse` (ConverseStream) and
//! `POST /invoke/{modelId}` (InvokeModelWithResponseStream). Errors before the stream opens are
//! JSON with their status (`impl IntoResponse for GatewayError`).

use axum::extract::{Path, State};
use axum::response::Response;
use inference_core::web::{Ctx, JsonBody, RawJson};
use inference_core::{CallContext, Gateway, GatewayError};
use tokio::time::Instant;

use crate::pump::{self, PumpContext};

/// `POST /converse`: Converse JSON (plus `model`) in, one SSE event per ConverseStream event out.
pub async fn converse(
    State(gw): State<Gateway>,
    Ctx(ctx): Ctx,
    JsonBody(body): JsonBody,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    let call = gw.converse_stream(body, &ctx).await?;
    let cache = call
        .cache_status()
        .map(|s| http::HeaderValue::from_static(s.as_str()));
    let mut resp = pump::open(call, pump_context(&gw, &ctx, started)).await?;
    if let Some(h) = cache {
        resp.headers_mut().insert(inference_core::cache::HEADER, h);
    }
    Ok(resp)
}

/// `POST /invoke/{modelId}`: a native body in, one `chunk` event per model chunk out.
pub async fn invoke(
    State(gw): State<Gateway>,
    Path(model): Path<String>,
    Ctx(ctx): Ctx,
    RawJson { raw, .. }: RawJson,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    let call = gw.invoke_stream(&model, raw, &ctx).await?;
    pump::open(call, pump_context(&gw, &ctx, started)).await
}

/// When the pump must stop (the Lambda deadline minus `GATEWAY_DEADLINE_MARGIN_MS`) and what it
/// reports in its last event.
pub(crate) fn pump_context(gw: &Gateway, ctx: &CallContext, started: Instant) -> PumpContext {
    PumpContext {
        request_id: ctx.request_id.clone(),
        stop_at: ctx
            .deadline
            .and_then(|d| d.checked_sub(gw.config().deadline_margin))
            .map(Instant::from_std),
        started,
    }
}
