//! The production [`Runner`]: requests go through inference-core's `Gateway`, like the HTTP API's.

use std::future::Future;
use std::pin::Pin;

use inference_core::client::Gateway;
use inference_core::{CallContext, GatewayError};
use serde_json::Value;

use crate::handler::Runner;

pub struct GatewayRunner(pub Gateway);

impl Runner for GatewayRunner {
    fn converse<'a>(
        &'a self,
        request: Value,
        ctx: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<Value, GatewayError>> + Send + 'a>> {
        Box::pin(self.0.converse(request, ctx))
    }
}
