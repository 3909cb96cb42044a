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

pub const CHAT: Caps = Caps {
    converse: true,
    streaming: true,
    tools: true,
    stream_tools: true,
    system: true,
    images: false,
    documents: true,
    reasoning: false,
    count_tokens: false,
    asynchronous: false,
    structured_output: false,
};
const CLAUDE: Caps = Caps {
    images: true,
    count_tokens: true,
    ..CHAT
};
const CLAUDE_REASONING: Caps = Caps {
    reasoning: true,
    ..CLAUDE
};
const CLAUDE_45: Caps = Caps {
    structured_output: true,
    ..CLAUDE_REASONING
};
const CLAUDE3: Caps = Caps {
    images: true,
    ..CHAT
};
const NOVA: Caps = Caps {
    images: true,
    ..CHAT
};
const NOVA_MICRO: Caps = CHAT;
const TITAN: Caps = Caps {
    tools: false,
    stream_tools: false,
    system: false,
    documents: false,
    ..CHAT
};
const LLAMA: Caps = Caps {
    stream_tools: false,
    ..CHAT
};
const LLAMA_NO_TOOLS: Caps = Caps {
    tools: false,
    stream_tools: false,
    ..CHAT
};
const LLAMA_VISION: Caps = Caps {
    images: true,
    stream_tools: false,
    ..CHAT
};
const MISTRAL_TEXT: Caps = Caps {
    tools: false,
    stream_tools: false,
    system: false,
    ..CHAT
};
const MISTRAL_LARGE: Caps = Caps {
    stream_tools: false,
    ..CHAT
};
const COHERE: Caps = Caps {
    stream_tools: false,
    ..CHAT
};
const EMBED: Caps = Caps {
    converse: false,
    streaming: false,
    tools: false,
    stream_tools: false,
    system: false,
    images: false,
    documents: false,
    reasoning: false,
    count_tokens: false,
    asynchronous: false,
    structured_output: false,
};
const ASYNC_ONLY: Caps = Caps {
    asynchronous: true,
    ..EMBED
};

const ALL_GEOS: Geos = Geos {
    us: true,
    eu: true,
    apac: true,
    global: true,
};
const US_EU_APAC: Geos = Geos {
    us: true,
    eu: true,
    apac: true,
    global: false,
};
const US_EU: Geos = Geos {
    us: true,
    eu: true,
    apac: false,
    global: false,
};
const US: Geos = Geos {
    us: true,
    eu: false,
    apac: false,
    global: false,
};
pub const NONE: Geos = Geos {
    us: false,
    eu: false,
    apac: false,
    global: false,
};

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

