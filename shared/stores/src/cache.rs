//! The response cache's shared tier in DynamoDB: `inference_core::cache`'s
//! [`SharedTier`] (moto locally via `AWS_ENDPOINT_URL_DYNAMODB`).
//!
//! One item per key: `key` (the hash), `answer` (the stored JSON), `expires_at` (epoch seconds,
//! the table's TTL attribute). TTL deletion is lazy, so expiry is also checked on read.
//! Encryption at rest is the table's setting (`SSESpecification` in `template.yaml`).

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use inference_core::cache::{
    BoxFuture, CacheKey, CacheMode, CacheSettings, ResponseCache, SharedTier,
};
use inference_core::config::Config;
use inference_core::error::GatewayError;

/// The cache table.
#[derive(Debug, Clone)]
pub struct DynamoTier {
    client: Client,
    table: String,
}

impl DynamoTier {
    /// A tier over `table` with clients from `sdk`.
    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> DynamoTier {
        DynamoTier {
            client: Client::new(sdk),
            table: table.into(),
        }
    }
}

fn failed(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> GatewayError {
    crate::dynamo::store_error("cache table", what, e)
}

impl SharedTier for DynamoTier {
    fn get<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Result<Option<String>, GatewayError>> {
        Box::pin(async move {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("key", AttributeValue::S(key.to_hex()))
                .send()
                .await
                .map_err(|e| failed("GetItem", e))?;
            Ok(out
                .item
                .and_then(|mut i| i.remove("answer"))
                .and_then(|a| a.as_s().ok().cloned()))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a CacheKey,
        json: String,
        expires_at_s: u64,
    ) -> BoxFuture<'a, Result<(), GatewayError>> {
        Box::pin(async move {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("key", AttributeValue::S(key.to_hex()))
                .item("answer", AttributeValue::S(json))
                .item("expires_at", AttributeValue::N(expires_at_s.to_string()))
                .send()
                .await
                .map_err(|e| failed("PutItem", e))?;
            Ok(())
        })
    }
}

/// The deployment's cache from its settings, with the cold start's SDK configuration: `None`
/// when `GATEWAY_CACHE` is off; the DynamoDB tier when `GATEWAY_CACHE_TABLE` is set, read in the
/// deployment's region (`Config::region`), like the Bedrock client.
pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> Option<ResponseCache> {
    let settings: CacheSettings = config.cache.clone();
    if settings.mode == CacheMode::Off {
        return None;
    }
    let table = settings.table.clone();
    let mut cache = ResponseCache::new(settings);
    if let Some(table) = table {
        let regional = sdk
            .to_builder()
            .region(aws_config::Region::new(config.region.as_str().to_owned()))
            .build();
        cache = cache.with_shared(Arc::new(DynamoTier::new(&regional, table)));
    }
    Some(cache)
}
