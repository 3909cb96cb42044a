//! Key administration: what `gateway-admin` and the admin function's
//! `/v1/admin/*` routes do, in one place, so both check and store keys the same way.
//!
//! Runs with credentials that may write the keys table (an operator's, or the admin function's
//! own role on AWS); the gateway's other functions only read it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{DynamoMeter, KeyStore, LimitsUpdate};
use inference_core::auth::report::{UsageQuery, build, day_range};
use inference_core::auth::{AuthSettings, KeyId, KeyRecord, Limits, Meter};
use inference_core::error::GatewayError;
use inference_core::policy::ModelPattern;

/// Longest owner text: a team or application name, not a document.
const MAX_OWNER_CHARS: usize = 200;
/// Most model patterns per key.
const MAX_MODELS: usize = 100;

/// A key to issue (the body of `POST /v1/admin/keys`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Team or application the key belongs to.
    pub owner: String,
    /// Model patterns the key may call; empty: every model the deployment allows.
    #[serde(default)]
    pub models: Vec<String>,
    /// May read every key's usage through `GET /v1/usage`.
    #[serde(default)]
    pub admin: bool,
    /// Limits (absent: unlimited).
    #[serde(default)]
    pub limits: Limits,
}

/// The body of `PATCH /v1/admin/keys/{key_id}`: `limits` fields set to `null` are removed,
/// absent ones kept; `models` replaces the list (`[]`: every model the deployment allows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyChange {
    /// Limit changes.
    #[serde(default)]
    pub limits: Option<LimitsUpdate>,
    /// New model patterns.
    #[serde(default)]
    pub models: Option<Vec<String>>,
}

impl From<KeyChange> for LimitsUpdate {
    fn from(c: KeyChange) -> LimitsUpdate {
        let mut u = c.limits.unwrap_or_default();
        u.models = c.models;
        u
    }
}

/// A freshly issued key: the only time the key itself is shown.
#[derive(Clone, Serialize)]
pub struct IssuedKey {
    /// The key (`gwk_...`): store it now, it is not kept anywhere.
    pub key: String,
    /// Its public ID.
    pub key_id: KeyId,
    /// Its record.
    pub record: KeyRecord,
}

impl fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("IssuedKey")
            .field("key_id", &self.key_id)
            .finish()
    }
}

fn check_models(models: &[String]) -> Result<(), GatewayError> {
    if models.len() > MAX_MODELS {
        return Err(GatewayError::invalid_request(format!(
            "models: at most {MAX_MODELS} patterns"
        )));
    }
    for m in models {
        ModelPattern::parse(m)
            .map_err(|e| GatewayError::invalid_request(format!("models: {e}")))?;
    }
    Ok(())
}

impl NewKey {
    /// Refuses an empty or oversized owner, bad model patterns and non-positive limits.
    pub fn check(&self) -> Result<(), GatewayError> {
        let owner = self.owner.trim();
        if owner.is_empty() {
            return Err(GatewayError::invalid_request("owner: must not be empty"));
        }
        if owner.chars().count() > MAX_OWNER_CHARS || owner.chars().any(char::is_control) {
            return Err(GatewayError::invalid_request(format!(
                "owner: at most {MAX_OWNER_CHARS} characters, no control characters"
            )));
        }
        check_models(&self.models)?;
        self.limits.check()
    }
}

impl LimitsUpdate {
    /// Refuses an empty change, bad model patterns and non-positive limits.
    pub fn check(&self) -> Result<(), GatewayError> {
        let set = Limits {
            budget_day_usd: self.budget_day_usd.flatten(),
            budget_month_usd: self.budget_month_usd.flatten(),
            requests_per_minute: self.requests_per_minute.flatten(),
            tokens_per_minute: self.tokens_per_minute.flatten(),
            max_concurrent_streams: self.max_concurrent_streams.flatten(),
            default_tier: self.default_tier.flatten(),
            application_profile: self.application_profile.clone().flatten(),
        };
        set.check()?;
        if let Some(models) = &self.models {
            check_models(models)?;
        }
        if *self == LimitsUpdate::default() {
            return Err(GatewayError::invalid_request(
                "nothing to change: give limits or models",
            ));
        }
        Ok(())
    }
}

/// The keys table (written) and the usage table (read), for administration.
#[derive(Debug)]
pub struct KeyAdmin {
    store: KeyStore,
    meter: Option<Arc<DynamoMeter>>,
}

