//! The open-weight chat models the emulator serves (gpt-oss, DeepSeek, Qwen, Kimi, MiniMax, GLM,
//! Nemotron, Gemma): their native body is OpenAI's chat-completions body.

use super::table::{CHAT, NONE, US, US_EU};
use super::{Caps, Family, Model};

/// gpt-oss, DeepSeek V3.x, Qwen3: text only, tools, reasoning.
const OPEN_CHAT: Caps = Caps {
    documents: false,
    reasoning: true,
    ..CHAT
};
const DEEPSEEK_R1: Caps = Caps {
    tools: false,
    stream_tools: false,
    ..OPEN_CHAT
};
/// Open-weight chat models without reasoning (MiniMax, Nemotron).
const OPEN_CHAT_PLAIN: Caps = Caps {
    reasoning: false,
    ..OPEN_CHAT
};
/// Open-weight chat models that read images (Kimi K2.5, Gemma 3).
const OPEN_VISION: Caps = Caps {
    images: true,
    ..OPEN_CHAT_PLAIN
};

/// The open-weight rows, after [`super::MODELS`] in every listing.
pub static OPEN_WEIGHT_MODELS: &[Model] = &[
    m!(
        "openai.gpt-oss-120b-1:0",
        "gpt-oss-120b",
        OpenAiChat,
        OPEN_CHAT,
        16_384,
        128_000,
        NONE,
        true
    ),
    m!(
        "openai.gpt-oss-20b-1:0",
        "gpt-oss-20b",
        OpenAiChat,
        OPEN_CHAT,
        16_384,
        128_000,
        NONE,
        true
    ),
    m!(
        "deepseek.r1-v1:0",
        "DeepSeek-R1",
        OpenAiChat,
        DEEPSEEK_R1,
        8_192,
        128_000,
        US,
        false
    ),
    m!(
        "deepseek.v3-v1:0",
        "DeepSeek-V3.1",
        OpenAiChat,
        OPEN_CHAT,
        8_000,
        128_000,
        NONE,
        true
    ),
    m!(
        "deepseek.v3.2",
        "DeepSeek V3.2",
        OpenAiChat,
        OPEN_CHAT,
        8_000,
        163_840,
        US_EU,
        true
    ),
    m!(
        "qwen.qwen3-32b-v1:0",
        "Qwen3 32B",
        OpenAiChat,
        OPEN_CHAT,
        8_192,
        32_768,
        NONE,
        true
    ),
    m!(
        "qwen.qwen3-235b-a22b-2507-v1:0",
        "Qwen3 235B A22B 2507",
        OpenAiChat,
        OPEN_CHAT,
        8_192,
        262_144,
        NONE,
        true
    ),
    m!(
        "qwen.qwen3-coder-30b-a3b-v1:0",
        "Qwen3 Coder 30B A3B",
        OpenAiChat,
        OPEN_CHAT,
        16_384,
        262_144,
        NONE,
        true
    ),
    m!(
        "qwen.qwen3-coder-480b-a35b-v1:0",
        "Qwen3 Coder 480B A35B",
        OpenAiChat,
        OPEN_CHAT,
        16_384,
        262_144,
        NONE,
        true
    ),
    m!(
        "moonshotai.kimi-k2.5",
        "Kimi K2.5",
        OpenAiChat,
        OPEN_VISION,
        16_000,
        256_000,
        NONE,
        true
    ),
    m!(
        "moonshot.kimi-k2-thinking",
        "Kimi K2 Thinking",
        OpenAiChat,
        OPEN_CHAT,
        16_000,
        256_000,
        NONE,
        true
    ),
    m!(
        "minimax.minimax-m2.5",
        "MiniMax M2.5",
        OpenAiChat,
        OPEN_CHAT_PLAIN,
        8_000,
        196_000,
        NONE,
        true
    ),
    m!(
        "zai.glm-5",
        "GLM 5",
        OpenAiChat,
        OPEN_CHAT,
        128_000,
        200_000,
        NONE,
        true
    ),
    m!(
        "nvidia.nemotron-nano-3-30b",
        "Nemotron Nano 3 30B",
        OpenAiChat,
        OPEN_CHAT_PLAIN,
        8_000,
        256_000,
        NONE,
        true
    ),
    m!(
        "google.gemma-3-27b-it",
        "Gemma 3 27B IT",
        OpenAiChat,
        OPEN_VISION,
        8_000,
        128_000,
        NONE,
        true
    ),
];
