//! The live catalog: the shipped catalog merged with what Bedrock's control plane says this
//! account and region can call (ListFoundationModels, ListInferenceProfiles). No I/O here: the
//! gateway reads the control plane (`inference_core::control`) and hands the models over.
//!
//! - A shipped model the region offers keeps its shipped data (prices, limits, capabilities).
//! - A shipped model the region does not offer is dropped: it leaves `/v1/models` and resolves
//!   as not found.
//! - A model the region offers and the catalog lacks becomes callable as an unpriced chat model
//!   (`ModelEntry::unpriced`), with the control plane's modalities and streaming flag and the
//!   conservative limits below (the control plane publishes no limits).

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use crate::catalog::{Capability, Catalog, CatalogOrigin, Modality, Mode, ModelEntry, Prices};
use crate::error::GatewayError;
use crate::ids::{Geography, ModelId};

/// `maxTokens` ceiling of a model known only from the control plane: small enough for every
/// current Bedrock chat model (a larger request can still name its own `maxTokens` up to this).
pub const LIVE_MAX_OUTPUT_TOKENS: u32 = 4096;

/// Context window assumed for a model known only from the control plane (routing's fit check).
pub const LIVE_MAX_INPUT_TOKENS: u64 = 32_768;

/// One foundation model as the control plane lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveModel {
    /// `modelId`.
    pub id: ModelId,
    /// `modelName`.
    pub name: String,
    /// `inputModalities`.
    pub input_modalities: Vec<Modality>,
    /// `outputModalities`.
    pub output_modalities: Vec<Modality>,
    /// `responseStreamingSupported`.
    pub streaming: bool,
    /// `inferenceTypesSupported` has `ON_DEMAND`.
    pub on_demand: bool,
    /// Geographies of the system inference profiles (ListInferenceProfiles) that serve it.
    pub profiles: Vec<Geography>,
}

impl LiveModel {
    /// A text-in, text-out model callable on demand and streamed, named by its ID: how the
    /// control plane lists an ordinary chat model (and how tests describe one).
    pub fn text(id: ModelId) -> LiveModel {
        LiveModel {
            name: id.to_string(),
            id,
            input_modalities: vec![Modality::Text],
            output_modalities: vec![Modality::Text],
            streaming: true,
            on_demand: true,
            profiles: Vec::new(),
        }
    }
}

/// `shipped` restricted to the models in `live`, plus `live`'s other chat models as unpriced
/// entries; `current`'s learnt application profiles are kept. An empty `live` list is refused
/// (it would empty the catalog: more likely a broken answer than a region without models).
pub fn merge(
    shipped: &Catalog,
    current: &Catalog,
    live: &[LiveModel],
    refreshed_at: String,
) -> Result<Catalog, GatewayError> {
    if live.is_empty() {
        return Err(GatewayError::internal(
            "live catalog: ListFoundationModels listed no model; keeping the catalog",
        ));
    }
    let mut models: Vec<ModelEntry> = shipped
        .models()
        .iter()
        .filter(|m| live.iter().any(|l| l.id == m.id))
        .cloned()
        .collect();
    models.extend(
        live.iter()
            .filter(|l| shipped.get(&l.id).is_none())
            .filter_map(unpriced_entry),
    );
    let origin = CatalogOrigin {
        live: true,
        refreshed_at: Some(refreshed_at),
    };
    Ok(Catalog::from_parts(shipped.meta().clone(), models)?.carry_over(current, origin))
}

/// A chat model the catalog lacks; `None` for what the gateway cannot call through Converse
/// (embeddings, image or video output) or at all (neither on demand nor through a profile).
fn unpriced_entry(l: &LiveModel) -> Option<ModelEntry> {
    let chat = l.output_modalities == [Modality::Text];
    if !chat || (!l.on_demand && l.profiles.is_empty()) {
        return None;
    }
    let mut capabilities = BTreeSet::from([Capability::Converse]);
    if l.streaming {
        capabilities.insert(Capability::Streaming);
    }
    if l.input_modalities.contains(&Modality::Image) {
        capabilities.insert(Capability::Vision);
    }
    let provider = l.id.provider().to_owned();
    Some(ModelEntry {
        id: l.id.clone(),
        family: provider.clone(),
        provider,
        display_name: l.name.clone(),
        aliases: Vec::new(),
        mode: Mode::Chat,
        max_input_tokens: LIVE_MAX_INPUT_TOKENS,
        max_output_tokens: LIVE_MAX_OUTPUT_TOKENS,
        input_modalities: l.input_modalities.clone(),
        output_modalities: l.output_modalities.clone(),
        capabilities,
        profiles: l.profiles.clone(),
        on_demand: l.on_demand,
        price: Prices {
            input_cost_per_mtok: Decimal::ZERO,
            output_cost_per_mtok: Decimal::ZERO,
            cache_read_input_token_cost_per_mtok: None,
            cache_creation_input_token_cost_per_mtok: None,
            cache_creation_input_token_cost_above_1hr_per_mtok: None,
            output_cost_per_video_per_second: None,
        },
        price_regional: None,
        price_source: None,
        price_date: None,
        source: None,
        as_of: None,
        verified: None,
        tiers: Vec::new(),
        batch: None,
        anthropic_betas: Vec::new(),
        unpriced: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(id: &str, out: Modality) -> LiveModel {
        LiveModel {
            id: id.parse().unwrap(),
            name: id.to_owned(),
            input_modalities: vec![Modality::Text, Modality::Image],
            output_modalities: vec![out],
            streaming: true,
            on_demand: true,
            profiles: Vec::new(),
        }
    }

    #[test]
    fn keeps_offered_models_drops_the_others_and_adds_new_chat_models_unpriced() {
        let shipped = Catalog::embedded().unwrap();
        let nova = "amazon.nova-lite-v1:0";
        let new = "acme.frontier-v1:0";
        let list = [
            live(nova, Modality::Text),
            live(new, Modality::Text),
            live("acme.embed-v1:0", Modality::Embedding),
        ];
        let merged = merge(&shipped, &shipped, &list, "2026-12-06T00:00:00Z".into()).unwrap();
        assert_eq!(merged.models().len(), 2);
        let kept = merged.by_name(nova).unwrap();
        assert!(!kept.unpriced);
        assert_eq!(kept.price, shipped.by_name(nova).unwrap().price);
        let added = merged.by_name(new).unwrap();
        assert!(added.unpriced && added.supports(Capability::Vision));
        assert_eq!(added.max_output_tokens, LIVE_MAX_OUTPUT_TOKENS);
        assert!(merged.by_name("sonnet").is_none(), "not offered: gone");
        assert!(merged.origin().live);
        assert!(!shipped.origin().live);
    }

    #[test]
    fn an_empty_answer_keeps_the_catalog() {
        let shipped = Catalog::embedded().unwrap();
        assert!(merge(&shipped, &shipped, &[], "2026-12-06T00:00:00Z".into()).is_err());
    }
}
