//! The filter's policy: what to do with each entity kind, which terms are denied, and where
//! that comes from (environment variables, a JSON or TOML policy file).
//!
//! Precedence, lowest first: built-in defaults, the policy file (`GATEWAY_PII_POLICY_FILE`),
//! the compact spec (`GATEWAY_PII_POLICY`, per kind), then `GATEWAY_DENIED_TERMS` (added to
//! the file's terms).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::kind::EntityKind;

/// Environment variable: compact per-kind actions, e.g. `email=mask,card=block,ip=allow`.
pub const ENV_POLICY: &str = "GATEWAY_PII_POLICY";
/// Environment variable: path to a JSON or TOML policy file.
pub const ENV_POLICY_FILE: &str = "GATEWAY_PII_POLICY_FILE";
/// Environment variable: comma-separated denied terms.
pub const ENV_DENIED_TERMS: &str = "GATEWAY_DENIED_TERMS";

/// Most denied terms a policy may hold (keeps the term matcher small and fast).
pub const MAX_DENIED_TERMS: usize = 1000;
/// Longest denied term, in bytes (bounds the stream hold-back for terms).
pub const MAX_TERM_LEN: usize = 128;

/// What the filter does with an entity of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Reject the request (or stop the stream).
    Block,
    /// Replace the entity with its label, e.g. `[EMAIL]`.
    Mask,
    /// Leave it alone (the kind is not even scanned for).
    Allow,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        match s.trim().to_ascii_lowercase().as_str() {
            "block" => Some(Action::Block),
            "mask" => Some(Action::Mask),
            "allow" => Some(Action::Allow),
            _ => None,
        }
    }
}

/// Per-kind actions, denied terms and an optional length cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    actions: [Action; EntityKind::COUNT],
    denied_terms: Vec<String>,
    max_entity_len: Option<usize>,
}

impl Default for Policy {
    /// The documented defaults: secrets and national IDs are blocked, contact details and
    /// IBANs masked, IP addresses allowed, denied terms (none by default) blocked.
    fn default() -> Self {
        let mut p = Policy::allow_all();
        for (kind, action) in [
            (EntityKind::Email, Action::Mask),
            (EntityKind::Phone, Action::Mask),
            (EntityKind::Ssn, Action::Block),
            (EntityKind::Card, Action::Block),
            (EntityKind::Iban, Action::Mask),
            (EntityKind::AwsAccessKey, Action::Block),
            (EntityKind::AwsSecretKey, Action::Block),
            (EntityKind::Ip, Action::Allow),
            (EntityKind::Denied, Action::Block),
        ] {
            p.actions[kind.index()] = action;
        }
        p
    }
}

/// The policy file's shape (JSON or TOML).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    #[serde(default)]
    actions: BTreeMap<String, Action>,
    #[serde(default)]
    denied_terms: Vec<String>,
    #[serde(default)]
    max_entity_len: Option<usize>,
}

impl Policy {
    /// A policy that does nothing (every kind allowed, no terms).
    pub fn allow_all() -> Policy {
        Policy {
            actions: [Action::Allow; EntityKind::COUNT],
            denied_terms: Vec::new(),
            max_entity_len: None,
        }
    }

    /// What an unconfigured deployment runs: blocks what must never reach a model or a caller
    /// (US SSNs, card numbers, AWS access and secret keys) and denied terms (none until
    /// configured); allows everything else (e-mails, phones, IBANs and IPs are common,
    /// legitimate content).
    pub fn secrets_only() -> Policy {
        let mut p = Policy::allow_all();
        for kind in [
            EntityKind::Ssn,
            EntityKind::Card,
            EntityKind::AwsAccessKey,
            EntityKind::AwsSecretKey,
            EntityKind::Denied,
        ] {
            p.actions[kind.index()] = Action::Block;
        }
        p
    }

    /// A policy that masks every kind (handy in tests and for output filtering).
    pub fn mask_all() -> Policy {
        Policy {
            actions: [Action::Mask; EntityKind::COUNT],
            ..Policy::allow_all()
        }
    }

    /// The action for `kind`.
    pub fn action(&self, kind: EntityKind) -> Action {
        self.actions[kind.index()]
    }

    /// Sets the action for `kind`.
    pub fn set_action(&mut self, kind: EntityKind, action: Action) -> &mut Self {
        self.actions[kind.index()] = action;
        self
    }

    /// Denied terms (matched case-insensitively for ASCII letters, as whole words).
    pub fn denied_terms(&self) -> &[String] {
        &self.denied_terms
    }

