//! AWS SDK configuration for moto, and the API-key tables as template.yaml declares them: the
//! setup every Rust test of keys (invoke's auth tests, the admin function's) shares.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use crate::Moto;

/// The keys table's name in tests (`GATEWAY_KEYS_TABLE`).
pub const KEYS_TABLE: &str = "gateway-keys";
/// The usage table's name in tests (`GATEWAY_USAGE_TABLE`).
pub const USAGE_TABLE: &str = "gateway-usage";

impl Moto {
    /// An SDK configuration pointed at this server, with moto's dummy credentials.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .http_client(crate::https_client())
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }
}

/// Creates the keys table (`key_hash`, index `by-key-id`) and the usage table (`key_id` + `sk`).
pub async fn create_key_tables(sdk: &aws_config::SdkConfig) {
    let db = aws_sdk_dynamodb::Client::new(sdk);
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("key schema element")
    };
    db.create_table()
        .table_name(KEYS_TABLE)
        .attribute_definitions(attr("key_hash"))
        .attribute_definitions(attr("key_id"))
        .key_schema(key("key_hash", KeyType::Hash))
        // `by-key-id`: async-callback reads a job's key by its ID (KEY_ID_INDEX).
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-key-id")
                .key_schema(key("key_id", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("key id index"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("keys table");
    db.create_table()
        .table_name(USAGE_TABLE)
        .attribute_definitions(attr("key_id"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("key_id", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("usage table");
}
