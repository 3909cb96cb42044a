//! The deadline-aware planner: given what a model offers (on demand, the flex tier, Bedrock
//! batch, or StartAsyncInvoke as its only path), their estimated costs for this request, the
//! caller's `deadline` and `max_cost_usd`, choose how the job runs. Pure: the estimates are
//! computed by the caller (`submit`), the choice and its reason are recorded on the job.
//!
//! The rule: without a deadline a job runs now, on demand (the behaviour before deadlines).
//! With one, the cheapest way that meets it: batch needs at least [`BATCH_WINDOW_MS`] (Bedrock
//! runs a batch job for up to 24 h, its shortest `timeoutDurationInHours`), flex at least
//! [`FLEX_MIN_DEADLINE_MS`] (it is served after the other tiers and may be throttled and
//! retried). `max_cost_usd` never changes the choice, it refuses a job whose chosen estimate
//! is above it (400), since the estimate is the worst case (input estimate + `maxTokens`).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::deadline::Deadline;
use inference_core::error::GatewayError;

/// Bedrock batch jobs finish (or are stopped) within their timeout, 24 h at the least:
/// `timeoutDurationInHours` 24..168 (CreateModelInvocationJob), "24-hour processing window"
/// (docs.aws.amazon.com/bedrock/latest/userguide/capacity-limits-cost-optimization.html).
pub const BATCH_WINDOW_MS: i64 = 24 * 3_600_000;

/// Shortest deadline for which the flex tier is chosen: 15 minutes.
pub const FLEX_MIN_DEADLINE_MS: i64 = 15 * 60_000;

/// How a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Now, standard tier.
    OnDemand,
    /// Now, `serviceTier.type = flex`.
    Flex,
    /// Held, grouped per model, run as one Bedrock batch job (CreateModelInvocationJob).
    Batch,
    /// StartAsyncInvoke: the model's only path (video).
    AsyncInvoke,
}

impl Mode {
    /// The stored and reported name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::OnDemand => "on_demand",
            Mode::Flex => "flex",
            Mode::Batch => "batch",
            Mode::AsyncInvoke => "async_invoke",
        }
    }
}

/// The planner's choice, recorded on the job and shown by `GET /v1/jobs/{id}`. Costs are
/// estimates (USD, exact decimal strings, never rounded); the job's `cost` is what it actually
/// cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// How it runs.
    pub mode: Mode,
    /// Why, in words (the options considered and why the others were not taken).
    pub reason: String,
    /// The estimate of the chosen way.
    #[serde(with = "rust_decimal::serde::str")]
    pub estimated_cost_usd: Decimal,
    /// The estimate on demand.
    #[serde(with = "rust_decimal::serde::str")]
    pub on_demand_cost_usd: Decimal,
    /// `on_demand_cost_usd - estimated_cost_usd`.
    #[serde(with = "rust_decimal::serde::str")]
    pub saving_usd: Decimal,
}

/// What the model offers for this request, with each way's estimated cost.
#[derive(Debug, Clone)]
pub struct Options {
    /// The model ID (for reasons).
    pub model: String,
    /// On demand (for an async-invoke model: its own cost).
    pub on_demand: Decimal,
    /// Flex, where the model offers it.
    pub flex: Option<Decimal>,
    /// Batch: its cost, or why this request cannot run in batch.
    pub batch: Result<Decimal, String>,
    /// The model runs only through StartAsyncInvoke.
    pub async_invoke: bool,
}

/// What the caller asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wants {
    /// `deadline`.
    pub deadline: Option<Deadline>,
    /// `max_cost_usd`.
    pub max_cost_usd: Option<Decimal>,
}

fn plan_of(mode: Mode, reason: String, est: Decimal, on_demand: Decimal) -> Plan {
    Plan {
        mode,
        reason,
        estimated_cost_usd: est,
        on_demand_cost_usd: on_demand,
        saving_usd: on_demand - est,
    }
}

/// Chooses how to run; 400 naming `max_cost_usd` when the choice's estimate is above it.
pub fn plan(o: &Options, w: &Wants) -> Result<Plan, GatewayError> {
    let chosen = choose(o, w);
    if let Some(max) = w.max_cost_usd
        && chosen.estimated_cost_usd > max
    {
        return Err(GatewayError::invalid_request(format!(
            "max_cost_usd: the cheapest way to run this job {} ({}) is estimated at ${} (input estimate + maxTokens), above max_cost_usd ${max}; lower maxTokens, allow a later deadline or raise max_cost_usd",
            match w.deadline {
                Some(d) => format!("within deadline {d}"),
                None => "now (no deadline)".to_owned(),
            },
            chosen.mode.as_str(),
            chosen.estimated_cost_usd,
        )));
    }
    Ok(chosen)
}

