use std::sync::Arc;

use async_callback::inbox::InboxSettings;
use async_callback::jobs::JobsWorker;
use async_callback::storage::Storage;
use async_callback::{GatewayRunner, State, handle};
use gateway_jobs::JobsSettings;
use gateway_stores::Services;
use inference_core::CallContext;
use inference_core::serve::{self, keep_serving};
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use serde_json::Value;

/// The runtime, started after what must precede its threads (`serve::start`).
fn main() -> Result<(), lambda_runtime::Error> {
    serve::start(run())
}

async fn run() -> Result<(), lambda_runtime::Error> {
    // Built once per cold start (a bad setting stops init here, naming the variable). With
    // GATEWAY_AUTH=api_key a job runs as the key that submitted it (docs/auth.md).
    let services = Services::load().await?;
    let jobs = match JobsSettings::from_env(services.gateway.config())? {
        Some(settings) => Some(JobsWorker::new(&services.sdk, settings).await?),
        None => None,
    };
    let inbox = InboxSettings::from_env()?;
    let state = State {
        storage: Storage::new(&services.sdk),
        inbox,
        runner: Box::new(GatewayRunner(services.gateway)),
        jobs,
    };
    // Shared by every invocation in flight (N of them on Lambda Managed Instances).
    let state = Arc::new(state);
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let state = Arc::clone(&state);
        async move {
            let ctx = CallContext::new("async-callback")
                .with_request_id(event.context.request_id.clone())
                .with_deadline_epoch_ms(event.context.deadline);
            handle(&state, event.payload, &ctx).await
        }
    });
    keep_serving(|| serve::run(Runtime::new(handler.clone()))).await
}
