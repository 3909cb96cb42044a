//! Bedrock batch inference for jobs the planner sent there: jobs are held in a group per model
//! (`store`), a group is flushed into one CreateModelInvocationJob (`control`) of JSONL records
//! (`native`: the Converse request as the model's native body, `recordId` = job ID), and the
//! output's records are matched back to their jobs. The driving loop (flush, poll, finish each
//! job exactly once) is async-callback's `batch` module; docs/jobs.md, "Batch".

pub mod control;
pub mod native;
pub mod settings;
pub mod store;

use std::fmt;

/// The gateway's ID of one batch: its run item, its S3 prefix, and the Bedrock job's name and
/// client request token (so a repeated CreateModelInvocationJob returns the same job).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BatchId(String);

impl BatchId {
    /// A new random ID: `gwbatch-` and 32 hex digits (fits Bedrock's job name and token
    /// patterns).
    pub fn random() -> BatchId {
        BatchId(format!("gwbatch-{}", uuid::Uuid::new_v4().simple()))
    }

    /// A stored ID, checked.
    pub fn parse(s: &str) -> Option<BatchId> {
        let hex = s.strip_prefix("gwbatch-")?;
        (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| BatchId(s.to_owned()))
    }

    /// The ID as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where its input file goes in the results bucket.
    pub fn input_key(&self) -> String {
        format!("batch/{}/input.jsonl", self.0)
    }

    /// Where Bedrock writes its output (`<jobId>/input.jsonl.out` under it).
    pub fn output_prefix(&self) -> String {
        format!("batch/{}/output/", self.0)
    }
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Prices `usage` at the model's batch price list (`batch_offer`), as the job's `cost` with
/// `tier: "batch"`; `None` when the model has no batch price.
pub fn batch_cost(
    catalog: &inference_core::catalog::Catalog,
    model: &inference_core::catalog::ModelEntry,
    scope: inference_core::catalog::PricingScope,
    usage: &inference_core::cost::Usage,
) -> Option<inference_core::cost::Cost> {
    let prices = model.batch_prices(scope)?;
    let mut priced = model.clone();
    priced.price = prices;
    priced.price_regional = None;
    Some(inference_core::cost::cost_of(
        catalog,
        &priced,
        inference_core::catalog::PricingScope::Global,
        usage,
    ))
}

/// A cost's JSON marked as batch-priced.
pub fn batch_cost_json(cost: &inference_core::cost::Cost) -> serde_json::Value {
    let mut v = cost.to_json();
    if let Some(o) = v.as_object_mut() {
        o.insert("tier".into(), "batch".into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_fit_bedrock_names() {
        let id = BatchId::random();
        assert_eq!(BatchId::parse(id.as_str()), Some(id.clone()));
        assert!(id.as_str().len() <= 63);
        assert!(BatchId::parse("gwbatch-xyz").is_none());
        assert!(BatchId::parse("job_0123").is_none());
        assert!(id.input_key().starts_with("batch/gwbatch-"));
    }
}
