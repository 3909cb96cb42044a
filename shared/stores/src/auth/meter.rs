//! The usage table: budgets (USD per UTC day and month), minute windows and the usage report.
//! Admission moves each counter with one atomic, conditional `UpdateItem`; settlement moves them
//! all in one transaction applied exactly once (`settle`).

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use rust_decimal::Decimal;

use super::{Now, get_dec, get_s, get_u64, store_error};
use crate::dynamo::{is_condition_failure, n, s};
use inference_core::auth::{
    Actual, AdmissionRequest, BoxFuture, BudgetState, CallId, Caller, KeyId, Limits, Meter,
    RateSnapshot, Reservation, UsageRow,
};
use inference_core::error::GatewayError;

mod conflict;
mod settle;

/// Budgets, minute windows and usage in the usage table.
#[derive(Debug, Clone)]
pub struct DynamoMeter {
    client: Client,
    table: String,
}

impl DynamoMeter {
    /// The usage table `table`.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoMeter {
        DynamoMeter {
            client,
            table: table.into(),
        }
    }

    fn update(
        &self,
        key: &KeyId,
        sk: String,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("key_id", s(key.as_str()))
            .key("sk", s(sk))
    }

    async fn window_snapshot(&self, key: &KeyId, now: &Now) -> RateSnapshot {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("key_id", s(key.as_str()))
            .key("sk", s(format!("rate#{}", now.minute())))
            .consistent_read(true)
            .send()
            .await
            .ok()
            .and_then(|o| o.item().cloned())
            .unwrap_or_default();
        RateSnapshot {
            requests: get_u64(&item, "requests").unwrap_or(0),
            tokens: get_u64(&item, "tokens").unwrap_or(0),
            reset_seconds: now.minute_reset(),
            known: true,
        }
    }

    /// Reserves `usd` against a budget under the condition that it still fits.
    async fn reserve_budget(
        &self,
        key: &KeyId,
        sk: String,
        limit: Decimal,
        usd: Decimal,
    ) -> Result<bool, GatewayError> {
        let room = limit - usd;
        if room < Decimal::ZERO {
            return Ok(false);
        }
        let r = conflict::update(
            self.update(key, sk)
                .update_expression("ADD #s :u")
                .condition_expression("attribute_not_exists(#s) OR #s <= :room")
                .expression_attribute_names("#s", "spent")
                .expression_attribute_values(":u", n(usd))
                .expression_attribute_values(":room", n(room)),
        )
        .await;
        crate::dynamo::conditional(r, "key store", "UpdateItem")
    }

    /// The usage report: one key's rows (or every key's, with `None`) from `from` to `to`
    /// (UTC days, inclusive), ordered by key, day and model.
    pub async fn usage(
        &self,
        key: Option<&KeyId>,
        from: &str,
        to: &str,
    ) -> Result<Vec<UsageRow>, GatewayError> {
        let (lo, hi) = (format!("usage#{from}"), format!("usage#{to}#\u{10ffff}"));
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = match key {
                Some(k) => {
                    let out = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("key_id = :k AND sk BETWEEN :lo AND :hi")
                        .expression_attribute_values(":k", s(k.as_str()))
                        .expression_attribute_values(":lo", s(&lo))
                        .expression_attribute_values(":hi", s(&hi))
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .map_err(|e| store_error("Query", e))?;
                    (out.items().to_vec(), out.last_evaluated_key().cloned())
                }
                None => {
                    let out = self
                        .client
                        .scan()
                        .table_name(&self.table)
                        .filter_expression("sk BETWEEN :lo AND :hi")
                        .expression_attribute_values(":lo", s(&lo))
                        .expression_attribute_values(":hi", s(&hi))
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .map_err(|e| store_error("Scan", e))?;
                    (out.items().to_vec(), out.last_evaluated_key().cloned())
                }
            };
            items.extend(page);
            start = next;
            if start.is_none() {
                break;
            }
        }
        let mut rows: Vec<UsageRow> = items
            .iter()
            .filter_map(|item| {
                let sk = get_s(item, "sk")?;
                let mut parts = sk.splitn(3, '#');
                let (_, day, model) = (parts.next()?, parts.next()?, parts.next()?);
                Some(UsageRow {
                    key_id: get_s(item, "key_id")?,
                    day: day.to_owned(),
                    model: model.to_owned(),
                    requests: get_u64(item, "requests").unwrap_or(0),
                    input_tokens: get_u64(item, "input_tokens").unwrap_or(0),
                    output_tokens: get_u64(item, "output_tokens").unwrap_or(0),
                    cache_tokens: get_u64(item, "cache_tokens").unwrap_or(0),
                    cost: get_dec(item, "cost").unwrap_or_default(),
                })
            })
            .collect();
        rows.sort_by(|a, b| (&a.key_id, &a.day, &a.model).cmp(&(&b.key_id, &b.day, &b.model)));
        Ok(rows)
    }

    /// The key's budgets now: limit, spent (settled plus reserved) and reset time.
    pub async fn budgets(&self, key: &KeyId, limits: &Limits) -> Vec<BudgetState> {
        let now = Now::read();
        let mut out = Vec::new();
        for (period, sk, limit, reset) in [
            (
                "day",
                format!("spend#d#{}", now.day),
                limits.budget_day_usd,
                &now.day_reset,
            ),
            (
                "month",
                format!("spend#m#{}", now.month),
                limits.budget_month_usd,
                &now.month_reset,
            ),
        ] {
            let spent = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("key_id", s(key.as_str()))
                .key("sk", s(sk))
                .consistent_read(true)
                .send()
                .await
                .ok()
                .and_then(|o| o.item().and_then(|i| get_dec(i, "spent")))
                .unwrap_or_default();
            out.push(BudgetState {
                period,
                limit,
                spent,
                resets_at: reset.1.clone(),
            });
        }
        out
    }
}

