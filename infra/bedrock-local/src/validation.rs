//! Checks Bedrock makes before a model sees a request, with messages that say what is wrong.

use crate::chat::{Block, ChatRequest, Role};
use crate::errors::{BedrockError, validation};
use crate::models::Model;

/// Largest request body Bedrock accepts (the `body` blob limit of the service model).
pub const MAX_BODY_BYTES: usize = 25_000_000;

pub fn body_too_large() -> BedrockError {
    BedrockError::Validation(format!(
        "1 validation error detected: Value at 'body' failed to satisfy constraint: Member must have length less than or equal to {MAX_BODY_BYTES}"
    ))
}

/// Conversation shape: non-empty, starts with a user, roles alternate, every toolResult
/// answers a toolUse of the previous assistant turn.
pub fn conversation(req: &ChatRequest) -> Result<(), BedrockError> {
    let Some(first) = req.messages.first() else {
        return validation(
            "The messages field must contain at least one message. Try again with at least one user message.",
        );
    };
    if first.role != Role::User {
        return validation(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message.",
        );
    }
    for (i, pair) in req.messages.windows(2).enumerate() {
        if pair[0].role == pair[1].role {
            return validation(format!(
                "A conversation must alternate between user and assistant roles. Messages {i} and {} both have the role {}. Make sure the conversation alternates between user and assistant roles and try again.",
                i + 1,
                if pair[1].role == Role::User {
                    "user"
                } else {
                    "assistant"
                }
            ));
        }
    }
    for (i, m) in req.messages.iter().enumerate() {
        if m.content.is_empty() {
            return validation(format!(
                "The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to the content field and try again."
            ));
        }
        for (j, b) in m.content.iter().enumerate() {
            match b {
                Block::ToolResult { id, .. } => {
                    let answered = i > 0
                        && req.messages[i - 1].content.iter().any(
                            |p| matches!(p, Block::ToolUse { id: use_id, .. } if use_id == id),
                        );
                    if m.role != Role::User || !answered {
                        return validation(format!(
                            "The toolResult block at messages.{i}.content.{j} has toolUseId {id}, which does not match any toolUse block in the previous assistant turn."
                        ));
                    }
                }
                Block::ToolUse { .. } if m.role != Role::Assistant => {
                    return validation(format!(
                        "The toolUse block at messages.{i}.content.{j} is only allowed in an assistant message."
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Inference parameters against the model's limits.
pub fn inference(
    model: &Model,
    max_tokens: Option<i64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
) -> Result<(), BedrockError> {
    if let Some(t) = temperature
        && !(0.0..=1.0).contains(&t)
    {
        return validation(format!(
            "1 validation error detected: Value '{t}' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value {} 1",
            if t < 0.0 {
                "greater than or equal to 0, and less than or equal to"
            } else {
                "less than or equal to"
            }
        ));
    }
    if let Some(p) = top_p
        && !(0.0..=1.0).contains(&p)
    {
        return validation(format!(
            "1 validation error detected: Value '{p}' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value between 0 and 1"
        ));
    }
    if let Some(m) = max_tokens {
        if m < 1 {
            return validation(format!(
                "1 validation error detected: Value '{m}' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1"
            ));
        }
        if m > i64::from(model.max_output) {
            return validation(format!(
                "The maximum tokens you requested exceeds the model limit of {0}. Try again with a maximum tokens value that is lower than {0}.",
                model.max_output
            ));
        }
    }
    Ok(())
}

/// Features the request uses against what the model supports.
pub fn capabilities(model: &Model, req: &ChatRequest, streaming: bool) -> Result<(), BedrockError> {
    if req.has_system_text() && !model.caps.system {
        return validation(
            "This model doesn't support system messages. Try again without a system message.",
        );
    }
    let uses_tools = !req.tools.is_empty()
        || req
            .messages
            .iter()
            .flat_map(|m| &m.content)
            .any(|b| matches!(b, Block::ToolUse { .. } | Block::ToolResult { .. }));
    if uses_tools && !model.caps.tools {
        return validation("This model doesn't support tool use.");
    }
    if uses_tools && streaming && !model.caps.stream_tools {
        return validation("This model doesn't support tool use in streaming mode.");
    }
    if req.has_images() && !model.caps.images {
        return validation("This model doesn't support the image content block that you provided.");
    }
    if req.has_documents() && !model.caps.documents {
        return validation(
            "This model doesn't support documents. Try again without a document content block.",
        );
    }
    if req.reasoning.is_some() && !model.caps.reasoning {
        return validation(
            "The model returned the following errors: thinking: Extra inputs are not permitted",
        );
    }
    if let (Some(budget), Some(max)) = (req.reasoning, req.max_tokens)
        && budget >= max
    {
        return validation(
            "The model returned the following errors: `max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size",
        );
    }
    Ok(())
}

/// A tool's input schema must be a JSON object.
pub fn tool_schema(name: &str, schema: Option<&serde_json::Value>) -> Result<(), BedrockError> {
    match schema {
        Some(serde_json::Value::Object(o)) => {
            if let Some(t) = o.get("type")
                && t != "object"
            {
                return validation(format!(
                    "The model returned the following errors: tools.{name}.input_schema: the schema's top-level type must be \"object\"."
                ));
            }
            Ok(())
        }
        Some(_) => validation(format!(
            "The input schema for tool {name} is not valid: inputSchema.json must be a JSON object."
        )),
        None => validation(format!(
            "The input schema for tool {name} is missing: toolSpec.inputSchema.json is required."
        )),
    }
}
