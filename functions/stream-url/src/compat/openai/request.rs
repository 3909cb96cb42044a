//! The OpenAI Chat Completions request as typed values.
//!
//! Every field is lenient: a value of the wrong JSON type is kept as [`Typed::Wrong`] instead of
//! failing the whole body, so `translate` can refuse it by name with the gateway's own message
//! (serde's errors name neither the field path nor what the gateway accepts). Every struct keeps
//! its unknown keys in `extra` (`#[serde(flatten)]`): they are refused by name, and the flatten
//! also makes the structs match JSON objects only (never an array read field by field).

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A value of type `T`, or a note that something else was sent in its place.
#[derive(Debug, Clone)]
pub enum Typed<T> {
    /// The expected type.
    Ok(T),
    /// Anything else (refused by the caller, with the field's own message).
    Wrong,
}

impl<T> Typed<T> {
    /// The value when it has the expected type.
    pub fn ok(&self) -> Option<&T> {
        match self {
            Typed::Ok(v) => Some(v),
            Typed::Wrong => None,
        }
    }
}

/// Read through an owned `Value`, so nested values move into place: an untagged enum would
/// buffer and copy its input at every level (a base64 image once per level).
impl<'de, T: DeserializeOwned> Deserialize<'de> for Typed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(serde_json::from_value(v).map_or(Typed::Wrong, Typed::Ok))
    }
}

/// An internally tagged enum (`T`), read only when its tag is a string: serde would also take a
/// variant's index (`"role": 1`), which the gateway refuses like any other non-string tag.
#[derive(Debug)]
pub enum Tagged<T> {
    /// A known tag, read as `T`.
    Ok(T),
    /// Anything else: not an object, or no, a non-string or an unknown tag.
    Wrong(Value),
}

/// The key that names the variant of an internally tagged enum, and the variants' names.
pub trait Tag: DeserializeOwned {
    const TAG: &'static str;
    const VARIANTS: &'static [&'static str];
}

impl<T: Tag> Tagged<T> {
    fn from_value(v: Value) -> Self {
        let tag = v.get(T::TAG).and_then(Value::as_str);
        if !tag.is_some_and(|t| T::VARIANTS.contains(&t)) {
            return Tagged::Wrong(v);
        }
        // Every variant's fields are lenient, so a known tag always reads; `Null` only stands in
        // for that unreachable failure (the value has moved into the attempt).
        serde_json::from_value(v).map_or(Tagged::Wrong(Value::Null), Tagged::Ok)
    }
}

impl<'de, T: Tag> Deserialize<'de> for Tagged<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Tagged::from_value)
    }
}

/// For fields where an explicit `null` is refused like any other wrong type (`None` only when
/// the key is absent), unlike the `Option` default that reads `null` as absent.
fn present<'de, D, T>(d: D) -> Result<Option<Typed<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Typed::deserialize(d).map(Some)
}

/// Unknown keys of an object, in key order.
pub type Extra = Map<String, Value>;

/// `POST /v1/chat/completions` body. Top-level `null`s count as absent.
#[derive(Debug, Deserialize)]
pub struct ChatCompletionRequest {
    pub model: Option<Typed<String>>,
    pub messages: Option<Typed<Vec<Tagged<Message>>>>,
    pub max_tokens: Option<Typed<u64>>,
    pub max_completion_tokens: Option<Typed<u64>>,
    pub temperature: Option<Typed<f64>>,
    pub top_p: Option<Typed<f64>>,
    pub stop: Option<Typed<Stop>>,
    pub n: Option<Typed<u64>>,
    pub stream: Option<Typed<bool>>,
    pub stream_options: Option<Typed<StreamOptions>>,
    pub tools: Option<Typed<Vec<Typed<Tool>>>>,
    pub tool_choice: Option<Typed<ToolChoice>>,
    pub parallel_tool_calls: Option<Typed<bool>>,
    pub response_format: Option<Tagged<ResponseFormat>>,
    pub reasoning_effort: Option<Typed<String>>,
    pub user: Option<Typed<String>>,
    pub safety_identifier: Option<Typed<String>>,
    pub metadata: Option<Typed<BTreeMap<String, Typed<String>>>>,
    pub store: Option<Typed<bool>>,
    pub logprobs: Option<Typed<bool>>,
    pub frequency_penalty: Option<Typed<f64>>,
    pub presence_penalty: Option<Typed<f64>>,
    pub logit_bias: Option<Typed<Extra>>,
    pub modalities: Option<Typed<Vec<String>>>,
    pub service_tier: Option<Typed<String>>,
    /// Everything else (refused unless `null`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `stop`: one sequence or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

/// `stream_options`.
#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default, deserialize_with = "present")]
    pub include_usage: Option<Typed<bool>>,
    pub include_obfuscation: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One message, by `role`. A message that matches none (not an object, no or an unknown role)
/// stays [`Tagged::Wrong`].
#[derive(Debug, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    System(TextMessage),
    Developer(TextMessage),
    User(TextMessage),
    Assistant(AssistantMessage),
    Tool(ToolMessage),
}

