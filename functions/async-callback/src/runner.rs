//! The production [`Runner`]: requests go through inference-core's `Gateway`, like the HTTP API's.

use inference_core::CallContext;
use inference_core::Gateway;
use std::future::Future;
use std::pin::Pin;

use inference_core::jobs::async_invoke::{self, AsyncState};
use inference_core::jobs::{JobId, JobRecord, charge};
use serde_json::Value;

use crate::handler::{RunFuture, Runner};

pub struct GatewayRunner(pub Gateway);

impl Runner for GatewayRunner {
    fn converse<'a>(&'a self, request: Value, ctx: &'a CallContext) -> RunFuture<'a, Value> {
        Box::pin(self.0.converse(request, ctx))
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