impl Meter for DynamoMeter {
    fn usage<'a>(
        &'a self,
        key: Option<&'a KeyId>,
        from: &'a str,
        to: &'a str,
    ) -> BoxFuture<'a, Result<Vec<UsageRow>, GatewayError>> {
        Box::pin(DynamoMeter::usage(self, key, from, to))
    }

    fn budgets<'a>(
        &'a self,
        key: &'a KeyId,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Vec<BudgetState>> {
        Box::pin(DynamoMeter::budgets(self, key, limits))
    }

    fn check_budget<'a>(
        &'a self,
        caller: &'a Caller,
        usd: Decimal,
    ) -> BoxFuture<'a, Result<(), GatewayError>> {
        Box::pin(async move {
            let limits = caller.limits();
            if limits.budget_day_usd.is_none() && limits.budget_month_usd.is_none() {
                return Ok(());
            }
            let now = Now::read();
            let key = caller.key_id();
            for (state, name, reset) in DynamoMeter::budgets(self, key, limits)
                .await
                .into_iter()
                .zip([("daily", &now.day_reset), ("monthly", &now.month_reset)])
                .map(|(b, (name, reset))| (b, name, reset))
            {
                let Some(limit) = state.limit else { continue };
                // Admission's condition: spent <= limit - estimate.
                if state.spent > limit - usd {
                    return Err(GatewayError::budget_exceeded(
                        format!(
                            "API key {key}: {name} budget of {limit} USD cannot fit this job (spent {} USD, the job is estimated at up to {} USD); it resets at {}",
                            state.spent.round_dp(6),
                            usd.round_dp(6),
                            reset.1
                        ),
                        reset.0,
                    ));
                }
            }
            Ok(())
        })
    }

    fn count_request<'a>(&'a self, caller: &'a Caller) -> BoxFuture<'a, Result<(), GatewayError>> {
        Box::pin(async move {
            let now = Now::read();
            let key = caller.key_id();
            let rpm = caller.limits().requests_per_minute;
            let mut u = self
                .update(key, format!("rate#{}", now.minute()))
                .update_expression("ADD #r :one SET #e = :e")
                .expression_attribute_names("#r", "requests")
                .expression_attribute_names("#e", "expires_at")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":e", n(now.secs + 180))
                .return_values(ReturnValue::AllNew);
            if let Some(limit) = rpm {
                u = u
                    .condition_expression("attribute_not_exists(#r) OR #r < :rpm")
                    .expression_attribute_values(":rpm", n(limit));
            }
            match conflict::update(u).await {
                Ok(out) => {
                    let item = out.attributes().cloned().unwrap_or_default();
                    caller.set_rate(RateSnapshot {
                        requests: get_u64(&item, "requests").unwrap_or(1),
                        tokens: get_u64(&item, "tokens").unwrap_or(0),
                        reset_seconds: now.minute_reset(),
                        known: true,
                    });
                    Ok(())
                }
                Err(e) if is_condition_failure(&e) => {
                    caller.set_rate(self.window_snapshot(key, &now).await);
                    Err(GatewayError::rate_limited(
                        format!(
                            "API key {key}: {} requests per minute reached; retry after the window resets",
                            rpm.unwrap_or(0)
                        ),
                        now.minute_reset(),
                    ))
                }
                Err(e) => Err(store_error("UpdateItem", e)),
            }
        })
    }

    fn admit<'a>(
        &'a self,
        caller: &'a Caller,
        request: &'a AdmissionRequest,
    ) -> BoxFuture<'a, Result<Reservation, GatewayError>> {
        Box::pin(async move {
            let now = Now::read();
            let key = caller.key_id();
            let limits = caller.limits();
            let mut res = Reservation {
                call: CallId::random(),
                tokens: None,
                minute: now.minute(),
                usd_day: None,
                usd_month: None,
                day: now.day.clone(),
                month: now.month.clone(),
            };
            if let Some(tpm) = limits.tokens_per_minute {
                if request.tokens > tpm {
                    return Err(GatewayError::invalid_request(format!(
                        "this call reserves {} tokens (input estimate + maxTokens), more than API key {key}'s {tpm} tokens per minute; lower maxTokens",
                        request.tokens
                    )));
                }
                let r = conflict::update(
                    self.update(key, format!("rate#{}", now.minute()))
                        .update_expression("ADD #t :n SET #e = :e")
                        .condition_expression("attribute_not_exists(#t) OR #t <= :room")
                        .expression_attribute_names("#t", "tokens")
                        .expression_attribute_names("#e", "expires_at")
                        .expression_attribute_values(":n", n(request.tokens))
                        .expression_attribute_values(":room", n(tpm - request.tokens))
                        .expression_attribute_values(":e", n(now.secs + 180))
                        .return_values(ReturnValue::AllNew),
                )
                .await;
                match r {
                    Ok(out) => {
                        let item = out.attributes().cloned().unwrap_or_default();
                        let mut snap = caller.rate();
                        snap.tokens = get_u64(&item, "tokens").unwrap_or(request.tokens);
                        snap.requests = get_u64(&item, "requests").unwrap_or(snap.requests);
                        snap.reset_seconds = now.minute_reset();
                        snap.known = true;
                        caller.set_rate(snap);
                        res.tokens = Some(request.tokens);
                    }
                    Err(e) if is_condition_failure(&e) => {
                        caller.set_rate(self.window_snapshot(key, &now).await);
                        return Err(GatewayError::rate_limited(
                            format!(
                                "API key {key}: {tpm} tokens per minute reached (this call reserves {}); retry after the window resets",
                                request.tokens
                            ),
                            now.minute_reset(),
                        ));
                    }
                    Err(e) => return Err(store_error("UpdateItem", e)),
                }
            }
            let budgets = [
                (
                    Period::Day,
                    format!("spend#d#{}", now.day),
                    limits.budget_day_usd,
                    &now.day_reset,
                ),
                (
                    Period::Month,
                    format!("spend#m#{}", now.month),
                    limits.budget_month_usd,
                    &now.month_reset,
                ),
            ];
            for (period, sk, limit, reset) in budgets {
                let Some(limit) = limit else { continue };
                let ok = match self.reserve_budget(key, sk, limit, request.usd).await {
                    Ok(ok) => ok,
                    Err(e) => {
                        self.undo(key, &res).await;
                        return Err(e);
                    }
                };
                if !ok {
                    self.undo(key, &res).await;
                    return Err(GatewayError::budget_exceeded(
                        format!(
                            "API key {key}: {} budget of {limit} USD is spent (this call is estimated at up to {} USD); it resets at {}",
                            period.adjective(),
                            request.usd.round_dp(6),
                            reset.1
                        ),
                        reset.0,
                    ));
                }
                match period {
                    Period::Day => res.usd_day = Some(request.usd),
                    Period::Month => res.usd_month = Some(request.usd),
                }
            }
            Ok(res)
        })
    }

    fn settle(
        self: Arc<Self>,
        key: KeyId,
        reservation: Option<Reservation>,
        actual: Option<Actual>,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            self.settle_call(&key, reservation.as_ref(), actual.as_ref())
                .await;
        })
    }
}

/// The two budget periods, in the order admission reserves them.
#[derive(Debug, Clone, Copy)]
enum Period {
    Day,
    Month,
}

impl Period {
    fn adjective(self) -> &'static str {
        match self {
            Period::Day => "daily",
            Period::Month => "monthly",
        }
    }
}

impl DynamoMeter {
    /// Gives back what a refused admission had already reserved (`res` holds only what was):
    /// a settlement of a call that used nothing, applied once like any other.
    async fn undo(&self, key: &KeyId, res: &Reservation) {
        self.settle_call(key, Some(res), None).await;
    }
}
