//! From `aws-sdk-bedrockruntime` errors to [`GatewayError`]: every modelled error of every
//! operation we call, stream errors, and SDK failures (dispatch, timeout, unreadable response).
//!
//! Each SDK error enum is first reduced to an [`UpstreamFault`] (its Bedrock error name, parsed
//! once into [`UpstreamErrorCode`], and message); then [`from_sdk_error`] applies the gateway's
//! table in one place:
//!
//! | Bedrock error | status | type |
//! |---|---|---|
//! | ValidationException | 400 | `invalid_request` (on-demand-throughput refusals get a hint) |
//! | ValidationException "model identifier is invalid" | 404 | `model_not_found` |
//! | ConflictException | 400 | `invalid_request` |
//! | ResourceNotFoundException | 404 | `model_not_found` (model operations) / `not_found` |
//! | ThrottlingException | 429 | `throttled` + Retry-After |
//! | ServiceQuotaExceededException | 429 | `quota_exceeded` + Retry-After |
//! | AccessDeniedException, auth failures | 502 | `upstream_access_denied` |
//! | ModelErrorException, ModelStreamErrorException | 502 | `model_error` |
//! | InternalServerException, unreadable response, other | 502 | `upstream_error` (retryable) |
//! | ModelNotReadyException | 503 | `model_not_ready` + Retry-After |
//! | ServiceUnavailableException, connection failure | 503 | `service_unavailable` + Retry-After |
//! | ModelTimeoutException, SDK timeouts | 504 | `timeout` |
//!
//! InternalServerException is a 502, not a 503: it says Bedrock failed on this request, not that
//! it is out of capacity, and the SDK has already retried it; it is still marked retryable.

use aws_sdk_bedrockruntime::config::http::HttpResponse;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::{
    apply_guardrail::ApplyGuardrailError, converse::ConverseError,
    converse_stream::ConverseStreamError, count_tokens::CountTokensError,
    get_async_invoke::GetAsyncInvokeError, invoke_model::InvokeModelError,
    invoke_model_with_response_stream::InvokeModelWithResponseStreamError,
    start_async_invoke::StartAsyncInvokeError,
};
use aws_sdk_bedrockruntime::types::error::{ConverseStreamOutputError, ResponseStreamError};
use aws_smithy_types::event_stream::RawMessage;

use super::{ErrorKind, GatewayError, Upstream};

/// Bedrock Runtime's error names, parsed once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UpstreamErrorCode {
    /// AccessDeniedException.
    AccessDenied,
    /// ConflictException.
    Conflict,
    /// InternalServerException.
    InternalServer,
    /// ModelErrorException.
    ModelError,
    /// ModelNotReadyException.
    ModelNotReady,
    /// ModelStreamErrorException.
    ModelStreamError,
    /// ModelTimeoutException.
    ModelTimeout,
    /// ResourceNotFoundException.
    ResourceNotFound,
    /// ServiceQuotaExceededException.
    ServiceQuotaExceeded,
    /// ServiceUnavailableException.
    ServiceUnavailable,
    /// ThrottlingException.
    Throttling,
    /// ValidationException.
    Validation,
    /// Anything else (`UnrecognizedClientException`, ...), or no code at all (empty string).
    Other(String),
}

impl UpstreamErrorCode {
    /// Parses an error name as found in `x-amzn-ErrorType` or a body's `__type`: keeps the part
    /// before the first `:` and after the last `#`.
    pub fn parse(code: &str) -> UpstreamErrorCode {
        let code = code.split(':').next().unwrap_or_default();
        let code = code.rsplit('#').next().unwrap_or_default().trim();
        match code {
            "AccessDeniedException" => Self::AccessDenied,
            "ConflictException" => Self::Conflict,
            "InternalServerException" => Self::InternalServer,
            "ModelErrorException" => Self::ModelError,
            "ModelNotReadyException" => Self::ModelNotReady,
            "ModelStreamErrorException" => Self::ModelStreamError,
            "ModelTimeoutException" => Self::ModelTimeout,
            "ResourceNotFoundException" => Self::ResourceNotFound,
            "ServiceQuotaExceededException" => Self::ServiceQuotaExceeded,
            "ServiceUnavailableException" => Self::ServiceUnavailable,
            "ThrottlingException" => Self::Throttling,
            "ValidationException" => Self::Validation,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Bedrock's spelling.
    pub fn name(&self) -> &str {
        match self {
            Self::AccessDenied => "AccessDeniedException",
            Self::Conflict => "ConflictException",
            Self::InternalServer => "InternalServerException",
            Self::ModelError => "ModelErrorException",
            Self::ModelNotReady => "ModelNotReadyException",
            Self::ModelStreamError => "ModelStreamErrorException",
            Self::ModelTimeout => "ModelTimeoutException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::ServiceQuotaExceeded => "ServiceQuotaExceededException",
            Self::ServiceUnavailable => "ServiceUnavailableException",
            Self::Throttling => "ThrottlingException",
            Self::Validation => "ValidationException",
            Self::Other(s) if s.is_empty() => "UnknownError",
            Self::Other(s) => s,
        }
    }
}

/// What a Bedrock error says, independent of the operation that returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFault {
    /// The error's name.
    pub code: UpstreamErrorCode,
    /// Bedrock's message.
    pub message: Option<String>,
    /// For model errors: the model's own HTTP status.
    pub original_status_code: Option<i32>,
    /// For model stream errors: the model's own message.
    pub original_message: Option<String>,
}

/// What kind of resource an operation addresses, so "not found" can say which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Converse, InvokeModel, CountTokens and their streams.
    Model,
    /// ApplyGuardrail.
    Guardrail,
    /// Async invocations.
    AsyncInvoke,
}

