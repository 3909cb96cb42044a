//! The model catalog: what each Bedrock model can do, how it is called and what it costs.
//!
//! The data lives in `shared/catalog.toml` (embedded at build time) so that prices and
//! availability change without code changes; `GATEWAY_CATALOG_FILE` replaces it at run time.
//! Loading validates the whole file, so a bad catalog fails a cold start, not a request.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use crate::catalog_origin::CatalogOrigin;
use crate::config::Config;
use crate::error::GatewayError;
use crate::ids::{ApplicationProfile, Geography, ModelId, ModelRef};
use crate::tier::Tier;

/// The catalog compiled into the crate.
pub const EMBEDDED_CATALOG: &str = include_str!(concat!(env!("OUT_DIR"), "/catalog.json"));

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Text generation (Converse, InvokeModel).
    Chat,
    /// Embeddings (InvokeModel only).
    Embedding,
    /// Video generation (StartAsyncInvoke only, e.g. Nova Reel): priced per second of video.
    VideoGeneration,
}

/// Input or output modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Text.
    Text,
    /// Images.
    Image,
    /// Documents (PDF, CSV, ...).
    Document,
    /// Video.
    Video,
    /// Audio.
    Audio,
    /// Vectors.
    Embedding,
}

/// A feature a model supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Callable with Converse.
    Converse,
    /// Callable with ConverseStream / InvokeModelWithResponseStream.
    Streaming,
    /// Tool use.
    Tools,
    /// Image input.
    Vision,
    /// Document blocks.
    Documents,
    /// Extended thinking / reasoning content.
    Reasoning,
    /// Prompt caching (cachePoint blocks).
    PromptCaching,
    /// Bedrock CountTokens.
    CountTokens,
    /// StartAsyncInvoke.
    AsyncInvoke,
    /// Produces embeddings.
    Embeddings,
    /// Native structured output: Converse `outputConfig.textFormat` (JSON that matches a schema).
    StructuredOutput,
}

impl Capability {
    /// Every capability, in display order.
    pub const ALL: [Capability; 11] = [
        Capability::Converse,
        Capability::Streaming,
        Capability::Tools,
        Capability::Vision,
        Capability::Documents,
        Capability::Reasoning,
        Capability::PromptCaching,
        Capability::CountTokens,
        Capability::AsyncInvoke,
        Capability::Embeddings,
        Capability::StructuredOutput,
    ];

    /// The catalog's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Converse => "converse",
            Capability::Streaming => "streaming",
            Capability::Tools => "tools",
            Capability::Vision => "vision",
            Capability::Documents => "documents",
            Capability::Reasoning => "reasoning",
            Capability::PromptCaching => "prompt_caching",
            Capability::CountTokens => "count_tokens",
            Capability::AsyncInvoke => "async_invoke",
            Capability::Embeddings => "embeddings",
            Capability::StructuredOutput => "structured_output",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which price list applies to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingScope {
    /// Global profile: base price.
    Global,
    /// Bare ID in the region or a geographic profile (Claude 4.5: +10%).
    Regional,
}

impl PricingScope {
    /// `global` / `regional`.
    pub fn as_str(self) -> &'static str {
        match self {
            PricingScope::Global => "global",
            PricingScope::Regional => "regional",
        }
    }
}

/// Prices in USD per million tokens. Names follow `model_prices_and_context_window.json`
/// (`input_cost_per_token` -> `input_cost_per_mtok`, ...); see the header of `catalog.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// Uncached input tokens.
    pub input_cost_per_mtok: Decimal,
    /// Output tokens.
    pub output_cost_per_mtok: Decimal,
    /// Tokens read from the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost_per_mtok: Option<Decimal>,
    /// Tokens written to the prompt cache with the default 5-minute TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost_per_mtok: Option<Decimal>,
    /// Tokens written to the prompt cache with the 1-hour TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost_above_1hr_per_mtok: Option<Decimal>,
    /// USD per second of generated video (video models; LiteLLM's
    /// `output_cost_per_video_per_second`). Not per million: a second is the billed unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_video_per_second: Option<Decimal>,
}

/// Upper bound on a price per million tokens; keeps cost arithmetic far from overflow.
pub const MAX_PRICE_PER_MTOK: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// The one conversion from per-million to per-token prices.
pub const TOKENS_PER_PRICE_UNIT: u64 = 1_000_000;

