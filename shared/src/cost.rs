//! Cost of a call from its token usage, in exact decimals.
//!
//! Every path (sync, streaming, count, async) turns usage into money here and nowhere else, with
//! the price list of the route actually taken (global profile vs. regional), so that prompt
//! caching and the regional premium are charged once and the same way.

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::catalog::{Catalog, ModelEntry, Prices, PricingScope};
use crate::resolve::Resolved;
use crate::tier::Tier;

/// Token counts of one call, split the way they are priced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the cache with the 5-minute TTL.
    pub cache_write_5m_tokens: u64,
    /// Input tokens written to the cache with the 1-hour TTL.
    pub cache_write_1h_tokens: u64,
}

impl Usage {
    /// Plain input/output usage.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Usage {
        Usage {
            input_tokens,
            output_tokens,
            ..Usage::default()
        }
    }

    /// All cache writes.
    pub fn cache_write_tokens(&self) -> u64 {
        self.cache_write_5m_tokens
            .saturating_add(self.cache_write_1h_tokens)
    }

    /// Every token counted.
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens())
    }

    /// Adds another call's usage (fallback attempts, stream chunks).
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(other.cache_read_tokens);
        self.cache_write_5m_tokens = self
            .cache_write_5m_tokens
            .saturating_add(other.cache_write_5m_tokens);
        self.cache_write_1h_tokens = self
            .cache_write_1h_tokens
            .saturating_add(other.cache_write_1h_tokens);
    }

    /// Bedrock's `usage` JSON (`inputTokens`, `outputTokens`, `totalTokens`, cache counts).
    pub fn to_bedrock_json(&self) -> Value {
        let mut v = serde_json::json!({
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.total_tokens(),
        });
        if let Value::Object(o) = &mut v {
            if self.cache_read_tokens > 0 {
                o.insert("cacheReadInputTokens".into(), self.cache_read_tokens.into());
            }
            if self.cache_write_tokens() > 0 {
                o.insert(
                    "cacheWriteInputTokens".into(),
                    self.cache_write_tokens().into(),
                );
            }
        }
        v
    }
}

/// A money amount serialised as a decimal string with at least six decimals (`"0.000300"`),
/// never rounded: sub-micro-dollar amounts keep their digits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Usd(pub Decimal);

impl Usd {
    /// The amount as text.
    pub fn to_text(self) -> String {
        let mut d = self.0.normalize();
        if d.scale() < 6 {
            d.rescale(6);
        }
        d.to_string()
    }
}

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_text())
    }
}

/// The cost of one call (or an estimate), by component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// `USD`.
    pub currency: String,
    /// Uncached input.
    pub input: Usd,
    /// Output.
    pub output: Usd,
    /// Cache reads.
    pub cache_read: Usd,
    /// Cache writes (5-minute and 1-hour together).
    pub cache_write: Usd,
    /// The sum of the four components, exactly.
    pub total: Usd,
    /// Date of the price table.
    pub price_date: String,
    /// Which price list applied.
    pub pricing: PricingScope,
    /// The tier priced (absent: standard).
    #[serde(skip_serializing_if = "is_standard")]
    pub tier: Tier,
    /// True when computed from counted input and expected output rather than real usage.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimate: bool,
    /// The model has no known price (the live catalog found it; `GATEWAY_ALLOW_UNPRICED`): the
    /// amounts are zero placeholders, and responses report the cost as unknown (`null`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unpriced: bool,
}

