//! Cache points the gateway places itself (`GATEWAY_AUTO_CACHE_POINTS=on`): after a long system
//! prompt and after a long tool list, for models whose catalog entry has `prompt_caching`.
//!
//! Bedrock caches the request prefix up to a `cachePoint`, so a repeated long system prompt or
//! tool list is billed at the cache-read price. A request that places any cache point of its own
//! is left alone: the caller chose, and Bedrock allows only four per request.

use aws_sdk_bedrockruntime::types::{
    CachePointBlock, CachePointType, ContentBlock, SystemContentBlock, Tool,
};

use crate::catalog::{Capability, ModelEntry};
use crate::config::prompt_cache::AutoCacheSettings;
use crate::convert::{ConverseParts, document_to_json};
use crate::estimate::{Family, estimate_text};

/// Where cache points were placed (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Placed {
    /// After the tool list.
    pub tools: bool,
    /// After the system prompt.
    pub system: bool,
}

fn point() -> Option<CachePointBlock> {
    CachePointBlock::builder()
        .r#type(CachePointType::Default)
        .build()
        .ok()
}

/// Whether the request already carries a cache point anywhere.
fn has_cache_point(parts: &ConverseParts) -> bool {
    parts
        .system
        .iter()
        .any(|b| matches!(b, SystemContentBlock::CachePoint(_)))
        || parts
            .messages
            .iter()
            .flat_map(|m| m.content())
            .any(|b| matches!(b, ContentBlock::CachePoint(_)))
        || parts
            .tool_config
            .as_ref()
            .is_some_and(|t| t.tools().iter().any(|t| matches!(t, Tool::CachePoint(_))))
}

/// The estimated tokens of the system prompt's text.
fn system_tokens(parts: &ConverseParts, family: Family) -> u32 {
    parts
        .system
        .iter()
        .filter_map(|b| match b {
            SystemContentBlock::Text(t) => Some(estimate_text(family, t)),
            _ => None,
        })
        .sum()
}

/// The estimated tokens of the tool specs (name, description and schema, as the model reads
/// them).
fn tool_tokens(parts: &ConverseParts, family: Family) -> u32 {
    let Some(tc) = &parts.tool_config else {
        return 0;
    };
    tc.tools()
        .iter()
        .filter_map(|t| match t {
            Tool::ToolSpec(s) => {
                let schema = s
                    .input_schema()
                    .and_then(|i| i.as_json().ok())
                    .map(document_to_json)
                    .unwrap_or_default();
                let text = format!(
                    "{} {} {schema}",
                    s.name(),
                    s.description().unwrap_or_default()
                );
                Some(estimate_text(family, &text))
            }
            _ => None,
        })
        .sum()
}

/// Places the deployment's automatic cache points into `parts` for `model`.
pub fn place(parts: &mut ConverseParts, model: &ModelEntry, s: &AutoCacheSettings) -> Placed {
    let mut placed = Placed::default();
    if !s.enabled || !model.supports(Capability::PromptCaching) || has_cache_point(parts) {
        return placed;
    }
    let (Some(family), Some(cp)) = (Family::for_model(model), point()) else {
        return placed;
    };
    if tool_tokens(parts, family) >= s.min_tokens
        && let Some(tc) = parts.tool_config.take()
    {
        let mut tools = tc.tools().to_vec();
        tools.push(Tool::CachePoint(cp.clone()));
        let rebuilt = aws_sdk_bedrockruntime::types::ToolConfiguration::builder()
            .set_tools(Some(tools))
            .set_tool_choice(tc.tool_choice().cloned())
            .build();
        match rebuilt {
            Ok(t) => {
                parts.tool_config = Some(t);
                placed.tools = true;
            }
            Err(_) => parts.tool_config = Some(tc),
        }
    }
    if !parts.system.is_empty() && system_tokens(parts, family) >= s.min_tokens {
        parts.system.push(SystemContentBlock::CachePoint(cp));
        placed.system = true;
    }
    placed
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::catalog::Catalog;

    fn model(name: &str) -> ModelEntry {
        let c = Catalog::embedded().unwrap();
        c.models()
            .iter()
            .find(|m| m.id.as_str() == name)
            .cloned()
            .unwrap()
    }

    fn on(min_tokens: u32) -> AutoCacheSettings {
        AutoCacheSettings {
            enabled: true,
            min_tokens,
        }
    }

    fn long(words: usize) -> String {
        vec!["policy"; words].join(" ")
    }

    fn body(system: &str, tool_desc: &str) -> ConverseParts {
        let v = json!({
            "system": [{"text": system}],
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "toolConfig": {"tools": [{"toolSpec": {"name": "lookup", "description": tool_desc,
                "inputSchema": {"json": {"type": "object"}}}}], "toolChoice": {"auto": {}}},
        });
        ConverseParts::from_json(&v, &[]).unwrap()
    }

    const SONNET: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";

    fn tail(parts: &ConverseParts) -> (Value, Value) {
        let j = parts.to_json();
        (
            j["system"].as_array().unwrap().last().cloned().unwrap(),
            j["toolConfig"]["tools"]
                .as_array()
                .unwrap()
                .last()
                .cloned()
                .unwrap(),
        )
    }

    #[test]
    fn long_sections_get_a_cache_point_short_ones_do_not() {
        let m = model(SONNET);
        let mut p = body(&long(3000), "short");
        let placed = place(&mut p, &m, &on(1024));
        assert_eq!(
            placed,
            Placed {
                tools: false,
                system: true
            }
        );
        let (sys, tool) = tail(&p);
        assert_eq!(sys, json!({"cachePoint": {"type": "default"}}));
        assert!(tool.get("toolSpec").is_some());
        // The tool choice survives the rebuilt tool list.
        let mut p = body("short", &long(3000));
        assert!(place(&mut p, &m, &on(1024)).tools);
        let j = p.to_json();
        assert_eq!(
            j["toolConfig"]["tools"][1],
            json!({"cachePoint": {"type": "default"}})
        );
        assert_eq!(j["toolConfig"]["toolChoice"], json!({"auto": {}}));
        assert_eq!(j["system"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn threshold_decides() {
        let m = model(SONNET);
        let text = long(600);
        let mut low = body(&text, "x");
        assert!(place(&mut low, &m, &on(100)).system);
        let mut high = body(&text, "x");
        assert!(!place(&mut high, &m, &on(100_000)).system);
    }

    #[test]
    fn off_uncacheable_models_and_callers_own_points_are_left_alone() {
        let mut p = body(&long(3000), &long(3000));
        let before = p.to_json();
        let off = AutoCacheSettings::default();
        assert_eq!(place(&mut p, &model(SONNET), &off), Placed::default());
        // Claude 3.5 Sonnet v2 has no prompt_caching capability in the catalog.
        let no_cache = model("anthropic.claude-3-5-sonnet-20241022-v2:0");
        assert_eq!(place(&mut p, &no_cache, &on(1)), Placed::default());
        assert_eq!(p.to_json(), before);
        let v = json!({
            "system": [{"text": long(3000)}],
            "messages": [{"role": "user", "content": [{"text": "hi"}, {"cachePoint": {"type": "default", "ttl": "1h"}}]}],
        });
        let mut own = ConverseParts::from_json(&v, &[]).unwrap();
        assert_eq!(place(&mut own, &model(SONNET), &on(1)), Placed::default());
        assert_eq!(own.to_json(), v);
    }
}