impl Prices {
    /// Price of one token (the unit of `model_prices_and_context_window.json`).
    pub fn per_token(per_mtok: Decimal) -> Decimal {
        per_mtok / Decimal::from(TOKENS_PER_PRICE_UNIT)
    }

    /// Cache-read price; a model without one is charged the input price (never zero by accident).
    pub fn cache_read(&self) -> Decimal {
        self.cache_read_input_token_cost_per_mtok
            .unwrap_or(self.input_cost_per_mtok)
    }

    /// 5-minute cache-write price, falling back to input.
    pub fn cache_write_5m(&self) -> Decimal {
        self.cache_creation_input_token_cost_per_mtok
            .unwrap_or(self.input_cost_per_mtok)
    }

    /// 1-hour cache-write price, falling back to the 5-minute price.
    pub fn cache_write_1h(&self) -> Decimal {
        self.cache_creation_input_token_cost_above_1hr_per_mtok
            .unwrap_or_else(|| self.cache_write_5m())
    }

    /// Every component multiplied by `factor` (a tier priced as a multiple of standard).
    pub fn scaled(&self, factor: Decimal) -> Prices {
        let f = |d: Decimal| d * factor;
        Prices {
            input_cost_per_mtok: f(self.input_cost_per_mtok),
            output_cost_per_mtok: f(self.output_cost_per_mtok),
            cache_read_input_token_cost_per_mtok: self.cache_read_input_token_cost_per_mtok.map(f),
            cache_creation_input_token_cost_per_mtok: self
                .cache_creation_input_token_cost_per_mtok
                .map(f),
            cache_creation_input_token_cost_above_1hr_per_mtok: self
                .cache_creation_input_token_cost_above_1hr_per_mtok
                .map(f),
            output_cost_per_video_per_second: self.output_cost_per_video_per_second.map(f),
        }
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = Decimal> {
        [
            Some(self.input_cost_per_mtok),
            Some(self.output_cost_per_mtok),
            self.cache_read_input_token_cost_per_mtok,
            self.cache_creation_input_token_cost_per_mtok,
            self.cache_creation_input_token_cost_above_1hr_per_mtok,
            self.output_cost_per_video_per_second,
        ]
        .into_iter()
        .flatten()
    }
}

/// A tier other than standard that a model offers (`[[models.tiers]]`), with its price: either
/// a `multiplier` of the model's standard prices (for the scope the call takes) or its own
/// `price` list, never both. Every offer names its `source` and `as_of` date; `verified = false`
/// marks a figure not confirmed on AWS's own pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierOffer {
    /// Which tier (`flex`, `priority`, `reserved`, `latency_optimized`).
    pub tier: Tier,
    /// Price as a multiple of the standard price list (0.5: half price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<Decimal>,
    /// Price list of its own (the same on every route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Prices>,
    /// Where availability and price come from (URL).
    pub source: String,
    /// When they were checked (YYYY-MM-DD).
    pub as_of: String,
    /// Whether the figure was confirmed on AWS's pages (false: compiled from other sources).
    #[serde(default = "yes")]
    pub verified: bool,
}

fn yes() -> bool {
    true
}

/// Upper bound on a tier multiplier.
pub(crate) const MAX_TIER_MULTIPLIER: Decimal = Decimal::from_parts(10, 0, 0, false, 0);

