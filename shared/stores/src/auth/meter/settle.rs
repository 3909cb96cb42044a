//! Settlement as one `TransactWriteItems`: the call's marker `settle#<call id>` (written only if
//! absent) and every counter the call moves. The SDK retries a write whose response was lost
//! (a timeout, a 500 after the commit); the retry then fails the marker's condition and nothing
//! is applied twice. The client request token gives the same within DynamoDB's 10 minutes.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use rust_decimal::Decimal;

use super::{DynamoMeter, Now, conflict};
use crate::dynamo::{n, s};
use inference_core::auth::{Actual, CallId, KeyId, Reservation};

/// How long a marker is kept (TTL attribute `expires_at`): far longer than any retry of its
/// settlement (the SDK's take seconds, the conflict retries a few more).
const MARKER_SECONDS: u64 = 24 * 3600;

/// How one attempt of the transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Written now.
    Applied,
    /// The marker was already there: an earlier attempt was applied and its answer lost.
    AlreadyApplied,
    /// Cancelled without writing (a conflict with another write, throttling): try again.
    Retry,
    /// Anything else: logged, given up.
    Failed,
}

impl Outcome {
    /// The outcome of a cancelled transaction from its cancellation reasons' codes, in the
    /// order of its items (the marker first).
    fn of_cancellation(codes: &[Option<&str>]) -> Outcome {
        if codes.first().copied().flatten() == Some("ConditionalCheckFailed") {
            return Outcome::AlreadyApplied;
        }
        let retryable = |c: &Option<&str>| {
            matches!(
                c,
                Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded")
            )
        };
        if codes.iter().any(retryable) {
            Outcome::Retry
        } else {
            Outcome::Failed
        }
    }

    fn of(
        r: &Result<TransactWriteItemsOutput, SdkError<TransactWriteItemsError, HttpResponse>>,
    ) -> Outcome {
        match r {
            Ok(_) => Outcome::Applied,
            Err(e) if conflict::is_conflict(e) => Outcome::Retry,
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    let codes: Vec<Option<&str>> =
                        c.cancellation_reasons().iter().map(|r| r.code()).collect();
                    Outcome::of_cancellation(&codes)
                }
                _ => Outcome::Failed,
            },
        }
    }
}

/// What one call changes: each counter less what admission reserved on it.
struct Deltas {
    day: Decimal,
    month: Decimal,
    tokens: Option<i128>,
}

impl Deltas {
    fn of(reservation: Option<&Reservation>, actual: Option<&Actual>) -> Deltas {
        let cost = actual.map(|a| a.cost).unwrap_or_default();
        // Nothing was reserved where the key had no such budget then.
        let reserved =
            |f: fn(&Reservation) -> Option<Decimal>| reservation.and_then(f).unwrap_or_default();
        Deltas {
            day: cost - reserved(|r| r.usd_day),
            month: cost - reserved(|r| r.usd_month),
            tokens: reservation.and_then(|r| r.tokens).map(|t| {
                let used = actual.map_or(0, Actual::window_tokens);
                i128::from(used) - i128::from(t)
            }),
        }
    }
}