    /// Adds denied terms (trimmed; empty ones ignored). Fails on a term that is too long,
    /// contains `[` or `]` (reserved for mask labels) or a control character, or when there
    /// are more than [`MAX_DENIED_TERMS`].
    pub fn add_denied_terms<I, S>(&mut self, terms: I) -> Result<&mut Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for term in terms {
            let t = term.as_ref().trim();
            if t.is_empty() {
                continue;
            }
            if t.len() > MAX_TERM_LEN {
                return Err(format!("denied term longer than {MAX_TERM_LEN} bytes"));
            }
            if t.chars().any(|c| c == '[' || c == ']' || c.is_control()) {
                return Err("denied term with '[', ']' or a control character".to_owned());
            }
            if !self.denied_terms.iter().any(|d| d.eq_ignore_ascii_case(t)) {
                self.denied_terms.push(t.to_owned());
            }
        }
        if self.denied_terms.len() > MAX_DENIED_TERMS {
            return Err(format!("more than {MAX_DENIED_TERMS} denied terms"));
        }
        Ok(self)
    }

    /// Entities longer than this many bytes are not reported (`None`: only the formats' own
    /// limits, e.g. 254 for an e-mail address).
    pub fn max_entity_len(&self) -> Option<usize> {
        self.max_entity_len
    }

    /// Sets the length cap.
    pub fn set_max_entity_len(&mut self, max: Option<usize>) -> &mut Self {
        self.max_entity_len = max;
        self
    }

    /// Whether the filter would never change or block anything (callers may skip it).
    pub fn is_inactive(&self) -> bool {
        self.actions.iter().enumerate().all(|(i, a)| {
            *a == Action::Allow || (i == EntityKind::Denied.index() && self.denied_terms.is_empty())
        })
    }

    /// Parses a policy document, JSON if it starts with `{`, TOML otherwise, over the defaults:
    ///
    /// ```toml
    /// max_entity_len = 254          # optional
    /// denied_terms = ["project falcon", "acme-internal"]
    /// [actions]
    /// email = "mask"
    /// card = "block"
    /// ip = "allow"
    /// ```
    pub fn from_document(text: &str) -> Result<Policy, String> {
        let mut p = Policy::default();
        p.merge_document(text)?;
        Ok(p)
    }

    fn merge_document(&mut self, text: &str) -> Result<(), String> {
        let doc: PolicyDoc = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| format!("invalid JSON policy: {e}"))?
        } else {
            toml::from_str(text).map_err(|e| format!("invalid TOML policy: {e}"))?
        };
        for (name, action) in doc.actions {
            let kind = EntityKind::from_name(&name)
                .ok_or_else(|| format!("unknown entity kind {name:?} in actions ({})", kinds()))?;
            self.set_action(kind, action);
        }
        self.add_denied_terms(doc.denied_terms)?;
        if doc.max_entity_len.is_some() {
            self.max_entity_len = doc.max_entity_len;
        }
        Ok(())
    }

    /// Applies a compact spec over this policy: comma-separated `kind=action` pairs
    /// (`*=action` sets every kind; `max_entity_len=N`; `off` allows everything).
    /// Example: `email=mask,phone=mask,ssn=block,card=block,ip=allow`.
    pub fn merge_spec(&mut self, spec: &str) -> Result<&mut Self, String> {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item.eq_ignore_ascii_case("off") || item.eq_ignore_ascii_case("none") {
                self.actions = [Action::Allow; EntityKind::COUNT];
                continue;
            }
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("expected kind=action, got {item:?}"))?;
            let key = key.trim();
            if key.eq_ignore_ascii_case("max_entity_len") {
                let n = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        format!("max_entity_len: expected a positive integer, got {value:?}")
                    })?;
                self.max_entity_len = Some(n);
                continue;
            }
            let action = Action::parse(value)
                .ok_or_else(|| format!("{key}: expected block, mask or allow, got {value:?}"))?;
            if key == "*" || key.eq_ignore_ascii_case("all") {
                self.actions = [action; EntityKind::COUNT];
            } else {
                let kind = EntityKind::from_name(key)
                    .ok_or_else(|| format!("unknown entity kind {key:?} ({})", kinds()))?;
                self.set_action(kind, action);
            }
        }
        Ok(self)
    }

    /// Reads the policy through `lookup` (the config module passes the environment or a map).
    /// Empty values count as unset. Errors name the variable and say what was expected.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Policy, String> {
        Policy::from_lookup_over(Policy::default(), lookup)
    }

    /// As [`Policy::from_lookup`], with `base` in place of the built-in defaults (the gateway's
    /// configuration passes [`Policy::secrets_only`]).
    pub fn from_lookup_over(
        base: Policy,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Policy, String> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut p = base;
        if let Some(path) = get(ENV_POLICY_FILE) {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!("{ENV_POLICY_FILE}: expected a readable JSON or TOML policy file, could not read {path:?}: {e}")
            })?;
            p.merge_document(&text)
                .map_err(|e| format!("{ENV_POLICY_FILE} ({path}): {e}"))?;
        }
        if let Some(spec) = get(ENV_POLICY) {
            p.merge_spec(&spec).map_err(|e| {
                format!("{ENV_POLICY}: expected comma-separated kind=block|mask|allow: {e}")
            })?;
        }
        if let Some(terms) = get(ENV_DENIED_TERMS) {
            p.add_denied_terms(terms.split(','))
                .map_err(|e| format!("{ENV_DENIED_TERMS}: expected comma-separated terms: {e}"))?;
        }
        Ok(p)
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Policy, String> {
        Policy::from_lookup(|name| std::env::var(name).ok())
    }
}

fn kinds() -> String {
    let names: Vec<&str> = EntityKind::ALL.iter().map(|k| k.name()).collect();
    format!("one of {}", names.join(", "))
}
