//! Parsing of Converse / ConverseStream bodies (also the Nova native body, which shares the
//! content-block union) into the neutral [`ChatRequest`].

use serde_json::Value;

use crate::chat::{Block, ChatRequest, Message, Role, Tool, ToolChoice, Ttl, tool_result_text};
use crate::errors::{BedrockError, validation};
use crate::models::Model;
use crate::validation as check;

/// Guardrail settings carried by a Converse request.
#[derive(Debug, Clone)]
pub struct GuardrailConfig {
    pub id: String,
    pub version: String,
    pub trace: bool,
}

#[derive(Debug)]
pub struct ConverseInput {
    pub chat: ChatRequest,
    pub guardrail: Option<GuardrailConfig>,
}

fn obj_field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|v| !v.is_null())
}

fn bad(path: &str, what: &str) -> BedrockError {
    BedrockError::Validation(format!("The value at {path} is not valid: {what}."))
}

fn cache_point(v: &Value, path: &str) -> Result<Ttl, BedrockError> {
    if let Some(t) = v.get("type").and_then(Value::as_str)
        && t != "default"
    {
        return Err(bad(path, "cachePoint.type must be \"default\""));
    }
    Ttl::parse(v.get("ttl").and_then(Value::as_str))
        .ok_or_else(|| bad(path, "cachePoint.ttl must be 5m or 1h"))
}

fn base64_len(v: Option<&Value>) -> usize {
    v.and_then(Value::as_str)
        .map(|s| s.len() / 4 * 3)
        .unwrap_or(0)
}

/// Parses one ContentBlock union value.
fn block(v: &Value, path: &str) -> Result<Block, BedrockError> {
    let Some(obj) = v.as_object() else {
        return Err(bad(path, "a content block must be an object"));
    };
    let mut members = obj.iter().filter(|(_, v)| !v.is_null());
    let (Some((key, val)), None) = (members.next(), members.next()) else {
        return Err(bad(path, "a content block must set exactly one member"));
    };
    Ok(match key.as_str() {
        "text" => Block::Text(
            val.as_str()
                .ok_or_else(|| bad(path, "text must be a string"))?
                .to_string(),
        ),
        "image" => {
            let fmt = val.get("format").and_then(Value::as_str).unwrap_or("");
            if !matches!(fmt, "png" | "jpeg" | "gif" | "webp") {
                return Err(bad(
                    path,
                    "image.format must be one of png, jpeg, gif, webp",
                ));
            }
            if val.get("source").is_none() {
                return Err(bad(path, "image.source is required"));
            }
            Block::Image
        }
        "document" => {
            if val.get("name").and_then(Value::as_str).is_none() {
                return Err(bad(path, "document.name is required"));
            }
            let src = val
                .get("source")
                .ok_or_else(|| bad(path, "document.source is required"))?;
            let text = src
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    src.get("content").and_then(Value::as_array).map(|items| {
                        items
                            .iter()
                            .filter_map(|i| i.get("text").and_then(Value::as_str))
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                });
            Block::Document {
                text,
                bytes: base64_len(src.get("bytes")),
            }
        }
        "video" => Block::Video,
        "toolUse" => Block::ToolUse {
            id: val
                .get("toolUseId")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(path, "toolUse.toolUseId is required"))?
                .to_string(),
            name: val
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(path, "toolUse.name is required"))?
                .to_string(),
            input: val.get("input").cloned().unwrap_or(Value::Null),
        },
        "toolResult" => Block::ToolResult {
            id: val
                .get("toolUseId")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(path, "toolResult.toolUseId is required"))?
                .to_string(),
            text: tool_result_text(val.get("content").unwrap_or(&Value::Null)),
        },
        "guardContent" => Block::GuardContent(
            val.get("text")
                .and_then(|t| t.get("text"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ),
        "cachePoint" => Block::CachePoint(cache_point(val, path)?),
        "reasoningContent" => Block::Reasoning(
            val.get("reasoningText")
                .and_then(|r| r.get("text"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ),
        "citationsContent" | "searchResult" | "audio" => Block::Text(String::new()),
        other => {
            return validation(format!(
                "The content block at {path} is not valid: unknown member \"{other}\". Valid members are text, image, document, video, toolUse, toolResult, guardContent, cachePoint, reasoningContent."
            ));
        }
    })
}

pub fn messages(v: Option<&Value>) -> Result<Vec<Message>, BedrockError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let arr = v
        .as_array()
        .ok_or_else(|| bad("messages", "messages must be a list"))?;
    let mut out = Vec::with_capacity(arr.len());
    for (i, m) in arr.iter().enumerate() {
        let role = match m.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            // Other values break the service model's enum and never get here; `system` keeps it
            // (a newer addition to the model) but no model bedrock-local serves takes it.
            _ => {
                return validation(format!(
                    "The model doesn't support the system role in messages (messages.{i}). Put system text in the system field and try again."
                ));
            }
        };
        let content = match m.get("content") {
            Some(Value::Array(c)) => c
                .iter()
                .enumerate()
                .map(|(j, b)| block(b, &format!("messages.{i}.content.{j}")))
                .collect::<Result<Vec<_>, _>>()?,
            Some(Value::String(s)) => vec![Block::Text(s.clone())],
            _ => {
                return Err(bad(
                    &format!("messages.{i}.content"),
                    "content is required and must be a list",
                ));
            }
        };
        out.push(Message { role, content });
    }
    Ok(out)
}