impl DynamoMeter {
    /// Replaces `reservation` by `actual` (releases it with `None`) and adds `actual` to the
    /// usage report, exactly once. Best effort: a failure is logged, never returned.
    pub(super) async fn settle_call(
        &self,
        key: &KeyId,
        reservation: Option<&Reservation>,
        actual: Option<&Actual>,
    ) {
        let now = Now::read();
        let (call, minute, day, month) = match reservation {
            Some(r) => (r.call.clone(), r.minute, r.day.clone(), r.month.clone()),
            None => (
                CallId::random(),
                now.minute(),
                now.day.clone(),
                now.month.clone(),
            ),
        };
        let d = Deltas::of(reservation, actual);
        let items = (|| {
            let mut items = Vec::new();
            // Spend is kept for every key (a budget set later counts today's spend).
            for (sk, delta) in [
                (format!("spend#d#{day}"), d.day),
                (format!("spend#m#{month}"), d.month),
            ] {
                if !delta.is_zero() {
                    items.push(self.counter(
                        key,
                        sk,
                        "ADD #a :d",
                        &[("#a", "spent")],
                        [(":d", n(delta))],
                    )?);
                }
            }
            if let Some(t) = d.tokens.filter(|t| *t != 0) {
                items.push(self.counter(
                    key,
                    format!("rate#{minute}"),
                    "ADD #a :d SET #e = :e",
                    &[("#a", "tokens"), ("#e", "expires_at")],
                    [(":d", n(t)), (":e", n(minute * 60 + 180))],
                )?);
            }
            if let Some(a) = actual {
                items.push(self.counter(
                    key,
                    format!("usage#{day}#{}", a.model),
                    "ADD #r :one, #i :i, #o :o, #c :c, #usd :usd",
                    &[
                        ("#r", "requests"),
                        ("#i", "input_tokens"),
                        ("#o", "output_tokens"),
                        ("#c", "cache_tokens"),
                        ("#usd", "cost"),
                    ],
                    [
                        (":one", n(1)),
                        (":i", n(a.input_tokens)),
                        (":o", n(a.output_tokens)),
                        (":c", n(a.cache_tokens)),
                        (":usd", n(a.cost)),
                    ],
                )?);
            }
            if !items.is_empty() {
                items.insert(0, self.marker(key, &call, now.secs + MARKER_SECONDS)?);
            }
            Ok::<_, BuildError>(items)
        })();
        match items {
            Ok(items) if items.is_empty() => {}
            Ok(items) => self.transact(key, &call, items).await,
            Err(e) => tracing::warn!(key_id = %key, error = %e, "settlement not built"),
        }
    }

    /// Runs the settlement, again (same marker) while DynamoDB cancels it for a conflict.
    async fn transact(&self, key: &KeyId, call: &CallId, items: Vec<TransactWriteItem>) {
        for attempt in 0..conflict::ATTEMPTS {
            let r = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                // One token per attempt (at most 36 characters): the SDK's retries of this
                // attempt share it; an attempt after a cancellation is a new request.
                .client_request_token(format!("{call}-{attempt}"))
                .send()
                .await;
            match Outcome::of(&r) {
                Outcome::Applied => return,
                Outcome::AlreadyApplied => {
                    tracing::debug!(key_id = %key, call = %call, "settlement was already applied (a retried write)");
                    return;
                }
                Outcome::Retry if attempt + 1 < conflict::ATTEMPTS => {
                    conflict::pause(attempt).await;
                }
                Outcome::Retry | Outcome::Failed => {
                    let error = r
                        .err()
                        .map(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
                        .unwrap_or_default();
                    tracing::warn!(key_id = %key, call = %call, attempts = attempt + 1, error, "settlement failed; the key's counters miss this call");
                    return;
                }
            }
        }
    }

    /// The call's marker, written only if absent, expiring after [`MARKER_SECONDS`].
    fn marker(
        &self,
        key: &KeyId,
        call: &CallId,
        expires_at: u64,
    ) -> Result<TransactWriteItem, BuildError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("key_id", s(key.as_str()))
            .item("sk", s(format!("settle#{call}")))
            .item("expires_at", n(expires_at))
            .condition_expression("attribute_not_exists(sk)")
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// An unconditional update of the counter item `sk`.
    fn counter<const V: usize>(
        &self,
        key: &KeyId,
        sk: String,
        expression: &str,
        names: &[(&str, &str)],
        values: [(&str, AttributeValue); V],
    ) -> Result<TransactWriteItem, BuildError> {
        let mut u = Update::builder()
            .table_name(&self.table)
            .key("key_id", s(key.as_str()))
            .key("sk", s(sk))
            .update_expression(expression);
        for (k, v) in names {
            u = u.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            u = u.expression_attribute_values(k, v);
        }
        Ok(TransactWriteItem::builder().update(u.build()?).build())
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn a_failed_marker_means_settled_and_a_conflict_is_tried_again() {
        let of = Outcome::of_cancellation;
        assert_eq!(
            of(&[Some("ConditionalCheckFailed"), Some("None")]),
            Outcome::AlreadyApplied
        );
        assert_eq!(
            of(&[Some("None"), Some("TransactionConflict"), Some("None")]),
            Outcome::Retry
        );
        assert_eq!(of(&[Some("None"), Some("ThrottlingError")]), Outcome::Retry);
        assert_eq!(
            of(&[Some("None"), Some("ValidationError")]),
            Outcome::Failed
        );
        assert_eq!(of(&[]), Outcome::Failed);
    }
}
