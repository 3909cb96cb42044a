//! Guardrails: denied words, denied topics (keyword lists), PII detectors and custom regexes,
//! each BLOCKED or ANONYMIZED, evaluated the way Bedrock reports them.
//!
//! A built-in `demo` guardrail (versions `1` and `DRAFT`) is always present; more come from a
//! rules file (`--guardrails FILE`).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::{BedrockError, validation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    Blocked,
    Anonymized,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Blocked => "BLOCKED",
            Action::Anonymized => "ANONYMIZED",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Topic {
    pub name: String,
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PiiRule {
    #[serde(rename = "type")]
    pub kind: String,
    pub action: Action,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RegexRule {
    pub name: String,
    pub pattern: String,
    pub action: Action,
    #[serde(skip)]
    compiled: Option<Regex>,
}

/// One guardrail as configured in the rules file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Guardrail {
    pub id: String,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub denied_words: Vec<String>,
    #[serde(default)]
    pub topics: Vec<Topic>,
    #[serde(default)]
    pub pii: Vec<PiiRule>,
    #[serde(default)]
    pub regexes: Vec<RegexRule>,
    #[serde(default = "default_blocked")]
    pub blocked_input_messaging: String,
    #[serde(default = "default_blocked")]
    pub blocked_outputs_messaging: String,
}

fn default_blocked() -> String {
    "Sorry, the model cannot answer this question.".into()
}

#[derive(Debug, Deserialize)]
struct RulesFile {
    guardrails: Vec<Guardrail>,
}

/// The PII detectors, by Bedrock entity type.
static PII: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("EMAIL", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
        ("US_SOCIAL_SECURITY_NUMBER", r"\b\d{3}-\d{2}-\d{4}\b"),
        ("CREDIT_DEBIT_CARD_NUMBER", r"\b(?:\d{4}[- ]?){3}\d{4}\b"),
        (
            "PHONE",
            r"(?:\+?1[-. ]?)?\(?\b\d{3}\)?[-. ]\d{3}[-. ]\d{4}\b",
        ),
        ("AWS_ACCESS_KEY", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
        ("IP_ADDRESS", r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
    ]
    .into_iter()
    .filter_map(|(k, p)| Regex::new(p).ok().map(|r| (k, r)))
    .collect()
});

/// Strips `[[...]]` markers so test conventions do not trip input policies.
static MARKERS: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\[\[[^\]]*\]\]").ok());

pub fn strip_markers(text: &str) -> std::borrow::Cow<'_, str> {
    match MARKERS.as_ref() {
        Some(r) => r.replace_all(text, ""),
        None => text.into(),
    }
}

pub fn demo() -> Guardrail {
    Guardrail {
        id: "demo".into(),
        versions: vec!["1".into(), "DRAFT".into()],
        version: None,
        denied_words: vec!["forbidden".into(), "badword".into()],
        topics: vec![Topic {
            name: "Investment advice".into(),
            keywords: vec![
                "stock tip".into(),
                "which stocks".into(),
                "invest in".into(),
            ],
        }],
        pii: vec![
            PiiRule {
                kind: "EMAIL".into(),
                action: Action::Anonymized,
            },
            PiiRule {
                kind: "PHONE".into(),
                action: Action::Anonymized,
            },
            PiiRule {
                kind: "US_SOCIAL_SECURITY_NUMBER".into(),
                action: Action::Blocked,
            },
            PiiRule {
                kind: "CREDIT_DEBIT_CARD_NUMBER".into(),
                action: Action::Blocked,
            },
            PiiRule {
                kind: "AWS_ACCESS_KEY".into(),
                action: Action::Blocked,
            },
        ],
        regexes: Vec::new(),
        blocked_input_messaging: "Sorry, the model cannot answer this question.".into(),
        blocked_outputs_messaging: "Sorry, the model cannot provide this response.".into(),
    }
}