/// An SDK error enum of an operation (or event stream) we call.
pub trait BedrockServiceError {
    /// The resource the operation addresses.
    const RESOURCE: Resource;
    /// The error reduced to its name and message.
    fn fault(&self) -> UpstreamFault;
}

fn fault(code: UpstreamErrorCode, message: Option<&str>) -> UpstreamFault {
    UpstreamFault {
        code,
        message: message.map(str::to_owned),
        original_status_code: None,
        original_message: None,
    }
}

/// Implements [`BedrockServiceError`] for one SDK error enum by listing its variants; anything
/// not listed (the `Unhandled` variant, future variants) is read from its error metadata.
macro_rules! bedrock_error {
    ($ty:ident, $resource:expr, { $($variant:ident => $code:ident),* $(,)? }
     $(, model_error: $me:ident)? $(, stream_error: $se:ident)?) => {
        impl BedrockServiceError for $ty {
            const RESOURCE: Resource = $resource;
            fn fault(&self) -> UpstreamFault {
                match self {
                    $(Self::$variant(e) => fault(UpstreamErrorCode::$code, e.message()),)*
                    $(Self::$me(e) => UpstreamFault {
                        original_status_code: e.original_status_code(),
                        ..fault(UpstreamErrorCode::ModelError, e.message())
                    },)?
                    $(Self::$se(e) => UpstreamFault {
                        original_status_code: e.original_status_code(),
                        original_message: e.original_message().map(str::to_owned),
                        ..fault(UpstreamErrorCode::ModelStreamError, e.message())
                    },)?
                    other => fault(
                        UpstreamErrorCode::parse(other.code().unwrap_or_default()),
                        other.message(),
                    ),
                }
            }
        }
    };
}

bedrock_error!(ConverseError, Resource::Model, {
    AccessDeniedException => AccessDenied,
    InternalServerException => InternalServer,
    ModelNotReadyException => ModelNotReady,
    ModelTimeoutException => ModelTimeout,
    ResourceNotFoundException => ResourceNotFound,
    ServiceUnavailableException => ServiceUnavailable,
    ThrottlingException => Throttling,
    ValidationException => Validation,
}, model_error: ModelErrorException);

bedrock_error!(ConverseStreamError, Resource::Model, {
    AccessDeniedException => AccessDenied,
    InternalServerException => InternalServer,
    ModelNotReadyException => ModelNotReady,
    ModelTimeoutException => ModelTimeout,
    ResourceNotFoundException => ResourceNotFound,
    ServiceUnavailableException => ServiceUnavailable,
    ThrottlingException => Throttling,
    ValidationException => Validation,
}, model_error: ModelErrorException, stream_error: ModelStreamErrorException);

bedrock_error!(ConverseStreamOutputError, Resource::Model, {
    InternalServerException => InternalServer,
    ServiceUnavailableException => ServiceUnavailable,
    ThrottlingException => Throttling,
    ValidationException => Validation,
}, stream_error: ModelStreamErrorException);

bedrock_error!(InvokeModelError, Resource::Model, {
    AccessDeniedException => AccessDenied,
    InternalServerException => InternalServer,
    ModelNotReadyException => ModelNotReady,
    ModelTimeoutException => ModelTimeout,
    ResourceNotFoundException => ResourceNotFound,
    ServiceQuotaExceededException => ServiceQuotaExceeded,
    ServiceUnavailableException => ServiceUnavailable,
    ThrottlingException => Throttling,
    ValidationException => Validation,
}, model_error: ModelErrorException);

bedrock_error!(InvokeModelWithResponseStreamError, Resource::Model, {
    AccessDeniedException => AccessDenied,
    InternalServerException => InternalServer,
    ModelNotReadyException => ModelNotReady,
    ModelTimeoutException => ModelTimeout,
    ResourceNotFoundException => ResourceNotFound,
    ServiceQuotaExceededException => ServiceQuotaExceeded,
    ServiceUnavailableException => ServiceUnavailable,
    ThrottlingException => Throttling,
    ValidationException => Validation,
}, model_error: ModelErrorException, stream_error: ModelStreamErrorException);