/// Every model the emulator knows, with real Bedrock model IDs.
pub static MODELS: &[Model] = &[
    m!(
        "anthropic.claude-opus-4-5-20251101-v1:0",
        "Claude Opus 4.5",
        Anthropic,
        CLAUDE_45,
        64_000,
        200_000,
        ALL_GEOS,
        false
    ),
    m!(
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "Claude Sonnet 4.5",
        Anthropic,
        CLAUDE_45,
        64_000,
        200_000,
        ALL_GEOS,
        false
    ),
    m!(
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "Claude Haiku 4.5",
        Anthropic,
        CLAUDE_45,
        64_000,
        200_000,
        ALL_GEOS,
        false
    ),
    m!(
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "Claude 3.7 Sonnet",
        Anthropic,
        CLAUDE_REASONING,
        64_000,
        200_000,
        US_EU_APAC,
        false
    ),
    m!(
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "Claude 3.5 Sonnet v2",
        Anthropic,
        CLAUDE,
        8_192,
        200_000,
        US_EU_APAC,
        true
    ),
    m!(
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "Claude 3.5 Sonnet",
        Anthropic,
        CLAUDE,
        8_192,
        200_000,
        US_EU_APAC,
        true
    ),
    m!(
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "Claude 3.5 Haiku",
        Anthropic,
        CLAUDE,
        8_192,
        200_000,
        US,
        true
    ),
    m!(
        "anthropic.claude-3-haiku-20240307-v1:0",
        "Claude 3 Haiku",
        Anthropic,
        CLAUDE3,
        4_096,
        200_000,
        US_EU_APAC,
        true
    ),
    m!(
        "amazon.nova-premier-v1:0",
        "Nova Premier",
        Nova,
        NOVA,
        32_000,
        1_000_000,
        US,
        false
    ),
    m!(
        "amazon.nova-pro-v1:0",
        "Nova Pro",
        Nova,
        NOVA,
        10_000,
        300_000,
        US_EU_APAC,
        true
    ),
    m!(
        "amazon.nova-lite-v1:0",
        "Nova Lite",
        Nova,
        NOVA,
        10_000,
        300_000,
        US_EU_APAC,
        true
    ),
    m!(
        "amazon.nova-micro-v1:0",
        "Nova Micro",
        Nova,
        NOVA_MICRO,
        10_000,
        128_000,
        US_EU_APAC,
        true
    ),
    m!(
        "amazon.titan-text-premier-v1:0",
        "Titan Text Premier",
        Titan,
        TITAN,
        3_072,
        32_000,
        NONE,
        true
    ),
    m!(
        "amazon.titan-text-express-v1",
        "Titan Text Express",
        Titan,
        TITAN,
        8_192,
        8_192,
        NONE,
        true
    ),
    m!(
        "amazon.titan-text-lite-v1",
        "Titan Text Lite",
        Titan,
        TITAN,
        4_096,
        4_096,
        NONE,
        true
    ),
    m!(
        "meta.llama3-1-8b-instruct-v1:0",
        "Llama 3.1 8B Instruct",
        Llama,
        LLAMA,
        2_048,
        128_000,
        US,
        true
    ),
    m!(
        "meta.llama3-1-70b-instruct-v1:0",
        "Llama 3.1 70B Instruct",
        Llama,
        LLAMA,
        2_048,
        128_000,
        US,
        true
    ),
    m!(
        "meta.llama3-2-1b-instruct-v1:0",
        "Llama 3.2 1B Instruct",
        Llama,
        LLAMA_NO_TOOLS,
        2_048,
        128_000,
        US_EU,
        false
    ),
    m!(
        "meta.llama3-2-3b-instruct-v1:0",
        "Llama 3.2 3B Instruct",
        Llama,
        LLAMA_NO_TOOLS,
        2_048,
        128_000,
        US_EU,
        false
    ),
    m!(
        "meta.llama3-2-11b-instruct-v1:0",
        "Llama 3.2 11B Instruct",
        Llama,
        LLAMA_VISION,
        2_048,
        128_000,
        US,
        false
    ),
    m!(
        "meta.llama3-2-90b-instruct-v1:0",
        "Llama 3.2 90B Instruct",
        Llama,
        LLAMA_VISION,
        2_048,
        128_000,
        US,
        false
    ),
    m!(
        "meta.llama3-3-70b-instruct-v1:0",
        "Llama 3.3 70B Instruct",
        Llama,
        LLAMA,
        2_048,
        128_000,
        US,
        false
    ),
    m!(
        "meta.llama4-maverick-17b-instruct-v1:0",
        "Llama 4 Maverick 17B Instruct",
        Llama,
        LLAMA_VISION,
        8_192,
        1_000_000,
        US,
        false
    ),
    m!(
        "meta.llama4-scout-17b-instruct-v1:0",
        "Llama 4 Scout 17B Instruct",
        Llama,
        LLAMA_VISION,
        8_192,
        3_500_000,
        US,
        false
    ),
    m!(
        "mistral.mistral-large-2402-v1:0",
        "Mistral Large (24.02)",
        MistralChat,
        MISTRAL_LARGE,
        8_192,
        32_000,
        NONE,
        true
    ),
    m!(
        "mistral.mistral-small-2402-v1:0",
        "Mistral Small (24.02)",
        Mistral,
        MISTRAL_TEXT,
        8_192,
        32_000,
        NONE,
        true
    ),
    m!(
        "mistral.mistral-7b-instruct-v0:2",
        "Mistral 7B Instruct",
        Mistral,
        MISTRAL_TEXT,
        8_192,
        32_000,
        NONE,
        true
    ),
    m!(
        "mistral.mixtral-8x7b-instruct-v0:1",
        "Mixtral 8x7B Instruct",
        Mistral,
        MISTRAL_TEXT,
        4_096,
        32_000,
        NONE,
        true
    ),
    m!(
        "cohere.command-r-v1:0",
        "Command R",
        Cohere,
        COHERE,
        4_000,
        128_000,
        NONE,
        true
    ),
    m!(
        "cohere.command-r-plus-v1:0",
        "Command R+",
        Cohere,
        COHERE,
        4_000,
        128_000,
        NONE,
        true
    ),
    m!(
        "amazon.titan-embed-text-v2:0",
        "Titan Text Embeddings V2",
        TitanEmbed,
        EMBED,
        0,
        8_192,
        NONE,
        true
    ),
    m!(
        "cohere.embed-english-v3",
        "Embed English",
        CohereEmbed,
        EMBED,
        0,
        512,
        NONE,
        true
    ),
    m!(
        "amazon.nova-reel-v1:0",
        "Nova Reel",
        NovaReel,
        ASYNC_ONLY,
        0,
        512,
        NONE,
        true
    ),
];

/// The model a request names, and the inference profile it came through, if any.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub model: &'static Model,
    /// Geography prefix (`us`, `eu`, `apac`, `global`) when called through a profile.
    pub profile: Option<&'static str>,
}

pub fn find(id: &str) -> Option<&'static Model> {
    MODELS.iter().find(|m| m.id == id).or_else(|| {
        let added = ADDED.read().unwrap_or_else(|p| p.into_inner());
        added.iter().copied().find(|m| m.id == id)
    })
}

/// Models added at run time (`POST /_local/models`): leaked, as the table's rows are static.
static ADDED: std::sync::RwLock<Vec<&'static Model>> = std::sync::RwLock::new(Vec::new());

/// Adds a model to the table (runtime and ListFoundationModels); an existing ID is refused.
pub fn add(model: Model) -> Result<&'static Model, String> {
    let mut added = ADDED.write().unwrap_or_else(|p| p.into_inner());
    if MODELS
        .iter()
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
    MODELS.iter().chain(added.iter().copied()).collect()
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
