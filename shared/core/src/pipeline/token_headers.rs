//! Bedrock's `X-Amzn-Bedrock-Input-Token-Count` / `X-Amzn-Bedrock-Output-Token-Count` response
//! headers: the only usage InvokeModel reports for families whose bodies carry none (Mistral,
//! Cohere Embed). The SDK's output type drops them, so an interceptor on the call reads them.

use std::sync::{Arc, Mutex};

use aws_sdk_bedrockruntime::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_bedrockruntime::config::{ConfigBag, Intercept, RuntimeComponents};

use crate::cost::Usage;

const INPUT: &str = "x-amzn-bedrock-input-token-count";
const OUTPUT: &str = "x-amzn-bedrock-output-token-count";

/// Holds the counts of the one call it is attached to.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenHeaders(Arc<Mutex<Option<Usage>>>);

impl TokenHeaders {
    /// The counts the response carried, if it carried an input count.
    pub(crate) fn usage(&self) -> Option<Usage> {
        self.0.lock().ok().and_then(|g| *g)
    }

    /// `body` when it has counts, else the headers' (a body without counts reads as zero).
    pub(crate) fn or_headers(&self, body: Usage) -> Usage {
        if body.input_tokens > 0 || body.output_tokens > 0 {
            return body;
        }
        self.usage().unwrap_or(body)
    }
}

impl Intercept for TokenHeaders {
    fn name(&self) -> &'static str {
        "TokenHeaders"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let headers = context.response().headers();
        let count = |name: &str| headers.get(name).and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(input) = count(INPUT)
            && let Ok(mut slot) = self.0.lock()
        {
            *slot = Some(Usage::new(input, count(OUTPUT).unwrap_or(0)));
        }
        Ok(())
    }
}