pub fn system(v: Option<&Value>) -> Result<Vec<Block>, BedrockError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let arr = v
        .as_array()
        .ok_or_else(|| bad("system", "system must be a list"))?;
    arr.iter()
        .enumerate()
        .map(|(i, b)| {
            let path = format!("system.{i}");
            match block(b, &path)? {
                b @ (Block::Text(_) | Block::GuardContent(_) | Block::CachePoint(_)) => Ok(b),
                _ => Err(bad(
                    &path,
                    "a system block must be text, guardContent or cachePoint",
                )),
            }
        })
        .collect()
}

pub fn tool_config(req: &mut ChatRequest, v: &Value) -> Result<(), BedrockError> {
    let tools = v
        .get("tools")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("toolConfig.tools", "toolConfig.tools is required"))?;
    for (i, t) in tools.iter().enumerate() {
        if let Some(cp) = t.get("cachePoint") {
            req.tools_cache_point = Some(cache_point(cp, &format!("toolConfig.tools.{i}"))?);
            continue;
        }
        let Some(spec) = t.get("toolSpec") else {
            if t.get("systemTool").is_some() {
                continue;
            }
            return Err(bad(
                &format!("toolConfig.tools.{i}"),
                "each tool must be a toolSpec or cachePoint",
            ));
        };
        let name = spec
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty() && n.len() <= 64)
            .ok_or_else(|| {
                bad(
                    &format!("toolConfig.tools.{i}.toolSpec.name"),
                    "a tool name of 1-64 characters is required",
                )
            })?;
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return validation(format!(
                "1 validation error detected: Value '{name}' at 'toolConfig.tools.{}.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+",
                i + 1
            ));
        }
        let schema = spec.get("inputSchema").and_then(|s| s.get("json"));
        check::tool_schema(name, schema)?;
        req.tools.push(Tool {
            name: name.to_string(),
            description: spec
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            schema: schema.cloned().unwrap_or(Value::Null),
        });
    }
    if let Some(choice) = v.get("toolChoice") {
        req.tool_choice = if choice.get("any").is_some() {
            ToolChoice::Any
        } else if let Some(t) = choice.get("tool") {
            let name = t.get("name").and_then(Value::as_str).unwrap_or("");
            if !req.tools.iter().any(|x| x.name == name) {
                return validation(format!(
                    "The tool {name} named in toolChoice is not defined in toolConfig.tools."
                ));
            }
            ToolChoice::Tool(name.to_string())
        } else {
            ToolChoice::Auto
        };
    }
    Ok(())
}

