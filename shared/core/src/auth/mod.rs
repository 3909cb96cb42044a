//! API keys, per-key budgets and rate limits (see `docs/auth.md`).
//!
//! - [`Auth`]: the deployment's choice (`GATEWAY_AUTH=none|api_key`) and, with keys, the key
//!   directory the HTTP layer (`web` feature: [`authenticate`]) looks keys up in.
//! - [`Caller`]: the authenticated key of one request. The HTTP layer puts it into the request's
//!   extensions; `web::Ctx` copies it into [`CallContext`](crate::CallContext), and every
//!   call of the pipeline is admitted against it (allowed models, tokens per minute, budgets)
//!   and settled from actual usage afterwards (`gate`).
//! - [`Meter`] / [`KeyDirectory`]: the storage behind it, as traits so the call paths do not
//!   depend on DynamoDB; the DynamoDB implementations are in `gateway-stores` (`auth`).

mod gate;
mod leases;
mod limits;
pub mod settings;
#[cfg(feature = "web")]
mod web;

pub mod report;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog::ModelEntry;
use crate::error::GatewayError;
use crate::policy::ModelPattern;

/// A job's estimate at submission is the one admission computes (`gateway-jobs`: `charge`).
pub use gate::{Body, check_allowed, input_estimate, reservation};
pub(crate) use gate::{
    admit, admit_side_call, note_output, settle, settle_side_call, settle_stashed,
    settle_stashed_later, stash_usage,
};
pub(crate) use leases::lease_stream;
pub use leases::{LeaseId, MAX_STREAMS_LIMIT, StreamLease, StreamLeases};
pub use settings::{AuthMode, AuthSettings, KeyHeaders};
#[cfg(feature = "web")]
pub use web::{authenticate, key_from_headers};

/// A boxed, sendable future (the traits below are object-safe without an async-trait crate).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A key's public identifier (`key_` + 16 hex digits): shown in listings, logs and usage
/// reports. Not a secret; the key itself is never stored or logged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// A new random ID: `key_` + 16 hex digits (64 bits from the OS generator, via a v4 UUID),
    /// unrelated to the key.
    pub fn random() -> KeyId {
        let mut high = [0u8; 8];
        high.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
        KeyId(format!("key_{:016x}", u64::from_be_bytes(high)))
    }

    /// Parses `key_` + 16 lowercase hex digits.
    pub fn parse(s: &str) -> Result<KeyId, GatewayError> {
        let s = s.trim();
        let ok = s.len() == 20
            && s.starts_with("key_")
            && s[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(GatewayError::invalid_request(format!(
                "key id {s:?}: expected key_ and 16 hex digits"
            )))
        }
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key's limits; `None` is unlimited. Also the `limits` object of the admin routes' bodies
/// (USD as decimal text or a JSON number).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// USD per UTC day.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "usd::option"
    )]
    pub budget_day_usd: Option<Decimal>,
    /// USD per UTC calendar month.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "usd::option"
    )]
    pub budget_month_usd: Option<Decimal>,
    /// Requests per minute (every authenticated request counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    /// Tokens per minute, counted as Bedrock reserves its quota: input + `maxTokens` at
    /// admission, corrected to input + output after the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
    /// Streams the key may hold open at once (`None`: the deployment's default,
    /// `GATEWAY_DEFAULT_MAX_STREAMS`), so one key cannot take every stream-url environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_streams: Option<u32>,
    /// How the key's calls are served when a request names no tier (`flex`, `priority`,
    /// `reserved`, `latency_optimized`), on the models that offer it; others run at standard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_tier: Option<crate::tier::Tier>,
    /// An application inference profile (its ARN) the key is bound to: its calls of the
    /// profile's model go to the profile, so their spend carries the profile's tags in the AWS
    /// bill (cost allocation per team), and it may call no other model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_profile: Option<String>,
}

impl Limits {
    /// Whether any per-minute limit applies (the HTTP layer then counts requests).
    pub fn has_rate_limits(&self) -> bool {
        self.requests_per_minute.is_some() || self.tokens_per_minute.is_some()
    }

    /// Whether anything must be reserved before a model call.
    pub fn meters_calls(&self) -> bool {
        self.tokens_per_minute.is_some()
            || self.budget_day_usd.is_some()
            || self.budget_month_usd.is_some()
    }
}

