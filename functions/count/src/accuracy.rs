//! How far off a local estimate may be, per model family: the calibration table that
//! `infra/count-calibration/calibrate.py` writes next to the coefficients.
//!
//! A count with `source: "estimate"` states this error so the caller can judge the margin it
//! needs (e.g. a Nova estimate near the context window is not a safe "fits"). The table is
//! embedded at build time, so it always matches the coefficients compiled into the estimator.

use std::sync::OnceLock;

use inference_core::estimate::Family;
use serde::{Deserialize, Serialize};

const CALIBRATION: &str = include_str!("../../../shared/estimate/calibration.json");

/// The measured relative error of a family's estimate (fractions: 0.041 = 4.1%).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimateError {
    /// Estimator family (`anthropic`, `amazon-nova`, ...).
    pub family: &'static str,
    /// The tokenizer measured against: `exact: ...` or `proxy: ...` (a stand-in, see
    /// `docs/token-estimates.md`).
    pub reference: String,
    /// Mean relative error over the calibration corpus.
    pub mean: f64,
    /// Worst relative error on one sample.
    pub worst: f64,
    /// Mean on the held-out samples (not used for fitting).
    pub held_out_mean: f64,
    /// Worst on the held-out samples.
    pub held_out_worst: f64,
}

#[derive(Deserialize)]
struct Calibration {
    table: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    family: String,
    label: String,
    mean: f64,
    worst: f64,
    holdout_mean: f64,
    holdout_worst: f64,
}

fn table() -> &'static [Row] {
    static TABLE: OnceLock<Vec<Row>> = OnceLock::new();
    TABLE.get_or_init(|| match serde_json::from_str::<Calibration>(CALIBRATION) {
        Ok(c) => c.table,
        Err(e) => {
            tracing::warn!(error = %e, "calibration table unreadable: estimates state no error");
            Vec::new()
        }
    })
}

/// Rounded to 0.1 percentage point: more digits would overstate what 75 samples measure.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The error of `family`'s estimate: the row of the tokenizer the family was fitted against
/// (a family may have several rows, e.g. Llama 3 and Llama 4).
pub fn of(family: Family) -> Option<EstimateError> {
    let rows = table().iter().filter(|r| r.family == family.as_str());
    let reference = family.reference();
    let mut first = None;
    for row in rows {
        if reference.starts_with(&row.label) {
            first = Some(row);
            break;
        }
        first.get_or_insert(row);
    }
    first.map(|r| EstimateError {
        family: family.as_str(),
        reference: r.label.clone(),
        mean: round(r.mean),
        worst: round(r.worst),
        held_out_mean: round(r.holdout_mean),
        held_out_worst: round(r.holdout_worst),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_a_stated_error() {
        for family in Family::ALL {
            let e = of(family).unwrap_or_else(|| panic!("{family}: no calibration row"));
            assert!(e.mean > 0.0 && e.mean <= e.worst, "{e:?}");
            assert!(e.reference.starts_with("exact") || e.reference.starts_with("proxy"));
        }
        assert_eq!(
            of(Family::MetaLlama).map(|e| e.reference),
            Some("exact: llama3".into())
        );
    }
}
