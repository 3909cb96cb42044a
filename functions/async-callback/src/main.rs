use async_callback::jobs::JobsWorker;
use async_callback::storage::Storage;
use async_callback::{GatewayRunner, State, handle, secrets};
use inference_core::CallContext;
use inference_core::jobs::JobStore;
use inference_core::jobs::results::ResultStore;
use inference_core::jobs::webhook::WebhookSender;
use inference_core::services::Services;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Built once per cold start (a bad setting stops init here, naming the variable). With
    // GATEWAY_AUTH=api_key a job runs as the key that submitted it (docs/auth.md).
    let services = Services::load().await?;
    let sdk = &services.sdk;
    let jobs = match services.jobs_settings()? {
        Some(settings) => Some(JobsWorker {
            store: JobStore::new(sdk, &settings.table),
            results: ResultStore::new(sdk, &settings.bucket),
            webhooks: WebhookSender::new(
                settings.url_policy,
                secrets::resolve(sdk, &settings.secret).await?,
            ),
            max_receive_count: settings.max_receive_count,
        }),
        None => None,
    };
    let state = State {
        storage: Storage::new(sdk),
        runner: Box::new(GatewayRunner(services.gateway)),
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
