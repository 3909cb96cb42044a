//! Every catalog model resolves, in three regions, to an ID that `bedrock-local` accepts through
//! the real SDK: Converse for chat models, InvokeModel for embedding models. Also checks that the
//! emulator refuses the bare ID of a model that needs a profile, so the test can fail.
//!
//! Needs the `bedrock-local` binary: `<workspace>/target/debug/bedrock-local`
//! (`cargo build -p bedrock-local`), or the path in `BEDROCK_LOCAL_BIN`. Fails, never skips,
//! when it is missing.

use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message,
};
use gateway_model::catalog::{Catalog, Mode};
use gateway_model::config::ProfilePreference;
use gateway_model::ids::{Geography, InvocationTarget};
use gateway_model::resolve::resolve_in;

use gateway_tests::Emulator;

fn start() -> Emulator {
    Emulator::start(&[])
}

fn client(url: &str, region: &str) -> aws_sdk_bedrockruntime::Client {
    let conf = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(url)
        .http_client(gateway_model::sdk_http::https_client())
        .credentials_provider(Credentials::new(
            "AKIDLOCAL",
            "local-secret",
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_bedrockruntime::Client::from_conf(conf)
}

fn hello() -> Message {
    Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text("Say hi.".into()))
        .build()
        .expect("message")
}

async fn converse_ok(c: &aws_sdk_bedrockruntime::Client, id: &str) -> Result<(), String> {
    c.converse()
        .model_id(id)
        .messages(hello())
        .inference_config(InferenceConfiguration::builder().max_tokens(16).build())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{}", aws_sdk_bedrockruntime::error::DisplayErrorContext(e)))
}

async fn embed_ok(
    c: &aws_sdk_bedrockruntime::Client,
    id: &str,
    provider: &str,
) -> Result<(), String> {
    let body = if provider == "cohere" {
        serde_json::json!({"texts": ["hello"], "input_type": "search_document"})
    } else {
        serde_json::json!({"inputText": "hello"})
    };
    c.invoke_model()
        .model_id(id)
        .content_type("application/json")
        .accept("application/json")
        .body(Blob::new(serde_json::to_vec(&body).expect("json")))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{}", aws_sdk_bedrockruntime::error::DisplayErrorContext(e)))
}

/// StartAsyncInvoke (the only way Bedrock runs a video model); bedrock-local validates the model
/// and the input at start, before anything is written.
async fn video_ok(c: &aws_sdk_bedrockruntime::Client, id: &str) -> Result<(), String> {
    use aws_sdk_bedrockruntime::types::{
        AsyncInvokeOutputDataConfig, AsyncInvokeS3OutputDataConfig,
    };
    let input = serde_json::json!({
        "taskType": "TEXT_VIDEO",
        "textToVideoParams": {"text": "a calm sea"},
        "videoGenerationConfig": {"durationSeconds": 6, "fps": 24, "dimension": "1280x720"}
    });
    let output = AsyncInvokeS3OutputDataConfig::builder()
        .s3_uri("s3://resolve-test/out")
        .build()
        .map_err(|e| e.to_string())?;
    c.start_async_invoke()
        .model_id(id)
        .model_input(gateway_model::convert::json_to_document(&input))
        .output_data_config(AsyncInvokeOutputDataConfig::S3OutputDataConfig(output))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{}", aws_sdk_bedrockruntime::error::DisplayErrorContext(e)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_model_resolves_to_an_id_the_emulator_accepts() {
    let emulator = start();
    let catalog = Catalog::embedded().expect("catalog");
    let mut failures = Vec::new();
    let mut checked = 0;
    // Regions in which each model was called successfully (the issue asks for at least three).
    let mut regions_ok: std::collections::HashMap<String, std::collections::HashSet<&str>> =
        Default::default();

    for region in [
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "eu-west-1",
        "ap-northeast-1",
    ] {
        let c = client(&emulator.url, region);
        let parsed = region.parse().expect("region");
        for pref in [ProfilePreference::Regional, ProfilePreference::Global] {
            for model in catalog.models() {
                let resolved = match resolve_in(&catalog, &parsed, pref, model.id.as_str()) {
                    Ok(r) => r,
                    Err(e) => {
                        // Only acceptable reason: the catalog says no profile serves this region.
                        let geo = parsed.geography();
                        let explained = !model.on_demand
                            && !model.has_profile(Geography::Global)
                            && geo.is_none_or(|g| !model.has_profile(g));
                        if !explained || region == "us-east-1" {
                            failures.push(format!(
                                "{region} {pref:?} {}: resolution failed: {e}",
                                model.id
                            ));
                        }
                        continue;
                    }
                };
                let id = resolved.target.id();
                let result = match model.mode {
                    Mode::Chat => converse_ok(&c, &id).await,
                    Mode::Embedding => embed_ok(&c, &id, &model.provider).await,
                    Mode::VideoGeneration => video_ok(&c, &id).await,
                };
                checked += 1;
                match result {
                    Ok(()) => {
                        regions_ok
                            .entry(model.id.to_string())
                            .or_default()
                            .insert(region);
                    }
                    Err(e) => failures.push(format!("{region} {pref:?} {} -> {id}: {e}", model.id)),
                }
            }
        }
    }

    for model in catalog.models() {
        let n = regions_ok.get(model.id.as_str()).map_or(0, |r| r.len());
        if n < 3 {
            failures.push(format!(
                "{}: accepted in only {n} region(s), want at least 3",
                model.id
            ));
        }
    }

    // The emulator must refuse what resolution exists to avoid, or this test proves nothing.
    let c = client(&emulator.url, "us-east-1");
    let needs_profile = catalog
        .models()
        .iter()
        .find(|m| !m.on_demand && m.mode == Mode::Chat)
        .expect("a model that needs a profile");
    let bare = InvocationTarget::Model(needs_profile.id.clone()).id();
    match converse_ok(&c, &bare).await {
        Ok(()) => failures.push(format!(
            "bedrock-local accepted the bare ID {bare}, which Bedrock refuses"
        )),
        Err(e) => assert!(
            e.contains("inference profile") || e.contains("on-demand"),
            "unexpected refusal: {e}"
        ),
    }

    assert!(
        checked >= catalog.models().len() * 3,
        "only {checked} calls checked"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}
