//! Walks a request against its input shape and collects every constraint it breaks.
//!
//! Only constraints are checked here. A value of the wrong JSON type (a number where a string
//! belongs) is left to the parser that reads the request, which names the type it wanted.

use serde_json::{Map, Value};

use crate::model::{Kind, ServiceModel, Shape};
use crate::violation::{Rule, Step, Violation, Violations};

/// More would only lengthen the message: Bedrock's own lists stop early too.
const MAX_VIOLATIONS: usize = 20;

impl ServiceModel {
    /// Checks a whole input (every member by its name, wherever it travels) against `shape`.
    /// The raw payload (InvokeModel's `body`) is not in it: its one constraint, its length, is
    /// the HTTP body limit.
    pub fn check(&self, shape: &str, input: &Value) -> Result<(), Violations> {
        self.run(shape, input, false)
    }

    /// Checks a JSON request body: top-level members that travel in the path, headers or query
    /// string, and the raw payload, are not in it and are not checked.
    pub fn check_body(&self, shape: &str, body: &Value) -> Result<(), Violations> {
        self.run(shape, body, true)
    }

    fn run(&self, shape: &str, value: &Value, body_only: bool) -> Result<(), Violations> {
        let mut walk = Walk {
            model: self,
            path: Vec::new(),
            out: Vec::new(),
            body_only,
        };
        walk.value(self.shape(shape), value);
        if walk.out.is_empty() {
            Ok(())
        } else {
            Err(Violations(walk.out))
        }
    }
}

struct Walk<'a> {
    model: &'a ServiceModel,
    path: Vec<Step>,
    out: Vec<Violation>,
    /// Skip the top level's non-body members (see [`ServiceModel::check_body`]).
    body_only: bool,
}

impl Walk<'_> {
    fn push(&mut self, rule: Rule, value: Option<String>) {
        if self.out.len() < MAX_VIOLATIONS {
            self.out.push(Violation {
                path: self.path.clone(),
                rule,
                value,
            });
        }
    }

    fn value(&mut self, shape: &Shape, v: &Value) {
        if self.out.len() >= MAX_VIOLATIONS {
            return;
        }
        match (shape.kind, v) {
            (Kind::Structure, Value::Object(o)) if !shape.document => self.structure(shape, o),
            (Kind::List, Value::Array(items)) => {
                self.length(shape, items.len());
                let member = self
                    .model
                    .shape(&shape.member.as_ref().expect("list member").shape);
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Step::Item(i));
                    if !item.is_null() {
                        self.value(member, item);
                    }
                    self.path.pop();
                }
            }
            (Kind::Map, Value::Object(o)) => self.map(shape, o),
            (Kind::String, Value::String(s)) => {
                let rules = string_rules(shape, s);
                let echo = (!shape.sensitive).then(|| s.clone());
                for r in rules {
                    self.push(r, echo.clone());
                }
            }
            (Kind::Blob, Value::String(b64)) => self.length(shape, decoded_len(b64)),
            (Kind::Integer | Kind::Long | Kind::Float | Kind::Double, Value::Number(n)) => {
                let x = n.as_f64().unwrap_or(0.0);
                let echo = (!shape.sensitive).then(|| n.to_string());
                if let Some(min) = shape.min.filter(|m| x < *m) {
                    self.push(Rule::Min(min), echo.clone());
                }
                if let Some(max) = shape.max.filter(|m| x > *m) {
                    self.push(Rule::Max(max), echo);
                }
            }
            _ => {}
        }
    }

    fn structure(&mut self, shape: &Shape, o: &Map<String, Value>) {
        let top = self.path.is_empty();
        let skip_outside = top && self.body_only;
        let skipped = |name: &str| {
            top && shape.payload.as_deref() == Some(name)
                || skip_outside
                    && shape
                        .members
                        .get(name)
                        .is_some_and(|m| m.location.is_some())
        };
        for name in &shape.required {
            if !skipped(name) && o.get(name).is_none_or(Value::is_null) {
                self.path.push(Step::Member(name.clone()));
                self.push(Rule::NotNull, None);
                self.path.pop();
            }
        }
        // A union holding a member the model does not know is left to the parser, which names it.
        if shape.union && o.keys().all(|k| shape.members.contains_key(k)) {
            let set = shape
                .members
                .keys()
                .filter(|m| o.get(*m).is_some_and(|v| !v.is_null()))
                .count();
            if set != 1 {
                self.push(Rule::OneMember, None);
            }
        }
        for (name, member) in &shape.members {
            let Some(v) = o.get(name).filter(|v| !v.is_null()) else {
                continue;
            };
            if skipped(name) {
                continue;
            }
            self.path.push(Step::Member(name.clone()));
            self.value(self.model.shape(&member.shape), v);
            self.path.pop();
        }
    }

    fn map(&mut self, shape: &Shape, o: &Map<String, Value>) {
        self.length(shape, o.len());
        let key = self
            .model
            .shape(&shape.key.as_ref().expect("map key").shape);
        let value = self
            .model
            .shape(&shape.value.as_ref().expect("map value").shape);
        for (k, v) in o {
            let broken = string_rules(key, k);
            if !broken.is_empty() {
                let echo = (!key.sensitive).then(|| k.clone());
                self.push(Rule::MapKeys(broken), echo);
            }
            self.path.push(Step::Entry(k.clone()));
            if !v.is_null() {
                self.value(value, v);
            }
            self.path.pop();
        }
    }

    /// Length of a list, map or blob (lengths of strings are in [`string_rules`]).
    fn length(&mut self, shape: &Shape, len: usize) {
        let len = len as f64;
        if let Some(min) = shape.min.filter(|m| len < *m) {
            self.push(Rule::MinLength(min as u64), None);
        }
        if let Some(max) = shape.max.filter(|m| len > *m) {
            self.push(Rule::MaxLength(max as u64), None);
        }
    }
}

