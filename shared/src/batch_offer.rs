//! Bedrock batch inference as the catalog prices it: a model AWS lists as supporting
//! CreateModelInvocationJob carries a `batch` offer, its price a multiple of the on-demand list
//! (AWS: batch is 50% of on-demand for the models that offer it). Data, not code: a model
//! without the offer is never planned as batch.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog::{ModelEntry, Prices, PricingScope};

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

/// The model's batch price list for `scope`; `None` when it does not run in batch.
pub fn batch_prices(model: &ModelEntry, scope: PricingScope) -> Option<Prices> {
    let offer = model.batch.as_ref()?;
    Some(model.prices(scope).scaled(offer.multiplier))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn nova_lite_batch_is_half_its_on_demand_price() {
        let c = Catalog::embedded().unwrap();
        let m = c.by_name("nova-lite").unwrap();
        let b = batch_prices(m, PricingScope::Global).unwrap();
        assert_eq!(
            b.input_cost_per_mtok * Decimal::TWO,
            m.price.input_cost_per_mtok
        );
        assert_eq!(
            b.output_cost_per_mtok * Decimal::TWO,
            m.price.output_cost_per_mtok
        );
        assert!(m.batch.as_ref().unwrap().source.starts_with("https://"));
    }

    #[test]
    fn models_aws_does_not_list_have_no_batch_price() {
        let c = Catalog::embedded().unwrap();
        let m = c.by_name("nova-reel").unwrap();
        assert!(batch_prices(m, PricingScope::Global).is_none());
    }

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
