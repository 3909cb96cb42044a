//! Native structured output: Converse `outputConfig.textFormat` (and Claude's native
//! `output_config.format`). The schema is checked against the subset Bedrock documents
//! (https://docs.aws.amazon.com/bedrock/latest/userguide/structured-output.html: a draft 2020-12
//! subset; unsupported features are a 400 before the model runs), and the answer is JSON that
//! matches it.

use serde_json::{Map, Value, json};

use crate::errors::{BedrockError, validation};
use crate::generate::sample_for_schema;
use crate::models::Model;

/// Keywords Bedrock's structured output refuses (numeric, string-length and array-size
/// constraints beyond `minItems` 0/1).
const UNSUPPORTED: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "maxItems",
    "uniqueItems",
    "patternProperties",
];

fn invalid<T>(path: &str, what: impl std::fmt::Display) -> Result<T, BedrockError> {
    validation(format!(
        "The JSON schema in {path} is not supported for structured output: {what}"
    ))
}

/// Reads `outputConfig` of a Converse body: the schema it constrains the answer to, if any.
pub fn output_config(model: &Model, v: Option<&Value>) -> Result<Option<Value>, BedrockError> {
    let Some(v) = v else { return Ok(None) };
    let p = "outputConfig.textFormat.structure.jsonSchema.schema";
    let Some(tf) = v.get("textFormat").filter(|t| !t.is_null()) else {
        return Ok(None);
    };
    if tf.get("type").and_then(Value::as_str) != Some("json_schema") {
        return validation(
            "1 validation error detected: Value at 'outputConfig.textFormat.type' failed to satisfy constraint: Member must satisfy enum value set: [json_schema]",
        );
    }
    let Some(text) = tf.pointer("/structure/jsonSchema/schema") else {
        return validation("outputConfig.textFormat.structure.jsonSchema.schema is required.");
    };
    let Some(text) = text.as_str() else {
        return validation(format!("The value at {p} must be a string."));
    };
    schema(model, text, p).map(Some)
}

/// Reads Claude's native `output_config.format` (`{"type": "json_schema", "schema": {...}}`).
pub fn native_output_config(
    model: &Model,
    v: Option<&Value>,
) -> Result<Option<Value>, BedrockError> {
    let Some(f) = v.and_then(|v| v.get("format")).filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    if f.get("type").and_then(Value::as_str) != Some("json_schema") {
        return validation("output_config.format.type: Input should be 'json_schema'");
    }
    let s = f.get("schema").cloned().unwrap_or(Value::Null);
    schema(model, &s.to_string(), "output_config.format.schema").map(Some)
}

/// Parses and checks a schema for `model`.
fn schema(model: &Model, text: &str, p: &str) -> Result<Value, BedrockError> {
    if !model.caps.structured_output {
        return validation(format!(
            "The model {} doesn't support structured output (outputConfig). Remove it and try again.",
            model.id
        ));
    }
    let Ok(s) = serde_json::from_str::<Value>(text) else {
        return invalid(p, "it is not valid JSON");
    };
    if !s.is_object() {
        return invalid(p, "the schema must be a JSON object");
    }
    check(&s, &s, p, &mut Vec::new())?;
    Ok(s)
}