/// The constraints a string breaks. Length counts Unicode scalar values, as Smithy does.
pub(crate) fn string_rules(shape: &Shape, s: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    let len = s.chars().count() as f64;
    if let Some(min) = shape.min.filter(|m| len < *m) {
        out.push(Rule::MinLength(min as u64));
    }
    if let Some(max) = shape.max.filter(|m| len > *m) {
        out.push(Rule::MaxLength(max as u64));
    }
    if let Some(values) = &shape.values
        && !values.iter().any(|v| v == s)
    {
        out.push(Rule::Enum(values.clone()));
    }
    if let Some(re) = shape.regex()
        && !re.is_match(s)
    {
        out.push(Rule::Pattern(shape.pattern.clone().unwrap_or_default()));
    }
    out
}

/// Bytes a base64 text decodes to (without decoding it: only its length is checked here).
fn decoded_len(b64: &str) -> usize {
    let t = b64.trim_end_matches('=');
    t.len() * 3 / 4
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn model() -> &'static ServiceModel {
        ServiceModel::bedrock_runtime()
    }

    #[test]
    fn a_valid_converse_body_passes() {
        let body = json!({
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": {"maxTokens": 10, "temperature": 0.5},
            "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather",
                "inputSchema": {"json": {"type": "object"}}}}]},
            "requestMetadata": {"team": "a"}
        });
        assert_eq!(model().check_body("ConverseRequest", &body), Ok(()));
    }

    #[test]
    fn broken_constraints_are_named_as_bedrock_names_them() {
        let body = json!({
            "messages": [{"role": "user", "content": [{"text": "hi"}]},
                         {"role": "robot", "content": []}],
            "inferenceConfig": {"temperature": 2},
            "toolConfig": {"tools": [{"toolSpec": {"name": "my tool",
                "inputSchema": {"json": {}}}}]},
        });
        let e = model().check_body("ConverseRequest", &body).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("3 validation errors detected: "), "{text}");
        assert!(text.contains("Value '2' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1"), "{text}");
        assert!(text.contains("Value 'robot' at 'messages.2.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant, system]"), "{text}");
        assert!(text.contains("Value 'my tool' at 'toolConfig.tools.1.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+"), "{text}");
    }

    #[test]
    fn body_members_only_skip_the_uri_ones() {
        let body = json!({"messages": []});
        assert_eq!(model().check_body("ConverseRequest", &body), Ok(()));
        let e = model().check("ConverseRequest", &body).unwrap_err();
        assert_eq!(e.0[0].bedrock_path(), "modelId");
        assert_eq!(e.0[0].rule, Rule::NotNull);
    }

    #[test]
    fn unions_need_exactly_one_member() {
        let two = json!({"messages": [{"role": "user", "content": [{"text": "a", "image": {}}]}]});
        let e = model().check_body("ConverseRequest", &two).unwrap_err();
        assert!(
            e.0.iter()
                .any(|v| v.rule == Rule::OneMember && v.json_path() == "messages[0].content[0]"),
            "{e}"
        );
    }

    #[test]
    fn map_keys_are_checked() {
        let body = json!({"requestMetadata": {"bad key!": "v"}});
        let e = model().check_body("ConverseRequest", &body).unwrap_err();
        assert!(e.to_string().contains("Value 'bad key!' at 'requestMetadata' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern"), "{e}");
    }

    #[test]
    fn sensitive_values_are_not_echoed_and_long_ones_are_cut() {
        let long = "x".repeat(300);
        let body = json!({"requestMetadata": {"k": long}});
        let e = model()
            .check_body("ConverseRequest", &body)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("'{}...'", "x".repeat(100))), "{e}");
        assert!(!e.contains(&"x".repeat(101)), "{e}");
    }
}
