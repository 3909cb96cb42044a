//! Fitting an Anthropic Messages request to what Bedrock's native Claude body takes for one
//! model, so that clients which cannot change their requests (Claude Code) still work.
//!
//! Three kinds of request parts are fitted here, all reported in `x-gateway-dropped`:
//! - `anthropic-beta` values: kept only when the model's catalog entry lists them
//!   (`anthropic_betas`), since Bedrock answers a flag it does not know with a 400;
//! - fields Bedrock takes only with a beta the model offers (`context_management`,
//!   `output_config.effort`): forwarded when that beta is requested and allowed, dropped
//!   otherwise;
//! - sub-fields Bedrock's body has no place for (`thinking.display`, a tool's
//!   `defer_loading`): dropped, since what is left means the same to the model.
//!
//! Model names with a beta suffix (`claude-sonnet-4-5[1m]`) lose it before resolution and ask
//! for its beta instead; the suffixes are catalog data (`name_suffixes`).

use inference_core::catalog::{Catalog, ModelEntry};
use serde_json::{Map, Value, json};

use super::anthropic::MessagesRequest;
use super::dropped::Dropped;

/// The beta Bedrock needs for `context_management`.
pub const CONTEXT_MANAGEMENT_BETA: &str = "context-management-2025-06-27";
/// The beta Bedrock needs for `output_config.effort`.
pub const EFFORT_BETA: &str = "effort-2025-11-24";

/// Tool fields of Anthropic's tool-search and fine-grained-streaming betas, which Bedrock's
/// custom tools do not take; the tool itself works the same without them (it is loaded up
/// front and its input streamed whole).
const TOOL_FIELDS_DROPPED: &[&str] = &["defer_loading", "eager_input_streaming"];

/// Request parts Bedrock takes only for models that offer a beta.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditional {
    /// `context_management`, as sent.
    pub context_management: Option<Value>,
    /// `output_config.effort`, as sent.
    pub effort: Option<Value>,
}

/// Drops the sub-fields no Claude body on Bedrock takes, whatever the model.
pub fn strip_subfields(native: &mut Map<String, Value>, dropped: &mut Dropped) {
    if let Some(Value::Object(t)) = native.get_mut("thinking")
        && t.remove("display").is_some()
    {
        dropped.add(
            "thinking.display",
            "Bedrock's thinking object has no display option: thinking is returned as the model gives it",
        );
    }
    if let Some(Value::Array(tools)) = native.get_mut("tools") {
        for tool in tools.iter_mut().filter_map(Value::as_object_mut) {
            for f in TOOL_FIELDS_DROPPED {
                if tool.remove(*f).is_some() {
                    dropped.add(
                        format!("tools[].{f}"),
                        "not taken by Bedrock's custom tools: the tool is sent as a plain tool",
                    );
                }
            }
        }
    }
}

/// Splits a beta suffix off the requested model name (`claude-sonnet-4-5[1m]`) and adds its
/// beta to the requested ones.
pub fn split_model_suffix(catalog: &Catalog, req: &mut MessagesRequest) {
    let (base, beta) = catalog.split_name_suffix(&req.model);
    if let Some(beta) = beta {
        if !req.betas.iter().any(|b| b == beta) {
            req.betas.push(beta.to_owned());
        }
        req.model = base.to_owned();
    }
}

/// Filters the betas against the model's allowlist and places the beta-gated fields, writing
/// `anthropic_beta` into the native body when any beta is left.
pub fn fit(req: &mut MessagesRequest, model: &ModelEntry) {
    let offered = |b: &str| model.anthropic_betas.iter().any(|a| a == b);
    let mut kept = Vec::new();
    for b in std::mem::take(&mut req.betas) {
        if offered(&b) {
            kept.push(b);
        } else {
            req.dropped.add(
                format!("anthropic-beta:{b}"),
                format!("not accepted by Bedrock for {}", model.id),
            );
        }
    }
    let requested = |b: &str| kept.iter().any(|k| k == b);
    let Value::Object(native) = &mut req.native else {
        return; // translate always builds an object
    };
    let conditional = std::mem::take(&mut req.conditional);
    if let Some(cm) = conditional.context_management {
        if requested(CONTEXT_MANAGEMENT_BETA) {
            native.insert("context_management".into(), cm);
        } else {
            req.dropped.add(
                "context_management",
                needs(
                    CONTEXT_MANAGEMENT_BETA,
                    offered(CONTEXT_MANAGEMENT_BETA),
                    model,
                ),
            );
        }
    }
    if let Some(effort) = conditional.effort {
        if requested(EFFORT_BETA) {
            // Beside a `format` already in the body, if any.
            match native
                .get_mut("output_config")
                .and_then(Value::as_object_mut)
            {
                Some(oc) => {
                    oc.insert("effort".into(), effort);
                }
                None => {
                    native.insert("output_config".into(), json!({"effort": effort}));
                }
            }
        } else {
            req.dropped.add(
                "output_config.effort",
                needs(EFFORT_BETA, offered(EFFORT_BETA), model),
            );
        }
    }
    if !kept.is_empty() {
        native.insert("anthropic_beta".into(), json!(kept));
    }
}

