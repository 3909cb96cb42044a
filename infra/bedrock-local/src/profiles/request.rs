//! The control plane's request bodies (CreateInferenceProfile, TagResource, UntagResource,
//! ListTagsForResource), read and checked against the service model's constraints.

use serde_json::Value;

use crate::constraints::{length, pattern};
use crate::errors::{BedrockError, validation};

const NAME_PATTERN: &str = "([0-9a-zA-Z][ _-]?)+";
const DESCRIPTION_PATTERN: &str = "([0-9a-zA-Z:.][ _-]?)+";
const TOKEN_PATTERN: &str = "[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?";
const SOURCE_PATTERN: &str = r"arn:aws(|-us-gov|-cn|-iso|-iso-b):bedrock:(|[0-9a-z-]{0,20}):(|[0-9]{12}):(inference-profile|foundation-model)/[a-zA-Z0-9-:.]+";
const TAG_PATTERN: &str = r"[a-zA-Z0-9\s._:/=+@-]*";
/// `InferenceProfileIdentifier`: a profile ID or either kind of profile ARN.
pub const IDENTIFIER_PATTERN: &str = r"(arn:aws(|-us-gov|-cn|-iso|-iso-b):bedrock:(|[0-9a-z-]{0,20}):(|[0-9]{12}):(inference-profile|application-inference-profile)/)?[a-zA-Z0-9-:.]+";
/// Most tags one resource may carry.
pub const MAX_TAGS: usize = 200;

/// One resource tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A checked CreateInferenceProfile request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub name: String,
    pub description: Option<String>,
    pub copy_from: String,
    pub tags: Vec<Tag>,
    pub token: Option<String>,
}

pub fn missing<T>(member: &str) -> Result<T, BedrockError> {
    validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

/// A string member: absent is `None`; any other JSON type is refused by name.
pub fn string<'a>(body: &'a Value, member: &str) -> Result<Option<&'a str>, BedrockError> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => validation(format!("The member {member} must be a string.")),
    }
}

pub fn required<'a>(body: &'a Value, member: &str) -> Result<&'a str, BedrockError> {
    match string(body, member)? {
        Some(s) => Ok(s),
        None => missing(member),
    }
}

/// Parses a body's JSON object (an empty body is an empty object, as for bodiless requests).
pub fn json_object(bytes: &[u8]) -> Result<Value, BedrockError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => validation("The request body must be a JSON object."),
        Err(e) => validation(format!("The request body is not valid JSON: {e}")),
    }
}

pub fn create(body: &Value) -> Result<CreateRequest, BedrockError> {
    let name = required(body, "inferenceProfileName")?;
    length("inferenceProfileName", name, 1, 64)?;
    pattern("inferenceProfileName", name, NAME_PATTERN)?;
    let description = string(body, "description")?;
    if let Some(d) = description {
        length("description", d, 1, 200)?;
        pattern("description", d, DESCRIPTION_PATTERN)?;
    }
    let token = string(body, "clientRequestToken")?;
    if let Some(t) = token {
        length("clientRequestToken", t, 1, 256)?;
        pattern("clientRequestToken", t, TOKEN_PATTERN)?;
    }
    let source = match body.get("modelSource") {
        Some(s @ Value::Object(_)) => s,
        Some(_) => return validation("The member modelSource must be a structure."),
        None => return missing("modelSource"),
    };
    let copy_from = match string(source, "copyFrom")? {
        Some(c) => c,
        None => return missing("modelSource.copyFrom"),
    };
    length("modelSource.copyFrom", copy_from, 1, 2048)?;
    pattern("modelSource.copyFrom", copy_from, SOURCE_PATTERN)?;
    Ok(CreateRequest {
        name: name.to_string(),
        description: description.map(str::to_string),
        copy_from: copy_from.to_string(),
        tags: tags(body, "tags")?.unwrap_or_default(),
        token: token.map(str::to_string),
    })
}

/// A `TagList` member (absent is `None`).
pub fn tags(body: &Value, member: &str) -> Result<Option<Vec<Tag>>, BedrockError> {
    let list = match body.get(member) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return validation(format!("The member {member} must be a list.")),
    };
    if list.len() > MAX_TAGS {
        return validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to {MAX_TAGS}"
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let at = format!("{member}.{}.member", i + 1);
        let key =
            required(t, "key").map_err(|_| missing::<()>(&format!("{at}.key")).unwrap_err())?;
        let value =
            required(t, "value").map_err(|_| missing::<()>(&format!("{at}.value")).unwrap_err())?;
        length(&format!("{at}.key"), key, 1, 128)?;
        pattern(&format!("{at}.key"), key, TAG_PATTERN)?;
        length(&format!("{at}.value"), value, 0, 256)?;
        pattern(&format!("{at}.value"), value, TAG_PATTERN)?;
        out.push(Tag {
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    Ok(Some(out))
}

/// The `resourceARN` of the tagging operations.
pub fn resource_arn(body: &Value) -> Result<&str, BedrockError> {
    let arn = required(body, "resourceARN")?;
    length("resourceARN", arn, 20, 1011)?;
    Ok(arn)
}

/// The `tagKeys` of UntagResource.
pub fn tag_keys(body: &Value) -> Result<Vec<String>, BedrockError> {
    let list = match body.get("tagKeys") {
        None | Some(Value::Null) => return missing("tagKeys"),
        Some(Value::Array(a)) => a,
        Some(_) => return validation("The member tagKeys must be a list."),
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, k) in list.iter().enumerate() {
        let member = format!("tagKeys.{}.member", i + 1);
        let Some(k) = k.as_str() else {
            return validation(format!("The member {member} must be a string."));
        };
        length(&member, k, 1, 128)?;
        pattern(&member, k, TAG_PATTERN)?;
        out.push(k.to_string());
    }
    Ok(out)
}

/// Checks an inference profile identifier (path label) against the service model.
pub fn identifier(id: &str) -> Result<(), BedrockError> {
    length("inferenceProfileIdentifier", id, 1, 2048)?;
    pattern("inferenceProfileIdentifier", id, IDENTIFIER_PATTERN)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SOURCE: &str = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0";

    #[test]
    fn create_is_checked_member_by_member() {
        let ok = create(&json!({
            "inferenceProfileName": "team-a profile_1",
            "description": "Team A: chat",
            "modelSource": {"copyFrom": SOURCE},
            "tags": [{"key": "team", "value": "a"}],
        }))
        .unwrap();
        assert_eq!(ok.tags.len(), 1);
        let err = |body: Value| create(&body).unwrap_err().message().to_string();
        assert!(err(json!({"modelSource": {"copyFrom": SOURCE}})).contains("must not be null"));
        assert!(
            err(json!({"inferenceProfileName": "bad!", "modelSource": {"copyFrom": SOURCE}}))
                .contains("regular expression")
        );
        assert!(
            err(
                json!({"inferenceProfileName": "x".repeat(65), "modelSource": {"copyFrom": SOURCE}})
            )
            .contains("less than or equal to 64")
        );
        assert!(
            err(json!({"inferenceProfileName": "a", "modelSource": {"copyFrom": "amazon.nova-lite-v1:0"}}))
                .contains("copyFrom")
        );
        assert!(
            err(json!({"inferenceProfileName": "a", "modelSource": {"copyFrom": SOURCE}, "tags": [{"key": "k"}]}))
                .contains("tags.1.member.value")
        );
        assert!(identifier("us.anthropic.claude-sonnet-4-5-20250929-v1:0").is_ok());
        assert!(identifier("bad id").is_err());
    }
}
