//! Walks an operation's input shape and writes, for each constraint it reaches, the requests
//! that break and keep it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use super::{Case, Expect, pattern};
use crate::model::{Kind, ServiceModel, Shape};
use crate::violation::{Step, Violation};

/// Longer bounds (a 25 MB body, a 100k-character text) are not generated: they cost more
/// than they test, and the HTTP body limits stand in front of them.
const MAX_LENGTH: f64 = 4096.0;
const MAX_ITEMS: f64 = 100.0;
/// Nesting followed from the input (Bedrock's shapes nest about 8 deep).
const MAX_DEPTH: usize = 14;

/// Every generated request for `operation`.
pub fn cases(model: &ServiceModel, operation: &str) -> Vec<Case> {
    let op = &model.operations[operation];
    let mut g = Gen {
        model,
        operation,
        root: &op.input,
        out: Vec::new(),
    };
    g.site(&op.input, &mut Vec::new(), &mut Vec::new());
    g.out
}

struct Gen<'a> {
    model: &'a ServiceModel,
    operation: &'a str,
    root: &'a str,
    out: Vec<Case>,
}

fn path_of(path: &[Step]) -> Violation {
    Violation {
        path: path.to_vec(),
        rule: crate::Rule::NotNull,
        value: None,
    }
}

impl Gen<'_> {
    fn site(&mut self, name: &str, path: &mut Vec<Step>, stack: &mut Vec<String>) {
        if stack.iter().any(|s| s == name) || path.len() > MAX_DEPTH {
            return;
        }
        stack.push(name.to_owned());
        let shape = self.model.shape(name);
        self.variants(shape, path);
        match shape.kind {
            Kind::Structure if !shape.document => {
                for (m, member) in &shape.members {
                    if shape.payload.as_deref() == Some(m.as_str()) {
                        continue;
                    }
                    path.push(Step::Member(m.clone()));
                    self.site(&member.shape, path, stack);
                    path.pop();
                }
            }
            Kind::List => {
                path.push(Step::Item(0));
                self.site(&target(&shape.member), path, stack);
                path.pop();
            }
            Kind::Map => {
                let key = self.minimal(self.model.shape(&target(&shape.key)));
                path.push(Step::Entry(key.as_str().unwrap_or("k").to_owned()));
                self.site(&target(&shape.value), path, stack);
                path.pop();
            }
            _ => {}
        }
        stack.pop();
    }

    /// Records a request with `leaf` at `path` and everything else minimal.
    fn emit(&mut self, path: &[Step], leaf: Value, expect: Expect) {
        let root = self.model.shape(self.root);
        let mut input = self.minimal(root);
        self.place(&mut input, root, path, leaf.clone());
        let shown = match &leaf {
            Value::String(s) if s.chars().count() > 40 => {
                format!("<{} characters>", s.chars().count())
            }
            Value::Array(a) => format!("<{} items>", a.len()),
            Value::Object(o) if o.len() > 3 => format!("<{} entries>", o.len()),
            v => v.to_string(),
        };
        self.out.push(Case {
            operation: self.operation.to_owned(),
            input,
            expect,
            what: format!("{} = {shown}", path_of(path).json_path()),
        });
    }

    fn broken(&mut self, path: &[Step], leaf: Value, rule: &'static str) {
        let expect = Expect::Broken {
            path: path_of(path).bedrock_path(),
            json_path: path_of(path).json_path(),
            rule,
        };
        self.emit(path, leaf, expect);
    }

    fn variants(&mut self, shape: &Shape, path: &[Step]) {
        match shape.kind {
            Kind::Structure if !shape.document => self.structure_variants(shape, path),
            Kind::List => {
                let item = self.minimal(self.model.shape(&target(&shape.member)));
                self.count_variants(shape, path, |n| Value::Array(vec![item.clone(); n]));
            }
            Kind::Map => self.map_variants(shape, path),
            Kind::String => {
                for (s, rule) in bad_strings(shape) {
                    self.broken(path, Value::String(s), rule);
                }
                for s in good_strings(shape) {
                    self.emit(path, Value::String(s), Expect::Valid);
                }
            }
            Kind::Blob => self.count_variants(shape, path, |n| json!(B64.encode(vec![b'a'; n]))),
            Kind::Integer | Kind::Long => self.number_variants(shape, path, 1.0),
            Kind::Float | Kind::Double => self.number_variants(shape, path, 0.5),
            _ => {}
        }
    }

    fn structure_variants(&mut self, shape: &Shape, path: &[Step]) {
        let full = self.minimal(shape);
        for r in &shape.required {
            if shape.payload.as_deref() == Some(r.as_str()) {
                continue;
            }
            let mut without = full.clone();
            if let Some(o) = without.as_object_mut() {
                o.remove(r);
            }
            let mut at = path.to_vec();
            at.push(Step::Member(r.clone()));
            let expect = Expect::Broken {
                path: path_of(&at).bedrock_path(),
                json_path: path_of(&at).json_path(),
                rule: "not_null",
            };
            self.emit(path, without, expect);
        }
        if shape.union && shape.members.len() >= 2 {
            self.broken(path, json!({}), "one_member");
            let two: Map<String, Value> = shape
                .members
                .iter()
                .take(2)
                .map(|(m, member)| (m.clone(), self.minimal(self.model.shape(&member.shape))))
                .collect();
            self.broken(path, Value::Object(two), "one_member");
        }
    }

    /// Lists, maps and blobs: one under the minimum, one over the maximum, and both bounds.
    fn count_variants(&mut self, shape: &Shape, path: &[Step], make: impl Fn(usize) -> Value) {
        let cap = if shape.kind == Kind::Blob {
            MAX_LENGTH
        } else {
            MAX_ITEMS
        };
        if let Some(min) = shape.min.filter(|m| *m >= 1.0) {
            self.broken(path, make(min as usize - 1), "min_length");
            self.emit(path, make(min as usize), Expect::Valid);
        }
        if let Some(max) = shape.max.filter(|m| *m <= cap) {
            self.broken(path, make(max as usize + 1), "max_length");
            self.emit(path, make(max as usize), Expect::Valid);
        }
    }

    fn map_variants(&mut self, shape: &Shape, path: &[Step]) {
        let key_shape = self.model.shape(&target(&shape.key));
        let value = self.minimal(self.model.shape(&target(&shape.value)));
        let keys: Vec<String> = (0..=MAX_ITEMS as usize).map(|i| format!("k{i}")).collect();
        if keys.iter().all(|k| bad_rules(key_shape, k).is_empty()) {
            let entries = |n: usize| {
                Value::Object(
                    keys[..n]
                        .iter()
                        .map(|k| (k.clone(), value.clone()))
                        .collect(),
                )
            };
            self.count_variants(shape, path, entries);
        }
        for (k, _) in bad_strings(key_shape) {
            self.broken(path, json!({ k: value.clone() }), "map_keys");
        }
    }

    fn number_variants(&mut self, shape: &Shape, path: &[Step], step: f64) {
        let num = |x: f64| {
            if step >= 1.0 {
                json!(x as i64)
            } else {
                json!(x)
            }
        };
        if let Some(min) = shape.min {
            self.broken(path, num(min - step), "min");
            self.emit(path, num(min), Expect::Valid);
        }
        if let Some(max) = shape.max {
            self.broken(path, num(max + step), "max");
            self.emit(path, num(max), Expect::Valid);
        }
    }

    /// The smallest value that keeps every constraint of `shape`.
    fn minimal(&self, shape: &Shape) -> Value {
        match shape.kind {
            Kind::Structure if shape.document => json!({}),
            Kind::Structure if shape.union => {
                let (m, member) = shape
                    .members
                    .iter()
                    .find(|(m, _)| *m == "text")
                    .or_else(|| shape.members.iter().next())
                    .expect("a union has members");
                json!({ m: self.minimal(self.model.shape(&member.shape)) })
            }
            Kind::Structure => Value::Object(
                shape
                    .required
                    .iter()
                    .map(|r| {
                        (
                            r.clone(),
                            self.minimal(self.model.shape(&shape.members[r].shape)),
                        )
                    })
                    .collect(),
            ),
            Kind::List => {
                let item = self.minimal(self.model.shape(&target(&shape.member)));
                Value::Array(vec![item; shape.min.unwrap_or(0.0) as usize])
            }
            Kind::Map => json!({}),
            Kind::String => {
                Value::String(good_strings(shape).into_iter().next().unwrap_or_default())
            }
            Kind::Blob => json!(B64.encode(vec![b'a'; shape.min.unwrap_or(1.0).max(1.0) as usize])),
            Kind::Integer | Kind::Long => {
                json!(
                    1f64.clamp(shape.min.unwrap_or(f64::MIN), shape.max.unwrap_or(f64::MAX)) as i64
                )
            }
            Kind::Float | Kind::Double => {
                json!(0.5f64.clamp(shape.min.unwrap_or(f64::MIN), shape.max.unwrap_or(f64::MAX)))
            }
            Kind::Boolean => json!(false),
            Kind::Timestamp => json!(0),
        }
    }

    /// Puts `leaf` at `path` inside `v`, creating what lies between as minimal values (a union
    /// on the way keeps only the member the path goes through).
    fn place(&self, v: &mut Value, shape: &Shape, path: &[Step], leaf: Value) {
        let Some((first, rest)) = path.split_first() else {
            *v = leaf;
            return;
        };
        match first {
            Step::Member(name) => {
                let child_shape = self.model.shape(&shape.members[name].shape);
                if !v.is_object() {
                    *v = json!({});
                }
                let o = v.as_object_mut().expect("an object");
                if shape.union {
                    o.retain(|k, _| k == name);
                }
                let child = o
                    .entry(name.clone())
                    .or_insert_with(|| self.minimal(child_shape));
                self.place(child, child_shape, rest, leaf);
            }
            Step::Item(_) => {
                let item_shape = self.model.shape(&target(&shape.member));
                if !v.is_array() {
                    *v = json!([]);
                }
                let a = v.as_array_mut().expect("an array");
                if a.is_empty() {
                    a.push(self.minimal(item_shape));
                }
                self.place(&mut a[0], item_shape, rest, leaf);
            }
            Step::Entry(k) => {
                let value_shape = self.model.shape(&target(&shape.value));
                if !v.is_object() {
                    *v = json!({});
                }
                let o = v.as_object_mut().expect("an object");
                let child = o
                    .entry(k.clone())
                    .or_insert_with(|| self.minimal(value_shape));
                self.place(child, value_shape, rest, leaf);
            }
        }
    }
}

