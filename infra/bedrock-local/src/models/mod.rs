//! The model table: which real Bedrock model IDs exist here, what each supports, and how a
//! model identifier (bare ID, inference-profile ID, or either ARN) resolves to one of them.

use crate::errors::{BedrockError, validation};

/// The account ID named in every ARN the emulator makes.
pub const ACCOUNT: &str = "123456789012";

/// System inference profile geographies, in the order the control plane lists them.
pub const GEOS: [&str; 4] = ["us", "eu", "apac", "global"];

/// The request/response format family of a model's native (InvokeModel) body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Anthropic,
    Nova,
    Titan,
    Llama,
    Mistral,
    /// Mistral Large: also accepts the chat (`messages`) body.
    MistralChat,
    /// OpenAI's chat-completions body (`messages` in, `choices` and `usage` out): gpt-oss, and
    /// the DeepSeek and Qwen models.
    OpenAiChat,
    Cohere,
    TitanEmbed,
    CohereEmbed,
    NovaReel,
}

/// What a model can do; mirrors the Converse feature table of the Bedrock docs.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub converse: bool,
    pub streaming: bool,
    pub tools: bool,
    pub stream_tools: bool,
    pub system: bool,
    pub images: bool,
    pub documents: bool,
    pub reasoning: bool,
    pub count_tokens: bool,
    pub asynchronous: bool,
    /// Native structured output (`outputConfig.textFormat`): Claude 4.5.
    pub structured_output: bool,
}

/// Geographies with a system inference profile (`us.`, `eu.`, `apac.`, `global.`).
#[derive(Debug, Clone, Copy)]
pub struct Geos {
    pub us: bool,
    pub eu: bool,
    pub apac: bool,
    pub global: bool,
}

#[derive(Debug)]
pub struct Model {
    pub id: &'static str,
    /// The name ListFoundationModels reports (`modelName`).
    pub name: &'static str,
    pub family: Family,
    pub caps: Caps,
    pub max_output: u32,
    pub context_window: u32,
    pub geos: Geos,
    /// Whether the bare model ID may be invoked on demand (without a profile).
    pub on_demand: bool,
}

/// One row of a model table (`table`, `open_weights`).
macro_rules! m {
    ($id:expr, $name:expr, $fam:ident, $caps:expr, $max:expr, $ctx:expr, $geos:expr, $od:expr) => {
        Model {
            id: $id,
            name: $name,
            family: Family::$fam,
            caps: $caps,
            max_output: $max,
            context_window: $ctx,
            geos: $geos,
            on_demand: $od,
        }
    };
}

mod open_weights;
mod table;

pub use table::{CHAT, MODELS, NONE};

/// Every row of the shipped table: [`MODELS`], then the open-weight chat models.
pub fn shipped() -> impl Iterator<Item = &'static Model> {
    MODELS.iter().chain(open_weights::OPEN_WEIGHT_MODELS.iter())
}

/// The model a request names, and the inference profile it came through, if any.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub model: &'static Model,
    /// Geography prefix (`us`, `eu`, `apac`, `global`) when called through a profile.
    pub profile: Option<&'static str>,
}

pub fn find(id: &str) -> Option<&'static Model> {
    shipped().find(|m| m.id == id).or_else(|| {
        let added = ADDED.read().unwrap_or_else(|p| p.into_inner());
        added.iter().copied().find(|m| m.id == id)
    })
}

/// Models added at run time (`POST /_local/models`): leaked, as the table's rows are static.
static ADDED: std::sync::RwLock<Vec<&'static Model>> = std::sync::RwLock::new(Vec::new());

/// Adds a model to the table (runtime and ListFoundationModels); an existing ID is refused.
pub fn add(model: Model) -> Result<&'static Model, String> {
    let mut added = ADDED.write().unwrap_or_else(|p| p.into_inner());
    if shipped()
        .chain(added.iter().copied())
        .any(|m| m.id == model.id)
    {
        return Err(format!("model {} is already in the table", model.id));
    }
    let model: &'static Model = Box::leak(Box::new(model));
    added.push(model);
    Ok(model)
}

/// Every model: the table's rows, then those added at run time.
pub fn all() -> Vec<&'static Model> {
    let added = ADDED.read().unwrap_or_else(|p| p.into_inner());
    shipped().chain(added.iter().copied()).collect()
}

const INVALID_ID: &str = "The provided model identifier is invalid.";