impl KeyAdmin {
    /// Over `keys_table` and, for usage reports, `usage_table`.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        keys_table: &str,
        usage_table: Option<&str>,
    ) -> KeyAdmin {
        KeyAdmin {
            // No cache: administration always reads what is stored.
            store: KeyStore::new(client.clone(), keys_table, Duration::ZERO),
            meter: usage_table.map(|t| Arc::new(DynamoMeter::new(client, t))),
        }
    }

    /// The admin function's: both tables from `GATEWAY_KEYS_TABLE` and `GATEWAY_USAGE_TABLE`
    /// (required whatever `GATEWAY_AUTH` says: administering keys is all it does), with the
    /// cold start's SDK configuration (`services`).
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Result<KeyAdmin, GatewayError> {
        let settings = AuthSettings::from_env()?;
        let need = |name: &str, v: Option<String>| {
            v.ok_or_else(|| {
                GatewayError::internal(format!(
                    "configuration: {name}: required by the admin function"
                ))
            })
        };
        let keys = need("GATEWAY_KEYS_TABLE", settings.keys_table)?;
        let usage = need("GATEWAY_USAGE_TABLE", settings.usage_table)?;
        Ok(KeyAdmin::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &keys,
            Some(&usage),
        ))
    }

    /// Issues a key after checking the request.
    pub async fn issue(&self, new: &NewKey) -> Result<IssuedKey, GatewayError> {
        new.check()?;
        let (key, record) = self
            .store
            .issue(
                new.owner.trim(),
                new.models.clone(),
                new.admin,
                new.limits.clone(),
            )
            .await?;
        Ok(IssuedKey {
            key,
            key_id: record.id.clone(),
            record,
        })
    }

    /// Every key's record (never a key or a hash), oldest first.
    pub async fn list(&self) -> Result<Vec<KeyRecord>, GatewayError> {
        self.store.list().await
    }

    /// One key's record (404 when there is none).
    pub async fn get(&self, id: &KeyId) -> Result<KeyRecord, GatewayError> {
        self.store.get(id).await
    }

    /// Revokes a key; revoking it again changes nothing.
    pub async fn revoke(&self, id: &KeyId) -> Result<KeyRecord, GatewayError> {
        self.store.revoke(id).await
    }

    /// Changes a key's limits or models after checking the change.
    pub async fn update(
        &self,
        id: &KeyId,
        change: &LimitsUpdate,
    ) -> Result<KeyRecord, GatewayError> {
        change.check()?;
        self.store.update(id, change).await
    }

    /// The usage report as an admin key sees it through `GET /v1/usage`: every key, or the
    /// one `key_id` names (then with its budgets now).
    pub async fn usage(
        &self,
        query: &UsageQuery,
        request_id: Option<&str>,
    ) -> Result<Value, GatewayError> {
        let meter = self.meter.as_ref().ok_or_else(|| {
            GatewayError::invalid_request(
                "usage needs the usage table (GATEWAY_USAGE_TABLE or --usage-table)",
            )
        })?;
        let range = day_range(query)?;
        let key = query.key_id.as_deref().map(KeyId::parse).transpose()?;
        let record = match &key {
            Some(id) => Some(self.store.get(id).await?),
            None => None,
        };
        let meter: &dyn Meter = meter.as_ref();
        build(
            meter,
            key,
            range,
            record.as_ref().map(|r| &r.limits),
            request_id,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_are_checked() {
        let ok: NewKey = serde_json::from_str(
            r#"{"owner":"team","models":["haiku","amazon.nova-*"],"limits":{"budget_day_usd":"2.5","budget_month_usd":30,"requests_per_minute":60}}"#,
        )
        .unwrap();
        ok.check().unwrap();
        assert_eq!(ok.limits.budget_day_usd, Some("2.5".parse().unwrap()));
        assert_eq!(ok.limits.budget_month_usd, Some(30.into()));
        for bad in [
            r#"{"owner":"  "}"#,
            r#"{"owner":"t","limits":{"requests_per_minute":0}}"#,
            r#"{"owner":"t","limits":{"budget_day_usd":"-1"}}"#,
            r#"{"owner":"t","models":["a b c"]}"#,
        ] {
            let k: NewKey = serde_json::from_str(bad).unwrap();
            assert_eq!(k.check().unwrap_err().status(), 400, "{bad}");
        }
        for bad in [
            r#"{"owner":"t","budget":1}"#,
            r#"{"owner":"t","limits":{"rpm":1}}"#,
            r#"{"owner":"t","limits":{"budget_day_usd":"lots"}}"#,
            r#"{"models":[]}"#,
        ] {
            assert!(serde_json::from_str::<NewKey>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn changes_distinguish_null_from_absent() {
        let c: KeyChange = serde_json::from_str(
            r#"{"limits":{"budget_day_usd":"5","requests_per_minute":null},"models":[]}"#,
        )
        .unwrap();
        let u = LimitsUpdate::from(c);
        assert_eq!(u.budget_day_usd, Some(Some(5.into())));
        assert_eq!(u.requests_per_minute, Some(None));
        assert_eq!(u.tokens_per_minute, None);
        assert_eq!(u.models, Some(vec![]));
        u.check().unwrap();
        let empty = LimitsUpdate::from(serde_json::from_str::<KeyChange>("{}").unwrap());
        assert_eq!(empty.check().unwrap_err().status(), 400);
        let zero: KeyChange =
            serde_json::from_str(r#"{"limits":{"tokens_per_minute":0}}"#).unwrap();
        assert_eq!(LimitsUpdate::from(zero).check().unwrap_err().status(), 400);
    }

    #[test]
    fn an_issued_key_is_not_debug_printed() {
        let issued = IssuedKey {
            key: "gwk_secret".into(),
            key_id: KeyId::parse("key_0123456789abcdef").unwrap(),
            record: KeyRecord {
                id: KeyId::parse("key_0123456789abcdef").unwrap(),
                owner: "t".into(),
                models: vec![],
                admin: false,
                revoked: false,
                limits: Limits::default(),
                created_at: String::new(),
                prefix: "gwk_secr".into(),
            },
        };
        assert!(!format!("{issued:?}").contains("gwk_secret"));
    }
}
