//! `GET /v1/usage`: a key's usage by UTC day and model (every key's for an admin key), with
//! totals and, for one key, its budgets now.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Caller, KeyId, UsageRow};
use crate::error::GatewayError;

/// The query of `GET /v1/usage`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct UsageQuery {
    /// First UTC day (`YYYY-MM-DD`); default: the first of the current month.
    pub from: Option<String>,
    /// Last UTC day, inclusive; default: today.
    pub to: Option<String>,
    /// An admin key may name one key; other keys may only name themselves.
    pub key_id: Option<String>,
}

fn parse_day(name: &str, v: &str) -> Result<time::Date, GatewayError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(v.trim(), &fmt).map_err(|_| {
        GatewayError::invalid_request(format!("{name}: expected YYYY-MM-DD, got {v:?}"))
    })
}

fn day_text(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Builds the report for `caller` (`None`: the deployment has no keys, so there is no usage to
/// report per key).
pub async fn usage_report(
    caller: Option<&Caller>,
    meter: Option<&std::sync::Arc<dyn super::Meter>>,
    query: &UsageQuery,
    request_id: &str,
) -> Result<Value, GatewayError> {
    let (Some(caller), Some(meter)) = (caller, meter) else {
        return Err(GatewayError::not_found(
            "usage is reported per API key: this deployment runs without keys (GATEWAY_AUTH=none)",
        ));
    };
    let range = day_range(query)?;
    let own = caller.key_id();
    let key: Option<KeyId> = match (&query.key_id, caller.record.admin) {
        (Some(k), true) => Some(KeyId::parse(k)?),
        (None, true) => None,
        (Some(k), false) if k.trim() != own.as_str() => {
            return Err(GatewayError::not_found(format!(
                "no usage visible for key {:?}: a key reads its own usage (an admin key reads all)",
                k.trim()
            )));
        }
        (_, false) => Some(own.clone()),
    };
    let budgets = (key.as_ref() == Some(own)).then(|| caller.limits());
    build(meter.as_ref(), key, range, budgets, Some(request_id)).await
}

/// The UTC days `from..=to` of a query (defaults: this month so far; at most 366 days).
pub fn day_range(query: &UsageQuery) -> Result<(String, String), GatewayError> {
    let today = time::OffsetDateTime::now_utc().date();
    let from = match &query.from {
        Some(v) => parse_day("from", v)?,
        None => today.replace_day(1).unwrap_or(today),
    };
    let to = match &query.to {
        Some(v) => parse_day("to", v)?,
        None => today,
    };
    if from > to {
        return Err(GatewayError::invalid_request("from: must not be after to"));
    }
    if (to - from).whole_days() > 366 {
        return Err(GatewayError::invalid_request(
            "from..to: at most 366 days per report",
        ));
    }
    Ok((day_text(from), day_text(to)))
}

/// The report over `key` (every key with `None`) for the days of `range`; with `budgets` (the
/// key's limits) also its budgets now. `request_id` is added for HTTP answers.
pub async fn build(
    meter: &dyn super::Meter,
    key: Option<KeyId>,
    (from_s, to_s): (String, String),
    budgets: Option<&super::Limits>,
    request_id: Option<&str>,
) -> Result<Value, GatewayError> {
    let rows: Vec<UsageRow> = meter.usage(key.as_ref(), &from_s, &to_s).await?;
    let mut totals = (0u64, 0u64, 0u64, 0u64, Decimal::ZERO);
    for r in &rows {
        totals.0 += r.requests;
        totals.1 += r.input_tokens;
        totals.2 += r.output_tokens;
        totals.3 += r.cache_tokens;
        totals.4 += r.cost;
    }
    let mut v = json!({
        "object": "usage",
        "key_id": key.as_ref().map(KeyId::as_str),
        "from": from_s,
        "to": to_s,
        "data": rows,
        "totals": {
            "requests": totals.0,
            "input_tokens": totals.1,
            "output_tokens": totals.2,
            "cache_tokens": totals.3,
            "cost": totals.4.normalize().to_string(),
        },
    });
    if let Some(id) = request_id {
        v["request_id"] = json!(id);
    }
    if let (Some(key), Some(limits)) = (&key, budgets) {
        let budgets = meter.budgets(key, limits).await;
        v["budgets"] = serde_json::to_value(budgets).unwrap_or(Value::Null);
    }
    Ok(v)
}
