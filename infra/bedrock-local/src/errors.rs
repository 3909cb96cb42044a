//! The one error type of the emulator, and its Bedrock wire encoding.
//!
//! Clients read the error name from the `x-amzn-ErrorType` header and the text from the
//! `message` member of the JSON body, so every variant is encoded that way; the HTTP status
//! comes from the error table of the service model.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Suffix Coral adds to errors raised by the front door (auth), not by the service.
const CORAL_SUFFIX: &str = ":http://internal.amazon.com/coral/com.amazon.coral.service/";

/// Every error Bedrock Runtime and the control plane can answer with, plus the two auth errors
/// of the front door.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BedrockError {
    #[error("ValidationException: {0}")]
    Validation(String),
    #[error("AccessDeniedException: {0}")]
    AccessDenied(String),
    #[error("ResourceNotFoundException: {0}")]
    ResourceNotFound(String),
    #[error("ModelTimeoutException: {0}")]
    ModelTimeout(String),
    #[error("ThrottlingException: {0}")]
    Throttling(String),
    #[error("ModelNotReadyException: {0}")]
    ModelNotReady(String),
    #[error("ModelErrorException: {message}")]
    ModelError {
        message: String,
        original_status_code: u16,
        resource_name: String,
    },
    #[error("ModelStreamErrorException: {message}")]
    ModelStreamError {
        message: String,
        original_status_code: u16,
        original_message: String,
    },
    #[error("ServiceQuotaExceededException: {0}")]
    ServiceQuotaExceeded(String),
    #[error("InternalServerException: {0}")]
    InternalServer(String),
    #[error("ServiceUnavailableException: {0}")]
    ServiceUnavailable(String),
    #[error("ConflictException: {0}")]
    Conflict(String),
    /// A control-plane resource would carry more tags than allowed.
    #[error("TooManyTagsException: {message}")]
    TooManyTags {
        message: String,
        resource_name: String,
    },
    /// No `Authorization` header: answered by Coral with a capitalised `Message` member.
    #[error("AccessDeniedException: Authorization header is missing")]
    MissingAuth,
    /// A malformed signature or bearer key.
    #[error("UnrecognizedClientException: The security token included in the request is invalid.")]
    UnrecognizedClient,
}

/// Shorthand for `Err(BedrockError::Validation(..))`.
pub fn validation<T>(message: impl Into<String>) -> Result<T, BedrockError> {
    Err(BedrockError::Validation(message.into()))
}

/// `Malformed input request` in the wording Bedrock uses for native-body schema errors.
pub fn malformed<T>(detail: impl std::fmt::Display) -> Result<T, BedrockError> {
    validation(format!(
        "Malformed input request: {detail}, please reformat your input and try again."
    ))
}

impl BedrockError {
    /// The error shape name as it appears in `x-amzn-ErrorType`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::AccessDenied(_) | Self::MissingAuth => "AccessDeniedException",
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::ModelTimeout(_) => "ModelTimeoutException",
            Self::Throttling(_) => "ThrottlingException",
            Self::ModelNotReady(_) => "ModelNotReadyException",
            Self::ModelError { .. } => "ModelErrorException",
            Self::ModelStreamError { .. } => "ModelStreamErrorException",
            Self::ServiceQuotaExceeded(_) => "ServiceQuotaExceededException",
            Self::InternalServer(_) => "InternalServerException",
            Self::ServiceUnavailable(_) => "ServiceUnavailableException",
            Self::Conflict(_) => "ConflictException",
            Self::TooManyTags { .. } => "TooManyTagsException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
        }
    }

    /// The union member name used for this error inside an event stream.
    pub fn stream_name(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validationException",
            Self::Throttling(_) => "throttlingException",
            Self::ModelTimeout(_) => "modelTimeoutException",
            Self::ServiceUnavailable(_) => "serviceUnavailableException",
            Self::ModelStreamError { .. } => "modelStreamErrorException",
            _ => "internalServerException",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_)
            | Self::ServiceQuotaExceeded(_)
            | Self::Conflict(_)
            | Self::TooManyTags { .. } => StatusCode::BAD_REQUEST,
            Self::AccessDenied(_) | Self::MissingAuth | Self::UnrecognizedClient => {
                StatusCode::FORBIDDEN
            }
            Self::ResourceNotFound(_) => StatusCode::NOT_FOUND,
            Self::ModelTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Throttling(_) | Self::ModelNotReady(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::ModelError { .. } | Self::ModelStreamError { .. } => {
                StatusCode::FAILED_DEPENDENCY
            }
            Self::InternalServer(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Validation(m)
            | Self::AccessDenied(m)
            | Self::ResourceNotFound(m)
            | Self::ModelTimeout(m)
            | Self::Throttling(m)
            | Self::ModelNotReady(m)
            | Self::ServiceQuotaExceeded(m)
            | Self::InternalServer(m)
            | Self::ServiceUnavailable(m)
            | Self::Conflict(m) => m,
            Self::ModelError { message, .. }
            | Self::ModelStreamError { message, .. }
            | Self::TooManyTags { message, .. } => message,
            Self::MissingAuth => "Authorization header is missing",
            Self::UnrecognizedClient => "The security token included in the request is invalid.",
        }
    }

    /// The JSON body: `{"message": ...}` plus the extra members some shapes carry.
    pub fn body(&self) -> serde_json::Value {
        match self {
            Self::MissingAuth => serde_json::json!({ "Message": self.message() }),
            Self::ModelError {
                message,
                original_status_code,
                resource_name,
            } => serde_json::json!({
                "message": message,
                "originalStatusCode": original_status_code,
                "resourceName": resource_name,
            }),
            Self::ModelStreamError {
                message,
                original_status_code,
                original_message,
            } => serde_json::json!({
                "message": message,
                "originalStatusCode": original_status_code,
                "originalMessage": original_message,
            }),
            Self::TooManyTags {
                message,
                resource_name,
            } => serde_json::json!({
                "message": message,
                "resourceName": resource_name,
            }),
            _ => serde_json::json!({ "message": self.message() }),
        }
    }

    fn error_type_header(&self) -> String {
        match self {
            Self::MissingAuth | Self::UnrecognizedClient => {
                format!("{}{CORAL_SUFFIX}", self.name())
            }
            _ => self.name().to_string(),
        }
    }
}

impl IntoResponse for BedrockError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(&self.error_type_header()) {
            headers.insert("x-amzn-ErrorType", v);
        }
        response
    }
}
