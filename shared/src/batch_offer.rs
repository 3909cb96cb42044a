//! Bedrock batch inference as the catalog prices it: a model AWS lists as supporting
//! CreateModelInvocationJob carries a `batch` offer, its price a multiple of the on-demand list
//! (AWS: batch is 50% of on-demand for the models that offer it). Data, not code: a model
//! without the offer is never planned as batch. Its price list: `ModelEntry::batch_prices`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `[models.batch]`: the model runs in Bedrock batch at `multiplier` x its on-demand prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchOffer {
    /// Price as a multiple of the on-demand list (0.5: half price).
    pub multiplier: Decimal,
    /// Where support and price come from (URL).
    pub source: String,
    /// When they were checked (YYYY-MM-DD).
    pub as_of: String,
    /// Whether the figure was confirmed on AWS's pages.
    #[serde(default)]
    pub verified: bool,
}

impl BatchOffer {
    /// Refuses a multiplier outside (0, 1]: batch is never dearer than on demand.
    pub fn check(&self) -> Result<(), String> {
        if self.multiplier <= Decimal::ZERO || self.multiplier > Decimal::ONE {
            return Err(format!(
                "batch.multiplier {} must be in (0, 1]",
                self.multiplier
            ));
        }
        if self.source.is_empty() || self.as_of.is_empty() {
            return Err("batch: source and as_of are required".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipliers_outside_zero_one_are_refused() {
        let mut o = BatchOffer {
            multiplier: Decimal::ONE,
            source: "https://x".into(),
            as_of: "2026-12-06".into(),
            verified: false,
        };
        assert!(o.check().is_ok());
        o.multiplier = Decimal::TWO;
        assert!(o.check().is_err());
        o.multiplier = Decimal::ZERO;
        assert!(o.check().is_err());
    }
}
