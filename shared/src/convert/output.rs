//! `outputConfig` (native structured output), both ways: Converse JSON <-> the SDK's
//! `OutputConfig`. The pinned SDK (aws-sdk-bedrockruntime 1.153) has the builder slot, so the
//! field goes through the typed request like every other one.

use aws_sdk_bedrockruntime::types::{
    JsonSchemaDefinition, OutputConfig, OutputFormat, OutputFormatStructure, OutputFormatType,
};
use serde_json::{Map, Value, json};

use super::{Path, R, build_err, obj, only, required, sdk_enum, string, union};

/// `outputConfig`: `textFormat` (`type: json_schema`, `structure.jsonSchema {schema, name,
/// description}`) and `effort`. `schema` is JSON text, as in Bedrock's API; it must parse as a
/// JSON object here, so a typo is a 400 naming the path rather than Bedrock's later refusal.
pub(crate) fn output_config(v: &Value) -> R<OutputConfig> {
    let p = Path::root("outputConfig");
    let o = obj(v, &p)?;
    only(o, &["textFormat", "effort"], &p)?;
    let mut b = OutputConfig::builder();
    if let Some(tf) = o.get("textFormat") {
        b = b.text_format(text_format(tf, &p.key("textFormat"))?);
    }
    if let Some(e) = o.get("effort") {
        b = b.effort(string(e, &p.key("effort"))?);
    }
    Ok(b.build())
}

fn text_format(v: &Value, p: &Path) -> R<OutputFormat> {
    let o = obj(v, p)?;
    only(o, &["type", "structure"], p)?;
    let t: OutputFormatType = sdk_enum(
        required(o, "type", p)?,
        OutputFormatType::values(),
        &p.key("type"),
    )?;
    let sp = p.key("structure");
    let (_, js) = union(
        required(o, "structure", p)?,
        &["jsonSchema"],
        "output structure",
        &sp,
    )?;
    let jp = sp.key("jsonSchema");
    let jo = obj(js, &jp)?;
    only(jo, &["schema", "name", "description"], &jp)?;
    let schema = string(required(jo, "schema", &jp)?, &jp.key("schema"))?;
    if !serde_json::from_str::<Value>(&schema).is_ok_and(|s| s.is_object()) {
        return Err(jp
            .key("schema")
            .err("expected a JSON schema object serialised as a string"));
    }
    let opt = |k: &str| jo.get(k).map(|v| string(v, &jp.key(k))).transpose();
    let def = JsonSchemaDefinition::builder()
        .schema(schema)
        .set_name(opt("name")?)
        .set_description(opt("description")?)
        .build()
        .map_err(|e| build_err(&jp, e))?;
    OutputFormat::builder()
        .r#type(t)
        .structure(OutputFormatStructure::JsonSchema(def))
        .build()
        .map_err(|e| build_err(p, e))
}

/// `OutputConfig` -> JSON (inverse of [`output_config`]).
pub(crate) fn output_config_to_json(c: &OutputConfig) -> Value {
    let mut o = Map::new();
    if let Some(tf) = c.text_format() {
        let mut f = Map::new();
        f.insert("type".into(), json!(tf.r#type().as_str()));
        if let Some(OutputFormatStructure::JsonSchema(d)) = tf.structure() {
            let mut js = Map::new();
            js.insert("schema".into(), json!(d.schema()));
            if let Some(n) = d.name() {
                js.insert("name".into(), json!(n));
            }
            if let Some(d) = d.description() {
                js.insert("description".into(), json!(d));
            }
            f.insert("structure".into(), json!({"jsonSchema": js}));
        }
        o.insert("textFormat".into(), Value::Object(f));
    }
    if let Some(e) = c.effort() {
        o.insert("effort".into(), json!(e));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(schema: &str) -> Value {
        json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
            "schema": schema, "name": "person", "description": "A person"}}}})
    }

    #[test]
    fn round_trips() {
        let v = body(r#"{"type":"object","properties":{"name":{"type":"string"}}}"#);
        let c = output_config(&v).unwrap();
        let d = c.text_format().unwrap().structure().unwrap();
        assert_eq!(d.as_json_schema().unwrap().name(), Some("person"));
        assert_eq!(output_config_to_json(&c), v);
        let with_effort = json!({"effort": "high"});
        assert_eq!(
            output_config_to_json(&output_config(&with_effort).unwrap()),
            with_effort
        );
    }

    #[test]
    fn refuses_bad_shapes_by_path() {
        let cases = [
            (json!([]), "outputConfig: expected an object"),
            (
                json!({"format": {}}),
                "outputConfig: unknown field \"format\"",
            ),
            (
                json!({"textFormat": {"type": "xml", "structure": {}}}),
                "outputConfig.textFormat.type",
            ),
            (
                json!({"textFormat": {"type": "json_schema"}}),
                "missing required field \"structure\"",
            ),
            (
                json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {}}}}),
                "missing required field \"schema\"",
            ),
            (
                json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": {"type": "object"}}}}}),
                "outputConfig.textFormat.structure.jsonSchema.schema: expected a string",
            ),
            (
                body("{not json"),
                "JSON schema object serialised as a string",
            ),
            (body("[1]"), "JSON schema object serialised as a string"),
        ];
        for (v, want) in cases {
            let e = output_config(&v).unwrap_err().to_string();
            assert!(e.contains(want), "{v}: {e}");
        }
    }
}