/// A key as stored (without the key: only its hash is stored, and not returned here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    /// Public identifier.
    pub id: KeyId,
    /// Team or application the key belongs to (free text).
    pub owner: String,
    /// Model patterns the key may call (IDs, aliases, `*` wildcards); empty: every model the
    /// deployment allows.
    pub models: Vec<String>,
    /// May read every key's usage.
    pub admin: bool,
    /// Revoked keys are refused (within the directory's cache TTL).
    pub revoked: bool,
    /// Limits.
    pub limits: Limits,
    /// When it was issued (RFC 3339).
    pub created_at: String,
    /// The key's first characters (`gwk_` + 4), to recognise it in a listing.
    pub prefix: String,
}

/// The per-minute window as last seen by this request: the `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateSnapshot {
    /// Requests counted in the current minute (this one included).
    pub requests: u64,
    /// Tokens reserved in the current minute.
    pub tokens: u64,
    /// Seconds until the window resets.
    pub reset_seconds: u64,
    /// Whether the snapshot holds counts read from the store.
    pub known: bool,
}

/// One metered call, random (UUID v4, 32 hex digits): settlement writes it once as a marker,
/// so a retried settlement (the SDK's, after a response that was lost) is applied only once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(String);

impl CallId {
    /// A fresh, random call ID.
    pub fn random() -> CallId {
        CallId(uuid::Uuid::new_v4().simple().to_string())
    }

    /// The ID as text (32 lowercase hex digits).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a call reserved at admission, to be settled after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The call settlement applies exactly once (its marker item).
    pub call: CallId,
    /// Tokens reserved in the minute window (`None`: no tokens-per-minute limit).
    pub tokens: Option<u64>,
    /// The window they were reserved in (epoch minute).
    pub minute: u64,
    /// USD reserved against the daily budget (`None`: no daily budget, nothing reserved there).
    pub usd_day: Option<Decimal>,
    /// USD reserved against the monthly budget. Kept apart from the day's: settlement takes back
    /// only what each counter was given, so a key without a monthly budget never sees its month's
    /// spend go below what it settled.
    pub usd_month: Option<Decimal>,
    /// UTC day (`YYYY-MM-DD`) and month (`YYYY-MM`) the money was reserved in.
    pub day: String,
    /// See `day`.
    pub month: String,
}

/// What a call actually used, for settlement and the usage report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actual {
    /// The catalog model ID that answered.
    pub model: String,
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cache reads and writes.
    pub cache_tokens: u64,
    /// The cost the response reported.
    pub cost: Decimal,
}

/// What admission asks the meter to reserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionRequest {
    /// Input estimate + `maxTokens`.
    pub tokens: u64,
    /// The estimated cost (input estimate and `maxTokens` priced).
    pub usd: Decimal,
}

/// One line of the usage report: a key's use of a model on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    /// The key.
    pub key_id: String,
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Catalog model ID.
    pub model: String,
    /// Settled model calls.
    pub requests: u64,
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cache read and write tokens.
    pub cache_tokens: u64,
    /// USD, as the calls reported it.
    #[serde(with = "rust_decimal::serde::str")]
    pub cost: Decimal,
}

/// A budget's state for the usage report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetState {
    /// `day` or `month`.
    pub period: &'static str,
    /// The limit (USD), if any.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_dec")]
    pub limit: Option<Decimal>,
    /// Spent and reserved in the current period (USD).
    #[serde(with = "rust_decimal::serde::str")]
    pub spent: Decimal,
    /// When the period ends (RFC 3339).
    pub resets_at: String,
}

/// USD amounts in request bodies: decimal text (`"20.5"`, as responses write them) or a JSON
/// number, read exactly from its text either way.
pub mod usd {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Str(String),
        Num(serde_json::Number),
    }

    fn parse<E: serde::de::Error>(t: Text) -> Result<Decimal, E> {
        let s = match t {
            Text::Str(s) => s,
            Text::Num(n) => n.to_string(),
        };
        s.trim()
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(s.trim()))
            .map_err(|_| E::custom(format!("expected a USD amount, got {s:?}")))
    }

    /// An optional amount (`null` or absent: none).
    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        Option::<Text>::deserialize(d)?.map(parse).transpose()
    }

    /// A present field that may be `null` (remove) or an amount (set); absent is `None` by
    /// `#[serde(default)]`. (Read by the key store's updates, `gateway-stores`.)
    pub fn change<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Decimal>>, D::Error> {
        option(d).map(Some)
    }
}

