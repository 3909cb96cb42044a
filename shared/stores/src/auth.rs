//! Keys, budgets, minute windows and usage in DynamoDB: `inference_core::auth`'s
//! [`KeyDirectory`](inference_core::auth::KeyDirectory), [`Meter`](inference_core::auth::Meter)
//! and [`StreamLeases`](inference_core::auth::StreamLeases) (moto locally through
//! `AWS_ENDPOINT_URL_DYNAMODB`).
//!
//! - Keys table (`GATEWAY_KEYS_TABLE`, partition key `key_hash`): one item per key, addressed by
//!   the SHA-256 of the key. The key itself is never stored.
//! - Usage table (`GATEWAY_USAGE_TABLE`, partition key `key_id`, sort key `sk`, TTL attribute
//!   `expires_at`): `spend#d#YYYY-MM-DD` and `spend#m#YYYY-MM` (USD spent and reserved),
//!   `rate#<epoch minute>` (requests and tokens of one minute, expiring),
//!   `usage#YYYY-MM-DD#<model>` (the usage report), `settle#<call id>` (a settled call's
//!   marker, expiring) and `streams` (the key's open streams' leases).
//!
//! Admission moves each counter with one atomic `UpdateItem` under a condition that there is
//! room for it, so concurrent calls can never together pass a limit by more than the error of
//! their estimates; settlement moves them all in one transaction applied once (`meter::settle`).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;

use inference_core::auth::{Auth, AuthMode, AuthSettings};
use inference_core::error::GatewayError;

mod keys;
mod meter;
mod streams;

pub use keys::*;
pub use meter::*;
pub use streams::DynamoLeases;

type Item = HashMap<String, AttributeValue>;

fn get_s(item: &Item, k: &str) -> Option<String> {
    crate::dynamo::get_s(item, k).map(str::to_owned)
}

/// A DynamoDB number as a decimal (moto writes small ones in scientific notation).
fn get_dec(item: &Item, k: &str) -> Option<Decimal> {
    let raw = item.get(k).and_then(|v| v.as_n().ok())?;
    Decimal::from_str(raw)
        .or_else(|_| Decimal::from_scientific(raw))
        .ok()
}

fn get_u64(item: &Item, k: &str) -> Option<u64> {
    get_dec(item, k).and_then(|d| u64::try_from(d.trunc()).ok())
}

fn get_bool(item: &Item, k: &str) -> bool {
    item.get(k)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

fn store_error<E, R>(what: &str, e: SdkError<E, R>) -> GatewayError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    crate::dynamo::store_error("key store", what, e)
}

/// UTC clock readings admission and settlement key their counters by.
#[derive(Debug, Clone)]
struct Now {
    secs: u64,
    day: String,
    month: String,
    /// Seconds until the next UTC midnight, and that instant (RFC 3339).
    day_reset: (u64, String),
    /// Seconds until the first of next month, and that instant.
    month_reset: (u64, String),
}

impl Now {
    fn read() -> Now {
        let t = time::OffsetDateTime::now_utc();
        let secs = u64::try_from(t.unix_timestamp()).unwrap_or(0);
        let date = t.date();
        let day = format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        let month = format!("{:04}-{:02}", date.year(), u8::from(date.month()));
        let rfc = |d: time::Date| {
            d.midnight()
                .assume_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let until = |d: time::Date| {
            let at = d.midnight().assume_utc().unix_timestamp();
            u64::try_from(at).unwrap_or(0).saturating_sub(secs).max(1)
        };
        let tomorrow = date.next_day().unwrap_or(date);
        let next_month = {
            let (y, m) = (date.year(), date.month());
            let y = if m == time::Month::December { y + 1 } else { y };
            time::Date::from_calendar_date(y, m.next(), 1).unwrap_or(tomorrow)
        };
        Now {
            secs,
            day,
            month,
            day_reset: (until(tomorrow), rfc(tomorrow)),
            month_reset: (until(next_month), rfc(next_month)),
        }
    }

    fn minute(&self) -> u64 {
        self.secs / 60
    }

    fn minute_reset(&self) -> u64 {
        60 - self.secs % 60
    }
}

/// The deployment's authentication from `GATEWAY_AUTH` and its tables, with the cold start's
/// SDK configuration (`services::Services::load`).
pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Result<Auth, GatewayError> {
    Ok(from_settings(sdk, &AuthSettings::from_env()?))
}

/// From settings and an SDK configuration (tests point it at moto).
pub fn from_settings(sdk: &aws_config::SdkConfig, settings: &AuthSettings) -> Auth {
    match (&settings.mode, &settings.keys_table, &settings.usage_table) {
        (AuthMode::ApiKey, Some(keys), Some(usage)) => {
            let client = Client::new(sdk);
            Auth::api_keys(
                Arc::new(KeyStore::new(client.clone(), keys, settings.cache_ttl)),
                Arc::new(DynamoMeter::new(client.clone(), usage)),
            )
            .with_key_headers(settings.key_headers)
            .with_stream_leases(
                Arc::new(DynamoLeases::new(client, usage)),
                settings.default_max_streams,
            )
        }
        _ => Auth::none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inference_core::auth::KeyId;

    #[test]
    fn keys_are_long_random_and_hashed() {
        let (a, id_a) = generate_key();
        let (b, id_b) = generate_key();
        assert_ne!(a, b);
        assert_ne!(id_a, id_b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 43);
        assert!(KeyId::parse(id_a.as_str()).is_ok());
        assert_eq!(hash_key(&a).len(), 64);
        assert_ne!(hash_key(&a), hash_key(&b));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn clock_readings_name_the_period_and_its_reset() {
        let now = Now::read();
        assert_eq!(now.day.len(), 10);
        assert!(now.day.starts_with(&now.month));
        assert!(now.day_reset.0 >= 1 && now.day_reset.0 <= 86_400);
        assert!(now.month_reset.0 >= now.day_reset.0);
        assert!(now.day_reset.1.ends_with('Z'));
        assert!((1..=60).contains(&now.minute_reset()));
    }
}
