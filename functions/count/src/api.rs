//! The two operations, from a parsed JSON body to the JSON answer.

use futures_util::future::join_all;
use inference_core::cost;
use inference_core::estimate::Family;
use inference_core::resolve::Resolved;
use inference_core::{CallContext, Gateway, GatewayError};
use serde_json::Value;

use crate::count::{Counted, count, resolve_model};
use crate::request::{CountRequest, Route};
use crate::view::{CompareView, CountView, ExpectedOutput};

/// `POST /v1/count`.
pub async fn count_tokens(
    gateway: &Gateway,
    body: Value,
    ctx: &CallContext,
) -> Result<Value, GatewayError> {
    let req = CountRequest::parse(gateway, Route::Count, body)?;
    let mut counted = count_all(gateway, &req, ctx).await?;
    let one = counted
        .pop()
        .ok_or_else(|| GatewayError::internal("no model was counted"))?;
    log(ctx, &one);
    let mut view = CountView::from(one);
    view.request_id = Some(ctx.request_id.clone());
    to_json(&view)
}

/// `POST /v1/estimate`: counts plus cost; with `models`, every candidate sorted by total cost.
pub async fn estimate(
    gateway: &Gateway,
    body: Value,
    ctx: &CallContext,
) -> Result<Value, GatewayError> {
    let req = CountRequest::parse(gateway, Route::Estimate, body)?;
    let counted = count_all(gateway, &req, ctx).await?;
    let mut views: Vec<CountView> = counted
        .into_iter()
        .map(|c| {
            log(ctx, &c);
            priced(gateway, &req, c)
        })
        .collect();
    if !req.compare {
        let mut one = views
            .pop()
            .ok_or_else(|| GatewayError::internal("no model was estimated"))?;
        one.request_id = Some(ctx.request_id.clone());
        return to_json(&one);
    }
    // Stable sort: equal totals keep the caller's order.
    views.sort_by_key(total);
    let cheapest = views.iter().find(|v| v.fits).map(|v| v.model.clone());
    to_json(&CompareView {
        estimates: views,
        cheapest,
        request_id: ctx.request_id.clone(),
    })
}

/// Resolves every named model first (a typo fails the call before any Bedrock call), drops
/// names that resolve to the same model, then counts them concurrently.
async fn count_all(
    gateway: &Gateway,
    req: &CountRequest,
    ctx: &CallContext,
) -> Result<Vec<Counted>, GatewayError> {
    let mut models: Vec<Resolved> = Vec::with_capacity(req.models.len());
    for name in &req.models {
        let r = resolve_model(gateway, req, name)?;
        if !models.iter().any(|m| m.model.id == r.model.id) {
            models.push(r);
        }
    }
    if req.native().is_some() {
        same_family(&models)?;
    }
    join_all(models.into_iter().map(|r| count(gateway, req, r, ctx)))
        .await
        .into_iter()
        .collect()
}

/// A native body is one family's format: counting it for another family would be nonsense.
fn same_family(models: &[Resolved]) -> Result<(), GatewayError> {
    let family = |r: &Resolved| (Family::for_model(&r.model), r.model.family.clone());
    if let Some(first) = models.first()
        && let Some(other) = models.iter().find(|m| family(m) != family(first))
    {
        return Err(GatewayError::invalid_request(format!(
            "native: a native body belongs to one model family; {} ({}) and {} ({}) differ",
            first.model.id, first.model.family, other.model.id, other.model.family
        )));
    }
    Ok(())
}

/// Adds the cost: counted input plus the expected output (the caller's figure, or `maxTokens` as
/// the worst case), priced with the scope this region's resolution implies and the requested tier.
fn priced(gateway: &Gateway, req: &CountRequest, c: Counted) -> CountView {
    let expected = match req.expected_output_tokens {
        Some(value) => ExpectedOutput {
            value,
            source: "request",
        },
        None => ExpectedOutput {
            value: u64::from(c.max_tokens.value),
            source: "max_tokens",
        },
    };
    let cost = cost::estimate_tier(
        &gateway.catalog(),
        &c.resolved.model,
        c.resolved.pricing,
        c.resolved.tier,
        c.input_tokens,
        expected.value,
    );
    let mut view = CountView::from(c);
    view.expected_output_tokens = Some(expected);
    view.cost = Some(cost);
    view
}

/// Total cost, the sort key (`Cost::total` is exact decimal, never a float).
fn total(v: &CountView) -> Option<impl Ord + use<>> {
    v.cost.as_ref().map(cost::Cost::total)
}

fn log(ctx: &CallContext, c: &Counted) {
    tracing::info!(
        request_id = %ctx.request_id,
        model = %c.resolved.model.id,
        input_tokens = c.input_tokens,
        source = ?c.source,
        fits = c.fit.fits,
        "count"
    );
}

fn to_json(v: &impl serde::Serialize) -> Result<Value, GatewayError> {
    serde_json::to_value(v).map_err(|e| GatewayError::internal(format!("response: {e}")))
}