mod opt_dec {
    use rust_decimal::Decimal;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_str(&d.to_string()),
            None => s.serialize_none(),
        }
    }
}

/// Counters behind budgets, rate limits and usage (DynamoDB: `gateway_stores::auth::DynamoMeter`).
pub trait Meter: Send + Sync + fmt::Debug {
    /// Counts one request in the minute window (refused with 429 `rate_limited` over the
    /// requests-per-minute limit).
    fn count_request<'a>(&'a self, caller: &'a Caller) -> BoxFuture<'a, Result<(), GatewayError>>;

    /// Reserves tokens and money for a call; refused with 429 `rate_limited` or
    /// `budget_exceeded`. Atomic per counter: concurrent calls cannot both take the last room.
    fn admit<'a>(
        &'a self,
        caller: &'a Caller,
        request: &'a AdmissionRequest,
    ) -> BoxFuture<'a, Result<Reservation, GatewayError>>;

    /// The usage report: one key's rows (every key's with `None`) for UTC days `from..=to`.
    fn usage<'a>(
        &'a self,
        key: Option<&'a KeyId>,
        from: &'a str,
        to: &'a str,
    ) -> BoxFuture<'a, Result<Vec<UsageRow>, GatewayError>>;

    /// A key's budgets now (unreadable counters read as zero).
    fn budgets<'a>(&'a self, key: &'a KeyId, limits: &'a Limits)
    -> BoxFuture<'a, Vec<BudgetState>>;

    /// Replaces a reservation by what was used (releases it when `actual` is `None`) and adds
    /// the usage to the report. Best effort: failures are logged, never returned.
    fn settle(
        self: Arc<Self>,
        key: KeyId,
        reservation: Option<Reservation>,
        actual: Option<Actual>,
    ) -> BoxFuture<'static, ()>;

    /// Whether `usd` more fits the caller's budgets now, without reserving it (a job refused at
    /// submission rather than failed later): 429 `budget_exceeded` with the reset time when not.
    /// A meter without budgets accepts everything.
    fn check_budget<'a>(
        &'a self,
        _caller: &'a Caller,
        _usd: Decimal,
    ) -> BoxFuture<'a, Result<(), GatewayError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Where keys are looked up (DynamoDB: `gateway_stores::auth::KeyStore`).
pub trait KeyDirectory: Send + Sync + fmt::Debug {
    /// The record of the key whose secret is `key`, if any (revoked keys included: the caller
    /// refuses them). Implementations compare secrets only as hashes, in constant time.
    fn lookup<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<KeyRecord>>, GatewayError>>;

    /// The record of key `id` (a job stores its key's ID, never the key): async-callback runs
    /// the job as that key. Revoked keys included.
    fn lookup_id<'a>(
        &'a self,
        _id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<Arc<KeyRecord>>, GatewayError>> {
        Box::pin(async {
            Err(GatewayError::internal(
                "this key directory cannot look keys up by ID",
            ))
        })
    }
}

/// The deployment's authentication: none, or API keys with their directory and meter.
#[derive(Clone, Default)]
pub struct Auth {
    keys: Option<(Arc<dyn KeyDirectory>, Arc<dyn Meter>)>,
    /// Where the key is read from (`GATEWAY_KEY_HEADERS`).
    headers: KeyHeaders,
    /// The keys' open streams, and the limit of a key that sets none.
    streams: Option<(Arc<dyn StreamLeases>, Option<u32>)>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth").field("mode", &self.mode()).finish()
    }
}

impl Auth {
    /// No authentication (`GATEWAY_AUTH=none`): every request is served, nothing is metered.
    pub fn none() -> Auth {
        Auth::default()
    }

    /// API keys from `directory`, metered by `meter`.
    pub fn api_keys(directory: Arc<dyn KeyDirectory>, meter: Arc<dyn Meter>) -> Auth {
        Auth {
            keys: Some((directory, meter)),
            headers: KeyHeaders::Both,
            streams: None,
        }
    }

    /// Limits each key's concurrent streams, held as leases in `leases`; `default` is the limit
    /// of a key that sets none (`None`: such keys are not limited).
    pub fn with_stream_leases(
        mut self,
        leases: Arc<dyn StreamLeases>,
        default: Option<u32>,
    ) -> Auth {
        self.streams = Some((leases, default));
        self
    }