bedrock_error!(ResponseStreamError, Resource::Model, {
    InternalServerException => InternalServer,
    ModelTimeoutException => ModelTimeout,
    ServiceUnavailableException => ServiceUnavailable,
    ThrottlingException => Throttling,
    ValidationException => Validation,
}, stream_error: ModelStreamErrorException);

bedrock_error!(CountTokensError, Resource::Model, {
    AccessDeniedException => AccessDenied,
    InternalServerException => InternalServer,
    ResourceNotFoundException => ResourceNotFound,
    ServiceUnavailableException => ServiceUnavailable,
    ThrottlingException => Throttling,
    ValidationException => Validation,
});

bedrock_error!(ApplyGuardrailError, Resource::Guardrail, {
    AccessDeniedException => AccessDenied,
    InternalServerException => InternalServer,
    ResourceNotFoundException => ResourceNotFound,
    ServiceQuotaExceededException => ServiceQuotaExceeded,
    ServiceUnavailableException => ServiceUnavailable,
    ThrottlingException => Throttling,
    ValidationException => Validation,
});

bedrock_error!(StartAsyncInvokeError, Resource::AsyncInvoke, {
    AccessDeniedException => AccessDenied,
    ConflictException => Conflict,
    InternalServerException => InternalServer,
    ResourceNotFoundException => ResourceNotFound,
    ServiceQuotaExceededException => ServiceQuotaExceeded,
    ServiceUnavailableException => ServiceUnavailable,
    ThrottlingException => Throttling,
    ValidationException => Validation,
});

bedrock_error!(GetAsyncInvokeError, Resource::AsyncInvoke, {
    AccessDeniedException => AccessDenied,
    InternalServerException => InternalServer,
    ThrottlingException => Throttling,
    ValidationException => Validation,
});

/// What the raw response (HTTP, or an event-stream message) can add: status, Retry-After, the
/// AWS request ID.
pub trait RawResponseInfo {
    /// HTTP status, if there was an HTTP answer.
    fn status(&self) -> Option<u16>;
    /// A header value.
    fn header(&self, name: &str) -> Option<&str>;
}

impl RawResponseInfo for HttpResponse {
    fn status(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers().get(name)
    }
}

impl RawResponseInfo for RawMessage {
    fn status(&self) -> Option<u16> {
        None
    }
    fn header(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// The one mapping from an SDK error to a [`GatewayError`]. See the module table.
pub fn from_sdk_error<E, R>(err: SdkError<E, R>) -> GatewayError
where
    E: BedrockServiceError + std::error::Error + 'static,
    R: RawResponseInfo + std::fmt::Debug,
{
    match &err {
        SdkError::ServiceError(service) => {
            let raw = service.raw();
            let retry_after = raw
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok());
            from_fault(
                service.err().fault(),
                E::RESOURCE,
                raw.status(),
                raw.header("x-amzn-requestid").map(str::to_owned),
                retry_after,
            )
        }
        SdkError::TimeoutError(_) => {
            GatewayError::timeout("the call to Bedrock timed out before the function's deadline")
                .with_upstream(sdk_upstream("TimeoutError", &err))
        }
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            GatewayError::timeout("connecting to Bedrock timed out")
                .with_upstream(sdk_upstream("DispatchFailure", &err))
        }
        SdkError::DispatchFailure(d) if d.is_user() => GatewayError::internal(
            "the request to Bedrock could not be sent (client configuration)",
        )
        .with_upstream(sdk_upstream("DispatchFailure", &err)),
        SdkError::DispatchFailure(_) => GatewayError::new(
            ErrorKind::ServiceUnavailable,
            "could not reach Bedrock (connection failed)",
        )
        .with_upstream(sdk_upstream("DispatchFailure", &err)),
        SdkError::ResponseError(r) => {
            let mut up = sdk_upstream("ResponseError", &err);
            up.status = r.raw().status();
            GatewayError::new(
                ErrorKind::UpstreamError,
                "Bedrock's response could not be read",
            )
            .with_upstream(up)
        }
        SdkError::ConstructionFailure(_) => {
            GatewayError::internal("the request to Bedrock could not be built")
                .with_upstream(sdk_upstream("ConstructionFailure", &err))
        }
        _ => GatewayError::new(ErrorKind::UpstreamError, "the call to Bedrock failed")
            .with_upstream(sdk_upstream("SdkError", &err)),
    }
}

fn sdk_upstream<E, R>(kind: &str, err: &SdkError<E, R>) -> Upstream
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    Upstream {
        error: kind.to_owned(),
        message: Some(aws_sdk_bedrockruntime::error::DisplayErrorContext(err).to_string()),
        status: None,
        request_id: None,
    }
}

