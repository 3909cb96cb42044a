//! What every text operation shares before encoding: the guardrail, the generation and the
//! usage of one answer.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::chat::ChatRequest;
use crate::errors::{BedrockError, validation};
use crate::generate::{Generation, OutBlock, StopReason, generate};
use crate::guardrails::{Guardrail, strip_markers};
use crate::models::Model;
use crate::native::Usage;
use crate::server::AppState;
use crate::stream::{self, Step};
use crate::tokens;

/// A guardrail applied to an invocation.
#[derive(Debug, Clone)]
pub(super) struct Guard {
    rail: Arc<Guardrail>,
    trace: bool,
}

/// Everything known about an answer before it is encoded.
#[derive(Debug)]
pub(super) struct Planned {
    pub(super) generation: Generation,
    pub(super) usage: Usage,
    pub(super) trace: Option<Value>,
    pub(super) intervened: bool,
    /// Output blocked by the guardrail: the message that replaces it.
    blocked_output: Option<String>,
}

fn blocked_generation(message: &str) -> Generation {
    let mut g = Generation {
        blocks: vec![OutBlock::Text(message.to_string())],
        stop_reason: StopReason::GuardrailIntervened,
        stop_sequence: None,
        output_tokens: 0,
    };
    g.recount();
    g
}

/// Counts, caches, generates and applies the guardrail: shared by every text operation.
pub(super) fn plan(
    st: &AppState,
    model: &'static Model,
    chat: &ChatRequest,
    guard: Option<&Guard>,
    seed: u64,
) -> Planned {
    let count = tokens::count_request(model.id, chat);
    let mut usage = st.cache.usage(&count);
    let mut trace = None;
    let mut intervened = false;
    let mut blocked_output = None;
    let mut input_json = None;
    let generation = match guard {
        Some(g) => {
            let a = g.rail.assess(&strip_markers(&chat.guarded_input()));
            input_json = Some(g.rail.assessment_json(&a));
            if a.blocked {
                intervened = true;
                None
            } else {
                Some(generate(model, chat, seed))
            }
        }
        None => Some(generate(model, chat, seed)),
    };
    let generation = match (generation, guard) {
        (None, Some(g)) => blocked_generation(&g.rail.blocked_input_messaging),
        (Some(mut generation), Some(g)) => {
            let a = g.rail.assess(&generation.text());
            if a.intervened() {
                intervened = true;
                generation.stop_reason = StopReason::GuardrailIntervened;
                if a.blocked {
                    blocked_output = Some(g.rail.blocked_outputs_messaging.clone());
                } else {
                    for b in &mut generation.blocks {
                        if let OutBlock::Text(t) = b {
                            *t = g.rail.assess(t).masked;
                        }
                    }
                    generation.recount();
                }
            }
            if g.trace {
                let mut t = json!({"inputAssessment": {g.rail.id.clone(): input_json.take()}});
                t["outputAssessments"] = json!({g.rail.id.clone(): [g.rail.assessment_json(&a)]});
                trace = Some(t);
            }
            generation
        }
        (Some(generation), None) => generation,
        (None, None) => blocked_generation(""),
    };
    if let (Some(g), Some(input)) = (guard, input_json)
        && g.trace
    {
        trace = Some(json!({"inputAssessment": {g.rail.id.clone(): input}}));
    }
    usage.output = generation.output_tokens;
    Planned {
        generation,
        usage,
        trace,
        intervened,
        blocked_output,
    }
}

impl Planned {
    /// The non-streaming view: a blocked output is replaced wholesale.
    pub(super) fn settle(&mut self) {
        if let Some(msg) = self.blocked_output.take() {
            self.generation = blocked_generation(&msg);
            self.usage.output = self.generation.output_tokens;
        }
    }

    /// The streaming view: the steps, cut where the guardrail intervenes.
    pub(super) fn stream_steps(&mut self, guard: Option<&Guard>) -> Vec<Step> {
        let mut steps = stream::steps(&self.generation);
        if let (Some(msg), Some(g)) = (self.blocked_output.take(), guard) {
            let rail = Arc::clone(&g.rail);
            if !stream::intervene(&mut steps, &msg, |acc| rail.assess(acc).blocked) {
                steps = stream::steps(&blocked_generation(&msg));
            }
        }
        self.usage.output = steps
            .iter()
            .map(|s| {
                if let Step::Delta { tokens, .. } = s {
                    *tokens
                } else {
                    0
                }
            })
            .sum();
        steps
    }
}

pub(super) fn guard_from(
    st: &AppState,
    id: &str,
    version: &str,
    trace: bool,
) -> Result<Guard, BedrockError> {
    if id.is_empty() {
        return validation(
            "1 validation error detected: Value null at 'guardrailIdentifier' failed to satisfy constraint: Member must not be null",
        );
    }
    Ok(Guard {
        rail: st.guardrails.get(id, version)?,
        trace,
    })
}