    /// A caller for `record`, with the deployment's meter and stream leases.
    fn caller(&self, record: Arc<KeyRecord>, meter: &Arc<dyn Meter>) -> Arc<Caller> {
        let mut caller = Caller::new(record, Some(meter.clone()));
        if let Some((leases, default)) = &self.streams {
            caller = caller.with_stream_leases(leases.clone(), *default);
        }
        Arc::new(caller)
    }

    /// Reads the key only from `headers` (`GATEWAY_KEY_HEADERS`).
    pub fn with_key_headers(mut self, headers: KeyHeaders) -> Auth {
        self.headers = headers;
        self
    }

    /// The headers the key is read from.
    pub fn key_headers(&self) -> KeyHeaders {
        self.headers
    }

    /// The mode.
    pub fn mode(&self) -> AuthMode {
        if self.keys.is_some() {
            AuthMode::ApiKey
        } else {
            AuthMode::None
        }
    }

    /// The meter, with keys.
    pub fn meter(&self) -> Option<&Arc<dyn Meter>> {
        self.keys.as_ref().map(|(_, m)| m)
    }

    /// Authenticates a presented key: 401 `unauthorized` for a missing, unknown or revoked key.
    /// `Ok(None)` without keys (mode `none`).
    pub async fn authenticate_key(
        &self,
        presented: Option<&str>,
    ) -> Result<Option<Arc<Caller>>, GatewayError> {
        let Some((directory, meter)) = &self.keys else {
            return Ok(None);
        };
        let Some(key) = presented.filter(|k| !k.is_empty()) else {
            return Err(GatewayError::unauthorized(match self.headers {
                KeyHeaders::Both => {
                    "missing API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`"
                }
                KeyHeaders::XApiKey => {
                    "missing API key: send `x-api-key: <key>` (this deployment's `Authorization` \
                     header carries the JWT, never the key)"
                }
            }));
        };
        match directory.lookup(key).await? {
            Some(record) if !record.revoked => Ok(Some(self.caller(record, meter))),
            // One message for unknown and revoked keys: a caller learns nothing about which.
            _ => Err(GatewayError::unauthorized("invalid or revoked API key")),
        }
    }
}

impl Auth {
    /// The caller a job submitted by key `id` runs as (async-callback): 401 `unauthorized` when
    /// the key is unknown or revoked. `Ok(None)` without keys (mode `none`: nothing is metered).
    pub async fn caller_for_key_id(&self, id: &KeyId) -> Result<Option<Arc<Caller>>, GatewayError> {
        let Some((directory, meter)) = &self.keys else {
            return Ok(None);
        };
        match directory.lookup_id(id).await? {
            Some(record) if !record.revoked => Ok(Some(self.caller(record, meter))),
            Some(_) => Err(GatewayError::unauthorized(format!(
                "API key {id} was revoked after the job was submitted"
            ))),
            None => Err(GatewayError::unauthorized(format!(
                "API key {id} no longer exists"
            ))),
        }
    }
}

/// The authenticated caller of one request.
pub struct Caller {
    /// The key's record.
    pub record: Arc<KeyRecord>,
    meter: Option<Arc<dyn Meter>>,
    /// Where the key's open streams are held, and how many it may hold (its own limit, else
    /// the deployment's default; `None`: unlimited).
    streams: Option<(Arc<dyn StreamLeases>, u32)>,
    /// Allowed-model patterns, parsed once.
    patterns: Vec<ModelPattern>,
    /// Per-request state: the window snapshot and the open reservation.
    state: Mutex<CallState>,
}

#[derive(Debug, Default)]
struct CallState {
    rate: RateSnapshot,
    /// Reserved at admission, taken at settlement (one model call per request is metered).
    reservation: Option<Reservation>,
    /// Set once a call of this request has been admitted.
    admitted: bool,
    /// What a stream used, recorded when it ended, until it is settled.
    actual: Option<Actual>,
    /// The admitted call's input estimate (tokens), for a stream cut before usage was known.
    input_estimate: u64,
    /// Output tokens estimated from the stream deltas relayed so far.
    produced: u64,
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The record holds no secret; the meter is not interesting here.
        f.debug_struct("Caller")
            .field("key", &self.record.id)
            .field("owner", &self.record.owner)
            .finish()
    }
}