/// Applies the error table to a fault (also used for errors read from native stream chunks).
pub fn from_fault(
    fault: UpstreamFault,
    resource: Resource,
    status: Option<u16>,
    request_id: Option<String>,
    retry_after: Option<u64>,
) -> GatewayError {
    use UpstreamErrorCode as C;
    let msg = fault.message.clone().unwrap_or_default();
    let lower = msg.to_ascii_lowercase();
    let (kind, text): (ErrorKind, String) = match &fault.code {
        C::Validation
            if lower.contains("on-demand throughput") || lower.contains("inference profile") =>
        {
            (
                ErrorKind::InvalidRequest,
                format!(
                    "Bedrock refused the model ID: this model must be called through an inference \
                 profile. Name it by alias or bare model ID and the gateway chooses the profile \
                 for its region, or pass a profile ID such as us.<model-id>. Bedrock said: {msg}"
                ),
            )
        }
        C::Validation if lower.contains("model identifier is invalid") => (
            ErrorKind::ModelNotFound,
            format!("Bedrock does not know this model in this region: {msg}"),
        ),
        C::Validation => (
            ErrorKind::InvalidRequest,
            format!("Bedrock rejected the request: {msg}"),
        ),
        C::Conflict => (
            ErrorKind::InvalidRequest,
            format!("conflicting request: {msg}"),
        ),
        C::ResourceNotFound => match resource {
            Resource::Model => (
                ErrorKind::ModelNotFound,
                format!("Bedrock has no such model: {msg}"),
            ),
            Resource::Guardrail => (ErrorKind::NotFound, format!("guardrail not found: {msg}")),
            Resource::AsyncInvoke => (ErrorKind::NotFound, format!("not found: {msg}")),
        },
        C::Throttling => (
            ErrorKind::Throttled,
            format!("Bedrock throttled the request: {msg}"),
        ),
        C::ServiceQuotaExceeded => (
            ErrorKind::QuotaExceeded,
            format!("a Bedrock service quota was exceeded: {msg}"),
        ),
        C::AccessDenied => (
            ErrorKind::UpstreamAccessDenied,
            format!(
                "Bedrock denied access (model access or IAM permissions of the gateway): {msg}"
            ),
        ),
        C::ModelError => (
            ErrorKind::UpstreamModelError,
            match fault.original_status_code {
                Some(s) => format!("the model failed (its status {s}): {msg}"),
                None => format!("the model failed: {msg}"),
            },
        ),
        C::ModelStreamError => (
            ErrorKind::UpstreamModelError,
            format!("the model failed while streaming: {msg}"),
        ),
        C::InternalServer => (
            ErrorKind::UpstreamError,
            format!("Bedrock failed internally: {msg}"),
        ),
        C::ModelNotReady => (
            ErrorKind::ModelNotReady,
            format!("the model is not ready: {msg}"),
        ),
        C::ServiceUnavailable => (
            ErrorKind::ServiceUnavailable,
            format!("Bedrock is unavailable: {msg}"),
        ),
        C::ModelTimeout => (ErrorKind::Timeout, format!("the model timed out: {msg}")),
        C::Other(code) => other_kind(code, status, &msg),
    };
    let mut e = GatewayError::new(kind, text);
    if retry_after.is_some() && kind.default_retry_after().is_some() {
        e = e.with_retry_after(retry_after);
    }
    let message = match (&fault.message, &fault.original_message) {
        (Some(m), Some(o)) => Some(format!("{m} (model: {o})")),
        (m, o) => m.clone().or_else(|| o.clone()),
    };
    e.with_upstream(Upstream {
        error: fault.code.name().to_owned(),
        message,
        status,
        request_id,
    })
}

