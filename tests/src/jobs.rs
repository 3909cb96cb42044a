//! The jobs table as template.yaml declares it (`job_id`, sparse index `by-idempotency-key`),
//! for the Rust tests of invoke's jobs API and async-callback's inbox checkpoints.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

/// The jobs table's name in tests (`GATEWAY_JOBS_TABLE`).
pub const JOBS_TABLE: &str = "gateway-jobs";

/// Creates the jobs table.
pub async fn create_jobs_table(sdk: &aws_config::SdkConfig) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let hash = |n: &str| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(KeyType::Hash)
            .build()
            .expect("key schema element")
    };
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(JOBS_TABLE)
        .attribute_definitions(attr("job_id"))
        .attribute_definitions(attr("idempotency_key"))
        .key_schema(hash("job_id"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-idempotency-key")
                .key_schema(hash("idempotency_key"))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("idempotency index"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("jobs table");
}