impl Caller {
    /// A caller for `record`, metered by `meter` (`None`: limits are not enforced, as in tests
    /// of the call paths without a store).
    pub fn new(record: Arc<KeyRecord>, meter: Option<Arc<dyn Meter>>) -> Caller {
        let patterns = record
            .models
            .iter()
            .filter_map(|m| ModelPattern::parse(m).ok())
            .collect();
        Caller {
            record,
            meter,
            streams: None,
            patterns,
            state: Mutex::new(CallState::default()),
        }
    }

    /// Limits the caller's concurrent streams through `leases`: to the key's
    /// `max_concurrent_streams`, else to `default` (`None`: not limited).
    pub fn with_stream_leases(
        mut self,
        leases: Arc<dyn StreamLeases>,
        default: Option<u32>,
    ) -> Caller {
        self.streams = self
            .record
            .limits
            .max_concurrent_streams
            .or(default)
            .map(|limit| (leases, limit));
        self
    }

    /// The key's ID.
    pub fn key_id(&self) -> &KeyId {
        &self.record.id
    }

    /// The key's limits.
    pub fn limits(&self) -> &Limits {
        &self.record.limits
    }

    /// The meter the key's calls are counted by.
    pub fn meter(&self) -> Option<&Arc<dyn Meter>> {
        self.meter.as_ref()
    }

    /// Whether the key may call `model` (its ID or any alias matches a pattern; no patterns:
    /// every model the deployment allows).
    pub fn allows(&self, model: &ModelEntry) -> bool {
        self.record.models.is_empty()
            || self
                .patterns
                .iter()
                .any(|p| p.matches(model.id.as_str()) || model.aliases.iter().any(|a| p.matches(a)))
    }

    /// The window snapshot for the response headers.
    pub fn rate(&self) -> RateSnapshot {
        self.lock().rate
    }

    /// Records the window as the store reported it.
    pub fn set_rate(&self, rate: RateSnapshot) {
        self.lock().rate = rate;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CallState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts this request against requests per minute (no-op without a meter or limits).
    pub async fn count_request(&self) -> Result<(), GatewayError> {
        match &self.meter {
            Some(m) if self.record.limits.has_rate_limits() => m.count_request(self).await,
            _ => Ok(()),
        }
    }
}

impl Drop for Caller {
    /// The safety net: a request that ends with a reservation or a stream's usage still
    /// unsettled (its future was dropped midway) settles it here, as a spawned task.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        let (reservation, actual) = (state.reservation.take(), state.actual.take());
        if (reservation.is_some() || actual.is_some())
            && let Some(meter) = self.meter.clone()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(meter.settle(self.record.id.clone(), reservation, actual));
        }
    }
}

/// Seconds as OpenAI writes its reset headers: `59s`, `6m0s`, `1h2m3s`.
pub fn reset_text(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_parse_strictly() {
        assert!(KeyId::parse("key_0123456789abcdef").is_ok());
        assert!(KeyId::parse("key_0123456789ABCDEF").is_err());
        assert!(KeyId::parse("key_0123").is_err());
        assert!(KeyId::parse("gwk_0123456789abcdef").is_err());
    }

    #[test]
    fn a_key_allows_models_by_id_or_alias_pattern() {
        let catalog = crate::Catalog::embedded().unwrap();
        let haiku = catalog.by_name("haiku").unwrap();
        let nova = catalog.by_name("nova-lite").unwrap();
        let caller = |models: &[&str]| {
            let record = KeyRecord {
                id: KeyId::parse("key_0123456789abcdef").unwrap(),
                owner: "t".into(),
                models: models.iter().map(|m| m.to_string()).collect(),
                admin: false,
                revoked: false,
                limits: Limits::default(),
                created_at: String::new(),
                prefix: String::new(),
            };
            Caller::new(Arc::new(record), None)
        };
        assert!(caller(&[]).allows(haiku));
        assert!(caller(&["haiku"]).allows(haiku));
        assert!(!caller(&["haiku"]).allows(nova));
        assert!(caller(&["amazon.nova-*"]).allows(nova));
        assert!(!caller(&["amazon.nova-*"]).allows(haiku));
    }

    #[test]
    fn reset_text_is_openai_style() {
        assert_eq!(reset_text(7), "7s");
        assert_eq!(reset_text(360), "6m0s");
        assert_eq!(reset_text(3723), "1h2m3s");
    }
}