/// Walks the schema: refused keywords, `additionalProperties` other than false, external and
/// recursive `$ref`s.
fn check(node: &Value, root: &Value, p: &str, refs: &mut Vec<String>) -> Result<(), BedrockError> {
    match node {
        Value::Array(items) => {
            for i in items {
                check(i, root, p, refs)?;
            }
            Ok(())
        }
        Value::Object(o) => {
            if let Some(k) = UNSUPPORTED.iter().find(|k| o.contains_key(**k)) {
                return invalid(p, format!("keyword \"{k}\" is not supported"));
            }
            if o.get("minItems")
                .and_then(Value::as_u64)
                .is_some_and(|n| n > 1)
            {
                return invalid(p, "minItems above 1 is not supported");
            }
            if o.get("additionalProperties")
                .is_some_and(|a| a != &json!(false))
            {
                return invalid(p, "additionalProperties must be false");
            }
            if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                let Some(target) = resolve(root, r) else {
                    return invalid(p, format!("$ref \"{r}\" is external or unresolved"));
                };
                if refs.iter().any(|seen| seen == r) || r == "#" {
                    return invalid(p, "recursive schemas are not supported");
                }
                refs.push(r.to_owned());
                check(target, root, p, refs)?;
                refs.pop();
            }
            for (k, v) in o {
                // `$defs` are checked where they are used; `const`/`enum` hold values.
                if !matches!(
                    k.as_str(),
                    "$defs" | "definitions" | "const" | "enum" | "$ref"
                ) {
                    check(v, root, p, refs)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A local `$ref` (`#/$defs/x`, `#/definitions/x`).
fn resolve<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let ptr = r.strip_prefix('#')?;
    if ptr.is_empty() {
        return Some(root);
    }
    root.pointer(ptr)
}

/// Inlines local `$ref`s (the schema was checked: no cycles) so the sample can follow them.
fn inline(node: &Value, root: &Value) -> Value {
    match node {
        Value::Array(a) => Value::Array(a.iter().map(|v| inline(v, root)).collect()),
        Value::Object(o) => {
            if let Some(t) = o
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| resolve(root, r))
            {
                return inline(t, root);
            }
            let mut out = Map::new();
            for (k, v) in o {
                out.insert(k.clone(), inline(v, root));
            }
            if let Some(Value::Array(all)) = o.get("allOf") {
                // Merge `allOf` members' properties and required lists into this object.
                for m in all.iter().map(|m| inline(m, root)) {
                    merge(&mut out, &m);
                }
                out.remove("allOf");
            }
            Value::Object(out)
        }
        v => v.clone(),
    }
}

fn merge(into: &mut Map<String, Value>, m: &Value) {
    if let Some(t) = m.get("type") {
        into.entry("type").or_insert_with(|| t.clone());
    }
    if let Some(Value::Object(props)) = m.get("properties") {
        let e = into.entry("properties").or_insert_with(|| json!({}));
        if let Value::Object(dst) = e {
            dst.extend(props.clone());
        }
    }
    if let Some(Value::Array(req)) = m.get("required") {
        let e = into.entry("required").or_insert_with(|| json!([]));
        if let Value::Array(dst) = e {
            dst.extend(req.iter().cloned());
        }
    }
}

/// The answer's text: JSON that matches the schema (every property filled, not only the
/// required ones, so a caller's parser sees each field).
pub fn answer(schema: &Value) -> String {
    let s = inline(schema, schema);
    sample_for_schema(&fill_all(&s), "value", 0).to_string()
}

/// Marks every property of every object required, so the sample names them all.
fn fill_all(node: &Value) -> Value {
    match node {
        Value::Array(a) => Value::Array(a.iter().map(fill_all).collect()),
        Value::Object(o) => {
            let mut out: Map<String, Value> =
                o.iter().map(|(k, v)| (k.clone(), fill_all(v))).collect();
            if let Some(Value::Object(props)) = o.get("properties") {
                let keys: Vec<Value> = props.keys().map(|k| json!(k)).collect();
                out.insert("required".into(), Value::Array(keys));
            }
            Value::Object(out)
        }
        v => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::find;

    fn haiku() -> &'static Model {
        find("anthropic.claude-haiku-4-5-20251001-v1:0").unwrap()
    }

    fn cfg(schema: &str) -> Value {
        json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": schema, "name": "x"}}}})
    }

    fn err(model: &Model, v: Value) -> String {
        output_config(model, Some(&v)).unwrap_err().to_string()
    }

    #[test]
    fn answers_json_that_matches_the_schema() {
        let schema = r##"{"type":"object","additionalProperties":false,
            "properties":{"name":{"type":"string"},"age":{"type":"integer"},
              "tags":{"type":"array","items":{"type":"string"}},
              "kind":{"enum":["a","b"]},"home":{"$ref":"#/$defs/place"}},
            "required":["name"],
            "$defs":{"place":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}"##;
        let s = output_config(haiku(), Some(&cfg(schema))).unwrap().unwrap();
        let v: Value = serde_json::from_str(&answer(&s)).unwrap();
        assert!(v["name"].is_string());
        assert!(v["age"].is_i64());
        assert!(v["tags"][0].is_string());
        assert_eq!(v["kind"], "a");
        assert!(v["home"]["city"].is_string());
    }

    #[test]
    fn refuses_what_bedrock_refuses() {
        let cases = [
            ("{not json", "not valid JSON"),
            ("[1]", "must be a JSON object"),
            (r#"{"type":"number","minimum":0}"#, "\"minimum\""),
            (
                r#"{"type":"object","additionalProperties":true}"#,
                "additionalProperties",
            ),
            (
                r##"{"type":"object","properties":{"n":{"$ref":"#"}}}"##,
                "recursive",
            ),
            (
                r##"{"$defs":{"n":{"type":"object","properties":{"next":{"$ref":"#/$defs/n"}}}},"$ref":"#/$defs/n"}"##,
                "recursive",
            ),
            (r#"{"$ref":"https://example.com/s.json"}"#, "external"),
            (r#"{"type":"array","minItems":3}"#, "minItems"),
        ];
        for (schema, want) in cases {
            let e = err(haiku(), cfg(schema));
            assert!(
                e.contains("ValidationException") && e.contains(want),
                "{schema}: {e}"
            );
        }
        let bad_type = json!({"textFormat": {"type": "xml"}});
        assert!(err(haiku(), bad_type).contains("json_schema"));
        let not_string = json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": {}}}}});
        assert!(err(haiku(), not_string).contains("must be a string"));
        let old = find("anthropic.claude-3-5-haiku-20241022-v1:0").unwrap();
        assert!(err(old, cfg("{}")).contains("doesn't support structured output"));
        assert!(output_config(haiku(), Some(&json!({}))).unwrap().is_none());
    }

    #[test]
    fn native_claude_form() {
        let v = json!({"format": {"type": "json_schema", "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}});
        let s = native_output_config(haiku(), Some(&v)).unwrap().unwrap();
        assert_eq!(answer(&s), r#"{"ok":true}"#);
    }
}
