//! The one token-counting rule. Usage on every operation and CountTokens both call it, so
//! they agree exactly.
//!
//! Rule: a run of letters/digits is one token per started 4 characters; every other
//! non-whitespace character is one token; whitespace is free. Fixed costs: 3 per message,
//! 1,600 per image, 1,000 per video, 8 per tool definition (plus its name, description and
//! JSON schema text), and a document given as bytes costs one token per 4 bytes.

use crate::chat::{Block, ChatRequest, Ttl};

pub const MESSAGE_OVERHEAD: u32 = 3;
pub const IMAGE_TOKENS: u32 = 1_600;
pub const VIDEO_TOKENS: u32 = 1_000;
pub const TOOL_OVERHEAD: u32 = 8;

/// Counts the tokens of a piece of text.
pub fn count_text(s: &str) -> u32 {
    let mut tokens = 0u32;
    let mut word = 0u32;
    for c in s.chars() {
        if c.is_alphanumeric() {
            word += 1;
        } else {
            tokens += word.div_ceil(4);
            word = 0;
            if !c.is_whitespace() {
                tokens += 1;
            }
        }
    }
    tokens + word.div_ceil(4)
}

/// The longest cached prefix of a request: where the last cache point sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePrefix {
    pub hash: u64,
    pub tokens: u32,
    pub ttl: Ttl,
}

#[derive(Debug, Clone, Copy)]
pub struct InputCount {
    pub total: u32,
    pub prefix: Option<CachePrefix>,
}

/// FNV-1a, used to key the prompt cache and seed generation; cheap and stable.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(pub u64);

impl Fnv {
    pub fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl Default for Fnv {
    fn default() -> Self {
        Self::new()
    }
}

fn block_tokens(b: &Block, h: &mut Fnv) -> u32 {
    match b {
        Block::Text(t) | Block::GuardContent(t) | Block::Reasoning(t) => {
            h.write(t.as_bytes());
            count_text(t)
        }
        Block::Image => {
            h.write(b"<image>");
            IMAGE_TOKENS
        }
        Block::Video => {
            h.write(b"<video>");
            VIDEO_TOKENS
        }
        Block::Document { text, bytes } => {
            h.write(b"<doc>");
            match text {
                Some(t) => {
                    h.write(t.as_bytes());
                    count_text(t)
                }
                None => {
                    h.write(&bytes.to_le_bytes());
                    (*bytes as u32).div_ceil(4)
                }
            }
        }
        Block::ToolUse { name, input, .. } => {
            let json = input.to_string();
            h.write(name.as_bytes());
            h.write(json.as_bytes());
            count_text(name) + count_text(&json)
        }
        Block::ToolResult { text, .. } => {
            h.write(text.as_bytes());
            count_text(text)
        }
        Block::CachePoint(_) => 0,
    }
}

/// Counts a request's input tokens and finds its cacheable prefix (tools, then system,
/// then messages, up to the last cache point).
pub fn count_request(model_id: &str, req: &ChatRequest) -> InputCount {
    let mut h = Fnv::new();
    h.write(model_id.as_bytes());
    let mut total = 0u32;
    let mut prefix = None;
    for t in &req.tools {
        total += TOOL_OVERHEAD + count_text(&t.name);
        h.write(t.name.as_bytes());
        if let Some(d) = &t.description {
            total += count_text(d);
            h.write(d.as_bytes());
        }
        let schema = t.schema.to_string();
        total += count_text(&schema);
        h.write(schema.as_bytes());
    }
    if let Some(ttl) = req.tools_cache_point {
        prefix = Some(CachePrefix {
            hash: h.0,
            tokens: total,
            ttl,
        });
    }
    let mark = |b: &Block, total: u32, h: &Fnv, prefix: &mut Option<CachePrefix>| {
        if let Block::CachePoint(ttl) = b {
            *prefix = Some(CachePrefix {
                hash: h.0,
                tokens: total,
                ttl: *ttl,
            });
        }
    };
    for b in &req.system {
        total += block_tokens(b, &mut h);
        mark(b, total, &h, &mut prefix);
    }
    for m in &req.messages {
        total += MESSAGE_OVERHEAD;
        h.write(if m.role == crate::chat::Role::User {
            b"<user>"
        } else {
            b"<assistant>"
        });
        for b in &m.content {
            total += block_tokens(b, &mut h);
            mark(b, total, &h, &mut prefix);
        }
    }
    InputCount { total, prefix }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_and_punctuation() {
        assert_eq!(count_text(""), 0);
        assert_eq!(count_text("Hello, world!"), 6);
        assert_eq!(count_text("The cat sat."), 4);
        assert_eq!(count_text("internationalization"), 5);
        assert_eq!(count_text("  a  b "), 2);
    }
}
