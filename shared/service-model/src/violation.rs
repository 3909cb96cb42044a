//! What a checked request broke, worded as Bedrock words it.

use std::fmt;

/// One step of the path to a value: a member, a list item (from 0), a map entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Member(String),
    Item(usize),
    Entry(String),
}

/// The constraint a value broke.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// A required member is missing.
    NotNull,
    /// String, blob, list or map length.
    MinLength(u64),
    MaxLength(u64),
    /// Number range.
    Min(f64),
    Max(f64),
    Pattern(String),
    Enum(Vec<String>),
    /// A union must have exactly one member set.
    OneMember,
    /// A map key broke these (each a length, pattern or enum rule).
    MapKeys(Vec<Rule>),
}

impl Rule {
    /// A short name for tests and logs (`min_length`, `pattern`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Rule::NotNull => "not_null",
            Rule::MinLength(_) => "min_length",
            Rule::MaxLength(_) => "max_length",
            Rule::Min(_) => "min",
            Rule::Max(_) => "max",
            Rule::Pattern(_) => "pattern",
            Rule::Enum(_) => "enum",
            Rule::OneMember => "one_member",
            Rule::MapKeys(_) => "map_keys",
        }
    }
}

/// A bound as Bedrock prints it: `1`, not `1.0`.
fn bound(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::NotNull => f.write_str("Member must not be null"),
            Rule::MinLength(n) => write!(f, "Member must have length greater than or equal to {n}"),
            Rule::MaxLength(n) => write!(f, "Member must have length less than or equal to {n}"),
            Rule::Min(n) => write!(
                f,
                "Member must have value greater than or equal to {}",
                bound(*n)
            ),
            Rule::Max(n) => write!(
                f,
                "Member must have value less than or equal to {}",
                bound(*n)
            ),
            Rule::Pattern(p) => write!(f, "Member must satisfy regular expression pattern: {p}"),
            Rule::Enum(v) => write!(f, "Member must satisfy enum value set: [{}]", v.join(", ")),
            Rule::OneMember => f.write_str("Member must have exactly one member set"),
            Rule::MapKeys(rules) => {
                f.write_str("Map keys must satisfy constraint: [")?;
                for (i, r) in rules.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{r}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Longest echo of a caller's value in an error (the rest is cut, marked with `...`).
const ECHO_CHARS: usize = 100;

/// One broken constraint: where, what, and the value when Bedrock would echo it (a scalar that is
/// not sensitive).
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub path: Vec<Step>,
    pub rule: Rule,
    pub value: Option<String>,
}

impl Violation {
    /// Bedrock's path: members joined by `.`, list items as `N.member` counted from 1
    /// (`messages.1.member.content.2.member.text`).
    pub fn bedrock_path(&self) -> String {
        let mut out = String::new();
        for step in &self.path {
            if !out.is_empty() {
                out.push('.');
            }
            match step {
                Step::Member(m) | Step::Entry(m) => out.push_str(m),
                Step::Item(i) => {
                    out.push_str(&(i + 1).to_string());
                    out.push_str(".member");
                }
            }
        }
        out
    }

    /// The gateway's path, as its other request errors write it (`messages[0].content[1].text`).
    pub fn json_path(&self) -> String {
        let mut out = String::new();
        for step in &self.path {
            match step {
                Step::Member(m) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(m);
                }
                Step::Item(i) => out.push_str(&format!("[{i}]")),
                Step::Entry(k) => out.push_str(&format!("[{k:?}]")),
            }
        }
        out
    }

    /// The gateway's wording: `messages[1].role: Value 'robot' must satisfy enum value set: [...]`.
    pub fn describe(&self) -> String {
        let rule = self.rule.to_string();
        let rule = rule.strip_prefix("Member ").unwrap_or(&rule);
        match (&self.rule, self.echo()) {
            (Rule::NotNull, _) => format!("{}: is required", self.json_path()),
            (_, Some(v)) => format!("{}: value '{v}' {rule}", self.json_path()),
            (_, None) => format!("{}: {rule}", self.json_path()),
        }
    }

    fn echo(&self) -> Option<String> {
        let v = self.value.as_ref()?;
        Some(match v.char_indices().nth(ECHO_CHARS) {
            Some((at, _)) => format!("{}...", &v[..at]),
            None => v.clone(),
        })
    }
}

impl fmt::Display for Violation {
    /// One clause of Bedrock's message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rule, self.echo()) {
            (Rule::NotNull, _) => f.write_str("Value null")?,
            (_, Some(v)) => write!(f, "Value '{v}'")?,
            (_, None) => f.write_str("Value")?,
        }
        write!(
            f,
            " at '{}' failed to satisfy constraint: {}",
            self.bedrock_path(),
            self.rule
        )
    }
}

/// Every constraint a request broke, in the order they were found.
#[derive(Debug, Clone, PartialEq)]
pub struct Violations(pub Vec<Violation>);

impl fmt::Display for Violations {
    /// Bedrock's `ValidationException` message:
    /// `2 validation errors detected: Value ... ; Value ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} validation error{} detected: ",
            if n == 1 { "" } else { "s" }
        )?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}