fn choose(o: &Options, w: &Wants) -> Plan {
    if o.async_invoke {
        return plan_of(
            Mode::AsyncInvoke,
            format!(
                "model {} runs only through StartAsyncInvoke (asynchronous by nature)",
                o.model
            ),
            o.on_demand,
            o.on_demand,
        );
    }
    let Some(deadline) = w.deadline else {
        return plan_of(
            Mode::OnDemand,
            "no deadline: runs now, on demand".into(),
            o.on_demand,
            o.on_demand,
        );
    };
    let ms = deadline.as_ms();
    let mut skipped = Vec::new();
    // On demand always meets a deadline of a minute or more; cheaper ways compete with it.
    let mut best = (Mode::OnDemand, o.on_demand);
    match o.flex {
        None => skipped.push(format!("flex: not offered by {}", o.model)),
        Some(_) if ms < FLEX_MIN_DEADLINE_MS => skipped.push(format!(
            "flex: needs a deadline of at least 15m, not {deadline}"
        )),
        Some(c) if c < best.1 => best = (Mode::Flex, c),
        Some(_) => skipped.push("flex: not cheaper".into()),
    }
    match &o.batch {
        Err(why) => skipped.push(format!("batch: {why}")),
        Ok(_) if ms < BATCH_WINDOW_MS => skipped.push(format!(
            "batch: needs a deadline of at least 24h (a Bedrock batch job runs for up to 24 h), not {deadline}"
        )),
        Ok(c) if *c < best.1 => {
            if best.0 == Mode::Flex {
                skipped.push("flex: batch is cheaper".into());
            }
            best = (Mode::Batch, *c);
        }
        Ok(_) => skipped.push("batch: not cheaper".into()),
    }
    let head = match best.0 {
        Mode::Batch => format!(
            "deadline {deadline} leaves room for a Bedrock batch job (up to 24 h), the cheapest way"
        ),
        Mode::Flex => {
            format!("deadline {deadline}: the flex tier is the cheapest way that meets it")
        }
        _ => format!("deadline {deadline}: runs now, on demand"),
    };
    let reason = if skipped.is_empty() {
        head
    } else {
        format!("{head}; {}", skipped.join("; "))
    };
    plan_of(best.0, reason, best.1, o.on_demand)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn nova_lite() -> Options {
        Options {
            model: "amazon.nova-lite-v1:0".into(),
            on_demand: d("0.0010"),
            flex: None,
            batch: Ok(d("0.0005")),
            async_invoke: false,
        }
    }

    fn wants(deadline: &str) -> Wants {
        Wants {
            deadline: Some(Deadline::parse(deadline).unwrap()),
            max_cost_usd: None,
        }
    }

    #[test]
    fn no_deadline_runs_now_on_demand() {
        let p = plan(&nova_lite(), &Wants::default()).unwrap();
        assert_eq!(p.mode, Mode::OnDemand);
        assert_eq!(p.saving_usd, Decimal::ZERO);
        assert!(p.reason.contains("no deadline"), "{}", p.reason);
    }

    #[test]
    fn a_day_or_more_goes_to_batch_at_half_price() {
        for dl in ["24h", "2d", "7d"] {
            let p = plan(&nova_lite(), &wants(dl)).unwrap();
            assert_eq!(p.mode, Mode::Batch, "{dl}");
            assert_eq!(p.estimated_cost_usd, d("0.0005"));
            assert_eq!(p.on_demand_cost_usd, d("0.0010"));
            assert_eq!(p.saving_usd, d("0.0005"));
        }
    }

    #[test]
    fn short_deadlines_run_on_demand_and_say_why() {
        let p = plan(&nova_lite(), &wants("1m")).unwrap();
        assert_eq!(p.mode, Mode::OnDemand);
        assert!(
            p.reason.contains("batch: needs a deadline of at least 24h"),
            "{}",
            p.reason
        );
        assert!(p.reason.contains("not 1m"), "{}", p.reason);
        let p = plan(&nova_lite(), &wants("1439m")).unwrap();
        assert_eq!(p.mode, Mode::OnDemand);
    }

    #[test]
    fn flex_between_fifteen_minutes_and_a_day() {
        let mut o = nova_lite();
        o.flex = Some(d("0.0005"));
        assert_eq!(plan(&o, &wants("14m")).unwrap().mode, Mode::OnDemand);
        let p = plan(&o, &wants("15m")).unwrap();
        assert_eq!(p.mode, Mode::Flex);
        assert_eq!(p.saving_usd, d("0.0005"));
        // Equal price: batch is not cheaper than flex, which finishes sooner.
        let p = plan(&o, &wants("24h")).unwrap();
        assert_eq!(p.mode, Mode::Flex, "{}", p.reason);
        o.batch = Ok(d("0.0004"));
        assert_eq!(plan(&o, &wants("24h")).unwrap().mode, Mode::Batch);
    }

    #[test]
    fn batch_unavailable_is_explained() {
        let mut o = nova_lite();
        o.batch = Err("the request uses toolConfig".into());
        let p = plan(&o, &wants("2d")).unwrap();
        assert_eq!(p.mode, Mode::OnDemand);
        assert!(
            p.reason.contains("batch: the request uses toolConfig"),
            "{}",
            p.reason
        );
        assert!(
            p.reason
                .contains("flex: not offered by amazon.nova-lite-v1:0")
        );
    }

    #[test]
    fn async_models_keep_their_path() {
        let mut o = nova_lite();
        o.async_invoke = true;
        assert_eq!(plan(&o, &wants("2d")).unwrap().mode, Mode::AsyncInvoke);
    }

    #[test]
    fn max_cost_refuses_what_would_cost_more() {
        let mut w = wants("1m");
        w.max_cost_usd = Some(d("0.0009"));
        let e = plan(&nova_lite(), &w).unwrap_err();
        assert!(e.message().starts_with("max_cost_usd:"), "{}", e.message());
        // The same cap fits once the deadline allows batch.
        w.deadline = Some(Deadline::parse("24h").unwrap());
        assert_eq!(plan(&nova_lite(), &w).unwrap().mode, Mode::Batch);
        w.max_cost_usd = Some(d("0.0005"));
        assert!(plan(&nova_lite(), &w).is_ok());
    }

    #[test]
    fn plan_serialises_costs_as_strings() {
        let p = plan(&nova_lite(), &wants("24h")).unwrap();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["mode"], "batch");
        assert_eq!(v["estimated_cost_usd"], "0.0005");
        assert_eq!(serde_json::from_value::<Plan>(v).unwrap(), p);
    }
}
