//! Routing settings of a deployment (`GATEWAY_ROUTING_*`): which models stand for each tier of
//! `model: "auto"` (see `routing`).

use std::str::FromStr;

use serde::Serialize;

use super::ConfigError;

/// A quality tier. Ordered: a tier accepts models of its own and the higher tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Cheap and quick (default: Haiku).
    Fast,
    /// Middle (default: Sonnet).
    Balanced,
    /// Strongest (default: Opus).
    Best,
}

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 3] = [Tier::Fast, Tier::Balanced, Tier::Best];

    /// The spelling in requests and settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Fast => "fast",
            Tier::Balanced => "balanced",
            Tier::Best => "best",
        }
    }
}

impl FromStr for Tier {
    type Err = ();

    fn from_str(s: &str) -> Result<Tier, ()> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s).ok_or(())
    }
}

/// Routing settings of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingSettings {
    /// `GATEWAY_ROUTING_FAST` / `_BALANCED` / `_BEST`: model names per tier, in [`Tier::ALL`]
    /// order.
    pub tiers: [Vec<String>; 3],
    /// `GATEWAY_ROUTING_DEFAULT_TIER`: the floor when a request names no tier.
    pub default_tier: Tier,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        RoutingSettings {
            tiers: [
                vec!["haiku".into()],
                vec!["sonnet".into()],
                vec!["opus".into()],
            ],
            default_tier: Tier::Fast,
        }
    }
}

impl RoutingSettings {
    /// Reads the settings through `get` (trimmed, empty = unset), as [`Config::from_lookup`]
    /// does.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut s = RoutingSettings::default();
        let vars = [
            "GATEWAY_ROUTING_FAST",
            "GATEWAY_ROUTING_BALANCED",
            "GATEWAY_ROUTING_BEST",
        ];
        for (slot, var) in s.tiers.iter_mut().zip(vars) {
            if let Some(v) = get(var) {
                *slot = v
                    .split(',')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
        }
        if let Some(v) = get("GATEWAY_ROUTING_DEFAULT_TIER") {
            s.default_tier = v.parse().map_err(|()| ConfigError::Invalid {
                var: "GATEWAY_ROUTING_DEFAULT_TIER",
                expected: "fast, balanced or best",
                got: v.clone(),
            })?;
        }
        Ok(s)
    }

    pub(crate) fn models(&self, tier: Tier) -> &[String] {
        &self.tiers[tier as usize]
    }
}
