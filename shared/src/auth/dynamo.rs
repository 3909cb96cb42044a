//! Keys, budgets, minute windows and usage in DynamoDB (feature `keys`; moto locally through
//! `AWS_ENDPOINT_URL_DYNAMODB`).
//!
//! - Keys table (`GATEWAY_KEYS_TABLE`, partition key `key_hash`): one item per key, addressed by
//!   the SHA-256 of the key. The key itself is never stored.
//! - Usage table (`GATEWAY_USAGE_TABLE`, partition key `key_id`, sort key `sk`, TTL attribute
//!   `expires_at`): `spend#d#YYYY-MM-DD` and `spend#m#YYYY-MM` (USD spent and reserved),
//!   `rate#<epoch minute>` (requests and tokens of one minute, expiring), and
//!   `usage#YYYY-MM-DD#<model>` (the usage report).
//!
//! Every counter moves with one atomic `UpdateItem`; admission adds its reservation under a
//! condition that there is room for it, so concurrent calls can never together pass a limit by
//! more than the error of their estimates.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use base64::Engine;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::{
    Actual, AdmissionRequest, Auth, AuthMode, AuthSettings, BoxFuture, BudgetState, Caller,
    KeyDirectory, KeyId, KeyRecord, Limits, Meter, RateSnapshot, Reservation, UsageRow,
};
use crate::dynamo::{is_condition_failure, n, s};
use crate::error::GatewayError;

type Item = HashMap<String, AttributeValue>;

/// Most key records a warm function keeps (found and not found); the cache is emptied past it.
const CACHE_CAPACITY: usize = 10_000;

/// The keys table's global secondary index on `key_id`: how async-callback finds the key a job
/// was submitted with (a job stores the key's ID, never the key or its hash).
pub const KEY_ID_INDEX: &str = "by-key-id";

/// Prefix of every key: recognisable in a secret scanner's rules and in a config file.
pub const KEY_PREFIX: &str = "gwk_";

/// The SHA-256 of a key, hex: how the keys table addresses it.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Equal byte strings, in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A new key (`gwk_` + 43 base64url characters: 244 random bits from the OS generator, via two
/// v4 UUIDs) and its ID (`key_` + 16 hex digits, random and unrelated to the key).
pub fn generate_key() -> (String, KeyId) {
    let mut secret = Vec::with_capacity(32);
    secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    let key = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&secret)
    );
    let id = KeyId(format!(
        "key_{}",
        hex::encode(&uuid::Uuid::new_v4().as_bytes()[..8])
    ));
    (key, id)
}

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

/// The keys table, with a short-lived cache of records so a warm function does not read the
/// table on every request (`GATEWAY_KEY_CACHE_SECONDS`: also how long a revocation takes).
#[derive(Debug)]
pub struct KeyStore {
    client: Client,
    table: String,
    ttl: Duration,
    cache: Mutex<HashMap<String, CachedRecord>>,
}

/// A record (or its absence) as read at an instant, keyed by the key's hash.
type CachedRecord = (Instant, Option<Arc<KeyRecord>>);

/// A change to a key's limits: `Some(None)` removes a limit, `None` leaves it. As JSON (the
/// `limits` object of `PATCH /v1/admin/keys/{key_id}`): a field set to `null` removes that
/// limit, an absent field leaves it; `models` is a sibling of `limits` in that body.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsUpdate {
    /// USD per day.
    #[serde(default, deserialize_with = "super::usd::change")]
    pub budget_day_usd: Option<Option<Decimal>>,
    /// USD per month.
    #[serde(default, deserialize_with = "super::usd::change")]
    pub budget_month_usd: Option<Option<Decimal>>,
    /// Requests per minute.
    #[serde(default, deserialize_with = "present")]
    pub requests_per_minute: Option<Option<u64>>,
    /// Tokens per minute.
    #[serde(default, deserialize_with = "present")]
    pub tokens_per_minute: Option<Option<u64>>,
    /// Allowed model patterns (empty: all the deployment allows).
    #[serde(skip)]
    pub models: Option<Vec<String>>,
}

