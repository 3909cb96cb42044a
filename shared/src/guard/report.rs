//! How interventions (Bedrock's, a caller's, the local filter's) are reported, counted and
//! logged: names of policies and entity kinds, never the offending text.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::filter::EntityKind;
use crate::telemetry::CallMetrics;

/// Name of the stream event that reports guardrail interventions (before `done`).
pub const GUARDRAIL_EVENT: &str = "guardrail";

/// Text that replaces a response (or the rest of a stream) the local filter blocked.
pub fn blocked_output_message(kind: EntityKind) -> String {
    format!(
        "The response was withheld: it contained {} ({}), which this deployment's content policy blocks.",
        describe(kind),
        kind.name()
    )
}

pub(super) fn describe(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Email => "an e-mail address",
        EntityKind::Phone => "a phone number",
        EntityKind::Ssn => "a US social security number",
        EntityKind::Card => "a payment card number",
        EntityKind::Iban => "an IBAN",
        EntityKind::AwsAccessKey => "an AWS access key ID",
        EntityKind::AwsSecretKey => "an AWS secret access key",
        EntityKind::Ip => "an IP address",
        EntityKind::Denied => "a denied term",
    }
}

/// Who intervened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The deployment's Bedrock guardrail (`GATEWAY_GUARDRAIL_ID`).
    Bedrock,
    /// The caller's own guardrail (`guardrailConfig`, where the deployment allows it).
    Caller,
    /// The gateway's local content filter.
    Local,
}

impl Source {
    /// The `source` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Bedrock => "bedrock",
            Source::Caller => "caller",
            Source::Local => "local",
        }
    }
}

/// Where it intervened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// On the request, before the model.
    Input,
    /// On the model's answer.
    Output,
}

impl Stage {
    /// The `stage` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Input => "input",
            Stage::Output => "output",
        }
    }
}

/// One intervention.
#[derive(Debug, Clone, PartialEq)]
pub struct Intervention {
    /// Who.
    pub source: Source,
    /// Where, when known (Bedrock says only in its trace).
    pub stage: Option<Stage>,
    /// `intervened` (a Bedrock guardrail), `masked` or `blocked` (the local filter).
    pub action: &'static str,
    /// Bedrock policies that acted (`wordPolicy`, ...; empty without trace) or local entity
    /// kinds (`email`, ...).
    pub policies: Vec<String>,
    /// Bedrock's assessments (the trace, or ApplyGuardrail's), when available.
    pub assessments: Option<Value>,
}

impl Intervention {
    /// A local filter intervention.
    pub fn local(stage: Stage, action: &'static str, kinds: &BTreeSet<EntityKind>) -> Self {
        Intervention {
            source: Source::Local,
            stage: Some(stage),
            action,
            policies: kinds.iter().map(|k| k.name().to_owned()).collect(),
            assessments: None,
        }
    }

    /// A Bedrock guardrail intervention; `trace` is Bedrock's `trace.guardrail` JSON (or
    /// `amazon-bedrock-trace.guardrail`), when the deployment enabled trace.
    pub fn bedrock(source: Source, trace: Option<Value>) -> Self {
        let (policies, stage) = match &trace {
            Some(t) => (acting_policies(t), trace_stage(t)),
            None => (Vec::new(), None),
        };
        Intervention {
            source,
            stage,
            action: "intervened",
            policies,
            assessments: trace,
        }
    }

    /// The JSON reported to the caller.
    pub fn to_json(&self, with_assessments: bool) -> Value {
        let mut o = Map::new();
        o.insert("action".into(), json!(self.action));
        o.insert("source".into(), json!(self.source.as_str()));
        if let Some(s) = self.stage {
            o.insert("stage".into(), json!(s.as_str()));
        }
        o.insert("policies".into(), json!(self.policies));
        if with_assessments && let Some(a) = &self.assessments {
            o.insert("assessments".into(), a.clone());
        }
        Value::Object(o)
    }
}

/// Every intervention of one call, in the order they happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuardrailReport {
    items: Vec<Intervention>,
}

impl GuardrailReport {
    /// Adds one (logged once, here: kinds and policy names only).
    pub fn push(&mut self, i: Intervention, request_id: &str) {
        tracing::info!(
            request_id,
            source = i.source.as_str(),
            stage = i.stage.map(Stage::as_str),
            action = i.action,
            policies = %i.policies.join(","),
            "guardrail intervened"
        );
        self.items.push(i);
    }

