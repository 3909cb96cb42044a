//! `tools`, `tool_choice` and `response_format` (a forced tool) as Converse tool JSON.

use inference_core::catalog::{Capability, ModelEntry};
use serde_json::{Value, json};

use super::JSON_OBJECT_TOOL;
use super::messages::{string, unknown_key};
use super::request::{FunctionDef, JsonSchema, ResponseFormat, Tagged, Tool, ToolChoice, Typed};
use super::translate::boolean;
use crate::compat::error::{CResult, refuse};

/// `response_format` with JSON output: carried natively (`outputConfig`) where the model has
/// `structured_output` and a schema was given, else by a forced tool.
#[derive(Debug)]
pub(super) struct JsonFormat {
    /// The schema's (or forced tool's) name.
    pub name: String,
    /// The JSON Schema.
    pub schema: Value,
    /// The caller's description, if any.
    pub description: Option<String>,
    /// `strict` (the forced tool's; native output always enforces the schema).
    pub strict: Option<bool>,
    /// `json_schema` (true) or `json_object` (false: no schema, so never native).
    pub from_schema: bool,
}

impl JsonFormat {
    /// Converse `outputConfig` carrying the schema (its text, as Bedrock wants it).
    pub fn output_config(&self) -> Value {
        let mut js = json!({"schema": self.schema.to_string(), "name": self.name});
        if let Some(d) = &self.description {
            js["description"] = json!(d);
        }
        json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": js}}})
    }

    /// The forced tool's spec.
    pub fn tool_spec(&self) -> Value {
        let desc = self.description.clone().unwrap_or_else(|| {
            if self.from_schema {
                "Reply with JSON that matches this schema.".to_owned()
            } else {
                "Reply with a JSON object.".to_owned()
            }
        });
        let mut spec =
            json!({"name": self.name, "description": desc, "inputSchema": {"json": self.schema}});
        if let Some(s) = self.strict {
            spec["strict"] = json!(s);
        }
        spec
    }
}

/// `tools` -> Converse tool specs (`None` for an empty list).
pub(super) fn tools(
    v: &Typed<Vec<Typed<Tool>>>,
    model: Option<&ModelEntry>,
) -> CResult<Option<Vec<Value>>> {
    let Typed::Ok(list) = v else {
        return Err(refuse("tools", "expected an array"));
    };
    if model.is_some_and(|m| !m.supports(Capability::Tools)) && !list.is_empty() {
        return Err(refuse("tools", "this model does not support tool use"));
    }
    let specs = list
        .iter()
        .enumerate()
        .map(|(i, t)| tool_spec(t, &format!("tools[{i}]")))
        .collect::<CResult<Vec<_>>>()?;
    Ok((!specs.is_empty()).then_some(specs))
}

fn tool_spec(t: &Typed<Tool>, param: &str) -> CResult<Value> {
    let Typed::Ok(o) = t else {
        return Err(refuse(param, "expected an object"));
    };
    unknown_key(&o.extra, param)?;
    if o.kind.as_ref().and_then(Value::as_str) != Some("function") {
        return Err(refuse(format!("{param}.type"), "only \"function\" tools"));
    }
    let fp = format!("{param}.function");
    let Some(Typed::Ok(f)) = &o.function else {
        return Err(refuse(fp, "expected an object"));
    };
    function_spec(f, &fp)
}

fn function_spec(f: &FunctionDef, fp: &str) -> CResult<Value> {
    unknown_key(&f.extra, fp)?;
    let name = string(f.name.as_ref(), &format!("{fp}.name"))?;
    let schema = f
        .parameters
        .clone()
        .filter(|p| !p.is_null())
        .unwrap_or(json!({"type": "object", "properties": {}}));
    if !schema.is_object() {
        return Err(refuse(
            format!("{fp}.parameters"),
            "expected a JSON Schema object",
        ));
    }
    let mut spec = json!({"name": name, "inputSchema": {"json": schema}});
    if let Some(d) = &f.description {
        spec["description"] = json!(string(Some(d), &format!("{fp}.description"))?);
    }
    if let Some(s) = &f.strict {
        spec["strict"] = json!(boolean(s, &format!("{fp}.strict"))?);
    }
    Ok(json!({"toolSpec": spec}))
}

/// `response_format` -> the forced tool that carries it (`None` for `text`).
pub(super) fn response_format(v: &Tagged<ResponseFormat>) -> CResult<Option<JsonFormat>> {
    let p = "response_format";
    match v {
        Tagged::Ok(ResponseFormat::Text(o)) => unknown_key(&o.extra, p).map(|()| None),
        Tagged::Ok(ResponseFormat::JsonObject(o)) => {
            unknown_key(&o.extra, p)?;
            Ok(Some(JsonFormat {
                name: JSON_OBJECT_TOOL.to_owned(),
                schema: json!({"type": "object"}),
                description: None,
                strict: None,
                from_schema: false,
            }))
        }
        Tagged::Ok(ResponseFormat::JsonSchema(o)) => {
            unknown_key(&o.extra, p)?;
            let Some(Typed::Ok(js)) = &o.json_schema else {
                return Err(refuse("response_format.json_schema", "expected an object"));
            };
            json_schema(js).map(Some)
        }
        Tagged::Wrong(v) if !v.is_object() => Err(refuse(p, "expected an object")),
        Tagged::Wrong(_) => Err(refuse(
            "response_format.type",
            "expected text, json_object or json_schema",
        )),
    }
}

fn json_schema(js: &JsonSchema) -> CResult<JsonFormat> {
    let p = "response_format.json_schema";
    unknown_key(&js.extra, p)?;
    let name = string(js.name.as_ref(), &format!("{p}.name"))?;
    let schema = js
        .schema
        .clone()
        .filter(|s| !s.is_null())
        .unwrap_or(json!({"type": "object"}));
    if !schema.is_object() {
        return Err(refuse(format!("{p}.schema"), "expected an object"));
    }
    let description = js
        .description
        .as_ref()
        .and_then(Value::as_str)
        .map(str::to_owned);
    let strict = js.strict.as_ref().and_then(Value::as_bool);
    Ok(JsonFormat {
        name: name.to_owned(),
        schema,
        description,
        strict,
        from_schema: true,
    })
}

/// `tool_choice` -> Converse `toolChoice`.
pub(super) fn choice_to_converse(choice: &Typed<ToolChoice>) -> CResult<Value> {
    match choice {
        Typed::Ok(ToolChoice::Mode(s)) => match s.as_str() {
            "auto" => Ok(json!({"auto": {}})),
            "required" => Ok(json!({"any": {}})),
            "none" => Err(refuse(
                "tool_choice",
                "\"none\" cannot be honoured by Converse while tools are sent; omit the tools instead",
            )),
            _ => Err(refuse(
                "tool_choice",
                "expected auto, required or a function",
            )),
        },
        Typed::Ok(ToolChoice::Named(o)) => {
            let name = o
                .function
                .as_ref()
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    refuse(
                        "tool_choice",
                        "expected {\"type\": \"function\", \"function\": {\"name\"}}",
                    )
                })?;
            Ok(json!({"tool": {"name": name}}))
        }
        Typed::Wrong => Err(refuse("tool_choice", "expected a string or an object")),
    }
}