impl Tag for Message {
    const TAG: &'static str = "role";
    const VARIANTS: &'static [&'static str] = &["system", "developer", "user", "assistant", "tool"];
}

/// A `system`, `developer` or `user` message.
#[derive(Debug, Deserialize)]
pub struct TextMessage {
    pub content: Option<Typed<Content>>,
    pub name: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// An `assistant` message.
#[derive(Debug, Deserialize)]
pub struct AssistantMessage {
    pub content: Option<Typed<Content>>,
    pub name: Option<Value>,
    pub refusal: Option<Value>,
    pub tool_calls: Option<Typed<Vec<Typed<ToolCall>>>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A `tool` message (a `name` lands in `extra`: tool messages have none).
#[derive(Debug, Deserialize)]
pub struct ToolMessage {
    pub content: Option<Typed<Content>>,
    pub tool_call_id: Option<Typed<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `content`: a string or an array of parts.
#[derive(Debug)]
pub enum Content {
    Text(String),
    Parts(Vec<Tagged<Part>>),
}

/// By hand, through an owned `Value` (see [`Typed`]).
impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Content::Text(s)),
            Value::Array(parts) => Ok(Content::Parts(
                parts.into_iter().map(Tagged::from_value).collect(),
            )),
            _ => Err(D::Error::custom("expected a string or an array of parts")),
        }
    }
}

/// One content part, by `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    Text(TextPart),
    Refusal(RefusalPart),
    ImageUrl(ImagePart),
}

impl Tag for Part {
    const TAG: &'static str = "type";
    const VARIANTS: &'static [&'static str] = &["text", "refusal", "image_url"];
}

/// `{"type": "text", "text": ..., "cache_control": ...}`.
#[derive(Debug, Deserialize)]
pub struct TextPart {
    pub text: Option<Typed<String>>,
    pub cache_control: Option<Typed<CacheControl>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A part's `cache_control`: `{"type": "ephemeral", "ttl": "5m" | "1h"}` (mapped in `caching`).
#[derive(Debug, Deserialize)]
pub struct CacheControl {
    #[serde(rename = "type")]
    pub kind: Option<Typed<String>>,
    pub ttl: Option<Typed<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{"type": "refusal", "refusal": ...}` (assistant messages; other keys are ignored).
#[derive(Debug, Deserialize)]
pub struct RefusalPart {
    pub refusal: Option<Typed<String>>,
    /// Ignored (kept so only objects match).
    #[serde(flatten)]
    pub _rest: Extra,
}

/// `{"type": "image_url", "image_url": {...}}`.
#[derive(Debug, Deserialize)]
pub struct ImagePart {
    pub image_url: Option<Typed<ImageUrl>>,
    pub cache_control: Option<Typed<CacheControl>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `image_url`.
#[derive(Debug, Deserialize)]
pub struct ImageUrl {
    pub url: Option<Typed<String>>,
    pub detail: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool call of an assistant message.
#[derive(Debug, Deserialize)]
pub struct ToolCall {
    pub id: Option<Typed<String>>,
    #[serde(rename = "type")]
    pub kind: Option<Value>,
    pub function: Option<Typed<FunctionCall>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The function of a tool call (other keys are ignored).
#[derive(Debug, Deserialize)]
pub struct FunctionCall {
    pub name: Option<Typed<String>>,
    pub arguments: Option<Value>,
    /// Ignored (kept so only objects match).
    #[serde(flatten)]
    pub _rest: Extra,
}

/// One entry of `tools`.
#[derive(Debug, Deserialize)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: Option<Value>,
    pub function: Option<Typed<FunctionDef>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool's function definition.
#[derive(Debug, Deserialize)]
pub struct FunctionDef {
    pub name: Option<Typed<String>>,
    pub description: Option<Typed<String>>,
    pub parameters: Option<Value>,
    pub strict: Option<Typed<bool>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `tool_choice`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `auto`, `required`, `none`, ...
    Mode(String),
    /// `{"type": "function", "function": {"name": ...}}` (only the name is read).
    Named(NamedChoice),
}

/// The object form of `tool_choice`.
#[derive(Debug, Clone, Deserialize)]
pub struct NamedChoice {
    pub function: Option<Value>,
    /// Ignored (kept so only objects match).
    #[serde(flatten)]
    pub _rest: Extra,
}

/// `response_format`, by `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text(NoFields),
    JsonObject(NoFields),
    JsonSchema(JsonSchemaFormat),
}

impl Tag for ResponseFormat {
    const TAG: &'static str = "type";
    const VARIANTS: &'static [&'static str] = &["text", "json_object", "json_schema"];
}

/// An object that takes no keys besides its tag.
#[derive(Debug, Deserialize)]
pub struct NoFields {
    #[serde(flatten)]
    pub extra: Extra,
}

/// `response_format: {"type": "json_schema", ...}`.
#[derive(Debug, Deserialize)]
pub struct JsonSchemaFormat {
    pub json_schema: Option<Typed<JsonSchema>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `response_format.json_schema`.
#[derive(Debug, Deserialize)]
pub struct JsonSchema {
    pub name: Option<Typed<String>>,
    pub schema: Option<Value>,
    pub strict: Option<Value>,
    pub description: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}
