use async_callback::jobs::JobsWorker;
use async_callback::{GatewayRunner, State, handle, secrets, storage::Storage};
use aws_config::BehaviorVersion;
use inference_core::Gateway;
use inference_core::jobs::results::ResultStore;
use inference_core::jobs::webhook::WebhookSender;
use inference_core::jobs::{JobStore, JobsSettings};
use inference_core::{CallContext, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Built once per cold start: configuration (a bad value stops init with its name), the
    // Bedrock client behind the gateway, and the S3 client for the results bucket.
    // With GATEWAY_AUTH=api_key a job runs as the key that submitted it (docs/auth.md).
    let gateway = Gateway::from_env()
        .await?
        .with_auth(inference_core::auth::Auth::from_env().await?);
    telemetry::init(gateway.config());
    let sdk_config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let jobs = match JobsSettings::from_env(gateway.config())? {
        Some(settings) => Some(JobsWorker {
            store: JobStore::new(&sdk_config, &settings.table),
            results: ResultStore::new(&sdk_config, &settings.bucket),
            webhooks: WebhookSender::new(
                settings.url_policy,
                secrets::resolve(&sdk_config, &settings.secret).await?,
            ),
            max_receive_count: settings.max_receive_count,
        }),
        None => None,
    };
    let state = State {
        runner: Box::new(GatewayRunner(gateway)),
        storage: Storage::new(&sdk_config),
        jobs,
    };
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let ctx = CallContext::new("async-callback")
            .with_request_id(event.context.request_id.clone())
            .with_deadline_epoch_ms(event.context.deadline);
        handle(state, event.payload, &ctx).await
    }))
    .await
}
