//! The usage table: budgets (USD per UTC day and month), minute windows and the usage report,
//! each counter moved by one atomic `UpdateItem`.

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use rust_decimal::Decimal;

use super::{Now, get_dec, get_s, get_u64, store_error};
use crate::auth::{
    Actual, AdmissionRequest, BoxFuture, BudgetState, Caller, KeyId, Limits, Meter, RateSnapshot,
    Reservation, UsageRow,
};
use crate::dynamo::{is_condition_failure, n, s};
use crate::error::GatewayError;

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

    /// Adds `delta` to a numeric attribute, unconditionally (settlement, compensation).
    async fn add(&self, key: &KeyId, sk: String, attr: &str, delta: &str, expires_at: Option<u64>) {
        let mut u = self
            .update(key, sk)
            .update_expression(match expires_at {
                Some(_) => "ADD #a :d SET #e = :e",
                None => "ADD #a :d",
            })
            .expression_attribute_names("#a", attr)
            .expression_attribute_values(":d", AttributeValue::N(delta.to_owned()));
        if let Some(e) = expires_at {
            u = u
                .expression_attribute_names("#e", "expires_at")
                .expression_attribute_values(":e", n(e));
        }
        if let Err(e) = u.send().await {
            tracing::warn!(key_id = %key, attr, error = %aws_sdk_dynamodb::error::DisplayErrorContext(e), "usage counter update failed");
        }
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
        let r = self
            .update(key, sk)
            .update_expression("ADD #s :u")
            .condition_expression("attribute_not_exists(#s) OR #s <= :room")
            .expression_attribute_names("#s", "spent")
            .expression_attribute_values(":u", n(usd))
            .expression_attribute_values(":room", n(room))
            .send()
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
            match u.send().await {
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
                let r = self
                    .update(key, format!("rate#{}", now.minute()))
                    .update_expression("ADD #t :n SET #e = :e")
                    .condition_expression("attribute_not_exists(#t) OR #t <= :room")
                    .expression_attribute_names("#t", "tokens")
                    .expression_attribute_names("#e", "expires_at")
                    .expression_attribute_values(":n", n(request.tokens))
                    .expression_attribute_values(":room", n(tpm - request.tokens))
                    .expression_attribute_values(":e", n(now.secs + 180))
                    .return_values(ReturnValue::AllNew)
                    .send()
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
            let mut reserved: Vec<String> = Vec::new();
            for (period, sk, limit, reset) in budgets {
                let Some(limit) = limit else { continue };
                let ok = match self
                    .reserve_budget(key, sk.clone(), limit, request.usd)
                    .await
                {
                    Ok(ok) => ok,
                    Err(e) => {
                        self.undo(key, &res, &reserved, request.usd).await;
                        return Err(e);
                    }
                };
                if !ok {
                    self.undo(key, &res, &reserved, request.usd).await;
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
                reserved.push(sk);
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
            let now = Now::read();
            let (minute, day, month) = match &reservation {
                Some(r) => (r.minute, r.day.clone(), r.month.clone()),
                None => (now.minute(), now.day.clone(), now.month.clone()),
            };
            let cost = actual.as_ref().map(|a| a.cost).unwrap_or_default();
            // Each counter gets the cost less what admission reserved on it (nothing where the
            // key had no such budget then).
            let day_delta = cost
                - reservation
                    .as_ref()
                    .and_then(|r| r.usd_day)
                    .unwrap_or_default();
            let month_delta = cost
                - reservation
                    .as_ref()
                    .and_then(|r| r.usd_month)
                    .unwrap_or_default();
            let tokens_delta = reservation.as_ref().and_then(|r| r.tokens).map(|t| {
                let used = actual.as_ref().map_or(0, Actual::window_tokens);
                i128::from(used) - i128::from(t)
            });
            let spend = async {
                // Spend is kept for every key (a budget set later counts today's spend).
                let add = |sk: String, delta: Decimal| {
                    let this = &self;
                    let key = &key;
                    async move {
                        if !delta.is_zero() {
                            this.add(key, sk, "spent", &delta.to_string(), None).await;
                        }
                    }
                };
                tokio::join!(
                    add(format!("spend#d#{day}"), day_delta),
                    add(format!("spend#m#{month}"), month_delta),
                );
            };
            let window = async {
                if let Some(d) = tokens_delta.filter(|d| *d != 0) {
                    self.add(
                        &key,
                        format!("rate#{minute}"),
                        "tokens",
                        &d.to_string(),
                        Some(minute * 60 + 180),
                    )
                    .await;
                }
            };
            let report = async {
                let Some(a) = &actual else { return };
                let r = self
                    .update(&key, format!("usage#{day}#{}", a.model))
                    .update_expression("ADD #r :one, #i :i, #o :o, #c :c, #usd :usd")
                    .expression_attribute_names("#r", "requests")
                    .expression_attribute_names("#i", "input_tokens")
                    .expression_attribute_names("#o", "output_tokens")
                    .expression_attribute_names("#c", "cache_tokens")
                    .expression_attribute_names("#usd", "cost")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":i", n(a.input_tokens))
                    .expression_attribute_values(":o", n(a.output_tokens))
                    .expression_attribute_values(":c", n(a.cache_tokens))
                    .expression_attribute_values(":usd", n(a.cost))
                    .send()
                    .await;
                if let Err(e) = r {
                    tracing::warn!(key_id = %key, error = %aws_sdk_dynamodb::error::DisplayErrorContext(e), "usage report update failed");
                }
            };
            tokio::join!(spend, window, report);
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
    /// Gives back what a refused admission had already reserved.
    async fn undo(&self, key: &KeyId, res: &Reservation, budgets: &[String], usd: Decimal) {
        if let Some(t) = res.tokens {
            let d = format!("-{t}");
            self.add(key, format!("rate#{}", res.minute), "tokens", &d, None)
                .await;
        }
        for sk in budgets {
            self.add(key, sk.clone(), "spent", &(-usd).to_string(), None)
                .await;
        }
    }
}