/// A present field: `null` is `Some(None)` (absent is `None` through `#[serde(default)]`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

fn record_from_item(item: &Item) -> Option<KeyRecord> {
    let id = KeyId::parse(&get_s(item, "key_id")?).ok()?;
    let models = item
        .get("models")
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default();
    Some(KeyRecord {
        id,
        owner: get_s(item, "owner").unwrap_or_default(),
        models,
        admin: get_bool(item, "admin"),
        revoked: get_bool(item, "revoked"),
        limits: Limits {
            budget_day_usd: get_dec(item, "budget_day_usd"),
            budget_month_usd: get_dec(item, "budget_month_usd"),
            requests_per_minute: get_u64(item, "rpm"),
            tokens_per_minute: get_u64(item, "tpm"),
        },
        created_at: get_s(item, "created_at").unwrap_or_default(),
        prefix: get_s(item, "prefix").unwrap_or_default(),
    })
}

impl KeyStore {
    /// The keys table `table`, trusting a read record for `ttl`.
    pub fn new(client: Client, table: impl Into<String>, ttl: Duration) -> KeyStore {
        KeyStore {
            client,
            table: table.into(),
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Issues a key: stores its hash and record, returns the key (shown once) and the record.
    pub async fn issue(
        &self,
        owner: &str,
        models: Vec<String>,
        admin: bool,
        limits: Limits,
    ) -> Result<(String, KeyRecord), GatewayError> {
        let (key, id) = generate_key();
        let created_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let record = KeyRecord {
            id,
            owner: owner.to_owned(),
            models,
            admin,
            revoked: false,
            limits,
            created_at,
            prefix: key.chars().take(KEY_PREFIX.len() + 4).collect(),
        };
        let mut item: Item = HashMap::from([
            ("key_hash".into(), s(hash_key(&key))),
            ("key_id".into(), s(record.id.as_str())),
            ("owner".into(), s(&record.owner)),
            (
                "models".into(),
                AttributeValue::L(record.models.iter().map(s).collect()),
            ),
            ("admin".into(), AttributeValue::Bool(admin)),
            ("revoked".into(), AttributeValue::Bool(false)),
            ("created_at".into(), s(&record.created_at)),
            ("prefix".into(), s(&record.prefix)),
        ]);
        let l = &record.limits;
        for (name, v) in [
            ("budget_day_usd", l.budget_day_usd.map(|d| d.to_string())),
            (
                "budget_month_usd",
                l.budget_month_usd.map(|d| d.to_string()),
            ),
            ("rpm", l.requests_per_minute.map(|d| d.to_string())),
            ("tpm", l.tokens_per_minute.map(|d| d.to_string())),
        ] {
            if let Some(v) = v {
                item.insert(name.into(), n(v));
            }
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(key_hash)")
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok((key, record))
    }

    /// Every key (records only), ordered by creation.
    pub async fn list(&self) -> Result<Vec<KeyRecord>, GatewayError> {
        let mut out = Vec::new();
        for (_, item) in self.scan_items().await? {
            if let Some(r) = record_from_item(&item) {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn scan_items(&self) -> Result<Vec<(String, Item)>, GatewayError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error("Scan", e))?;
            for item in page.items() {
                if let Some(h) = get_s(item, "key_hash") {
                    out.push((h, item.clone()));
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// The hash and item of key `id` (404 when there is none). A consistent scan: rare
    /// administration, which must see a key it has just issued.
    async fn find(&self, id: &KeyId) -> Result<(String, Item), GatewayError> {
        self.scan_items()
            .await?
            .into_iter()
            .find(|(_, item)| get_s(item, "key_id").as_deref() == Some(id.as_str()))
            .ok_or_else(|| GatewayError::not_found(format!("no key {id}")))
    }

    async fn hash_of(&self, id: &KeyId) -> Result<String, GatewayError> {
        self.find(id).await.map(|(h, _)| h)
    }

    /// Key `id`'s record (404 when there is none).
    pub async fn get(&self, id: &KeyId) -> Result<KeyRecord, GatewayError> {
        let (_, item) = self.find(id).await?;
        record_from_item(&item)
            .ok_or_else(|| GatewayError::internal("key store: stored record unreadable"))
    }

    /// Revokes key `id` (again: no change, the first revocation time stays): refused by every
    /// function once their cached record expires. Returns the record.
    pub async fn revoke(&self, id: &KeyId) -> Result<KeyRecord, GatewayError> {
        let hash = self.hash_of(id).await?;
        let at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("key_hash", s(hash))
            .update_expression("SET revoked = :t, revoked_at = if_not_exists(revoked_at, :at)")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":at", s(at))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| store_error("UpdateItem", e))?;
        out.attributes()
            .and_then(record_from_item)
            .ok_or_else(|| GatewayError::internal("key store: revoked record unreadable"))
    }

    /// Changes key `id`'s limits or models; returns the new record.
    pub async fn update(&self, id: &KeyId, u: &LimitsUpdate) -> Result<KeyRecord, GatewayError> {
        let hash = self.hash_of(id).await?;
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut values: Item = HashMap::new();
        for (name, v) in [
            (
                "budget_day_usd",
                u.budget_day_usd.map(|o| o.map(|d| d.to_string())),
            ),
            (
                "budget_month_usd",
                u.budget_month_usd.map(|o| o.map(|d| d.to_string())),
            ),
            (
                "rpm",
                u.requests_per_minute.map(|o| o.map(|d| d.to_string())),
            ),
            ("tpm", u.tokens_per_minute.map(|o| o.map(|d| d.to_string()))),
        ] {
            match v {
                Some(Some(v)) => {
                    sets.push(format!("{name} = :{name}"));
                    values.insert(format!(":{name}"), n(v));
                }
                Some(None) => removes.push(name.to_owned()),
                None => {}
            }
        }
        if let Some(models) = &u.models {
            sets.push("models = :models".into());
            values.insert(
                ":models".into(),
                AttributeValue::L(models.iter().map(s).collect()),
            );
        }
        if sets.is_empty() && removes.is_empty() {
            return Err(GatewayError::invalid_request("nothing to change"));
        }
        let mut expr = String::new();
        if !sets.is_empty() {
            expr.push_str(&format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            expr.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("key_hash", s(hash))
            .update_expression(expr.trim())
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| store_error("UpdateItem", e))?;
        out.attributes()
            .and_then(record_from_item)
            .ok_or_else(|| GatewayError::internal("key store: updated record unreadable"))
    }

    async fn read(&self, hash: &str) -> Result<Option<Arc<KeyRecord>>, GatewayError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("key_hash", s(hash))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(out.item().and_then(|item| {
            // The item was addressed by this hash; comparing the stored one again, in constant
            // time, guards against a table that answers for another key.
            let stored = get_s(item, "key_hash")?;
            constant_time_eq(stored.as_bytes(), hash.as_bytes())
                .then(|| record_from_item(item).map(Arc::new))
                .flatten()
        }))
    }
}

impl KeyStore {
    /// The record of key `id`, through the `by-key-id` index (eventually consistent: a change
    /// is seen within about a second, like the cache's few seconds).
    async fn read_by_id(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, GatewayError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(KEY_ID_INDEX)
            .key_condition_expression("key_id = :id")
            .expression_attribute_values(":id", s(id.as_str()))
            .send()
            .await
            .map_err(|e| store_error("Query (by-key-id)", e))?;
        Ok(out
            .items()
            .iter()
            .filter_map(record_from_item)
            .find(|r| &r.id == id)
            .map(Arc::new))
    }
}

impl KeyStore {
    /// A lookup (found or not) made less than the cache period ago.
    fn cached(&self, slot: &str) -> Option<Option<Arc<KeyRecord>>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(slot)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, r)| r.clone())
    }

    /// Keeps a lookup's answer for the cache period (bounded: full means start over).
    fn remember(&self, slot: String, record: &Option<Arc<KeyRecord>>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(slot, (Instant::now(), record.clone()));
    }
}

impl KeyDirectory for KeyStore {
    fn lookup_id<'a>(
        &'a self,
        id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<Arc<KeyRecord>>, GatewayError>> {
        Box::pin(async move {
            // Cached beside the records read by hash (`id:` cannot collide with a hex hash).
            let slot = format!("id:{id}");
            if let Some(r) = self.cached(&slot) {
                return Ok(r);
            }
            let record = self.read_by_id(id).await?;
            self.remember(slot, &record);
            Ok(record)
        })
    }

    fn lookup<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<KeyRecord>>, GatewayError>> {
        Box::pin(async move {
            let hash = hash_key(key);
            if let Some(r) = self.cached(&hash) {
                return Ok(r);
            }
            let record = self.read(&hash).await?;
            self.remember(hash, &record);
            Ok(record)
        })
    }
}

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
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(store_error("UpdateItem", e)),
        }
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
                usd: None,
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
                    "daily",
                    format!("spend#d#{}", now.day),
                    limits.budget_day_usd,
                    &now.day_reset,
                ),
                (
                    "monthly",
                    format!("spend#m#{}", now.month),
                    limits.budget_month_usd,
                    &now.month_reset,
                ),
            ];
            let mut reserved: Vec<String> = Vec::new();
            for (name, sk, limit, reset) in budgets {
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
                            "API key {key}: {name} budget of {limit} USD is spent (this call is estimated at up to {} USD); it resets at {}",
                            request.usd.round_dp(6),
                            reset.1
                        ),
                        reset.0,
                    ));
                }
                reserved.push(sk);
            }
            if !reserved.is_empty() {
                res.usd = Some(request.usd);
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
            let reserved_usd = reservation.as_ref().and_then(|r| r.usd).unwrap_or_default();
            let usd_delta = cost - reserved_usd;
            let tokens_delta = reservation.as_ref().and_then(|r| r.tokens).map(|t| {
                let used = actual.as_ref().map_or(0, Actual::window_tokens);
                i128::from(used) - i128::from(t)
            });
            let spend = async {
                // Spend is kept for every key (a budget set later counts today's spend).
                if !usd_delta.is_zero() {
                    let d = usd_delta.to_string();
                    tokio::join!(
                        self.add(&key, format!("spend#d#{day}"), "spent", &d, None),
                        self.add(&key, format!("spend#m#{month}"), "spent", &d, None),
                    );
                }
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

impl Auth {
    /// The deployment's authentication from `GATEWAY_AUTH` and its tables (one call in each
    /// HTTP function's `main`), with the SDK's standard configuration.
    pub async fn from_env() -> Result<Auth, GatewayError> {
        let settings = AuthSettings::from_env()?;
        if settings.mode == AuthMode::None {
            return Ok(Auth::none());
        }
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Ok(Auth::from_settings(&sdk, &settings))
    }

    /// The deployment's authentication from `GATEWAY_AUTH` and its tables, with the cold start's
    /// SDK configuration (`services::Services::load`).
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Result<Auth, GatewayError> {
        Ok(Auth::from_settings(sdk, &AuthSettings::from_env()?))
    }

    /// From settings and an SDK configuration (tests point it at moto).
    pub fn from_settings(sdk: &aws_config::SdkConfig, settings: &AuthSettings) -> Auth {
        match (&settings.mode, &settings.keys_table, &settings.usage_table) {
            (AuthMode::ApiKey, Some(keys), Some(usage)) => {
                let client = Client::new(sdk);
                Auth::api_keys(
                    Arc::new(KeyStore::new(client.clone(), keys, settings.cache_ttl)),
                    Arc::new(DynamoMeter::new(client, usage)),
                )
            }
            _ => Auth::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