fn target(t: &Option<crate::Target>) -> String {
    t.as_ref()
        .map(|t| t.shape.clone())
        .expect("the model names it")
}

/// The rules `s` breaks, worked out here rather than by the checker under test.
fn bad_rules(shape: &Shape, s: &str) -> Vec<&'static str> {
    let len = s.chars().count() as f64;
    let mut out = Vec::new();
    if shape.min.is_some_and(|m| len < m) {
        out.push("min_length");
    }
    if shape.max.is_some_and(|m| len > m) {
        out.push("max_length");
    }
    if shape
        .values
        .as_ref()
        .is_some_and(|v| !v.iter().any(|e| e == s))
    {
        out.push("enum");
    }
    if shape.regex().is_some_and(|r| !r.is_match(s)) {
        out.push("pattern");
    }
    out
}

/// A string of `len` characters, matching the pattern where one can be that long.
fn of_length(shape: &Shape, len: usize) -> String {
    shape
        .pattern
        .as_deref()
        .and_then(|p| pattern::matching(p, len))
        .filter(|s| s.chars().count() == len)
        .unwrap_or_else(|| "a".repeat(len))
}

/// Strings that break one constraint each, with the rule they break.
fn bad_strings(shape: &Shape) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if shape.values.is_some() {
        out.push(("NOT_AN_ENUM_VALUE".to_owned(), "enum"));
    }
    if let Some(min) = shape.min.filter(|m| *m >= 1.0) {
        out.push((of_length(shape, min as usize - 1), "min_length"));
    }
    if let Some(max) = shape.max.filter(|m| *m <= MAX_LENGTH) {
        out.push((of_length(shape, max as usize + 1), "max_length"));
    }
    if shape.pattern.is_some() {
        let len = (shape.min.unwrap_or(1.0).max(1.0) as usize)
            .min(shape.max.unwrap_or(f64::MAX) as usize);
        let misfit = ["!", " ", "~", "\u{e9}", "a", "A", "0", ".", "-"]
            .iter()
            .map(|c| c.repeat(len))
            .find(|s| bad_rules(shape, s) == ["pattern"]);
        if let Some(s) = misfit {
            out.push((s, "pattern"));
        }
    }
    out
}

