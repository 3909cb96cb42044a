//! StartAsyncInvoke, GetAsyncInvoke and ListAsyncInvokes.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::{St, json_response, label, pause, query_map, read_body, respond, take_fault};
use crate::service_model::{self, Wire};
use crate::stats::Op;

pub async fn start_async(State(st): St, body: Body) -> Response {
    respond(
        async {
            pause(st.config.latency_ms).await;
            let bytes = read_body(body).await?;
            let json = service_model::json_body(Op::StartAsyncInvoke.name(), &bytes, &[])?;
            let model_id = json.get("modelId").and_then(Value::as_str).unwrap_or("");
            take_fault(&st, Op::StartAsyncInvoke, &[model_id], &bytes, model_id)?;
            let arn = st.async_jobs.start(
                &json,
                &st.config.region,
                Duration::from_millis(st.config.async_complete_ms),
            )?;
            Ok(json_response(&json!({"invocationArn": arn})))
        }
        .await,
    )
}

pub async fn get_async(State(st): St, params: RawPathParams) -> Response {
    respond(
        async {
            pause(st.config.latency_ms).await;
            let arn = label(&params, "arn")?;
            let wire = Wire {
                labels: &[("invocationArn", &arn)],
                ..Wire::default()
            };
            service_model::check(Op::GetAsyncInvoke.name(), &wire, None)?;
            take_fault(&st, Op::GetAsyncInvoke, &[], &[], "")?;
            Ok(json_response(&st.async_jobs.get(&arn)?))
        }
        .await,
    )
}

pub async fn list_async(State(st): St, RawQuery(q): RawQuery) -> Response {
    respond(
        async {
            pause(st.config.latency_ms).await;
            take_fault(&st, Op::ListAsyncInvokes, &[], &[], "")?;
            let map = query_map(q.as_deref())?;
            let pairs: Vec<(String, String)> =
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let wire = Wire {
                query: &pairs,
                ..Wire::default()
            };
            service_model::check(Op::ListAsyncInvokes.name(), &wire, None)?;
            Ok(json_response(&st.async_jobs.list(&map)?))
        }
        .await,
    )
}
