//! The table of models the emulator serves: real Bedrock model IDs, their native body family,
//! what each supports (the Converse feature table of the Bedrock docs), limits and profiles.

use super::{Caps, Family, Geos, Model};

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
const CLAUDE_4: Caps = Caps {
    count_tokens: false,
    ..CLAUDE_REASONING
};
const CLAUDE_46: Caps = Caps {
    structured_output: true,
    ..CLAUDE_4
};
const NOVA_2: Caps = Caps {
    reasoning: true,
    ..NOVA
};
const PIXTRAL: Caps = Caps {
    images: true,
    stream_tools: false,
    ..CHAT
};
const MAGISTRAL: Caps = Caps {
    reasoning: true,
    ..PIXTRAL
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
pub(super) const US_EU: Geos = Geos {
    us: true,
    eu: true,
    apac: false,
    global: false,
};
pub(super) const US: Geos = Geos {
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
        "anthropic.claude-opus-4-6-v1",
        "Claude Opus 4.6",
        Anthropic,
        CLAUDE_46,
        128_000,
        1_000_000,
        ALL_GEOS,
        false
    ),
    m!(
        "anthropic.claude-sonnet-4-6",
        "Claude Sonnet 4.6",
        Anthropic,
        CLAUDE_46,
        64_000,
        1_000_000,
        ALL_GEOS,
        false
    ),
    m!(
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "Claude Sonnet 4",
        Anthropic,
        CLAUDE_4,
        64_000,
        200_000,
        ALL_GEOS,
        false
    ),
    m!(
        "anthropic.claude-opus-4-1-20250805-v1:0",
        "Claude Opus 4.1",
        Anthropic,
        CLAUDE_4,
        32_000,
        200_000,
        US_EU,
        false
    ),
    m!(
        "anthropic.claude-opus-4-20250514-v1:0",
        "Claude Opus 4",
        Anthropic,
        CLAUDE_4,
        32_000,
        200_000,
        US_EU,
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
        "amazon.nova-2-lite-v1:0",
        "Nova 2 Lite",
        Nova,
        NOVA_2,
        64_000,
        1_000_000,
        ALL_GEOS,
        false
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
        "mistral.pixtral-large-2502-v1:0",
        "Pixtral Large (25.02)",
        MistralChat,
        PIXTRAL,
        16_384,
        128_000,
        US_EU,
        false
    ),
    m!(
        "mistral.mistral-large-3-675b-instruct",
        "Mistral Large 3",
        MistralChat,
        PIXTRAL,
        32_000,
        256_000,
        NONE,
        true
    ),
    m!(
        "mistral.magistral-small-2509",
        "Magistral Small (25.09)",
        MistralChat,
        MAGISTRAL,
        40_000,
        128_000,
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