/// Parses any identifier a client may send, without checking on-demand access.
pub fn parse(identifier: &str) -> Result<Resolved, BedrockError> {
    let id = if let Some(rest) = identifier.strip_prefix("arn:aws:bedrock:") {
        // REGION:ACCOUNT:resource
        let mut parts = rest.splitn(3, ':');
        let (_region, account, resource) = match (parts.next(), parts.next(), parts.next()) {
            (Some(r), Some(a), Some(res)) => (r, a, res),
            _ => return validation(INVALID_ID),
        };
        if let Some(fm) = resource.strip_prefix("foundation-model/") {
            if !account.is_empty() {
                return validation(INVALID_ID);
            }
            return find(fm)
                .map(|model| Resolved {
                    model,
                    profile: None,
                })
                .ok_or_else(|| BedrockError::Validation(INVALID_ID.into()));
        }
        match resource.strip_prefix("inference-profile/") {
            Some(p) if account.len() == 12 => p,
            _ => return validation(INVALID_ID),
        }
    } else {
        identifier
    };
    if let Some(model) = find(id) {
        return Ok(Resolved {
            model,
            profile: None,
        });
    }
    let (geo, rest) = id.split_once('.').unwrap_or(("", id));
    let geo: &'static str = match geo {
        "us" => "us",
        "eu" => "eu",
        "apac" => "apac",
        "global" => "global",
        _ => return validation(INVALID_ID),
    };
    let model = find(rest).ok_or_else(|| BedrockError::Validation(INVALID_ID.into()))?;
    if !model.offered_in(geo) {
        return validation(INVALID_ID);
    }
    Ok(Resolved {
        model,
        profile: Some(geo),
    })
}

/// Resolves an identifier for an invocation, refusing bare IDs of profile-only models.
pub fn resolve_for_invoke(identifier: &str) -> Result<Resolved, BedrockError> {
    let r = parse(identifier)?;
    if r.profile.is_none() && !r.model.on_demand {
        return validation(format!(
            "Invocation of model ID {} with on-demand throughput isn\u{2019}t supported. Retry your request with the ID or ARN of an inference profile that contains this model.",
            r.model.id
        ));
    }
    Ok(r)
}

/// Message Bedrock uses when an operation does not serve a model at all.
pub const UNSUPPORTED_ACTION: &str = "This action doesn't support the model that you provided. Try again with a supported text or chat model.";

impl Model {
    /// The model name the Anthropic Messages API reports (`claude-sonnet-4-5-20250929`).
    pub fn short_name(&self) -> &'static str {
        let after_dot = self.id.split_once('.').map(|(_, r)| r).unwrap_or(self.id);
        match after_dot.rfind("-v") {
            Some(i) => &after_dot[..i],
            None => after_dot,
        }
    }

    pub fn is_text(&self) -> bool {
        self.caps.converse
    }

    /// Whether a system inference profile of this geography (`us`, `eu`, ...) serves the model.
    pub fn offered_in(&self, geo: &str) -> bool {
        match geo {
            "us" => self.geos.us,
            "eu" => self.geos.eu,
            "apac" => self.geos.apac,
            "global" => self.geos.global,
            _ => false,
        }
    }

    /// The provider name ListFoundationModels reports, from the ID's prefix.
    pub fn provider(&self) -> &'static str {
        match self.id.split('.').next().unwrap_or("") {
            "anthropic" => "Anthropic",
            "amazon" => "Amazon",
            "meta" => "Meta",
            "mistral" => "Mistral AI",
            "cohere" => "Cohere",
            "openai" => "OpenAI",
            "deepseek" => "DeepSeek",
            "qwen" => "Qwen",
            "moonshot" | "moonshotai" => "Moonshot AI",
            "minimax" => "MiniMax",
            "zai" => "Z.AI",
            "nvidia" => "NVIDIA",
            "google" => "Google",
            _ => "Unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_profiles_and_arns() {
        assert!(resolve_for_invoke("us.anthropic.claude-sonnet-4-5-20250929-v1:0").is_ok());
        assert!(resolve_for_invoke("global.anthropic.claude-haiku-4-5-20251001-v1:0").is_ok());
        assert!(parse("global.amazon.nova-pro-v1:0").is_err());
        assert!(resolve_for_invoke("anthropic.claude-sonnet-4-5-20250929-v1:0").is_err());
        assert!(
            resolve_for_invoke("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0")
                .is_ok()
        );
        assert!(
            resolve_for_invoke(
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-premier-v1:0"
            )
            .is_ok()
        );
        assert!(parse("nope").is_err());
        assert_eq!(
            find("anthropic.claude-sonnet-4-5-20250929-v1:0")
                .unwrap()
                .short_name(),
            "claude-sonnet-4-5-20250929"
        );
    }
}
