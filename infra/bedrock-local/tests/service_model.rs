//! bedrock-local against requests generated from the published service model: every request
//! that breaks a constraint gets Bedrock's `ValidationException` naming that path and rule, and
//! none that keeps every constraint is refused for breaking one. Nothing here is written per
//! constraint: the cases come from `service-model`'s generator.

mod common;

use common::Local;
use service_model::ServiceModel;
use service_model::cases::{Expect, cases};

#[test]
fn every_constraint_of_the_service_model_is_enforced_as_bedrock_words_it() {
    let local = Local::start(&[]);
    let model = ServiceModel::bedrock_runtime();
    let (mut sent, mut skipped, mut failures) = (0, 0, Vec::new());
    for op in model.operations.keys() {
        for case in cases(model, op) {
            let Some(req) = case.to_http(model) else {
                skipped += 1;
                continue;
            };
            sent += 1;
            let mut headers: Vec<(&str, &str)> = vec![("Authorization", "Bearer k")];
            headers.extend(req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let r = local.raw(&req.method, &req.target, &headers, &req.body);
            let message = if r.body.starts_with(b"{") {
                r.json()["message"].as_str().unwrap_or("").to_owned()
            } else {
                String::new()
            };
            let kind = r
                .headers
                .get("x-amzn-errortype")
                .cloned()
                .unwrap_or_default();
            match &case.expect {
                Expect::Broken { path, rule, .. } => {
                    let clause = format!("at '{path}' failed to satisfy constraint: ");
                    let ok = r.status == 400
                        && kind == "ValidationException"
                        && message.contains(" validation error")
                        && message.contains(&clause)
                        && mentions(&message, rule);
                    if !ok {
                        failures.push(format!(
                            "{op}: {}: wanted {rule} at {path}; got {} {kind} {message}",
                            case.what, r.status
                        ));
                    }
                }
                Expect::Valid => {
                    if message.contains("failed to satisfy constraint") {
                        failures.push(format!("{op}: {}: refused: {message}", case.what));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} cases failed:\n{}",
        failures.len(),
        failures[..failures.len().min(25)].join("\n")
    );
    assert!(
        sent > 1000,
        "only {sent} cases sent ({skipped} cannot go over HTTP)"
    );
}

/// Whether Bedrock's message names the rule (its wording, from `service_model::Rule`).
fn mentions(message: &str, rule: &str) -> bool {
    let words = match rule {
        "not_null" => "Member must not be null",
        "min_length" => "Member must have length greater than or equal to",
        "max_length" => "Member must have length less than or equal to",
        "min" => "Member must have value greater than or equal to",
        "max" => "Member must have value less than or equal to",
        "pattern" => "Member must satisfy regular expression pattern",
        "enum" => "Member must satisfy enum value set",
        "one_member" => "Member must have exactly one member set",
        "map_keys" => "Map keys must satisfy constraint",
        _ => return false,
    };
    message.contains(words)
}