/// Strings that keep every constraint: the shortest and longest allowed, and every enum value.
fn good_strings(shape: &Shape) -> Vec<String> {
    if let Some(values) = &shape.values {
        return values.clone();
    }
    let min = shape.min.unwrap_or(1.0).max(1.0) as usize;
    // The pattern's closest match where it cannot be exactly as long as a bound.
    let near = |len: usize| match shape.pattern.as_deref() {
        Some(p) => pattern::matching(p, len).unwrap_or_default(),
        None => "a".repeat(len),
    };
    let mut out = vec![near(min)];
    if let Some(max) = shape.max.filter(|m| *m <= MAX_LENGTH && *m as usize > min) {
        out.push(near(max as usize));
    }
    out.retain(|s| bad_rules(shape, s).is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated cases against the checker: every broken constraint is reported at its
    /// path, and nothing is reported for a valid request.
    #[test]
    fn the_checker_agrees_with_every_generated_case() {
        let m = ServiceModel::bedrock_runtime();
        let mut total = 0;
        for op in m.operations.keys() {
            let cases = cases(m, op);
            assert!(!cases.is_empty(), "{op}");
            for c in cases {
                total += 1;
                let shape = &m.operations[op].input;
                let got = m.check(shape, &c.input);
                match &c.expect {
                    Expect::Valid => assert_eq!(got, Ok(()), "{op}: {}: {}", c.what, c.input),
                    Expect::Broken { path, rule, .. } => {
                        let e = got.expect_err(&format!("{op}: {} passed: {}", c.what, c.input));
                        assert!(
                            e.0.iter()
                                .any(|v| v.bedrock_path() == *path && v.rule.name() == *rule),
                            "{op}: {}: wanted {rule} at {path}, got {e}",
                            c.what
                        );
                    }
                }
            }
        }
        assert!(total > 500, "only {total} cases");
    }
}