fn needs(beta: &str, offered: bool, model: &ModelEntry) -> String {
    if offered {
        format!("needs the {beta} beta header, which the request did not send")
    } else {
        format!(
            "needs the {beta} beta, which Bedrock does not offer for {}",
            model.id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::anthropic::{count_body, translate};
    use http::HeaderMap;

    fn catalog() -> Catalog {
        Catalog::embedded().unwrap()
    }

    fn model(name: &str) -> ModelEntry {
        catalog().by_name(name).unwrap().clone()
    }

    /// The headers Claude Code 2.1.332 sends on `/v1/messages` (captured).
    fn claude_code_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "anthropic-beta",
            "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24"
                .parse()
                .unwrap(),
        );
        h
    }

    /// The body fields Claude Code 2.1.332 sends (captured; messages, system and tools cut short).
    fn claude_code_body(model: &str) -> Value {
        json!({"model": model, "max_tokens": 32000, "stream": true,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
            "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
            "tools": [{"name": "Read", "description": "d", "input_schema": {"type": "object"}},
                      {"name": "Later", "description": "d", "input_schema": {"type": "object"}, "defer_loading": true}],
            "metadata": {"user_id": "{\"device_id\":\"d\"}"},
            "thinking": {"type": "enabled", "budget_tokens": 31999, "display": "omitted"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "output_config": {"effort": "high"}})
    }

    fn fitted(name: &str) -> MessagesRequest {
        let mut r = translate(&claude_code_body(name), &claude_code_headers()).unwrap();
        split_model_suffix(&catalog(), &mut r);
        let m = model(&r.model);
        fit(&mut r, &m);
        r
    }

    #[test]
    fn claude_code_on_haiku_keeps_what_bedrock_takes() {
        let r = fitted("claude-haiku-4-5-20251001");
        let n = &r.native;
        assert_eq!(
            n["anthropic_beta"],
            json!([
                "interleaved-thinking-2025-05-14",
                "context-management-2025-06-27"
            ])
        );
        assert_eq!(n["context_management"]["edits"][0]["keep"], "all");
        assert!(n.get("output_config").is_none(), "no effort on Haiku 4.5");
        assert_eq!(
            n["thinking"],
            json!({"type": "enabled", "budget_tokens": 31999})
        );
        assert!(n["tools"][1].get("defer_loading").is_none());
        assert_eq!(n["system"][0]["cache_control"]["ttl"], "1h");
        assert_eq!(n["metadata"]["user_id"], "{\"device_id\":\"d\"}");
        let names: Vec<&str> = r.dropped.names().collect();
        assert_eq!(
            names,
            [
                "thinking.display",
                "tools[].defer_loading",
                "anthropic-beta:claude-code-20250219",
                "anthropic-beta:thinking-token-count-2026-05-13",
                "anthropic-beta:advanced-tool-use-2025-11-20",
                "anthropic-beta:effort-2025-11-24",
                "output_config.effort",
            ]
        );
        // The reason's comma becomes `;` (commas separate the header's items).
        assert!(
            r.dropped.header_text().contains(
                "output_config.effort (needs the effort-2025-11-24 beta; which Bedrock does not offer for anthropic.claude-haiku-4-5-20251001-v1:0)"
            ),
            "{}",
            r.dropped.header_text()
        );
    }

    #[test]
    fn effort_is_forwarded_where_the_model_offers_it() {
        let r = fitted("claude-opus-4-5");
        assert_eq!(r.native["output_config"], json!({"effort": "high"}));
        assert!(
            r.native["anthropic_beta"]
                .as_array()
                .unwrap()
                .contains(&json!(EFFORT_BETA))
        );
        assert!(!r.dropped.names().any(|n| n == "output_config.effort"));
    }

    #[test]
    fn gated_fields_drop_without_the_beta() {
        // Claude 3.7 Sonnet offers no context management: the field goes, and says why.
        let r = fitted("claude-3-7-sonnet-20250219");
        assert!(r.native.get("context_management").is_none());
        assert!(r.dropped.header_text().contains(
            "context_management (needs the context-management-2025-06-27 beta; which Bedrock does not offer"
        ));
        // Offered by the model but not asked for: dropped with the other reason.
        let mut req = translate(&claude_code_body("haiku"), &HeaderMap::new()).unwrap();
        fit(&mut req, &model("haiku"));
        assert!(req.native.get("context_management").is_none());
        assert!(req.native.get("anthropic_beta").is_none());
        assert!(
            req.dropped
                .header_text()
                .contains("which the request did not send")
        );
    }

    #[test]
    fn output_config_keys_other_than_format_and_effort_are_refused() {
        let mut b = claude_code_body("haiku");
        b["output_config"] = json!({"verbosity": "low"});
        let e = translate(&b, &HeaderMap::new()).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("output_config.verbosity"));
        // `format` (native structured output) is forwarded as sent.
        let format = json!({"type": "json_schema", "schema": {"type": "object"}});
        b["output_config"] = json!({"format": format});
        let r = translate(&b, &HeaderMap::new()).unwrap();
        assert_eq!(r.native["output_config"], json!({"format": format}));
    }

    #[test]
    fn anthropic_model_names_are_catalog_data() {
        let c = catalog();
        for (name, id) in [
            (
                "claude-sonnet-4-5",
                "anthropic.claude-sonnet-4-5-20250929-v1:0",
            ),
            (
                "claude-sonnet-4-5-20250929",
                "anthropic.claude-sonnet-4-5-20250929-v1:0",
            ),
            (
                "claude-haiku-4-5-20251001",
                "anthropic.claude-haiku-4-5-20251001-v1:0",
            ),
            (
                "claude-haiku-4-5",
                "anthropic.claude-haiku-4-5-20251001-v1:0",
            ),
            ("claude-opus-4-5", "anthropic.claude-opus-4-5-20251101-v1:0"),
            (
                "claude-opus-4-5-20251101",
                "anthropic.claude-opus-4-5-20251101-v1:0",
            ),
            (
                "claude-3-7-sonnet-20250219",
                "anthropic.claude-3-7-sonnet-20250219-v1:0",
            ),
        ] {
            assert_eq!(c.by_name(name).map(|m| m.id.as_str()), Some(id), "{name}");
        }
        assert_eq!(
            c.split_name_suffix("claude-sonnet-4-5[1m]"),
            ("claude-sonnet-4-5", Some("context-1m-2025-08-07"))
        );
        assert_eq!(c.split_name_suffix("haiku"), ("haiku", None));
    }

    #[test]
    fn a_1m_suffix_asks_for_the_beta_through_the_allowlist() {
        let r = fitted("claude-sonnet-4-5[1m]");
        assert_eq!(r.model, "claude-sonnet-4-5");
        assert!(
            r.native["anthropic_beta"]
                .as_array()
                .unwrap()
                .contains(&json!("context-1m-2025-08-07"))
        );
        // Haiku 4.5 has no 1M context on Bedrock: the beta is dropped and named.
        let r = fitted("claude-haiku-4-5[1m]");
        assert_eq!(r.model, "claude-haiku-4-5");
        assert!(
            r.dropped
                .names()
                .any(|n| n == "anthropic-beta:context-1m-2025-08-07")
        );
    }

    #[test]
    fn count_tokens_takes_claude_codes_fields_too() {
        let mut b = claude_code_body("haiku");
        for k in ["max_tokens", "stream", "metadata"] {
            b.as_object_mut().unwrap().remove(k);
        }
        let mut r = count_body(&b, &claude_code_headers()).unwrap();
        fit(&mut r, &model("haiku"));
        assert!(r.native.get("context_management").is_some());
        assert!(r.dropped.names().any(|n| n == "thinking.display"));
    }
}