/// One model as the catalog describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Bare foundation-model ID.
    pub id: ModelId,
    /// Provider (`anthropic`, `amazon`, `meta`, `mistral`, `cohere`).
    pub provider: String,
    /// Family (`claude`, `nova`, `titan`, `llama`, ...): decides how native bodies are read.
    pub family: String,
    /// Human name.
    pub display_name: String,
    /// Friendly names callers may use.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Chat or embedding.
    pub mode: Mode,
    /// Context window (input tokens).
    pub max_input_tokens: u64,
    /// Largest `maxTokens` the model accepts.
    pub max_output_tokens: u32,
    /// Accepted inputs.
    pub input_modalities: Vec<Modality>,
    /// Produced outputs.
    pub output_modalities: Vec<Modality>,
    /// Supported features.
    pub capabilities: BTreeSet<Capability>,
    /// Geographies with a system inference profile.
    #[serde(default)]
    pub profiles: Vec<Geography>,
    /// Whether Bedrock accepts the bare ID on demand.
    pub on_demand: bool,
    /// Base prices (global profile, or every route when there is no regional premium).
    pub price: Prices,
    /// Prices through geographic profiles / in-region, where they differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_regional: Option<Prices>,
    /// Overrides the catalog's price source for this model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_source: Option<String>,
    /// Overrides the catalog's price date for this model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_date: Option<String>,
    /// Where the entry's ID, limits and capabilities come from (URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When the entry was checked against `source` (YYYY-MM-DD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// `false`: the entry (or its price) could not be confirmed on AWS's pages; kept as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Tiers other than standard the model offers, with their prices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierOffer>,
    /// Bedrock batch inference (CreateModelInvocationJob), where AWS lists the model as
    /// supported: its price as a multiple of on-demand (`crate::batch_offer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<crate::batch_offer::BatchOffer>,
    /// `anthropic-beta` values Bedrock accepts for this model on the native Claude body
    /// (`anthropic_beta`); `/v1/messages` drops the others instead of letting Bedrock 400.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anthropic_betas: Vec<String>,
    /// Found by the live catalog with no shipped price: its prices are zero placeholders, it is
    /// callable only where `GATEWAY_ALLOW_UNPRICED` allows, and its cost is reported unknown.
    /// Never read from a catalog file.
    #[serde(skip)]
    pub unpriced: bool,
}

impl ModelEntry {
    /// Whether the model supports `cap`.
    pub fn supports(&self, cap: Capability) -> bool {
        self.capabilities.contains(&cap)
    }

    /// Whether a system profile exists for `geo`.
    pub fn has_profile(&self, geo: Geography) -> bool {
        self.profiles.contains(&geo)
    }

    /// The price list for a scope.
    pub fn prices(&self, scope: PricingScope) -> &Prices {
        match (scope, &self.price_regional) {
            (PricingScope::Regional, Some(regional)) => regional,
            _ => &self.price,
        }
    }
}

/// Catalog-wide facts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogMeta {
    /// Always `USD` today.
    pub currency: String,
    /// Where prices come from.
    pub price_source: String,
    /// When prices were checked (YYYY-MM-DD).
    pub price_date: String,
}

/// A suffix Anthropic clients append to a model name to ask for a beta (`claude-sonnet-4-5[1m]`
/// means the 1M-token context): the name resolves without it and the beta is requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameSuffix {
    /// The suffix as written, e.g. `[1m]`.
    pub suffix: String,
    /// The `anthropic-beta` value it stands for.
    pub beta: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    meta: CatalogMeta,
    #[serde(default)]
    name_suffixes: Vec<NameSuffix>,
    models: Vec<ModelEntry>,
}

/// The loaded, validated catalog with its lookup indexes.
#[derive(Debug, Clone)]
pub struct Catalog {
    meta: CatalogMeta,
    name_suffixes: Vec<NameSuffix>,
    models: Vec<ModelEntry>,
    by_id: HashMap<ModelId, usize>,
    by_name: HashMap<String, usize>,
    /// Application inference profiles learnt from the control plane, by ARN.
    application_profiles: HashMap<String, ApplicationProfile>,
    /// Where the model list comes from (shipped data, or merged with the control plane).
    origin: CatalogOrigin,
}

