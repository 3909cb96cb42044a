//! What a model offers beyond the standard on-demand tier, and at what price: the service
//! tiers of `[[models.tiers]]` and Bedrock batch (`[models.batch]`), with the checks the
//! catalog's validation runs on them.

use rust_decimal::Decimal;

use crate::catalog::{
    MAX_PRICE_PER_MTOK, MAX_TIER_MULTIPLIER, ModelEntry, Prices, PricingScope, TierOffer, is_date,
};
use crate::error::GatewayError;
use crate::tier::Tier;

impl ModelEntry {
    /// The model's offer of `tier` (`None` for standard, which every model offers).
    pub fn tier_offer(&self, tier: Tier) -> Option<&TierOffer> {
        self.tiers.iter().find(|o| o.tier == tier)
    }

    /// Whether the model can be called with `tier`.
    pub fn offers(&self, tier: Tier) -> bool {
        tier == Tier::Standard || self.tier_offer(tier).is_some()
    }

    /// The tiers the model can be called with, standard first.
    pub fn offered_tiers(&self) -> impl Iterator<Item = Tier> + '_ {
        std::iter::once(Tier::Standard).chain(self.tiers.iter().map(|o| o.tier))
    }

    /// The price list for a scope and tier; `None` when the model does not offer the tier.
    pub fn tier_prices(&self, scope: PricingScope, tier: Tier) -> Option<Prices> {
        if tier == Tier::Standard {
            return Some(self.prices(scope).clone());
        }
        let offer = self.tier_offer(tier)?;
        match (&offer.price, offer.multiplier) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(m)) => Some(self.prices(scope).scaled(m)),
            (None, None) => None,
        }
    }

    /// Refuses a tier the model does not offer, by name (a 400 before any call).
    pub fn check_tier(&self, tier: Tier) -> Result<(), GatewayError> {
        if self.offers(tier) {
            return Ok(());
        }
        let offered: Vec<&str> = self.offered_tiers().map(Tier::as_str).collect();
        Err(GatewayError::invalid_request(format!(
            "{}: model {} does not offer the {} tier on Bedrock (it offers: {})",
            if tier == Tier::LatencyOptimized {
                "performanceConfig.latency"
            } else {
                "serviceTier.type"
            },
            self.id,
            tier.as_str(),
            offered.join(", ")
        )))
    }

    /// Checks the entry's tier offers (called by catalog validation).
    pub(crate) fn check_tiers(&self) -> Result<(), String> {
        let id = self.id.as_str();
        for (i, o) in self.tiers.iter().enumerate() {
            let name = o.tier.as_str();
            if o.tier == Tier::Standard {
                return Err(format!(
                    "model {id}: the standard tier is the base price, not a tier offer"
                ));
            }
            if self.tiers[..i].iter().any(|p| p.tier == o.tier) {
                return Err(format!("model {id}: tier {name} is listed twice"));
            }
            match (&o.price, o.multiplier) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(format!(
                        "model {id}: tier {name} needs exactly one of multiplier and price"
                    ));
                }
                (None, Some(m)) if m <= Decimal::ZERO || m > MAX_TIER_MULTIPLIER => {
                    return Err(format!(
                        "model {id}: tier {name} multiplier must be in (0, {MAX_TIER_MULTIPLIER}]"
                    ));
                }
                (Some(p), None)
                    if p.all()
                        .any(|v| v.is_sign_negative() || v > MAX_PRICE_PER_MTOK) =>
                {
                    return Err(format!("model {id}: tier {name} prices out of range"));
                }
                _ => {}
            }
            if o.source.trim().is_empty() || !is_date(&o.as_of) {
                return Err(format!(
                    "model {id}: tier {name} needs a source and an as_of date (YYYY-MM-DD)"
                ));
            }
        }
        Ok(())
    }

    /// The model's batch price list for `scope`; `None` when it does not run in batch.
    pub fn batch_prices(&self, scope: PricingScope) -> Option<Prices> {
        let offer = self.batch.as_ref()?;
        Some(self.prices(scope).scaled(offer.multiplier))
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::{Catalog, PricingScope};
    use rust_decimal::Decimal;

    #[test]
    fn nova_lite_batch_is_half_its_on_demand_price() {
        let c = Catalog::embedded().unwrap();
        let m = c.by_name("nova-lite").unwrap();
        let b = m.batch_prices(PricingScope::Global).unwrap();
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
        for name in ["nova-reel", "haiku"] {
            assert!(
                c.by_name(name)
                    .unwrap()
                    .batch_prices(PricingScope::Global)
                    .is_none()
            );
        }
    }
}
