//! What each way of running a submission would cost (the planner's [`Options`]): the same
//! estimate admission uses (the input estimate plus `maxTokens`, the worst case), priced on
//! demand, at the flex tier where the model offers it and the request names no tier, and at
//! the batch price where the model runs in batch and the request can be a batch record.

use serde_json::Value;

use super::batch::{batch_cost, native};
use super::planner::Options;
use super::record::JobKind;
use inference_core::auth::Body;
use inference_core::catalog::Capability;
use inference_core::convert::ConverseParts;
use inference_core::cost::{Usage, estimate_tier};
use inference_core::error::GatewayError;
use inference_core::pipeline::Gateway;
use inference_core::tier::Tier;

/// The options for a checked submission; `batch_on`: the deployment runs batch
/// (`GATEWAY_BATCH_ROLE_ARN`).
pub fn options(
    gw: &Gateway,
    kind: JobKind,
    request: &Value,
    batch_on: bool,
) -> Result<Options, GatewayError> {
    if kind == JobKind::AsyncInvoke {
        let model = request["model"].as_str().unwrap_or_default().to_owned();
        let cost = super::async_invoke::output_cost(gw, request)
            .map(|c| c.total())
            .unwrap_or_default();
        return Ok(Options {
            model,
            on_demand: cost,
            flex: None,
            batch: Err("not a Converse job".into()),
            async_invoke: true,
        });
    }
    let name = gw.requested_model(request)?;
    let parts = ConverseParts::from_json(request, &["model"])?;
    let prepared = gw.prepare(&name, &parts, Capability::Converse, None)?;
    let resolved = &prepared.resolved;
    let model = &resolved.model;
    let input = inference_core::auth::input_estimate(resolved, Body::Converse(request));
    let output = u64::from(prepared.max_tokens.value);
    let catalog = gw.catalog();
    let price =
        |tier| estimate_tier(&catalog, model, resolved.pricing, tier, input, output).total();
    let flex = (!parts.names_a_tier() && model.offers(Tier::Flex)).then(|| price(Tier::Flex));
    let batch = if !batch_on {
        Err("not configured on this deployment (GATEWAY_BATCH_ROLE_ARN)".to_owned())
    } else if let Some(why) = native::blocker(model, request) {
        Err(why)
    } else {
        batch_cost(
            &catalog,
            model,
            resolved.pricing,
            &Usage::new(input, output),
        )
        .map(|c| c.total())
        .ok_or_else(|| format!("{} does not run in Bedrock batch (catalog)", model.id))
    };
    Ok(Options {
        model: model.id.to_string(),
        on_demand: price(resolved.tier),
        flex,
        batch,
        async_invoke: false,
    })
}