impl Catalog {
    /// Loads the catalog named by `GATEWAY_CATALOG_FILE`, or the embedded one.
    pub fn load(config: &Config) -> Result<Catalog, GatewayError> {
        match &config.catalog_file {
            None => Catalog::parse(EMBEDDED_CATALOG),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    GatewayError::internal(format!(
                        "GATEWAY_CATALOG_FILE: cannot read {}: {e}",
                        path.display()
                    ))
                })?;
                Catalog::parse(&text)
                    .map_err(|e| e.context(&format!("GATEWAY_CATALOG_FILE {}", path.display())))
            }
        }
    }

    /// The embedded catalog (always valid: a test checks it).
    pub fn embedded() -> Result<Catalog, GatewayError> {
        Catalog::parse(EMBEDDED_CATALOG)
    }

    /// The first character of a JSON catalog (anything else is read as TOML). Named so the
    /// brace is not a bare character literal in `parse`, which line-based brace counters (the
    /// function-length check) misread as an unclosed block.
    const JSON_START: char = '{';

    /// Parses and validates TOML (or JSON, when the text starts with `{`).
    pub fn parse(text: &str) -> Result<Catalog, GatewayError> {
        let file: CatalogFile = if text.trim_start().starts_with(Self::JSON_START) {
            serde_json::from_str(text)
                .map_err(|e| GatewayError::internal(format!("catalog: {e}")))?
        } else {
            toml::from_str(text).map_err(|e| GatewayError::internal(format!("catalog: {e}")))?
        };
        let mut catalog = Catalog::from_parts(file.meta, file.models)?;
        catalog.name_suffixes = file.name_suffixes;
        Ok(catalog)
    }

    pub(crate) fn from_parts(
        meta: CatalogMeta,
        models: Vec<ModelEntry>,
    ) -> Result<Catalog, GatewayError> {
        let bad = |m: String| GatewayError::internal(format!("catalog: {m}"));
        if !is_date(&meta.price_date) {
            return Err(bad(format!(
                "meta.price_date {:?} is not YYYY-MM-DD",
                meta.price_date
            )));
        }
        let mut by_id = HashMap::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (i, m) in models.iter().enumerate() {
            let id = m.id.as_str();
            if by_id.insert(m.id.clone(), i).is_some() {
                return Err(bad(format!("model {id} is listed twice")));
            }
            if m.id.provider() != m.provider {
                return Err(bad(format!(
                    "model {id}: provider {:?} does not match the ID",
                    m.provider
                )));
            }
            if !m.on_demand && m.profiles.is_empty() {
                return Err(bad(format!(
                    "model {id}: not callable on demand and has no profiles"
                )));
            }
            if m.mode == Mode::Chat && m.max_output_tokens == 0 {
                return Err(bad(format!(
                    "model {id}: a chat model needs max_output_tokens > 0"
                )));
            }
            if m.mode == Mode::VideoGeneration
                && (m.price.output_cost_per_video_per_second.is_none()
                    || !m.capabilities.contains(&Capability::AsyncInvoke))
            {
                return Err(bad(format!(
                    "model {id}: a video model needs async_invoke and output_cost_per_video_per_second"
                )));
            }
            let prices = m
                .price
                .all()
                .chain(m.price_regional.iter().flat_map(Prices::all));
            if prices
                .into_iter()
                .any(|p| p.is_sign_negative() || p > MAX_PRICE_PER_MTOK)
            {
                return Err(bad(format!(
                    "model {id}: prices must be between 0 and {MAX_PRICE_PER_MTOK} per million"
                )));
            }
            m.check_tiers().map_err(bad)?;
            if let Some(b) = &m.batch {
                b.check().map_err(|e| bad(format!("model {}: {e}", m.id)))?;
            }
            for (field, d) in [("price_date", &m.price_date), ("as_of", &m.as_of)] {
                if let Some(d) = d
                    && !is_date(d)
                {
                    return Err(bad(format!("model {id}: {field} {d:?} is not YYYY-MM-DD")));
                }
            }
            for name in std::iter::once(id).chain(m.aliases.iter().map(String::as_str)) {
                let key = name.to_ascii_lowercase();
                if name != id && !matches!(ModelRef::parse(name), ModelRef::Name(_)) {
                    return Err(bad(format!(
                        "model {id}: alias {name:?} looks like a model ID"
                    )));
                }
                if let Some(&other) = by_name.get(&key)
                    && other != i
                {
                    return Err(bad(format!(
                        "name {name:?} is used by both {} and {id}",
                        models[other].id
                    )));
                }
                by_name.insert(key, i);
            }
        }
        Ok(Catalog {
            meta,
            name_suffixes: Vec::new(),
            models,
            by_id,
            by_name,
            application_profiles: HashMap::new(),
            origin: CatalogOrigin::default(),
        })
    }

    /// A copy that also knows `profile` (learnt through GetInferenceProfile).
    pub fn with_application_profile(&self, profile: ApplicationProfile) -> Catalog {
        let mut next = self.clone();
        next.application_profiles
            .insert(profile.arn.clone(), profile);
        next
    }

    /// Where the model list comes from.
    pub fn origin(&self) -> &CatalogOrigin {
        &self.origin
    }

    /// The name suffixes and learnt profiles of `other`, and `origin`, carried over to `self`
    /// (a live merge keeps what the warm function learnt).
    pub(crate) fn carry_over(mut self, other: &Catalog, origin: CatalogOrigin) -> Catalog {
        self.name_suffixes = other.name_suffixes.clone();
        self.application_profiles = other.application_profiles.clone();
        self.origin = origin;
        self
    }

    /// An application inference profile the gateway has learnt, by ARN.
    pub fn application_profile(&self, arn: &str) -> Option<&ApplicationProfile> {
        self.application_profiles.get(arn)
    }

    /// Catalog-wide facts (currency, price source and date).
    pub fn meta(&self) -> &CatalogMeta {
        &self.meta
    }

    /// Every model, in catalog order.
    pub fn models(&self) -> &[ModelEntry] {
        &self.models
    }

    /// A model by its bare ID.
    pub fn get(&self, id: &ModelId) -> Option<&ModelEntry> {
        self.by_id.get(id).map(|&i| &self.models[i])
    }

    /// A model by alias or bare ID, case-insensitively.
    pub fn by_name(&self, name: &str) -> Option<&ModelEntry> {
        self.by_name
            .get(&name.trim().to_ascii_lowercase())
            .map(|&i| &self.models[i])
    }

    /// `name` without a known beta suffix, and the beta the suffix asks for (`[1m]` ->
    /// `context-1m-2025-08-07`); names without one come back unchanged.
    pub fn split_name_suffix<'a>(&'a self, name: &'a str) -> (&'a str, Option<&'a str>) {
        self.name_suffixes
            .iter()
            .find_map(|s| {
                let base = name.trim().strip_suffix(s.suffix.as_str())?;
                Some((base, Some(s.beta.as_str())))
            })
            .unwrap_or((name, None))
    }

    /// Every name (IDs and aliases) the catalog knows, for suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.models.iter().flat_map(|m| {
            std::iter::once(m.id.as_str()).chain(m.aliases.iter().map(String::as_str))
        })
    }

    /// The price date of a model (its own, or the catalog's).
    pub fn price_date<'a>(&'a self, model: &'a ModelEntry) -> &'a str {
        model.price_date.as_deref().unwrap_or(&self.meta.price_date)
    }

    /// The price source of a model (its own, or the catalog's).
    pub fn price_source<'a>(&'a self, model: &'a ModelEntry) -> &'a str {
        model
            .price_source
            .as_deref()
            .unwrap_or(&self.meta.price_source)
    }
}

