//! What runs a job's or an inbox line's model call ([`Runner`]), and the production one
//! ([`GatewayRunner`]): requests go through inference-core's `Gateway`, like the HTTP API's.

use std::future::Future;
use std::pin::Pin;

use gateway_jobs::async_invoke::{self, AsyncState};
use gateway_jobs::{JobId, JobRecord, charge};
use inference_core::{CallContext, Gateway, GatewayError, Reply};
use serde_json::Value;

/// A boxed future borrowing the runner.
pub type RunFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

/// A Converse answer as a job or an inbox line keeps it: the HTTP API's JSON (the stored
/// result), and the usage and cost a job records, taken from the gateway's typed [`Reply`]
/// rather than read back out of that JSON.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The answer as `POST /v1/converse` returns it.
    pub json: Value,
    /// Bedrock's `usage` shape.
    pub usage: Option<Value>,
    /// The API's `cost` shape (`null` for an unpriced model).
    pub cost: Option<Value>,
}

impl Answer {
    /// An answer with nothing to record beside its JSON (runners without a gateway: tests).
    pub fn untyped(json: Value) -> Answer {
        Answer {
            json,
            usage: None,
            cost: None,
        }
    }
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Answer {
        Answer {
            usage: Some(reply.usage.to_bedrock_json()),
            cost: Some(reply.meta.cost.to_json()),
            json: reply.into_json(),
        }
    }
}

/// Runs one Converse request (the JSON the HTTP API takes) and returns the HTTP API's answer;
/// starts and polls async invocations for job models that need them. A trait so the inbox and
/// job logic do not care which client runs it.
pub trait Runner: Send + Sync {
    fn converse<'a>(&'a self, request: Value, ctx: &'a CallContext) -> RunFuture<'a, Answer>;

    /// The gateway behind it (catalog, resolution, key metering), which the batch driver uses
    /// directly; `None` for runners that have none (tests of the job logic).
    fn gateway(&self) -> Option<&Gateway> {
        None
    }

    /// StartAsyncInvoke for a job's `{"model", "native"}` request, output under `output_s3_uri`;
    /// returns the invocation ARN.
    fn start_async<'a>(
        &'a self,
        _job_id: &'a JobId,
        _request: &'a Value,
        _output_s3_uri: &'a str,
    ) -> RunFuture<'a, String> {
        Box::pin(async {
            Err(GatewayError::internal(
                "async invocations are not supported by this runner",
            ))
        })
    }

    /// GetAsyncInvoke.
    fn poll_async<'a>(&'a self, _arn: &'a str) -> RunFuture<'a, AsyncState> {
        Box::pin(async {
            Err(GatewayError::internal(
                "async invocations are not supported by this runner",
            ))
        })
    }

    /// The cost of a completed async invocation of `request` (per-second video pricing), as
    /// the JSON recorded on the job; `None` when the model is not priced that way.
    fn async_cost(&self, _request: &Value) -> Option<Value> {
        None
    }

    /// The context a claimed job runs in: with the caller of the API key that submitted it, so
    /// its model call is admitted and charged to that key (`jobs::charge::run_context`).
    fn job_context<'a>(
        &'a self,
        _record: &'a JobRecord,
        ctx: &'a CallContext,
    ) -> RunFuture<'a, CallContext> {
        Box::pin(async move { Ok(ctx.clone()) })
    }

    /// Charges a completed async invocation's `cost` to the job's key.
    fn settle_async<'a>(
        &'a self,
        _record: &'a JobRecord,
        _cost: Option<&'a Value>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async {})
    }
}

/// The production runner: the cold start's `Gateway`.
pub struct GatewayRunner(pub Gateway);

impl Runner for GatewayRunner {
    fn converse<'a>(&'a self, request: Value, ctx: &'a CallContext) -> RunFuture<'a, Answer> {
        Box::pin(async move {
            let reply = self.0.converse_reply(request, ctx).await?;
            Ok(Answer::from(reply))
        })
    }

    fn gateway(&self) -> Option<&Gateway> {
        Some(&self.0)
    }

    fn start_async<'a>(
        &'a self,
        job_id: &'a JobId,
        request: &'a Value,
        output_s3_uri: &'a str,
    ) -> RunFuture<'a, String> {
        Box::pin(async_invoke::start(&self.0, job_id, request, output_s3_uri))
    }

    fn poll_async<'a>(&'a self, arn: &'a str) -> RunFuture<'a, AsyncState> {
        Box::pin(async_invoke::poll(&self.0, arn))
    }

    fn async_cost(&self, request: &Value) -> Option<Value> {
        async_invoke::output_cost(&self.0, request).map(|c| c.to_json())
    }

    fn job_context<'a>(
        &'a self,
        record: &'a JobRecord,
        ctx: &'a CallContext,
    ) -> RunFuture<'a, CallContext> {
        Box::pin(charge::run_context(&self.0, record, ctx))
    }

    fn settle_async<'a>(
        &'a self,
        record: &'a JobRecord,
        cost: Option<&'a Value>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(charge::settle_async(&self.0, record, cost))
    }
}
