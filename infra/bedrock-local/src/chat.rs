//! The family-neutral conversation every API surface is parsed into, so that generation,
//! token counting, caching and guardrails are written once.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// Prompt-cache lifetime of a cache point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    FiveMinutes,
    OneHour,
}

impl Ttl {
    pub fn as_str(self) -> &'static str {
        match self {
            Ttl::FiveMinutes => "5m",
            Ttl::OneHour => "1h",
        }
    }
    pub fn secs(self) -> u64 {
        match self {
            Ttl::FiveMinutes => 300,
            Ttl::OneHour => 3600,
        }
    }
    pub fn parse(s: Option<&str>) -> Option<Ttl> {
        match s {
            None | Some("5m") => Some(Ttl::FiveMinutes),
            Some("1h") => Some(Ttl::OneHour),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Block {
    Text(String),
    /// Image; only its size matters here.
    Image,
    /// Document: its text (when given as text) or its byte length.
    Document {
        text: Option<String>,
        bytes: usize,
    },
    Video,
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        id: String,
        text: String,
    },
    Reasoning(String),
    CachePoint(Ttl),
    /// `guardContent`: the only text a guardrail evaluates when present.
    GuardContent(String),
}

#[derive(Debug, Clone)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

#[derive(Debug, Clone)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    pub schema: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    Any,
    Tool(String),
    /// Tools offered but the model must not call them (Anthropic `none`).
    NoTool,
}

#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub system: Vec<Block>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    /// A cache point placed after the tool list.
    pub tools_cache_point: Option<Ttl>,
    pub tool_choice: ToolChoice,
    pub max_tokens: Option<u32>,
    pub stop_sequences: Vec<String>,
    /// Reasoning budget when the request enables extended thinking.
    pub reasoning: Option<u32>,
    /// Native structured output (`outputConfig`): the answer's text, JSON that matches the
    /// schema, made when the request is read (so generation needs no schema code).
    pub output_json: Option<String>,
}

impl ChatRequest {
    pub fn new() -> Self {
        ChatRequest {
            system: Vec::new(),
            messages: Vec::new(),
            tools: Vec::new(),
            tools_cache_point: None,
            tool_choice: ToolChoice::Auto,
            max_tokens: None,
            stop_sequences: Vec::new(),
            reasoning: None,
            output_json: None,
        }
    }

    /// A single user turn, as the prompt-style families (Titan, Llama, Mistral) send.
    pub fn from_prompt(prompt: String) -> Self {
        let mut r = Self::new();
        r.messages.push(Message {
            role: Role::User,
            content: vec![Block::Text(prompt)],
        });
        r
    }

    /// Text of the last user message; where the prompt markers are read.
    pub fn last_user_text(&self) -> String {
        let mut out = String::new();
        if let Some(m) = self.messages.iter().rev().find(|m| m.role == Role::User) {
            for b in &m.content {
                if let Block::Text(t) | Block::GuardContent(t) = b {
                    out.push_str(t);
                    out.push(' ');
                }
            }
        }
        out
    }

    /// The tool results carried by the last message, if it is a user message.
    pub fn trailing_tool_results(&self) -> Vec<(&str, &str)> {
        match self.messages.last() {
            Some(m) if m.role == Role::User => m
                .content
                .iter()
                .filter_map(|b| match b {
                    Block::ToolResult { id, text } => Some((id.as_str(), text.as_str())),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Name of the tool a toolUse id refers to, searching the conversation.
    pub fn tool_name_for(&self, tool_use_id: &str) -> Option<&str> {
        self.messages
            .iter()
            .flat_map(|m| &m.content)
            .find_map(|b| match b {
                Block::ToolUse { id, name, .. } if id == tool_use_id => Some(name.as_str()),
                _ => None,
            })
    }

    /// The text a guardrail evaluates on input: `guardContent` blocks when any are present,
    /// otherwise every user text and system text.
    pub fn guarded_input(&self) -> String {
        let all = self
            .system
            .iter()
            .chain(self.messages.iter().flat_map(|m| m.content.iter()));
        let guard: Vec<&str> = all
            .clone()
            .filter_map(|b| match b {
                Block::GuardContent(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        if !guard.is_empty() {
            return guard.join("\n");
        }
        let mut out = String::new();
        for b in self.system.iter() {
            if let Block::Text(t) = b {
                out.push_str(t);
                out.push('\n');
            }
        }
        if let Some(m) = self.messages.iter().rev().find(|m| m.role == Role::User) {
            for b in &m.content {
                match b {
                    Block::Text(t) => out.push_str(t),
                    Block::ToolResult { text, .. } => out.push_str(text),
                    _ => continue,
                }
                out.push('\n');
            }
        }
        out
    }

    pub fn has_images(&self) -> bool {
        self.messages
            .iter()
            .flat_map(|m| &m.content)
            .any(|b| matches!(b, Block::Image))
    }

    pub fn has_documents(&self) -> bool {
        self.messages
            .iter()
            .flat_map(|m| &m.content)
            .any(|b| matches!(b, Block::Document { .. }))
    }

    pub fn has_system_text(&self) -> bool {
        self.system.iter().any(|b| matches!(b, Block::Text(_)))
    }
}

impl Default for ChatRequest {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads a tool result's content (text or JSON pieces) as one string.
pub fn tool_result_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let mut out = String::new();
            for it in items {
                if let Some(t) = it.get("text").and_then(Value::as_str) {
                    out.push_str(t);
                } else if let Some(j) = it.get("json") {
                    out.push_str(&j.to_string());
                }
            }
            out
        }
        other => other.to_string(),
    }
}