    /// Whether nothing intervened.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The interventions.
    pub fn items(&self) -> &[Intervention] {
        &self.items
    }

    /// Whether some guardrail blocked (or Bedrock intervened).
    pub fn stopped(&self) -> bool {
        self.items
            .iter()
            .any(|i| i.action == "blocked" || i.action == "intervened")
    }

    /// `guardrail` of responses and `done` events: the first intervention, with any further
    /// ones under `others`. `None` when nothing intervened.
    pub fn to_json(&self) -> Option<Value> {
        self.json(true)
    }

    /// As [`Self::to_json`] without Bedrock's assessments (for headers).
    pub fn summary_json(&self) -> Option<Value> {
        self.json(false)
    }

    fn json(&self, with_assessments: bool) -> Option<Value> {
        let (first, rest) = self.items.split_first()?;
        let mut v = first.to_json(with_assessments);
        if !rest.is_empty() {
            v["others"] = Value::Array(rest.iter().map(|i| i.to_json(with_assessments)).collect());
        }
        Some(v)
    }

    /// Sets the guardrail fields of a metrics record.
    pub fn record(&self, m: &mut CallMetrics) {
        m.guardrail_interventions = u64::from(!self.items.is_empty());
        m.local_filter_interventions =
            u64::from(self.items.iter().any(|i| i.source == Source::Local));
        let mut sources: Vec<&'static str> = Vec::new();
        for i in &self.items {
            if !sources.contains(&i.source.as_str()) {
                sources.push(i.source.as_str());
            }
        }
        m.guardrail_sources = sources;
    }
}

/// Policies (`wordPolicy`, ...) with at least one finding whose action is not `NONE`, anywhere
/// in a guardrail trace or list of assessments. Sorted.
pub fn acting_policies(trace: &Value) -> Vec<String> {
    const POLICIES: &[(&str, &[&str])] = &[
        ("topicPolicy", &["topics"]),
        ("contentPolicy", &["filters"]),
        ("wordPolicy", &["customWords", "managedWordLists"]),
        ("sensitiveInformationPolicy", &["piiEntities", "regexes"]),
        ("contextualGroundingPolicy", &["filters"]),
        ("automatedReasoningPolicy", &["findings"]),
    ];
    let mut found = BTreeSet::new();
    for a in assessments(trace) {
        for (policy, lists) in POLICIES {
            let Some(p) = a.get(*policy) else { continue };
            let acted = lists.iter().any(|l| {
                p.get(*l).and_then(Value::as_array).is_some_and(|items| {
                    items
                        .iter()
                        .any(|x| match x.get("action").and_then(Value::as_str) {
                            Some(action) => action != "NONE",
                            // Automated-reasoning findings have no action: any non-valid one counts.
                            None => {
                                *policy == "automatedReasoningPolicy" && x.get("valid").is_none()
                            }
                        })
                })
            });
            if acted {
                found.insert((*policy).to_owned());
            }
        }
    }
    found.into_iter().collect()
}

/// `input` when an input assessment acted, else `output` when output assessments exist.
fn trace_stage(trace: &Value) -> Option<Stage> {
    let input_acted = trace
        .get("inputAssessment")
        .and_then(Value::as_object)
        .is_some_and(|m| m.values().any(|a| !acting_policies(a).is_empty()));
    if input_acted {
        Some(Stage::Input)
    } else if trace.get("outputAssessments").is_some() {
        Some(Stage::Output)
    } else {
        None
    }
}

/// Every assessment object in a trace (`inputAssessment`, `outputAssessments`), a list of
/// assessments, or a single assessment.
fn assessments(v: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    if let Some(m) = v.get("inputAssessment").and_then(Value::as_object) {
        out.extend(m.values());
    }
    if let Some(m) = v.get("outputAssessments").and_then(Value::as_object) {
        for list in m.values() {
            if let Some(l) = list.as_array() {
                out.extend(l.iter());
            }
        }
    }
    if let Some(l) = v.as_array() {
        out.extend(l.iter());
    }
    if out.is_empty() && v.is_object() {
        out.push(v);
    }
    out
}