impl Cost {
    /// The JSON object used in responses; `null` for an unpriced model (unknown, never 0).
    pub fn to_json(&self) -> Value {
        if self.unpriced {
            return Value::Null;
        }
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The total as the `x-gateway-cost-usd` header says it: `unknown` for an unpriced model.
    pub fn total_text(&self) -> String {
        if self.unpriced {
            "unknown".to_owned()
        } else {
            self.total.to_text()
        }
    }

    /// Total as a decimal.
    pub fn total(&self) -> Decimal {
        self.total.0
    }
}

fn component(tokens: u64, per_mtok: Decimal) -> Decimal {
    // Catalog validation bounds prices (<= 1e6 per million), so u64 tokens cannot overflow the
    // 96-bit mantissa: 1.8e19 * 1e6 < 7.9e28.
    Decimal::from(tokens) * Prices::per_token(per_mtok)
}

fn is_standard(t: &Tier) -> bool {
    *t == Tier::Standard
}

/// Prices `usage` with a model's standard price list for `scope`.
pub fn cost_of(catalog: &Catalog, model: &ModelEntry, scope: PricingScope, usage: &Usage) -> Cost {
    priced(
        catalog,
        model,
        scope,
        Tier::Standard,
        model.prices(scope),
        usage,
    )
}

/// Prices `usage` with a model's price list for `scope` and `tier`; a tier the model does not
/// offer (refused before the call, so not expected here) is priced as standard.
pub fn cost_of_tier(
    catalog: &Catalog,
    model: &ModelEntry,
    scope: PricingScope,
    tier: Tier,
    usage: &Usage,
) -> Cost {
    match model.tier_prices(scope, tier) {
        Some(p) => priced(catalog, model, scope, tier, &p, usage),
        None => cost_of(catalog, model, scope, usage),
    }
}

/// Prices `usage` for a resolved call: its model, route (scope) and requested tier.
pub fn cost_for(catalog: &Catalog, resolved: &Resolved, usage: &Usage) -> Cost {
    cost_of_tier(
        catalog,
        &resolved.model,
        resolved.pricing,
        resolved.tier,
        usage,
    )
}

fn priced(
    catalog: &Catalog,
    model: &ModelEntry,
    scope: PricingScope,
    tier: Tier,
    p: &Prices,
    usage: &Usage,
) -> Cost {
    let input = component(usage.input_tokens, p.input_cost_per_mtok);
    let output = component(usage.output_tokens, p.output_cost_per_mtok);
    let cache_read = component(usage.cache_read_tokens, p.cache_read());
    let cache_write = component(usage.cache_write_5m_tokens, p.cache_write_5m())
        + component(usage.cache_write_1h_tokens, p.cache_write_1h());
    Cost {
        currency: catalog.meta().currency.clone(),
        input: Usd(input),
        output: Usd(output),
        cache_read: Usd(cache_read),
        cache_write: Usd(cache_write),
        total: Usd(input + output + cache_read + cache_write),
        price_date: catalog.price_date(model).to_owned(),
        pricing: scope,
        tier,
        estimate: false,
        unpriced: model.unpriced,
    }
}

/// Prices `seconds` of generated video (video models bill per second, not per token); `None`
/// for a model without a per-second price.
pub fn video_cost(
    catalog: &Catalog,
    model: &ModelEntry,
    scope: PricingScope,
    seconds: u32,
) -> Option<Cost> {
    let per_second = model.prices(scope).output_cost_per_video_per_second?;
    let mut c = cost_of(catalog, model, scope, &Usage::new(0, 0));
    let output = per_second * Decimal::from(seconds);
    c.output = Usd(output);
    c.total = Usd(output);
    Some(c)
}

/// Units one ApplyGuardrail call was billed for, per priced policy (its `usage`). Word filters
/// and custom-regex sensitive-information filters are free and not listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardrailUnits {
    /// `contentPolicyUnits`.
    pub content: u64,
    /// `topicPolicyUnits` (denied topics).
    pub topic: u64,
    /// `sensitiveInformationPolicyUnits` (managed PII entities).
    pub sensitive: u64,
    /// `contextualGroundingPolicyUnits`.
    pub grounding: u64,
}

/// USD per 1,000 text units (a text unit is up to 1,000 characters) of each priced guardrail
/// policy: content filters, denied topics, sensitive information, contextual grounding.
/// Source: aws.amazon.com/bedrock/pricing, Guardrails (prices since the December 2024
/// reduction), read 2026-12; verify against the live page before relying on them.
const GUARDRAIL_USD_PER_1K_UNITS: [(&str, &str); 4] = [
    ("content", "0.15"),
    ("topic", "0.15"),
    ("sensitive", "0.10"),
    ("grounding", "0.10"),
];

fn guardrail_price(policy: &str) -> Decimal {
    GUARDRAIL_USD_PER_1K_UNITS
        .iter()
        .find(|(p, _)| *p == policy)
        .and_then(|(_, v)| v.parse::<Decimal>().ok())
        .unwrap_or_default()
        / Decimal::from(1000)
}

/// What an ApplyGuardrail call with this usage costs.
pub fn guardrail_cost(u: &GuardrailUnits) -> Decimal {
    guardrail_price("content") * Decimal::from(u.content)
        + guardrail_price("topic") * Decimal::from(u.topic)
        + guardrail_price("sensitive") * Decimal::from(u.sensitive)
        + guardrail_price("grounding") * Decimal::from(u.grounding)
}

