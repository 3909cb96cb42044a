//! Reading a JSON request: call context, size (413), media type (415) and JSON (400), in the
//! order a caller can act on them.

use axum::extract::Request;
use bytes::Bytes;
use inference_core::web::{self, ApiError};
use inference_core::{CallContext, GatewayError};
use serde_json::Value;

/// A POST body that passed the checks every JSON route needs.
pub struct JsonRequest {
    /// Request ID, deadline (from the Lambda context) and function name.
    pub ctx: CallContext,
    /// The body, parsed; always a JSON object.
    pub json: Value,
    /// The body as received (for routes that pass it on untouched).
    pub raw: Bytes,
}

impl JsonRequest {
    /// Reads and checks the body against `max_body_bytes`; any failure is already an error
    /// response carrying the request ID.
    pub async fn read(req: Request, max_body_bytes: usize) -> Result<JsonRequest, ApiError> {
        let ctx = web::call_context(&req, "invoke");
        let fail = |e: GatewayError| ApiError::new(e, ctx.request_id.clone());
        // A declared length over the limit is refused before the body is read.
        if let Some(len) = declared_length(&req)
            && len > max_body_bytes
        {
            return Err(fail(GatewayError::payload_too_large(len, max_body_bytes)));
        }
        let content_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("(not text)").to_owned());
        // Lambda hands over the whole body at once (its payload limit applies first), so reading
        // one byte past the limit is enough to tell "too large" without buffering more.
        let raw = axum::body::to_bytes(req.into_body(), max_body_bytes.saturating_add(1))
            .await
            .map_err(|_| {
                fail(GatewayError::payload_too_large(
                    max_body_bytes.saturating_add(1),
                    max_body_bytes,
                ))
            })?;
        let json =
            web::parse_json_body(content_type.as_deref(), &raw, max_body_bytes).map_err(&fail)?;
        Ok(JsonRequest { ctx, json, raw })
    }
}

fn declared_length(req: &Request) -> Option<usize> {
    req.headers()
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}