pub(crate) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::dec;

    /// The embedded JSON is `catalog.toml` as build.rs wrote it: the same data, value for value,
    /// and both forms load the same catalog.
    #[test]
    fn embedded_json_is_catalog_toml_value_for_value() {
        let source = include_str!("../catalog.toml");
        let from_toml: serde_json::Value = toml::from_str(source).expect("catalog.toml");
        let from_json: serde_json::Value = serde_json::from_str(EMBEDDED_CATALOG).expect("json");
        assert_eq!(from_toml, from_json);
        let a = Catalog::parse(source).expect("TOML catalog");
        let b = Catalog::embedded().expect("embedded catalog");
        let ids = |c: &Catalog| {
            c.models
                .iter()
                .map(|m| m.id.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(format!("{:?}", a.models), format!("{:?}", b.models));
    }

    #[test]
    fn embedded_catalog_is_valid_and_complete() {
        let c = Catalog::embedded().expect("embedded catalog");
        for id in [
            "anthropic.claude-opus-4-5-20251101-v1:0",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "amazon.nova-premier-v1:0",
            "amazon.nova-pro-v1:0",
            "amazon.nova-lite-v1:0",
            "amazon.nova-micro-v1:0",
            "amazon.titan-text-premier-v1:0",
            "amazon.titan-text-express-v1",
            "amazon.titan-text-lite-v1",
            "meta.llama3-1-8b-instruct-v1:0",
            "meta.llama3-1-70b-instruct-v1:0",
            "meta.llama3-2-1b-instruct-v1:0",
            "meta.llama3-2-3b-instruct-v1:0",
            "meta.llama3-2-11b-instruct-v1:0",
            "meta.llama3-2-90b-instruct-v1:0",
            "meta.llama3-3-70b-instruct-v1:0",
            "meta.llama4-maverick-17b-instruct-v1:0",
            "meta.llama4-scout-17b-instruct-v1:0",
            "mistral.mistral-large-2402-v1:0",
            "mistral.mistral-7b-instruct-v0:2",
            "mistral.mixtral-8x7b-instruct-v0:1",
            "mistral.mistral-small-2402-v1:0",
            "cohere.command-r-v1:0",
            "cohere.command-r-plus-v1:0",
            "amazon.titan-embed-text-v2:0",
            "cohere.embed-english-v3",
        ] {
            assert!(c.get(&id.parse().unwrap()).is_some(), "{id} missing");
        }
        for alias in [
            "opus",
            "sonnet",
            "haiku",
            "opus-4.5",
            "sonnet-4.5",
            "haiku-4.5",
            "claude-3-haiku",
            "nova-premier",
            "nova-pro",
            "nova-lite",
            "nova-micro",
            "titan-premier",
            "titan-express",
            "titan-lite",
            "llama-3.1-8b",
            "mistral-large",
            "command-r",
            "command-r-plus",
            "titan-embed",
        ] {
            assert!(c.by_name(alias).is_some(), "alias {alias} missing");
        }
    }

    #[test]
    fn claude_45_prices_follow_the_published_ratios() {
        let c = Catalog::embedded().unwrap();
        for (id, input, output) in [
            ("anthropic.claude-opus-4-5-20251101-v1:0", dec!(5), dec!(25)),
            (
                "anthropic.claude-sonnet-4-5-20250929-v1:0",
                dec!(3),
                dec!(15),
            ),
            ("anthropic.claude-haiku-4-5-20251001-v1:0", dec!(1), dec!(5)),
        ] {
            let m = c.get(&id.parse().unwrap()).unwrap();
            let g = &m.price;
            assert_eq!(g.input_cost_per_mtok, input);
            assert_eq!(g.output_cost_per_mtok, output);
            assert_eq!(g.cache_write_5m(), input * dec!(1.25));
            assert_eq!(g.cache_write_1h(), input * dec!(2));
            assert_eq!(g.cache_read(), input * dec!(0.1));
            let r = m.price_regional.as_ref().expect("regional prices");
            for (global, regional) in g.all().zip(r.all()) {
                assert_eq!(regional, global * dec!(1.1), "{id}");
            }
            assert!(m.has_profile(Geography::Global));
            assert!(!m.on_demand);
        }
    }

    #[test]
    fn per_token_is_per_million() {
        assert_eq!(Prices::per_token(dec!(3)), dec!(0.000003));
    }

    #[test]
    fn rejects_bad_catalogs() {
        let base = r#"
[meta]
currency = "USD"
price_source = "x"
price_date = "2026-11-26"
[[models]]
id = "amazon.nova-pro-v1:0"
provider = "amazon"
family = "nova"
display_name = "Nova Pro"
aliases = ["NAME"]
mode = "chat"
max_input_tokens = 1
max_output_tokens = 1
input_modalities = ["text"]
output_modalities = ["text"]
capabilities = ["converse"]
profiles = []
on_demand = ONDEMAND
price = { input_cost_per_mtok = "PRICE", output_cost_per_mtok = "1" }
"#;
        let make = |name: &str, on_demand: &str, price: &str| {
            base.replace("NAME", name)
                .replace("ONDEMAND", on_demand)
                .replace("PRICE", price)
        };
        assert!(Catalog::parse(&make("pro", "true", "1")).is_ok());
        assert!(Catalog::parse(&make("pro", "false", "1")).is_err());
        assert!(Catalog::parse(&make("pro", "true", "-1")).is_err());
        assert!(Catalog::parse(&make("pro", "true", "abc")).is_err());
        assert!(Catalog::parse(&make("us.amazon.nova-pro-v1:0", "true", "1")).is_err());
        let doubled = format!(
            "{}{}",
            make("pro", "true", "1"),
            &make("x", "true", "1")[base.find("[[models]]").unwrap()..]
        );
        assert!(Catalog::parse(&doubled).is_err());
    }
}

#[cfg(test)]
mod provenance_tests {
    use super::*;

    /// Updating a price is a data change, and each figure must say where it came from and when.
    #[test]
    fn every_entry_and_price_has_a_source_and_date() {
        let c = Catalog::embedded().unwrap();
        for m in c.models() {
            let id = &m.id;
            for (field, v) in [
                ("source", &m.source),
                ("as_of", &m.as_of),
                ("price_source", &m.price_source),
                ("price_date", &m.price_date),
            ] {
                let v = v.as_deref().unwrap_or_default();
                assert!(!v.trim().is_empty(), "{id}: no {field}");
                if field.ends_with("source") {
                    assert!(v.starts_with("https://"), "{id}: {field} is not a URL");
                } else {
                    assert!(is_date(v), "{id}: {field} {v:?} is not a date");
                }
            }
            assert!(m.verified.is_some(), "{id}: say whether it is verified");
            for t in &m.tiers {
                assert!(t.source.starts_with("https://"), "{id} {}", t.tier);
                assert!(is_date(&t.as_of), "{id} {}", t.tier);
            }
        }
    }

    #[test]
    fn tiers_are_priced_from_the_data() {
        let c = Catalog::embedded().unwrap();
        let pro = c.by_name("nova-pro").unwrap();
        let standard = pro
            .tier_prices(PricingScope::Regional, Tier::Standard)
            .unwrap();
        let flex = pro.tier_prices(PricingScope::Regional, Tier::Flex).unwrap();
        let priority = pro
            .tier_prices(PricingScope::Regional, Tier::Priority)
            .unwrap();
        let m = |t: Tier| pro.tier_offer(t).unwrap().multiplier.unwrap();
        assert_eq!(flex, standard.scaled(m(Tier::Flex)));
        assert_eq!(priority, standard.scaled(m(Tier::Priority)));
        assert!(flex.input_cost_per_mtok < standard.input_cost_per_mtok);
        assert!(priority.output_cost_per_mtok > standard.output_cost_per_mtok);
        let lo = pro
            .tier_prices(PricingScope::Global, Tier::LatencyOptimized)
            .unwrap();
        assert_eq!(
            &lo,
            pro.tier_offer(Tier::LatencyOptimized)
                .unwrap()
                .price
                .as_ref()
                .unwrap()
        );
        let lite = c.by_name("nova-lite").unwrap();
        assert!(
            lite.tier_prices(PricingScope::Regional, Tier::Flex)
                .is_none()
        );
        let err = lite.check_tier(Tier::Flex).unwrap_err();
        assert_eq!(err.status().as_u16(), 400);
        assert!(err.to_string().contains("flex"), "{err}");
        assert!(lite.check_tier(Tier::Standard).is_ok());
    }

    #[test]
    fn rejects_bad_tier_offers() {
        let entry = |tiers: &str| {
            format!(
                r#"
[meta]
currency = "USD"
price_source = "x"
price_date = "2026-11-26"
[[models]]
id = "amazon.nova-pro-v1:0"
provider = "amazon"
family = "nova"
display_name = "Nova Pro"
mode = "chat"
max_input_tokens = 1
max_output_tokens = 1
input_modalities = ["text"]
output_modalities = ["text"]
capabilities = ["converse"]
on_demand = true
price = {{ input_cost_per_mtok = "1", output_cost_per_mtok = "1" }}
{tiers}
"#
            )
        };
        let offer = |body: &str| {
            format!("[[models.tiers]]\n{body}\nsource = \"https://x\"\nas_of = \"2026-12-06\"\n")
        };
        assert!(Catalog::parse(&entry(&offer("tier = \"flex\"\nmultiplier = \"0.5\""))).is_ok());
        for bad in [
            offer("tier = \"flex\""),
            offer("tier = \"flex\"\nmultiplier = \"0\""),
            offer("tier = \"flex\"\nmultiplier = \"0.5\"\nprice = { input_cost_per_mtok = \"1\", output_cost_per_mtok = \"1\" }"),
            offer("tier = \"standard\"\nmultiplier = \"1\""),
            offer("tier = \"turbo\"\nmultiplier = \"1\""),
            format!("{0}{0}", offer("tier = \"flex\"\nmultiplier = \"0.5\"")),
            "[[models.tiers]]\ntier = \"flex\"\nmultiplier = \"0.5\"\nsource = \"https://x\"\nas_of = \"soon\"\n".to_owned(),
        ] {
            assert!(Catalog::parse(&entry(&bad)).is_err(), "{bad}");
        }
    }
}
