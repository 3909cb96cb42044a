//! Conformance of the control plane: the real `aws-sdk-bedrock` against the spawned binary,
//! for foundation models, system and application inference profiles, tags, the runtime call
//! through an application profile ARN, and every error as its typed variant.

mod common;

use aws_sdk_bedrock::error::ProvideErrorMetadata;
use aws_sdk_bedrock::types::{
    InferenceProfileModelSource, InferenceProfileType, InferenceType, ModelModality, Tag,
};
use aws_sdk_bedrockruntime::types::{ContentBlock, ConversationRole, Message};
use common::{Local, SONNET, sigv4_header};

const SONNET_ID: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const SONNET_PROFILE_ARN: &str = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const NOVA_LITE_ARN: &str = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0";

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

fn user(text: &str) -> Message {
    Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text(text.into()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn foundation_models_list_filter_and_get() {
    let local = Local::start(&[]);
    let c = local.control_client();
    let all = c.list_foundation_models().send().await.unwrap();
    let models = all.model_summaries();
    assert!(models.len() >= 30, "{}", models.len());
    let sonnet = models.iter().find(|m| m.model_id() == SONNET_ID).unwrap();
    assert_eq!(sonnet.provider_name(), Some("Anthropic"));
    assert_eq!(sonnet.model_name(), Some("Claude Sonnet 4.5"));
    assert_eq!(
        sonnet.model_arn(),
        format!("arn:aws:bedrock:us-east-1::foundation-model/{SONNET_ID}")
    );
    assert_eq!(sonnet.response_streaming_supported(), Some(true));
    assert!(sonnet.input_modalities().contains(&ModelModality::Image));
    assert_eq!(sonnet.output_modalities(), [ModelModality::Text]);
    // Claude 4.5 is served through profiles only, as the runtime refuses its bare ID.
    assert_eq!(
        sonnet
            .inference_types_supported()
            .iter()
            .map(InferenceType::as_str)
            .collect::<Vec<_>>(),
        ["INFERENCE_PROFILE"]
    );

    let anthropic = c
        .list_foundation_models()
        .by_provider("anthropic")
        .send()
        .await
        .unwrap();
    assert!(!anthropic.model_summaries().is_empty());
    assert!(
        anthropic
            .model_summaries()
            .iter()
            .all(|m| m.provider_name() == Some("Anthropic"))
    );
    let embed = c
        .list_foundation_models()
        .by_output_modality(ModelModality::Embedding)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = embed
        .model_summaries()
        .iter()
        .map(|m| m.model_id())
        .collect();
    assert_eq!(
        ids,
        ["amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"]
    );
    let on_demand = c
        .list_foundation_models()
        .by_inference_type(InferenceType::OnDemand)
        .send()
        .await
        .unwrap();
    assert!(on_demand.model_summaries().iter().all(|m| {
        m.inference_types_supported()
            .contains(&InferenceType::OnDemand)
    }));
    assert!(on_demand.model_summaries().len() < models.len());

    for id in [SONNET_ID.to_string(), NOVA_LITE_ARN.to_string()] {
        let got = c
            .get_foundation_model()
            .model_identifier(&id)
            .send()
            .await
            .unwrap();
        assert!(id.ends_with(got.model_details().unwrap().model_id()));
    }
    let err = c
        .get_foundation_model()
        .model_identifier("amazon.nope-v1:0")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some("The provided model identifier is invalid.")
    );
}

#[tokio::test]
async fn system_profiles_are_the_ones_the_runtime_accepts() {
    let local = Local::start(&[]);
    let c = local.control_client();
    let profiles: Vec<_> = c
        .list_inference_profiles()
        .type_equals(InferenceProfileType::SystemDefined)
        .max_results(7)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert!(profiles.len() > 7, "paging gathered {}", profiles.len());
    let ids: Vec<&str> = profiles.iter().map(|p| p.inference_profile_id()).collect();
    assert!(ids.contains(&SONNET), "{ids:?}");
    assert!(ids.contains(&"global.anthropic.claude-haiku-4-5-20251001-v1:0"));
    // Nova Pro has no global profile, on either side.
    assert!(!ids.contains(&"global.amazon.nova-pro-v1:0"));
    let rt = local.client();
    for id in ids.iter().step_by(9) {
        rt.converse()
            .model_id(*id)
            .messages(user("hi"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{id}: {e:?}"));
    }
    for id in [SONNET, SONNET_PROFILE_ARN] {
        let p = c
            .get_inference_profile()
            .inference_profile_identifier(id)
            .send()
            .await
            .unwrap();
        assert_eq!(p.inference_profile_arn(), SONNET_PROFILE_ARN);
        assert_eq!(p.r#type(), &InferenceProfileType::SystemDefined);
        assert!(
            p.models()
                .iter()
                .all(|m| m.model_arn().unwrap().ends_with(SONNET_ID))
        );
    }
}

#[tokio::test]
async fn application_profile_lifecycle() {
    let local = Local::start(&[]);
    let c = local.control_client();
    let created = c
        .create_inference_profile()
        .inference_profile_name("team-a chat")
        .description("Team A chat")
        .model_source(InferenceProfileModelSource::CopyFrom(
            SONNET_PROFILE_ARN.into(),
        ))
        .tags(tag("team", "a"))
        .send()
        .await
        .unwrap();
    let arn = created.inference_profile_arn().to_string();
    let id = arn
        .strip_prefix("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/")
        .unwrap();
    assert_eq!(id.len(), 12);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );

    let got = c
        .get_inference_profile()
        .inference_profile_identifier(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.inference_profile_name(), "team-a chat");
    assert_eq!(got.r#type(), &InferenceProfileType::Application);
    assert_eq!(got.models().len(), 3);
    assert!(got.created_at().is_some());

    let apps = c
        .list_inference_profiles()
        .type_equals(InferenceProfileType::Application)
        .send()
        .await
        .unwrap();
    assert_eq!(apps.inference_profile_summaries().len(), 1);
    assert_eq!(
        apps.inference_profile_summaries()[0].inference_profile_arn(),
        arn
    );

    // The runtime takes the ARN as the modelId and answers as the profile's model.
    let rt = local.client();
    let out = rt
        .converse()
        .model_id(&arn)
        .messages(user("hello through a profile"))
        .send()
        .await
        .unwrap();
    assert!(out.usage().unwrap().output_tokens() > 0);
    let direct = rt
        .converse()
        .model_id(SONNET)
        .messages(user("hello through a profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        format!("{:?}", out.output()),
        format!("{:?}", direct.output())
    );

    c.tag_resource()
        .resource_arn(&arn)
        .tags(tag("env", "dev"))
        .tags(tag("team", "b"))
        .send()
        .await
        .unwrap();
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("team", "b")]);

    c.delete_inference_profile()
        .inference_profile_identifier(&arn)
        .send()
        .await
        .unwrap();
    let err = c
        .get_inference_profile()
        .inference_profile_identifier(&arn)
        .send()
        .await
        .unwrap_err();
    let raw_status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw_status, Some(404));
    assert!(err.into_service_error().is_resource_not_found_exception());
    let err = rt
        .converse()
        .model_id(&arn)
        .messages(user("hi"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let stats = local.stats();
    assert_eq!(stats["requests"]["CreateInferenceProfile"], 1);
    assert_eq!(stats["requests"]["DeleteInferenceProfile"], 1);
}

#[tokio::test]
async fn conflicts_validation_and_missing_resources() {
    let local = Local::start(&[]);
    let c = local.control_client();
    let create = |name: &str, source: &str| {
        c.create_inference_profile()
            .inference_profile_name(name)
            .model_source(InferenceProfileModelSource::CopyFrom(source.into()))
    };
    let first = create("dup", NOVA_LITE_ARN).send().await.unwrap();
    // Another profile of the same name (the SDK filled the first one's token).
    let again = create("dup", NOVA_LITE_ARN)
        .client_request_token("fixed-token-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("ConflictException"));
    let err = again.into_service_error();
    assert!(err.is_conflict_exception(), "{err:?}");
    // The same clientRequestToken and request again is the same profile.
    let a = create("idem", NOVA_LITE_ARN)
        .client_request_token("fixed-token-2")
        .send()
        .await
        .unwrap();
    let b = create("idem", NOVA_LITE_ARN)
        .client_request_token("fixed-token-2")
        .send()
        .await
        .unwrap();
    assert_eq!(a.inference_profile_arn(), b.inference_profile_arn());
    assert_ne!(a.inference_profile_arn(), first.inference_profile_arn());

    for (name, source, needle) in [
        ("bad!name", NOVA_LITE_ARN, "regular expression pattern"),
        (&"x".repeat(65), NOVA_LITE_ARN, "less than or equal to 64"),
        ("ok", "amazon.nova-lite-v1:0", "modelSource.copyFrom"),
    ] {
        let err = create(name, source)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_validation_exception(), "{name}: {err:?}");
        assert!(err.message().unwrap().contains(needle), "{err:?}");
    }
    let err = create(
        "ghost",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nope-v1:0",
    )
    .send()
    .await
    .unwrap_err()
    .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    let err = c
        .list_inference_profiles()
        .max_results(0)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");
    let err = c
        .delete_inference_profile()
        .inference_profile_identifier(SONNET)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");
    let ghost = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzzzzzzzzzzz";
    let err = c
        .list_tags_for_resource()
        .resource_arn(ghost)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let many: Vec<Tag> = (0..201).map(|i| tag(&format!("k{i}"), "v")).collect();
    let err = c
        .tag_resource()
        .resource_arn(first.inference_profile_arn())
        .set_tags(Some(many))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");

    // The wire: header and JSON message, as on the runtime side; a missing member by name.
    let r = local.raw(
        "POST",
        "/inference-profiles",
        &[
            ("Authorization", &sigv4_header()),
            ("Content-Type", "application/json"),
        ],
        br#"{"modelSource": {"copyFrom": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"}}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["x-amzn-errortype"], "ValidationException");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("'inferenceProfileName'")
    );
    // The control plane sits behind the same auth check as the runtime.
    assert_eq!(local.raw("GET", "/foundation-models", &[], b"").status, 403);
}

#[tokio::test]
async fn armed_faults_reach_control_operations_only_by_name() {
    let local = Local::start(&[]);
    let c = local.control_client();
    local.control(
        "POST",
        "/_local/faults",
        r#"{"fault": "unavailable", "count": 1}"#,
    );
    c.list_foundation_models().send().await.unwrap();
    local.control("DELETE", "/_local/faults", "");
    local.control(
        "POST",
        "/_local/faults",
        r#"{"fault": "unavailable", "count": 1, "operation": "ListFoundationModels"}"#,
    );
    let err = c.list_foundation_models().send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    c.list_foundation_models().send().await.unwrap();
}
