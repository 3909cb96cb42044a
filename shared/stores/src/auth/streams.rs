//! The keys' open streams in the usage table: one item per key (`sk = "streams"`) holding a map
//! `leases` of lease ID → expiry (epoch seconds) and a `version`, moved with optimistic writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{Item, get_u64, store_error};
use crate::dynamo::{is_condition_failure, n, s};
use inference_core::auth::{BoxFuture, KeyId, LeaseId, StreamLeases};
use inference_core::clock::unix_seconds;
use inference_core::error::GatewayError;

/// The sort key of a key's lease item.
const SK: &str = "streams";

/// Attempts of one acquisition when concurrent writers keep changing the item. Six were too
/// few: under four concurrent callers of one key against a slow DynamoDB (moto in the abuse
/// suite), six writes in a row lost the race and a key far below its limit was refused. With
/// the growing pause below, twelve attempts span about a second.
const ATTEMPTS: u32 = 12;

/// The open streams of every key, in the usage table (`GATEWAY_USAGE_TABLE`).
#[derive(Debug, Clone)]
pub struct DynamoLeases {
    client: Client,
    table: String,
}

/// A key's lease item as read: its version (`None`: no item) and the leases' expiries.
struct Held {
    version: Option<u64>,
    leases: HashMap<String, u64>,
}

impl DynamoLeases {
    /// The usage table `table`.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoLeases {
        DynamoLeases {
            client,
            table: table.into(),
        }
    }

    /// Key `key`'s leases now (strongly consistent), expired ones included.
    pub async fn held(&self, key: &KeyId) -> Result<HashMap<String, u64>, GatewayError> {
        Ok(self.read(key).await?.leases)
    }

    async fn read(&self, key: &KeyId) -> Result<Held, GatewayError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("key_id", s(key.as_str()))
            .key("sk", s(SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok(Held {
                version: None,
                leases: HashMap::new(),
            });
        };
        Ok(Held {
            version: Some(get_u64(item, "version").unwrap_or(0)),
            leases: leases_of(item),
        })
    }

    /// Writes `leases` back if the item is still at `version`; `Ok(false)` when another writer
    /// came first.
    async fn write(
        &self,
        key: &KeyId,
        version: Option<u64>,
        leases: &HashMap<String, u64>,
    ) -> Result<bool, GatewayError> {
        let map = leases
            .iter()
            .map(|(id, exp)| (id.clone(), n(exp)))
            .collect::<HashMap<_, _>>();
        // The item expires (TTL) with its last lease: an idle key leaves nothing behind.
        let last = leases.values().copied().max().unwrap_or(0);
        let mut u = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("key_id", s(key.as_str()))
            .key("sk", s(SK))
            .update_expression(
                "SET leases = :m, version = if_not_exists(version, :zero) + :one, expires_at = :e",
            )
            .expression_attribute_values(":m", AttributeValue::M(map))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":e", n(last));
        u = match version {
            Some(v) => u
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
            None => u.condition_expression("attribute_not_exists(version)"),
        };
        match u.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(store_error("UpdateItem", e)),
        }
    }

    /// See [`StreamLeases::acquire`].
    pub async fn acquire(
        &self,
        key: &KeyId,
        id: &LeaseId,
        limit: u32,
        expires_at: u64,
    ) -> Result<(), GatewayError> {
        for attempt in 0..ATTEMPTS {
            let held = self.read(key).await?;
            let now = unix_seconds();
            let mut live: HashMap<String, u64> =
                held.leases.into_iter().filter(|(_, e)| *e > now).collect();
            if live.len() >= limit as usize {
                return Err(GatewayError::too_many_streams(limit));
            }
            live.insert(id.as_str().to_owned(), expires_at);
            if self.write(key, held.version, &live).await? {
                return Ok(());
            }
            // Another stream of the key was admitted or ended meanwhile: read again.
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 20);
            tokio::time::sleep(Duration::from_millis(5 + 10 * u64::from(attempt) + jitter)).await;
        }
        tracing::warn!(key_id = %key, "stream lease: the item kept changing; refused");
        Err(GatewayError::stream_admission_contended(ATTEMPTS))
    }

    /// See [`StreamLeases::release`]. Bumps the version too, so an acquisition that read the
    /// lease before it went cannot write it back.
    pub async fn release(&self, key: &KeyId, id: &LeaseId) {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("key_id", s(key.as_str()))
            .key("sk", s(SK))
            .update_expression("REMOVE leases.#id SET version = version + :one")
            .condition_expression("attribute_exists(leases.#id)")
            .expression_attribute_names("#id", id.as_str())
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        match r {
            // Refused: the lease is already gone (released, or dropped as expired).
            Ok(_) => {}
            Err(e) if is_condition_failure(&e) => {}
            Err(e) => {
                tracing::warn!(key_id = %key, error = %aws_sdk_dynamodb::error::DisplayErrorContext(e), "stream lease release failed; it expires on its own");
            }
        }
    }
}

fn leases_of(item: &Item) -> HashMap<String, u64> {
    item.get("leases")
        .and_then(|v| v.as_m().ok())
        .map(|m| {
            m.iter()
                .filter_map(|(id, v)| Some((id.clone(), v.as_n().ok()?.parse::<u64>().ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

impl StreamLeases for DynamoLeases {
    fn acquire<'a>(
        &'a self,
        key: &'a KeyId,
        id: &'a LeaseId,
        limit: u32,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), GatewayError>> {
        Box::pin(DynamoLeases::acquire(self, key, id, limit, expires_at))
    }

    fn release(self: Arc<Self>, key: KeyId, id: LeaseId) -> BoxFuture<'static, ()> {
        Box::pin(async move { DynamoLeases::release(&self, &key, &id).await })
    }
}