/// Text units of the given texts as Bedrock counts them: each text is at least one unit, one
/// more per started 1,000 characters.
pub fn guardrail_text_units<'a>(texts: impl IntoIterator<Item = &'a str>) -> u64 {
    texts
        .into_iter()
        .map(|t| (t.chars().count() as u64).div_ceil(1000).max(1))
        .fold(0, u64::saturating_add)
}

/// The most an ApplyGuardrail call over `units` text units can cost: every priced policy on
/// every unit. Budgets reserve this before the call.
pub fn guardrail_bound(units: u64) -> Decimal {
    guardrail_cost(&GuardrailUnits {
        content: units,
        topic: units,
        sensitive: units,
        grounding: units,
    })
}

/// Estimates a call from counted input tokens and the expected output (e.g. the `maxTokens`
/// that will be sent: the worst case).
pub fn estimate(
    catalog: &Catalog,
    model: &ModelEntry,
    scope: PricingScope,
    input_tokens: u64,
    expected_output_tokens: u64,
) -> Cost {
    estimate_tier(
        catalog,
        model,
        scope,
        Tier::Standard,
        input_tokens,
        expected_output_tokens,
    )
}

/// [`estimate`] for a tier: what admission reserves and `/v1/estimate` answers for a call that
/// asks for `tier`.
pub fn estimate_tier(
    catalog: &Catalog,
    model: &ModelEntry,
    scope: PricingScope,
    tier: Tier,
    input_tokens: u64,
    expected_output_tokens: u64,
) -> Cost {
    let mut c = cost_of_tier(
        catalog,
        model,
        scope,
        tier,
        &Usage::new(input_tokens, expected_output_tokens),
    );
    c.estimate = true;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::dec;
    use proptest::prelude::*;

    fn catalog() -> Catalog {
        Catalog::embedded().unwrap()
    }

    #[test]
    fn video_is_priced_per_second_and_token_models_have_no_video_price() {
        let c = catalog();
        let reel = c.by_name("amazon.nova-reel-v1:0").expect("nova reel");
        let cost = video_cost(&c, reel, PricingScope::Global, 6).expect("per-second price");
        assert_eq!(cost.total(), dec!(0.48));
        assert_eq!(cost.output.0, dec!(0.48));
        assert_eq!(cost.input.0, Decimal::ZERO);
        let lite = c.by_name("amazon.nova-lite-v1:0").expect("nova lite");
        assert!(video_cost(&c, lite, PricingScope::Global, 6).is_none());
    }

    fn cost(name: &str, scope: PricingScope, u: Usage) -> Cost {
        let c = catalog();
        let m = c.by_name(name).unwrap().clone();
        cost_of(&c, &m, scope, &u)
    }

    const NO_CACHE: Usage = Usage {
        input_tokens: 1000,
        output_tokens: 500,
        cache_read_tokens: 0,
        cache_write_5m_tokens: 0,
        cache_write_1h_tokens: 0,
    };
    const CACHE_READ: Usage = Usage {
        input_tokens: 100,
        output_tokens: 500,
        cache_read_tokens: 10_000,
        cache_write_5m_tokens: 0,
        cache_write_1h_tokens: 0,
    };
    const CACHE_WRITE_5M: Usage = Usage {
        input_tokens: 100,
        output_tokens: 500,
        cache_read_tokens: 0,
        cache_write_5m_tokens: 10_000,
        cache_write_1h_tokens: 0,
    };
    const CACHE_WRITE_1H: Usage = Usage {
        input_tokens: 100,
        output_tokens: 500,
        cache_read_tokens: 0,
        cache_write_5m_tokens: 0,
        cache_write_1h_tokens: 10_000,
    };

    /// Hand-computed figures (price per million x tokens / 1e6):
    ///
    /// Sonnet 4.5 global   ($3 / $15, read $0.30, write 5m $3.75, 1h $6):
    ///   no cache   1000*3 + 500*15               = 3000 + 7500  -> 0.003 + 0.0075 = 0.0105
    ///   read       100*3 + 500*15 + 10000*0.30   -> 0.0003 + 0.0075 + 0.003  = 0.0108
    ///   write 5m   100*3 + 500*15 + 10000*3.75   -> 0.0003 + 0.0075 + 0.0375 = 0.0453
    ///   write 1h   100*3 + 500*15 + 10000*6      -> 0.0003 + 0.0075 + 0.06   = 0.0678
    /// Sonnet 4.5 regional ($3.30 / $16.50, read $0.33, 5m $4.125, 1h $6.60): every figure x1.1
    ///   no cache   0.0033 + 0.00825                 = 0.01155
    ///   read       0.00033 + 0.00825 + 0.0033       = 0.01188
    ///   write 5m   0.00033 + 0.00825 + 0.04125      = 0.04983
    ///   write 1h   0.00033 + 0.00825 + 0.066        = 0.07458
    /// Nova Pro ($0.80 / $3.20, read $0.20, write billed as input $0.80; no 1h tier -> 5m price)
    ///   no cache   0.0008 + 0.0016                  = 0.0024
    ///   read       0.00008 + 0.0016 + 0.002         = 0.00368
    ///   write 5m   0.00008 + 0.0016 + 0.008         = 0.00968
    ///   write 1h   0.00008 + 0.0016 + 0.008         = 0.00968
    #[test]
    fn cost_matrix() {
        use PricingScope::{Global, Regional};
        let cases: [(&str, PricingScope, Usage, [&str; 5]); 12] = [
            (
                "sonnet",
                Global,
                NO_CACHE,
                ["0.003", "0.0075", "0", "0", "0.0105"],
            ),
            (
                "sonnet",
                Global,
                CACHE_READ,
                ["0.0003", "0.0075", "0.003", "0", "0.0108"],
            ),
            (
                "sonnet",
                Global,
                CACHE_WRITE_5M,
                ["0.0003", "0.0075", "0", "0.0375", "0.0453"],
            ),
            (
                "sonnet",
                Global,
                CACHE_WRITE_1H,
                ["0.0003", "0.0075", "0", "0.06", "0.0678"],
            ),
            (
                "sonnet",
                Regional,
                NO_CACHE,
                ["0.0033", "0.00825", "0", "0", "0.01155"],
            ),
            (
                "sonnet",
                Regional,
                CACHE_READ,
                ["0.00033", "0.00825", "0.0033", "0", "0.01188"],
            ),
            (
                "sonnet",
                Regional,
                CACHE_WRITE_5M,
                ["0.00033", "0.00825", "0", "0.04125", "0.04983"],
            ),
            (
                "sonnet",
                Regional,
                CACHE_WRITE_1H,
                ["0.00033", "0.00825", "0", "0.066", "0.07458"],
            ),
            (
                "nova-pro",
                Regional,
                NO_CACHE,
                ["0.0008", "0.0016", "0", "0", "0.0024"],
            ),
            (
                "nova-pro",
                Regional,
                CACHE_READ,
                ["0.00008", "0.0016", "0.002", "0", "0.00368"],
            ),
            (
                "nova-pro",
                Regional,
                CACHE_WRITE_5M,
                ["0.00008", "0.0016", "0", "0.008", "0.00968"],
            ),
            (
                "nova-pro",
                Regional,
                CACHE_WRITE_1H,
                ["0.00008", "0.0016", "0", "0.008", "0.00968"],
            ),
        ];
        for (name, scope, usage, [i, o, r, w, t]) in cases {
            let c = cost(name, scope, usage);
            let d = |s: &str| s.parse::<Decimal>().unwrap();
            let ctx = format!("{name} {scope:?} {usage:?}");
            assert_eq!(c.input.0, d(i), "input {ctx}");
            assert_eq!(c.output.0, d(o), "output {ctx}");
            assert_eq!(c.cache_read.0, d(r), "cache_read {ctx}");
            assert_eq!(c.cache_write.0, d(w), "cache_write {ctx}");
            assert_eq!(c.total.0, d(t), "total {ctx}");
        }
    }

    #[test]
    fn json_shape() {
        let c = cost("sonnet", PricingScope::Global, Usage::new(100, 0));
        let v = c.to_json();
        assert_eq!(v["currency"], "USD");
        assert_eq!(v["input"], "0.000300");
        assert_eq!(v["output"], "0.000000");
        assert_eq!(v["total"], "0.000300");
        assert_eq!(v["pricing"], "global");
        assert_eq!(v["price_date"], "2026-11-26");
        assert!(v.get("estimate").is_none());
        // Tiny amounts keep their digits.
        let c = cost("nova-micro", PricingScope::Regional, Usage::new(1, 0));
        assert_eq!(c.to_json()["input"], "0.000000035");
        let e = estimate(
            &catalog(),
            catalog().by_name("haiku").unwrap(),
            PricingScope::Global,
            1000,
            1000,
        );
        assert_eq!(e.total.0, dec!(0.006));
        assert_eq!(e.to_json()["estimate"], true);
    }

    fn usage() -> impl Strategy<Value = Usage> {
        (
            0u64..10_000_000,
            0u64..10_000_000,
            0u64..10_000_000,
            0u64..10_000_000,
            0u64..10_000_000,
        )
            .prop_map(|(a, b, c, d, e)| Usage {
                input_tokens: a,
                output_tokens: b,
                cache_read_tokens: c,
                cache_write_5m_tokens: d,
                cache_write_1h_tokens: e,
            })
    }

    proptest! {
        #[test]
        fn never_negative_and_sums_exactly(u in usage(), idx in 0usize..64, global in any::<bool>()) {
            let c = catalog();
            let m = &c.models()[idx % c.models().len()];
            let scope = if global { PricingScope::Global } else { PricingScope::Regional };
            let k = cost_of(&c, m, scope, &u);
            for part in [k.input, k.output, k.cache_read, k.cache_write, k.total] {
                prop_assert!(!part.0.is_sign_negative() || part.0.is_zero());
            }
            prop_assert_eq!(k.input.0 + k.output.0 + k.cache_read.0 + k.cache_write.0, k.total.0);
        }

        #[test]
        fn monotonic_in_every_count(u in usage(), extra in 1u64..1_000_000, which in 0usize..5, idx in 0usize..64) {
            let c = catalog();
            let m = &c.models()[idx % c.models().len()];
            let mut more = u;
            match which {
                0 => more.input_tokens += extra,
                1 => more.output_tokens += extra,
                2 => more.cache_read_tokens += extra,
                3 => more.cache_write_5m_tokens += extra,
                _ => more.cache_write_1h_tokens += extra,
            }
            for scope in [PricingScope::Global, PricingScope::Regional] {
                let a = cost_of(&c, m, scope, &u);
                let b = cost_of(&c, m, scope, &more);
                prop_assert!(b.total.0 >= a.total.0);
                prop_assert!(b.input.0 >= a.input.0 && b.output.0 >= a.output.0);
                prop_assert!(b.cache_read.0 >= a.cache_read.0 && b.cache_write.0 >= a.cache_write.0);
            }
        }

        #[test]
        fn regional_never_cheaper_than_global(u in usage(), idx in 0usize..64) {
            let c = catalog();
            let m = &c.models()[idx % c.models().len()];
            let g = cost_of(&c, m, PricingScope::Global, &u);
            let r = cost_of(&c, m, PricingScope::Regional, &u);
            prop_assert!(r.total.0 >= g.total.0);
        }

        #[test]
        fn usd_text_round_trips(n in 0u64..u64::MAX, scale in 0u32..20) {
            let d = Decimal::from_i128_with_scale(i128::from(n), scale);
            let text = Usd(d).to_text();
            prop_assert_eq!(text.parse::<Decimal>().unwrap(), d);
        }
    }

    #[test]
    fn guardrail_units_and_prices() {
        let long = "x".repeat(2_500);
        assert_eq!(guardrail_text_units(["", "hi", long.as_str()]), 1 + 1 + 3);
        let u = GuardrailUnits {
            content: 2,
            topic: 0,
            sensitive: 3,
            grounding: 0,
        };
        // 2 x 0.15/1000 + 3 x 0.10/1000
        assert_eq!(guardrail_cost(&u), "0.0006".parse::<Decimal>().unwrap());
        assert_eq!(guardrail_bound(4), "0.002".parse::<Decimal>().unwrap());
        assert!(guardrail_cost(&u) <= guardrail_bound(3));
    }

    #[test]
    fn tiers_price_the_same_usage_differently() {
        let c = catalog();
        let pro = c.by_name("nova-pro").unwrap();
        let u = Usage::new(1_000_000, 1_000_000);
        let scope = PricingScope::Regional;
        let standard = cost_of(&c, pro, scope, &u);
        let flex = cost_of_tier(&c, pro, scope, Tier::Flex, &u);
        let priority = cost_of_tier(&c, pro, scope, Tier::Priority, &u);
        // Nova Pro: $0.80 / $3.20 standard; flex x0.5, priority x1.75 (catalog data).
        assert_eq!(standard.total(), dec!(4.00));
        assert_eq!(flex.total(), dec!(2.00));
        assert_eq!(priority.total(), dec!(7.00));
        assert_eq!(flex.tier, Tier::Flex);
        assert_eq!(flex.to_json()["tier"], "flex");
        assert!(standard.to_json().get("tier").is_none());
        let lo = cost_of_tier(&c, pro, scope, Tier::LatencyOptimized, &u);
        assert_eq!(lo.total(), dec!(5.00));
        let est = estimate_tier(&c, pro, scope, Tier::Priority, 1_000_000, 1_000_000);
        assert_eq!(est.total(), priority.total());
        assert!(est.estimate);
    }
}