/// What one evaluation found.
#[derive(Debug, Clone, Default)]
pub struct Assessment {
    pub words: Vec<String>,
    pub topics: Vec<String>,
    pub pii: Vec<(String, String, Action)>,
    pub regexes: Vec<(String, String, String, Action)>,
    pub blocked: bool,
    pub anonymized: bool,
    /// The text with ANONYMIZED matches replaced by `{TYPE}`.
    pub masked: String,
    pub chars: usize,
}

impl Assessment {
    pub fn intervened(&self) -> bool {
        self.blocked || self.anonymized
    }
}

fn find_word(haystack_lower: &str, word: &str) -> bool {
    let w = word.to_lowercase();
    if w.is_empty() {
        return false;
    }
    let mut start = 0;
    while let Some(pos) = haystack_lower[start..].find(&w) {
        let at = start + pos;
        let end = at + w.len();
        let before = haystack_lower[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after = haystack_lower[end..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        if before && after {
            return true;
        }
        start = at + w.len().max(1);
    }
    false
}

impl Guardrail {
    fn finish(mut self) -> Result<Self, String> {
        if let Some(v) = self.version.take() {
            self.versions.push(v);
        }
        if self.versions.is_empty() {
            self.versions = vec!["DRAFT".into()];
        }
        for r in &mut self.regexes {
            r.compiled = Some(
                Regex::new(&r.pattern)
                    .map_err(|e| format!("guardrail {}: regex {}: {e}", self.id, r.name))?,
            );
        }
        Ok(self)
    }

    /// Evaluates a text against every policy.
    pub fn assess(&self, text: &str) -> Assessment {
        let lower = text.to_lowercase();
        let mut a = Assessment {
            chars: text.chars().count(),
            ..Default::default()
        };
        for w in &self.denied_words {
            if find_word(&lower, w) {
                a.words.push(w.clone());
                a.blocked = true;
            }
        }
        for t in &self.topics {
            if t.keywords.iter().any(|k| find_word(&lower, k)) {
                a.topics.push(t.name.clone());
                a.blocked = true;
            }
        }
        let mut masks: Vec<(std::ops::Range<usize>, String)> = Vec::new();
        for rule in &self.pii {
            if let Some((_, re)) = PII.iter().find(|(k, _)| *k == rule.kind) {
                for m in re.find_iter(text) {
                    if masks
                        .iter()
                        .any(|(r, _)| r.start < m.end() && m.start() < r.end)
                    {
                        continue;
                    }
                    a.pii
                        .push((rule.kind.clone(), m.as_str().to_string(), rule.action));
                    match rule.action {
                        Action::Blocked => a.blocked = true,
                        Action::Anonymized => a.anonymized = true,
                    }
                    masks.push((m.range(), format!("{{{}}}", rule.kind)));
                }
            }
        }
        for rule in &self.regexes {
            if let Some(re) = &rule.compiled {
                for m in re.find_iter(text) {
                    a.regexes.push((
                        rule.name.clone(),
                        m.as_str().to_string(),
                        rule.pattern.clone(),
                        rule.action,
                    ));
                    match rule.action {
                        Action::Blocked => a.blocked = true,
                        Action::Anonymized => {
                            a.anonymized = true;
                            masks.push((m.range(), format!("{{{}}}", rule.name)));
                        }
                    }
                }
            }
        }
        masks.sort_by_key(|(r, _)| r.start);
        let mut masked = String::with_capacity(text.len());
        let mut last = 0;
        for (r, label) in masks {
            if r.start < last {
                continue;
            }
            masked.push_str(&text[last..r.start]);
            masked.push_str(&label);
            last = r.end;
        }
        masked.push_str(&text[last..]);
        a.masked = masked;
        a
    }

    /// Policy units billed for a text (one unit per started 1,000 characters per policy).
    pub fn usage(&self, chars: usize) -> Value {
        let units = chars.div_ceil(1000).max(1);
        let on = |b: bool| if b { units } else { 0 };
        json!({
            "topicPolicyUnits": on(!self.topics.is_empty()),
            "contentPolicyUnits": 0,
            "wordPolicyUnits": on(!self.denied_words.is_empty()),
            "sensitiveInformationPolicyUnits": on(!self.regexes.is_empty()),
            "sensitiveInformationPolicyFreeUnits": on(!self.pii.is_empty()),
            "contextualGroundingPolicyUnits": 0,
        })
    }

    /// A `GuardrailAssessment` as Bedrock shapes it; policies without findings are omitted.
    pub fn assessment_json(&self, a: &Assessment) -> Value {
        let mut v = json!({});
        if !a.topics.is_empty() {
            v["topicPolicy"] = json!({"topics": a.topics.iter().map(|t| json!({
                "name": t, "type": "DENY", "action": "BLOCKED", "detected": true,
            })).collect::<Vec<_>>()});
        }
        if !a.words.is_empty() {
            v["wordPolicy"] = json!({
                "customWords": a.words.iter().map(|w| json!({"match": w, "action": "BLOCKED", "detected": true})).collect::<Vec<_>>(),
                "managedWordLists": [],
            });
        }
        if !a.pii.is_empty() || !a.regexes.is_empty() {
            v["sensitiveInformationPolicy"] = json!({
                "piiEntities": a.pii.iter().map(|(t, m, act)| json!({
                    "match": m, "type": t, "action": act.as_str(), "detected": true,
                })).collect::<Vec<_>>(),
                "regexes": a.regexes.iter().map(|(n, m, r, act)| json!({
                    "name": n, "match": m, "regex": r, "action": act.as_str(), "detected": true,
                })).collect::<Vec<_>>(),
            });
        }
        v["invocationMetrics"] = json!({
            "guardrailProcessingLatency": 1,
            "usage": self.usage(a.chars),
            "guardrailCoverage": {"textCharacters": {"guarded": a.chars, "total": a.chars}},
        });
        v
    }
}

/// Every configured guardrail.
#[derive(Debug, Clone)]
pub struct Guardrails {
    by_id: HashMap<String, Arc<Guardrail>>,
}

impl Guardrails {
    /// The demo guardrail plus the rules file, if given.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, String> {
        let mut by_id = HashMap::new();
        let d = demo();
        by_id.insert(d.id.clone(), Arc::new(d));
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let rules: RulesFile =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            for g in rules.guardrails {
                let g = g.finish()?;
                by_id.insert(g.id.clone(), Arc::new(g));
            }
        }
        Ok(Guardrails { by_id })
    }

    /// Finds a guardrail by identifier (ID or ARN) and version.
    pub fn get(&self, identifier: &str, version: &str) -> Result<Arc<Guardrail>, BedrockError> {
        let valid_version = version == "DRAFT"
            || (!version.is_empty()
                && version.len() <= 8
                && version.bytes().all(|b| b.is_ascii_digit())
                && !version.starts_with('0'));
        if !valid_version {
            return validation(format!(
                "1 validation error detected: Value '{version}' at 'guardrailVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (([1-9][0-9]{{0,7}})|(DRAFT))"
            ));
        }
        let id = identifier
            .rsplit_once("guardrail/")
            .map(|(_, id)| id)
            .unwrap_or(identifier);
        match self.by_id.get(id) {
            Some(g) if g.versions.iter().any(|v| v == version) => Ok(Arc::clone(g)),
            _ => Err(BedrockError::ResourceNotFound(
                "The guardrail identifier or version provided in the request does not exist."
                    .into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_rules() {
        let g = demo();
        let a = g.assess("mail me at a@b.com or call 555-123-4567");
        assert!(a.anonymized && !a.blocked);
        assert_eq!(a.masked, "mail me at {EMAIL} or call {PHONE}");
        assert!(g.assess("my ssn is 123-45-6789").blocked);
        assert!(g.assess("this is Forbidden.").blocked);
        assert!(!g.assess("unforbiddenness").blocked);
        assert!(g.assess("give me a stock tip").blocked);
        assert_eq!(strip_markers("a [[say:forbidden]] b"), "a  b");
    }
}