/// Reads the extended-thinking budget from `additionalModelRequestFields` (Anthropic
/// `thinking`, or Nova `reasoningConfig` / `reasoning_config`).
pub fn reasoning_budget(extra: Option<&Value>) -> Result<Option<u32>, BedrockError> {
    let Some(extra) = extra else { return Ok(None) };
    if let Some(t) = extra.get("thinking") {
        return match t.get("type").and_then(Value::as_str) {
            Some("enabled") => {
                let b = t.get("budget_tokens").and_then(Value::as_u64).ok_or_else(|| {
                    BedrockError::Validation(
                        "The model returned the following errors: thinking.enabled.budget_tokens: Field required".into(),
                    )
                })?;
                if b < 1024 {
                    return validation(
                        "The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
                    );
                }
                Ok(Some(b as u32))
            }
            _ => Ok(None),
        };
    }
    let rc = extra
        .get("reasoningConfig")
        .or_else(|| extra.get("reasoning_config"));
    match rc {
        Some(rc) if rc.get("type").and_then(Value::as_str) == Some("enabled") => Ok(Some(match rc
            .get("maxReasoningEffort")
            .and_then(Value::as_str)
        {
            Some("high") => 4096,
            Some("medium") => 2048,
            _ => 1024,
        })),
        _ => Ok(None),
    }
}

/// Parses and validates a Converse/ConverseStream body for a model.
pub fn parse(model: &Model, body: &Value, streaming: bool) -> Result<ConverseInput, BedrockError> {
    if !body.is_object() {
        return validation("The request body must be a JSON object.");
    }
    let mut chat = ChatRequest::new();
    chat.messages = messages(obj_field(body, "messages"))?;
    chat.system = system(obj_field(body, "system"))?;
    if let Some(tc) = obj_field(body, "toolConfig") {
        tool_config(&mut chat, tc)?;
    } else if chat
        .messages
        .iter()
        .flat_map(|m| &m.content)
        .any(|b| matches!(b, Block::ToolUse { .. } | Block::ToolResult { .. }))
    {
        return validation(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks.",
        );
    }
    inference_config(model, &mut chat, obj_field(body, "inferenceConfig"), false)?;
    chat.reasoning = reasoning_budget(obj_field(body, "additionalModelRequestFields"))?;
    chat.output_json = crate::structured::output_config(model, obj_field(body, "outputConfig"))?
        .map(|s| crate::structured::answer(&s));
    check::conversation(&chat)?;
    check::capabilities(model, &chat, streaming)?;
    let guardrail = obj_field(body, "guardrailConfig").map(|g| {
        let field = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        GuardrailConfig {
            id: field("guardrailIdentifier"),
            version: field("guardrailVersion"),
            trace: matches!(
                g.get("trace").and_then(Value::as_str),
                Some("enabled" | "enabled_full")
            ),
        }
    });
    Ok(ConverseInput { chat, guardrail })
}

/// `inferenceConfig` (Converse spelling, plus the snake_case aliases Nova's native body uses).
pub fn inference_config(
    model: &Model,
    chat: &mut ChatRequest,
    ic: Option<&Value>,
    nova: bool,
) -> Result<(), BedrockError> {
    let Some(ic) = ic else { return Ok(()) };
    let get = |a: &str, b: &str| {
        ic.get(a)
            .or_else(|| if nova { ic.get(b) } else { None })
            .filter(|v| !v.is_null())
    };
    let max = get("maxTokens", "max_new_tokens");
    let max_i = match max {
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| bad("inferenceConfig.maxTokens", "maxTokens must be an integer"))?,
        ),
        None => None,
    };
    let temperature = get("temperature", "temperature").and_then(Value::as_f64);
    let top_p = get("topP", "top_p").and_then(Value::as_f64);
    check::inference(model, max_i, temperature, top_p)?;
    chat.max_tokens = max_i.map(|m| m as u32);
    if let Some(stops) = get("stopSequences", "stop_sequences") {
        let arr = stops.as_array().ok_or_else(|| {
            bad(
                "inferenceConfig.stopSequences",
                "stopSequences must be a list of strings",
            )
        })?;
        chat.stop_sequences = arr
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
    }
    Ok(())
}
