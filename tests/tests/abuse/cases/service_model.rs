//! The gateway against requests generated from Bedrock's published service model (the cases
//! `service-model` writes, which bedrock-local's own test sends to the emulator): every Converse
//! body that breaks a constraint is refused with a 400 naming the path, before any call reaches
//! Bedrock; none that keeps every constraint is refused for breaking one.

use futures_util::FutureExt;
use serde_json::Value;
use service_model::ServiceModel;
use service_model::cases::{Case, Expect, cases};

use crate::case::{Test, check_contract, scenario, send};
use crate::event::post;
use crate::world::{Target, World};

pub fn all() -> Vec<Test> {
    vec![scenario(
        "service_model::converse_bodies_bedrock_refuses_are_refused_first",
        |w| converse_bodies(w).boxed(),
    )]
}

/// A case as the body of the gateway's `POST /v1/converse`: the gateway's `model` in place of
/// Bedrock's `modelId` (cases about `modelId` are left out: the gateway resolves names itself).
fn body(case: &Case) -> Option<Value> {
    if let Expect::Broken { path, .. } = &case.expect
        && path.starts_with("modelId")
    {
        return None;
    }
    let mut body = case.input.clone();
    let o = body.as_object_mut()?;
    o.remove("modelId");
    o.insert("model".into(), "haiku".into());
    Some(body)
}

fn converse_calls(w: &World) -> u64 {
    w.emulator().stats()["requests"]["Converse"]
        .as_u64()
        .unwrap_or(0)
}

async fn converse_bodies(w: &World) -> Result<(), String> {
    let model = ServiceModel::bedrock_runtime();
    let all: Vec<(Case, Value)> = cases(model, "Converse")
        .into_iter()
        .filter_map(|c| body(&c).map(|b| (c, b)))
        .collect();
    let (broken, valid): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|(c, _)| c.expect != Expect::Valid);
    let mut failures = Vec::new();
    let before = converse_calls(w);
    for (case, body) in &broken {
        let Expect::Broken { json_path, .. } = &case.expect else {
            continue;
        };
        let reply = send(w, Target::Invoke, &post("/v1/converse").json(body.clone())).await?;
        check_contract(Target::Invoke, "/v1/converse", &reply)?;
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        // An `s3Location` is refused before anything else unless the deployment allows its
        // bucket (GATEWAY_S3_SOURCE_BUCKETS): still a 400 before any call, in that check's words.
        let named = message.contains(json_path.as_str())
            || case.what.contains("s3Location") && message.contains("s3Location");
        if reply.status != 400 || !named {
            failures.push(format!("{}: {} {message}", case.what, reply.status));
        }
    }
    let spent = converse_calls(w) - before;
    if spent != 0 {
        failures.push(format!(
            "{spent} Converse calls reached Bedrock for refused bodies"
        ));
    }
    for (case, body) in &valid {
        let reply = send(w, Target::Invoke, &post("/v1/converse").json(body.clone())).await?;
        check_contract(Target::Invoke, "/v1/converse", &reply)?;
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if message.contains("service model") || message.contains("failed to satisfy constraint") {
            failures.push(format!("{} (valid): {} {message}", case.what, reply.status));
        }
    }
    if broken.len() < 200 || valid.len() < 100 {
        failures.push(format!(
            "only {} broken and {} valid cases",
            broken.len(),
            valid.len()
        ));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} cases:\n{}",
            failures.len(),
            broken.len() + valid.len(),
            failures[..failures.len().min(20)].join("\n")
        ))
    }
}
