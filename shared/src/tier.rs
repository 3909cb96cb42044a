//! How Bedrock serves a call: the service tier (`serviceTier.type`) and latency-optimized
//! inference (`performanceConfig.latency`). Each is priced differently and not every model
//! offers each, so the gateway reads the requested one before the call, refuses one the model
//! lacks by name, and prices usage with it (`cost::cost_of_tier`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::GatewayError;

/// One priced way of serving a call. `Standard` is Bedrock's `default` tier with standard
/// latency: every model offers it; the others are listed per model in the catalog (`tiers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// `serviceTier.type = default` (or none): the standard on-demand price.
    #[default]
    Standard,
    /// `serviceTier.type = flex`: discounted, served after the other tiers.
    Flex,
    /// `serviceTier.type = priority`: a premium, served first.
    Priority,
    /// `serviceTier.type = reserved`: capacity bought ahead, billed per reservation, not per
    /// token; callable only where a deployment lists it.
    Reserved,
    /// `performanceConfig.latency = optimized` (standard service tier).
    LatencyOptimized,
}

impl Tier {
    /// The catalog's and the responses' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Flex => "flex",
            Tier::Priority => "priority",
            Tier::Reserved => "reserved",
            Tier::LatencyOptimized => "latency_optimized",
        }
    }

    /// Every tier, in display order.
    pub const ALL: [Tier; 5] = [
        Tier::Standard,
        Tier::Flex,
        Tier::Priority,
        Tier::Reserved,
        Tier::LatencyOptimized,
    ];

    /// A tier by its catalog name (`standard`, `flex`, `priority`, `reserved`,
    /// `latency_optimized`); Bedrock's `default` is accepted for `standard`.
    pub fn parse(name: &str) -> Option<Tier> {
        match name {
            "default" => Some(Tier::Standard),
            _ => Tier::ALL.into_iter().find(|t| t.as_str() == name),
        }
    }

    /// The tier a Converse request asks for, from `serviceTier.type` and
    /// `performanceConfig.latency` (already checked against Bedrock's enums). A non-default
    /// service tier together with optimized latency is refused: Bedrock documents and prices
    /// them separately, and the gateway would not know which price applies.
    pub fn from_request(
        service_tier: Option<&str>,
        latency: Option<&str>,
    ) -> Result<Tier, GatewayError> {
        let service = match service_tier {
            None => Tier::Standard,
            Some(name) => Tier::parse(name)
                .filter(|t| *t != Tier::LatencyOptimized)
                .ok_or_else(|| {
                    GatewayError::invalid_request(format!(
                        "serviceTier.type: unknown tier {name:?} (expected default, flex, priority or reserved)"
                    ))
                })?,
        };
        match (service, latency) {
            (s, None | Some("standard")) => Ok(s),
            (Tier::Standard, Some("optimized")) => Ok(Tier::LatencyOptimized),
            (s, Some("optimized")) => Err(GatewayError::invalid_request(format!(
                "performanceConfig.latency: optimized cannot be combined with serviceTier {}; \
                 send one of them",
                s.api_name()
            ))),
            (_, Some(other)) => Err(GatewayError::invalid_request(format!(
                "performanceConfig.latency: unknown value {other:?} (expected standard or optimized)"
            ))),
        }
    }

    /// The name Bedrock's request uses for this tier (`serviceTier.type`, or
    /// `performanceConfig.latency` for latency-optimized).
    pub fn api_name(self) -> &'static str {
        match self {
            Tier::Standard => "default",
            Tier::LatencyOptimized => "optimized",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_request_fields() {
        assert_eq!(Tier::from_request(None, None).unwrap(), Tier::Standard);
        assert_eq!(
            Tier::from_request(Some("default"), Some("standard")).unwrap(),
            Tier::Standard
        );
        assert_eq!(Tier::from_request(Some("flex"), None).unwrap(), Tier::Flex);
        assert_eq!(
            Tier::from_request(Some("priority"), None).unwrap(),
            Tier::Priority
        );
        assert_eq!(
            Tier::from_request(None, Some("optimized")).unwrap(),
            Tier::LatencyOptimized
        );
        assert!(Tier::from_request(Some("flex"), Some("optimized")).is_err());
        assert!(Tier::from_request(Some("latency_optimized"), None).is_err());
        assert!(Tier::from_request(Some("scale"), None).is_err());
    }

    #[test]
    fn names_round_trip() {
        for t in Tier::ALL {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
        }
    }
}
