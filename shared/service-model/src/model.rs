//! The service model's shapes, as `extract.py` writes them.

use std::collections::BTreeMap;
use std::sync::{LazyLock, OnceLock};

use regex::Regex;
use serde::Deserialize;

/// The operations of Bedrock Runtime that bedrock-local serves, and every shape their inputs use.
#[derive(Debug, Deserialize)]
pub struct ServiceModel {
    /// Which botocore and API version the shapes come from.
    pub source: String,
    pub operations: BTreeMap<String, Operation>,
    pub shapes: BTreeMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
pub struct Operation {
    pub http: Http,
    /// The input shape's name.
    pub input: String,
}

#[derive(Debug, Deserialize)]
pub struct Http {
    pub method: String,
    #[serde(rename = "requestUri")]
    pub request_uri: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Float,
    Double,
    Boolean,
    Blob,
    Timestamp,
}

/// Where a member travels in the HTTP request; a member without one is in the JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    Uri,
    Header,
    Querystring,
}

#[derive(Debug, Deserialize)]
pub struct Member {
    pub shape: String,
    pub location: Option<Placement>,
    #[serde(rename = "locationName")]
    pub location_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Target {
    pub shape: String,
}

#[derive(Debug, Deserialize)]
pub struct Shape {
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub members: BTreeMap<String, Member>,
    pub member: Option<Target>,
    pub key: Option<Target>,
    pub value: Option<Target>,
    /// The member sent as the raw HTTP body (InvokeModel's `body`).
    pub payload: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<String>,
    #[serde(rename = "enum")]
    pub values: Option<Vec<String>>,
    #[serde(default)]
    pub union: bool,
    /// Free JSON (tool inputs, schemas, additional fields): nothing inside is checked.
    #[serde(default)]
    pub document: bool,
    /// Bedrock does not echo a sensitive value in its errors.
    #[serde(default)]
    pub sensitive: bool,
    #[serde(skip)]
    compiled: OnceLock<Option<Regex>>,
}

impl Shape {
    /// The pattern, matched against the whole value (Bedrock's patterns are written unanchored
    /// but hold for the whole value: `[a-zA-Z0-9_-]+` refuses `my tool`).
    pub fn regex(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| {
                self.pattern
                    .as_deref()
                    .map(|p| Regex::new(&format!("^(?:{})$", ecma_to_rust(p))).ok())?
            })
            .as_ref()
    }
}

/// ECMAScript reads a `-` right after a class range (`[0-9-:]`) as a literal; Rust's regex
/// refuses it, so it is escaped.
pub(crate) fn ecma_to_rust(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 4);
    let chars: Vec<char> = p.chars().collect();
    let (mut in_class, mut i) = (false, 0);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.get(i + 1) {
                    out.push(*n);
                }
                i += 2;
                continue;
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '-' if in_class && i >= 3 && chars[i - 2] == '-' && chars[i - 3] != '\\' => {
                out.push_str("\\-");
                i += 1;
                continue;
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

static BEDROCK_RUNTIME: LazyLock<ServiceModel> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../bedrock-runtime.json"))
        .expect("bedrock-runtime.json is the file extract.py writes")
});

impl ServiceModel {
    /// Bedrock Runtime's model (parsed on first use, about 40 kB).
    pub fn bedrock_runtime() -> &'static ServiceModel {
        &BEDROCK_RUNTIME
    }

    /// A shape by name. The model is closed over its inputs (`extract.py` keeps every shape an
    /// input reaches), so a missing name is a bug in this crate.
    pub fn shape(&self, name: &str) -> &Shape {
        &self.shapes[name]
    }

    /// An operation's input shape.
    pub fn input(&self, operation: &str) -> Option<&Shape> {
        self.operations.get(operation).map(|o| self.shape(&o.input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        let m = ServiceModel::bedrock_runtime();
        for (name, s) in &m.shapes {
            if s.pattern.is_some() {
                assert!(s.regex().is_some(), "{name}: {:?}", s.pattern);
            }
        }
    }

    #[test]
    fn a_dash_after_a_range_is_a_literal() {
        assert_eq!(ecma_to_rust("[a-zA-Z0-9-:.]+"), "[a-zA-Z0-9\\-:.]+");
        let r = Regex::new(&ecma_to_rust("^[a-z0-9-]{1,63}$")).unwrap();
        assert!(r.is_match("a-9") && !r.is_match("a:9"));
        assert_eq!(ecma_to_rust("[\\s:_@$#=/+,-.]"), "[\\s:_@$#=/+,-.]");
    }
}
