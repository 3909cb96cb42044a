//! The recorded events every function's handler tests use must stay valid event JSON of their
//! kind, as the AWS-maintained `aws_lambda_events` types read them.

use gateway_tests::fixture;

#[test]
fn http_fixtures_are_api_gateway_v2_events() {
    for name in [
        "apigw-v2-get-models.json",
        "apigw-v2-post-converse.json",
        "apigw-v2-post-count.json",
        "function-url-post-converse.json",
    ] {
        let event = fixture(name);
        assert_eq!(event["version"], "2.0", "{name}");
        let parsed: Result<aws_lambda_events::apigw::ApiGatewayV2httpRequest, _> =
            serde_json::from_value(event);
        assert!(parsed.is_ok(), "{name}: {:?}", parsed.err());
    }
}

#[test]
fn sqs_and_s3_fixtures_parse() {
    let sqs: aws_lambda_events::sqs::SqsEvent =
        serde_json::from_value(fixture("sqs-s3-notifications.json")).expect("SQS event");
    assert_eq!(sqs.records.len(), 3);
    let s3: aws_lambda_events::s3::S3Event =
        serde_json::from_value(fixture("s3-object-created-inbox.json")).expect("S3 event");
    assert_eq!(
        s3.records[0].s3.object.key.as_deref(),
        Some("inbox/batch-2026-11-26.jsonl")
    );
}
