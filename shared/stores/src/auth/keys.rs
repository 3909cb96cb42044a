//! The keys table: key records by hash (cached briefly in a warm function), issue, change and
//! revoke; the key itself is never stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use base64::Engine;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::{Item, get_bool, get_dec, get_s, get_u64, store_error};
use crate::dynamo::{n, s};
use inference_core::auth::{BoxFuture, KeyDirectory, KeyId, KeyRecord, Limits};
use inference_core::error::GatewayError;
use inference_core::tier::Tier;

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
    (key, KeyId::random())
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
    #[serde(default, deserialize_with = "inference_core::auth::usd::change")]
    pub budget_day_usd: Option<Option<Decimal>>,
    /// USD per month.
    #[serde(default, deserialize_with = "inference_core::auth::usd::change")]
    pub budget_month_usd: Option<Option<Decimal>>,
    /// Requests per minute.
    #[serde(default, deserialize_with = "present")]
    pub requests_per_minute: Option<Option<u64>>,
    /// Tokens per minute.
    #[serde(default, deserialize_with = "present")]
    pub tokens_per_minute: Option<Option<u64>>,
    /// Concurrent streams.
    #[serde(default, deserialize_with = "present")]
    pub max_concurrent_streams: Option<Option<u32>>,
    /// The tier a request that names none is served at.
    #[serde(default, deserialize_with = "present")]
    pub default_tier: Option<Option<Tier>>,
    /// The application inference profile the key is bound to.
    #[serde(default, deserialize_with = "present")]
    pub application_profile: Option<Option<String>>,
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
            max_concurrent_streams: get_u64(item, "max_streams")
                .and_then(|v| u32::try_from(v).ok()),
            default_tier: get_s(item, "default_tier").and_then(|t| Tier::parse(&t)),
            application_profile: get_s(item, "app_profile"),
        },
        created_at: get_s(item, "created_at").unwrap_or_default(),
        prefix: get_s(item, "prefix").unwrap_or_default(),
    })
}

/// The key record an `UpdateItem` with `ReturnValue::AllNew` wrote (`what`: for the error).
fn record_after<E, R>(
    out: Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        aws_sdk_dynamodb::error::SdkError<E, R>,
    >,
    what: &str,
) -> Result<KeyRecord, GatewayError>
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let out = out.map_err(|e| store_error("UpdateItem", e))?;
    out.attributes()
        .and_then(record_from_item)
        .ok_or_else(|| GatewayError::internal(format!("key store: {what} record unreadable")))
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
            (
                "max_streams",
                l.max_concurrent_streams.map(|d| d.to_string()),
            ),
        ] {
            if let Some(v) = v {
                item.insert(name.into(), n(v));
            }
        }
        if let Some(t) = l.default_tier {
            item.insert("default_tier".into(), s(t.as_str()));
        }
        if let Some(arn) = &l.application_profile {
            item.insert("app_profile".into(), s(arn));
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
            .await;
        record_after(out, "revoked")
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
            (
                "max_streams",
                u.max_concurrent_streams.map(|o| o.map(|d| d.to_string())),
            ),
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
        match u.default_tier {
            Some(Some(t)) => {
                sets.push("default_tier = :default_tier".into());
                values.insert(":default_tier".into(), s(t.as_str()));
            }
            Some(None) => removes.push("default_tier".to_owned()),
            None => {}
        }
        match &u.application_profile {
            Some(Some(arn)) => {
                sets.push("app_profile = :app_profile".into());
                values.insert(":app_profile".into(), s(arn));
            }
            Some(None) => removes.push("app_profile".to_owned()),
            None => {}
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
            .await;
        record_after(out, "updated")
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