/// Unmodelled error names: authentication failures are the gateway's problem (502); otherwise
/// the HTTP status decides.
fn other_kind(code: &str, status: Option<u16>, msg: &str) -> (ErrorKind, String) {
    const AUTH: [&str; 6] = [
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidClientTokenId",
    ];
    if AUTH.contains(&code) || status == Some(403) || status == Some(401) {
        return (
            ErrorKind::UpstreamAccessDenied,
            format!("Bedrock rejected the gateway's credentials ({code}): {msg}"),
        );
    }
    let kind = match status {
        Some(429) => ErrorKind::Throttled,
        Some(408) | Some(504) => ErrorKind::Timeout,
        Some(503) => ErrorKind::ServiceUnavailable,
        _ => ErrorKind::UpstreamError,
    };
    let name = if code.is_empty() {
        "an unknown error"
    } else {
        code
    };
    (kind, format!("Bedrock answered with {name}: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_bedrockruntime::error::ErrorMetadata;
    use aws_sdk_bedrockruntime::types::error::*;
    use aws_smithy_types::body::SdkBody;

    fn raw(status: u16) -> HttpResponse {
        let resp = http::Response::builder()
            .status(status)
            .header("x-amzn-requestid", "aws-req-1")
            .body(SdkBody::empty())
            .unwrap();
        HttpResponse::try_from(resp).unwrap()
    }

    fn raw_with_retry_after(status: u16, secs: &str) -> HttpResponse {
        let resp = http::Response::builder()
            .status(status)
            .header("retry-after", secs)
            .body(SdkBody::empty())
            .unwrap();
        HttpResponse::try_from(resp).unwrap()
    }

    fn map<E>(e: E, status: u16) -> GatewayError
    where
        E: BedrockServiceError + std::error::Error + 'static,
    {
        from_sdk_error(SdkError::service_error(e, raw(status)))
    }

    fn check(g: &GatewayError, status: u16, ty: &str, upstream: &str) {
        assert_eq!(g.status().as_u16(), status, "{g:?}");
        assert_eq!(g.error_type(), ty, "{g:?}");
        let up = g.upstream().expect("upstream");
        assert_eq!(up.error, upstream);
        assert!(
            up.message.as_deref().unwrap_or_default().contains("boom"),
            "{up:?}"
        );
        let body = g.to_body("r-1");
        assert_eq!(body["error"]["upstream"]["error"], upstream);
        assert_eq!(body["error"]["request_id"], "r-1");
        if matches!(status, 429 | 503) {
            assert!(g.retry_after().is_some(), "{g:?} lacks Retry-After");
        } else {
            assert!(g.retry_after().is_none(), "{g:?}");
        }
    }

    macro_rules! ex {
        ($t:ident) => {
            $t::builder().message("boom").build()
        };
    }

    #[test]
    fn converse_variants() {
        use ConverseError as E;
        check(
            &map(E::AccessDeniedException(ex!(AccessDeniedException)), 403),
            502,
            "upstream_access_denied",
            "AccessDeniedException",
        );
        check(
            &map(
                E::InternalServerException(ex!(InternalServerException)),
                500,
            ),
            502,
            "upstream_error",
            "InternalServerException",
        );
        let me = ModelErrorException::builder()
            .message("boom")
            .original_status_code(500)
            .resource_name("m")
            .build();
        let g = map(E::ModelErrorException(me), 424);
        check(&g, 502, "model_error", "ModelErrorException");
        assert!(g.message().contains("500"));
        check(
            &map(E::ModelNotReadyException(ex!(ModelNotReadyException)), 429),
            503,
            "model_not_ready",
            "ModelNotReadyException",
        );
        check(
            &map(E::ModelTimeoutException(ex!(ModelTimeoutException)), 408),
            504,
            "timeout",
            "ModelTimeoutException",
        );
        check(
            &map(
                E::ResourceNotFoundException(ex!(ResourceNotFoundException)),
                404,
            ),
            404,
            "model_not_found",
            "ResourceNotFoundException",
        );
        check(
            &map(
                E::ServiceUnavailableException(ex!(ServiceUnavailableException)),
                503,
            ),
            503,
            "service_unavailable",
            "ServiceUnavailableException",
        );
        check(
            &map(E::ThrottlingException(ex!(ThrottlingException)), 429),
            429,
            "throttled",
            "ThrottlingException",
        );
        check(
            &map(E::ValidationException(ex!(ValidationException)), 400),
            400,
            "invalid_request",
            "ValidationException",
        );
        let g = map(
            E::generic(
                ErrorMetadata::builder()
                    .code("UnrecognizedClientException")
                    .message("boom")
                    .build(),
            ),
            403,
        );
        check(
            &g,
            502,
            "upstream_access_denied",
            "UnrecognizedClientException",
        );
        let g = map(
            E::generic(
                ErrorMetadata::builder()
                    .code("SomethingNew")
                    .message("boom")
                    .build(),
            ),
            500,
        );
        check(&g, 502, "upstream_error", "SomethingNew");
        let g = map(
            E::generic(ErrorMetadata::builder().message("boom").build()),
            429,
        );
        check(&g, 429, "throttled", "UnknownError");
    }

    #[test]
    fn converse_stream_variants() {
        use ConverseStreamError as E;
        check(
            &map(E::AccessDeniedException(ex!(AccessDeniedException)), 403),
            502,
            "upstream_access_denied",
            "AccessDeniedException",
        );
        check(
            &map(
                E::InternalServerException(ex!(InternalServerException)),
                500,
            ),
            502,
            "upstream_error",
            "InternalServerException",
        );
        check(
            &map(E::ModelErrorException(ex!(ModelErrorException)), 424),
            502,
            "model_error",
            "ModelErrorException",
        );
        check(
            &map(E::ModelNotReadyException(ex!(ModelNotReadyException)), 429),
            503,
            "model_not_ready",
            "ModelNotReadyException",
        );
        check(
            &map(E::ModelTimeoutException(ex!(ModelTimeoutException)), 408),
            504,
            "timeout",
            "ModelTimeoutException",
        );
        check(
            &map(
                E::ResourceNotFoundException(ex!(ResourceNotFoundException)),
                404,
            ),
            404,
            "model_not_found",
            "ResourceNotFoundException",
        );
        check(
            &map(
                E::ServiceUnavailableException(ex!(ServiceUnavailableException)),
                503,
            ),
            503,
            "service_unavailable",
            "ServiceUnavailableException",
        );
        check(
            &map(E::ThrottlingException(ex!(ThrottlingException)), 429),
            429,
            "throttled",
            "ThrottlingException",
        );
        check(
            &map(E::ValidationException(ex!(ValidationException)), 400),
            400,
            "invalid_request",
            "ValidationException",
        );
        check(
            &map(
                E::ModelStreamErrorException(ex!(ModelStreamErrorException)),
                424,
            ),
            502,
            "model_error",
            "ModelStreamErrorException",
        );
    }

    #[test]
    fn stream_event_errors() {
        use ConverseStreamOutputError as E;
        let m = |e: E| from_sdk_error(SdkError::service_error(e, RawMessage::invalid(None)));
        let mse = ModelStreamErrorException::builder()
            .message("boom")
            .original_status_code(500)
            .original_message("oom")
            .build();
        let g = m(E::ModelStreamErrorException(mse));
        check(&g, 502, "model_error", "ModelStreamErrorException");
        assert!(
            g.upstream()
                .unwrap()
                .message
                .as_deref()
                .unwrap()
                .contains("oom")
        );
        check(
            &m(E::InternalServerException(ex!(InternalServerException))),
            502,
            "upstream_error",
            "InternalServerException",
        );
        check(
            &m(E::ServiceUnavailableException(ex!(
                ServiceUnavailableException
            ))),
            503,
            "service_unavailable",
            "ServiceUnavailableException",
        );
        check(
            &m(E::ThrottlingException(ex!(ThrottlingException))),
            429,
            "throttled",
            "ThrottlingException",
        );
        check(
            &m(E::ValidationException(ex!(ValidationException))),
            400,
            "invalid_request",
            "ValidationException",
        );

        use ResponseStreamError as R;
        let m = |e: R| from_sdk_error(SdkError::service_error(e, RawMessage::invalid(None)));
        check(
            &m(R::ModelStreamErrorException(ex!(ModelStreamErrorException))),
            502,
            "model_error",
            "ModelStreamErrorException",
        );
        check(
            &m(R::InternalServerException(ex!(InternalServerException))),
            502,
            "upstream_error",
            "InternalServerException",
        );
        check(
            &m(R::ModelTimeoutException(ex!(ModelTimeoutException))),
            504,
            "timeout",
            "ModelTimeoutException",
        );
        check(
            &m(R::ServiceUnavailableException(ex!(
                ServiceUnavailableException
            ))),
            503,
            "service_unavailable",
            "ServiceUnavailableException",
        );
        check(
            &m(R::ThrottlingException(ex!(ThrottlingException))),
            429,
            "throttled",
            "ThrottlingException",
        );
        check(
            &m(R::ValidationException(ex!(ValidationException))),
            400,
            "invalid_request",
            "ValidationException",
        );
    }

    #[test]
    fn invoke_model_variants() {
        use InvokeModelError as E;
        check(
            &map(E::AccessDeniedException(ex!(AccessDeniedException)), 403),
            502,
            "upstream_access_denied",
            "AccessDeniedException",
        );
        check(
            &map(
                E::InternalServerException(ex!(InternalServerException)),
                500,
            ),
            502,
            "upstream_error",
            "InternalServerException",
        );
        check(
            &map(E::ModelErrorException(ex!(ModelErrorException)), 424),
            502,
            "model_error",
            "ModelErrorException",
        );
        check(
            &map(E::ModelNotReadyException(ex!(ModelNotReadyException)), 429),
            503,
            "model_not_ready",
            "ModelNotReadyException",
        );
        check(
            &map(E::ModelTimeoutException(ex!(ModelTimeoutException)), 408),
            504,
            "timeout",
            "ModelTimeoutException",
        );
        check(
            &map(
                E::ResourceNotFoundException(ex!(ResourceNotFoundException)),
                404,
            ),
            404,
            "model_not_found",
            "ResourceNotFoundException",
        );
        check(
            &map(
                E::ServiceQuotaExceededException(ex!(ServiceQuotaExceededException)),
                400,
            ),
            429,
            "quota_exceeded",
            "ServiceQuotaExceededException",
        );
        check(
            &map(
                E::ServiceUnavailableException(ex!(ServiceUnavailableException)),
                503,
            ),
            503,
            "service_unavailable",
            "ServiceUnavailableException",
        );
        check(
            &map(E::ThrottlingException(ex!(ThrottlingException)), 429),
            429,
            "throttled",
            "ThrottlingException",
        );
        check(
            &map(E::ValidationException(ex!(ValidationException)), 400),
            400,
            "invalid_request",
            "ValidationException",
        );

        use InvokeModelWithResponseStreamError as S;
        check(
            &map(S::AccessDeniedException(ex!(AccessDeniedException)), 403),
            502,
            "upstream_access_denied",
            "AccessDeniedException",
        );
        check(
            &map(
                S::InternalServerException(ex!(InternalServerException)),
                500,
            ),
            502,
            "upstream_error",
            "InternalServerException",
        );
        check(
            &map(S::ModelErrorException(ex!(ModelErrorException)), 424),
            502,
            "model_error",
            "ModelErrorException",
        );
        check(
            &map(S::ModelNotReadyException(ex!(ModelNotReadyException)), 429),
            503,
            "model_not_ready",
            "ModelNotReadyException",
        );
        check(
            &map(
                S::ModelStreamErrorException(ex!(ModelStreamErrorException)),
                424,
            ),
            502,
            "model_error",
            "ModelStreamErrorException",
        );
        check(
            &map(S::ModelTimeoutException(ex!(ModelTimeoutException)), 408),
            504,
            "timeout",
            "ModelTimeoutException",
        );
        check(
            &map(
                S::ResourceNotFoundException(ex!(ResourceNotFoundException)),
                404,
            ),
            404,
            "model_not_found",
            "ResourceNotFoundException",
        );
        check(
            &map(
                S::ServiceQuotaExceededException(ex!(ServiceQuotaExceededException)),
                400,
            ),
            429,
            "quota_exceeded",
            "ServiceQuotaExceededException",
        );
        check(
            &map(
                S::ServiceUnavailableException(ex!(ServiceUnavailableException)),
                503,
            ),
            503,
            "service_unavailable",
            "ServiceUnavailableException",
        );
        check(
            &map(S::ThrottlingException(ex!(ThrottlingException)), 429),
            429,
            "throttled",
            "ThrottlingException",
        );
        check(
            &map(S::ValidationException(ex!(ValidationException)), 400),
            400,
            "invalid_request",
            "ValidationException",
        );
    }

    #[test]
    fn count_guardrail_async_variants() {
        use CountTokensError as C;
        check(
            &map(C::AccessDeniedException(ex!(AccessDeniedException)), 403),
            502,
            "upstream_access_denied",
            "AccessDeniedException",
        );
        check(
            &map(
                C::InternalServerException(ex!(InternalServerException)),
                500,
            ),
            502,
            "upstream_error",
            "InternalServerException",
        );
        check(
            &map(
                C::ResourceNotFoundException(ex!(ResourceNotFoundException)),
                404,
            ),
            404,
            "model_not_found",
            "ResourceNotFoundException",
        );
        check(
            &map(
                C::ServiceUnavailableException(ex!(ServiceUnavailableException)),
                503,
            ),
            503,
            "service_unavailable",
            "ServiceUnavailableException",
        );
        check(
            &map(C::ThrottlingException(ex!(ThrottlingException)), 429),
            429,
            "throttled",
            "ThrottlingException",
        );
        check(
            &map(C::ValidationException(ex!(ValidationException)), 400),
            400,
            "invalid_request",
            "ValidationException",
        );

        use ApplyGuardrailError as G;
        check(
            &map(G::AccessDeniedException(ex!(AccessDeniedException)), 403),
            502,
            "upstream_access_denied",
            "AccessDeniedException",
        );
        check(
            &map(
                G::InternalServerException(ex!(InternalServerException)),
                500,
            ),
            502,
            "upstream_error",
            "InternalServerException",
        );
        check(
            &map(
                G::ResourceNotFoundException(ex!(ResourceNotFoundException)),
                404,
            ),
            404,
            "not_found",
            "ResourceNotFoundException",
        );
        check(
            &map(
                G::ServiceQuotaExceededException(ex!(ServiceQuotaExceededException)),
                400,
            ),
            429,
            "quota_exceeded",
            "ServiceQuotaExceededException",
        );
        check(
            &map(
                G::ServiceUnavailableException(ex!(ServiceUnavailableException)),
                503,
            ),
            503,
            "service_unavailable",
            "ServiceUnavailableException",
        );
        check(
            &map(G::ThrottlingException(ex!(ThrottlingException)), 429),
            429,
            "throttled",
            "ThrottlingException",
        );
        check(
            &map(G::ValidationException(ex!(ValidationException)), 400),
            400,
            "invalid_request",
            "ValidationException",
        );

        use StartAsyncInvokeError as S;
        check(
            &map(S::AccessDeniedException(ex!(AccessDeniedException)), 403),
            502,
            "upstream_access_denied",
            "AccessDeniedException",
        );
        check(
            &map(S::ConflictException(ex!(ConflictException)), 400),
            400,
            "invalid_request",
            "ConflictException",
        );
        check(
            &map(
                S::InternalServerException(ex!(InternalServerException)),
                500,
            ),
            502,
            "upstream_error",
            "InternalServerException",
        );
        check(
            &map(
                S::ResourceNotFoundException(ex!(ResourceNotFoundException)),
                404,
            ),
            404,
            "not_found",
            "ResourceNotFoundException",
        );
        check(
            &map(
                S::ServiceQuotaExceededException(ex!(ServiceQuotaExceededException)),
                400,
            ),
            429,
            "quota_exceeded",
            "ServiceQuotaExceededException",
        );
        check(
            &map(
                S::ServiceUnavailableException(ex!(ServiceUnavailableException)),
                503,
            ),
            503,
            "service_unavailable",
            "ServiceUnavailableException",
        );
        check(
            &map(S::ThrottlingException(ex!(ThrottlingException)), 429),
            429,
            "throttled",
            "ThrottlingException",
        );
        check(
            &map(S::ValidationException(ex!(ValidationException)), 400),
            400,
            "invalid_request",
            "ValidationException",
        );

        use GetAsyncInvokeError as A;
        check(
            &map(A::AccessDeniedException(ex!(AccessDeniedException)), 403),
            502,
            "upstream_access_denied",
            "AccessDeniedException",
        );
        check(
            &map(
                A::InternalServerException(ex!(InternalServerException)),
                500,
            ),
            502,
            "upstream_error",
            "InternalServerException",
        );
        check(
            &map(A::ThrottlingException(ex!(ThrottlingException)), 429),
            429,
            "throttled",
            "ThrottlingException",
        );
        check(
            &map(A::ValidationException(ex!(ValidationException)), 400),
            400,
            "invalid_request",
            "ValidationException",
        );
    }

    #[test]
    fn hints_retry_after_and_request_id() {
        let on_demand = ValidationException::builder()
            .message("Invocation of model ID anthropic.claude-sonnet-4-5-20250929-v1:0 with on-demand throughput isn't supported. Retry your request with the ID or ARN of an inference profile that contains this model.")
            .build();
        let g = map(ConverseError::ValidationException(on_demand), 400);
        assert_eq!(g.status(), 400);
        assert!(g.message().contains("inference profile"));
        assert!(g.message().contains("gateway chooses the profile"));
        let invalid = ValidationException::builder()
            .message("The provided model identifier is invalid.")
            .build();
        assert_eq!(
            map(ConverseError::ValidationException(invalid), 400).status(),
            404
        );

        let g = from_sdk_error(SdkError::service_error(
            ConverseError::ThrottlingException(ex!(ThrottlingException)),
            raw_with_retry_after(429, "7"),
        ));
        assert_eq!(g.retry_after(), Some(7));
        assert_eq!(
            map(
                ConverseError::ThrottlingException(ex!(ThrottlingException)),
                429
            )
            .upstream()
            .unwrap()
            .request_id
            .as_deref(),
            Some("aws-req-1")
        );
        assert_eq!(
            UpstreamErrorCode::parse("ThrottlingException:http://internal.amazon.com/coral/"),
            UpstreamErrorCode::Throttling
        );
        assert_eq!(
            UpstreamErrorCode::parse("com.amazon.bedrock#ValidationException"),
            UpstreamErrorCode::Validation
        );
    }

    #[test]
    fn sdk_failures() {
        use aws_sdk_bedrockruntime::error::ConnectorError;
        let t: SdkError<ConverseError, HttpResponse> = SdkError::timeout_error("operation timeout");
        let g = from_sdk_error(t);
        assert_eq!((g.status().as_u16(), g.error_type()), (504, "timeout"));
        assert_eq!(g.upstream().unwrap().error, "TimeoutError");

        let d: SdkError<ConverseError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::timeout("connect".into()));
        assert_eq!(from_sdk_error(d).status(), 504);
        let d: SdkError<ConverseError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io("refused".into()));
        let g = from_sdk_error(d);
        assert_eq!(
            (g.status().as_u16(), g.error_type()),
            (503, "service_unavailable")
        );
        assert!(g.retry_after().is_some());
        assert_eq!(g.upstream().unwrap().error, "DispatchFailure");

        let r: SdkError<ConverseError, HttpResponse> =
            SdkError::response_error("bad json", raw(200));
        let g = from_sdk_error(r);
        assert_eq!(
            (g.status().as_u16(), g.error_type()),
            (502, "upstream_error")
        );
        assert_eq!(g.upstream().unwrap().error, "ResponseError");

        let c: SdkError<ConverseError, HttpResponse> = SdkError::construction_failure("missing");
        assert_eq!(from_sdk_error(c).status(), 500);
    }
}
