//! ListFoundationModels and GetFoundationModel: the control plane's view of the model table.
//! Every field is derived from the rows the runtime serves (`models::shipped()`, and those added with `POST /_local/models`), so what the
//! control plane lists is exactly what Converse and InvokeModel accept.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::constraints;
use crate::errors::{BedrockError, validation};
use crate::models::{self, Family, Model};

/// `GetFoundationModelIdentifier` in the service model: a model ID or a foundation-model ARN.
const IDENTIFIER_PATTERN: &str = r"(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}::foundation-model/[a-z0-9-]{1,63}[.]{1}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2})|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})";
const PROVIDER_PATTERN: &str = "[A-Za-z0-9- ]{1,63}";
const CUSTOMIZATIONS: [&str; 3] = ["FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"];
const MODALITIES: [&str; 3] = ["TEXT", "IMAGE", "EMBEDDING"];
const INFERENCE_TYPES: [&str; 2] = ["ON_DEMAND", "PROVISIONED"];

/// The foundation-model ARN of a model in a region.
pub fn arn(region: &str, model: &Model) -> String {
    format!("arn:aws:bedrock:{region}::foundation-model/{}", model.id)
}

fn input_modalities(model: &Model) -> Vec<&'static str> {
    if model.caps.images || model.family == Family::NovaReel {
        vec!["TEXT", "IMAGE"]
    } else {
        vec!["TEXT"]
    }
}

fn output_modalities(model: &Model) -> Vec<&'static str> {
    match model.family {
        Family::TitanEmbed | Family::CohereEmbed => vec!["EMBEDDING"],
        Family::NovaReel => vec!["VIDEO"],
        _ => vec!["TEXT"],
    }
}

/// `ON_DEMAND` when the bare ID is callable, `INFERENCE_PROFILE` when a system profile serves it.
pub fn inference_types(model: &Model) -> Vec<&'static str> {
    let mut types = Vec::new();
    if model.on_demand {
        types.push("ON_DEMAND");
    }
    if models::GEOS.iter().any(|g| model.offered_in(g)) {
        types.push("INFERENCE_PROFILE");
    }
    types
}

/// A `FoundationModelSummary` (also the `modelDetails` of GetFoundationModel).
pub fn summary(region: &str, model: &Model) -> Value {
    json!({
        "modelArn": arn(region, model),
        "modelId": model.id,
        "modelName": model.name,
        "providerName": model.provider(),
        "inputModalities": input_modalities(model),
        "outputModalities": output_modalities(model),
        "responseStreamingSupported": model.caps.streaming,
        "customizationsSupported": [],
        "inferenceTypesSupported": inference_types(model),
        "modelLifecycle": {"status": "ACTIVE"},
    })
}

fn provider_matches(model: &Model, wanted: &str) -> bool {
    let prefix = model.id.split('.').next().unwrap_or("");
    model.provider().eq_ignore_ascii_case(wanted) || prefix.eq_ignore_ascii_case(wanted)
}

/// ListFoundationModels with its four filters (query parameters as the SDKs send them).
pub fn list(region: &str, q: &HashMap<String, String>) -> Result<Value, BedrockError> {
    let provider = q.get("byProvider");
    if let Some(p) = provider {
        constraints::pattern("byProvider", p, PROVIDER_PATTERN)?;
    }
    if let Some(c) = q.get("byCustomizationType") {
        constraints::one_of("byCustomizationType", c, &CUSTOMIZATIONS)?;
    }
    let modality = q.get("byOutputModality");
    if let Some(m) = modality {
        constraints::one_of("byOutputModality", m, &MODALITIES)?;
    }
    let inference = q.get("byInferenceType");
    if let Some(t) = inference {
        constraints::one_of("byInferenceType", t, &INFERENCE_TYPES)?;
    }
    let summaries: Vec<Value> = models::all()
        .into_iter()
        .filter(|m| provider.is_none_or(|p| provider_matches(m, p)))
        // No model here can be customised.
        .filter(|_| !q.contains_key("byCustomizationType"))
        .filter(|m| modality.is_none_or(|w| output_modalities(m).contains(&w.as_str())))
        .filter(|m| inference.is_none_or(|w| inference_types(m).contains(&w.as_str())))
        .map(|m| summary(region, m))
        .collect();
    Ok(json!({ "modelSummaries": summaries }))
}

/// GetFoundationModel by model ID or foundation-model ARN. An unknown model is Bedrock's
/// "The provided model identifier is invalid." ValidationException, as on the runtime side.
pub fn get(region: &str, identifier: &str) -> Result<Value, BedrockError> {
    constraints::length("modelIdentifier", identifier, 1, 2048)?;
    constraints::pattern("modelIdentifier", identifier, IDENTIFIER_PATTERN)?;
    let id = match identifier.split_once("::foundation-model/") {
        Some((_, id)) => id,
        None => identifier,
    };
    match models::find(id) {
        Some(model) => Ok(json!({ "modelDetails": summary(region, model) })),
        None => validation("The provided model identifier is invalid."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn lists_every_model_and_filters() {
        let all = list("us-east-1", &HashMap::new()).unwrap();
        assert_eq!(
            all["modelSummaries"].as_array().unwrap().len(),
            models::shipped().count()
        );
        let claude = list("us-east-1", &query(&[("byProvider", "anthropic")])).unwrap();
        let ids: Vec<&str> = claude["modelSummaries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["modelId"].as_str().unwrap())
            .collect();
        assert!(ids.iter().all(|i| i.starts_with("anthropic.")), "{ids:?}");
        assert!(!ids.is_empty());
        let embed = list("us-east-1", &query(&[("byOutputModality", "EMBEDDING")])).unwrap();
        assert_eq!(embed["modelSummaries"].as_array().unwrap().len(), 2);
        assert!(list("us-east-1", &query(&[("byOutputModality", "AUDIO")])).is_err());
        assert!(list("us-east-1", &query(&[("byProvider", "bad!")])).is_err());
    }

    #[test]
    fn inference_types_follow_the_runtime_table() {
        let sonnet = models::find("anthropic.claude-sonnet-4-5-20250929-v1:0").unwrap();
        assert_eq!(inference_types(sonnet), ["INFERENCE_PROFILE"]);
        let titan = models::find("amazon.titan-text-express-v1").unwrap();
        assert_eq!(inference_types(titan), ["ON_DEMAND"]);
        let lite = models::find("amazon.nova-lite-v1:0").unwrap();
        assert_eq!(inference_types(lite), ["ON_DEMAND", "INFERENCE_PROFILE"]);
        let on_demand = list("us-east-1", &query(&[("byInferenceType", "ON_DEMAND")])).unwrap();
        assert!(
            on_demand["modelSummaries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| models::find(m["modelId"].as_str().unwrap())
                    .unwrap()
                    .on_demand)
        );
    }

    #[test]
    fn get_by_id_or_arn() {
        let arn = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0";
        assert_eq!(
            get("us-east-1", arn).unwrap()["modelDetails"]["modelId"],
            "amazon.nova-lite-v1:0"
        );
        assert!(get("us-east-1", "amazon.nova-lite-v1:0").is_ok());
        let e = get("us-east-1", "amazon.nope-v1:0").unwrap_err();
        assert_eq!(e.name(), "ValidationException");
        assert!(get("us-east-1", "NOT VALID").is_err());
    }
}
