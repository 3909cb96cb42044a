//! The admin token: who may use the admin and console routes where no IAM stands in front.
//!
//! On AWS the admin API is IAM-only (template.yaml) and this gate is off. Locally `make dev`
//! sets `GATEWAY_ADMIN_TOKEN` to a random value per run, so a page or process on this machine
//! that does not have it (it is printed in the console URL's fragment, never sent in a query)
//! cannot read usage or mint keys. The console's static files carry no data and stay open.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gateway_stores::auth::constant_time_eq;
use inference_core::GatewayError;

/// The header the console (and any local script) sends the token in.
pub const TOKEN_HEADER: &str = "x-gateway-admin-token";

/// The expected token; `None`: no gate (IAM decides, on AWS).
#[derive(Clone, Default)]
pub struct AdminToken(Option<String>);

impl AdminToken {
    /// `GATEWAY_ADMIN_TOKEN`; empty means unset. Shorter than 16 characters is refused at start.
    pub fn from_env() -> Result<Self, GatewayError> {
        match std::env::var("GATEWAY_ADMIN_TOKEN") {
            Ok(v) if !v.is_empty() => Self::new(v),
            _ => Ok(Self(None)),
        }
    }

    /// A gate requiring `token` (at least 16 characters: a guessable token is no gate).
    pub fn new(token: String) -> Result<Self, GatewayError> {
        if token.len() < 16 {
            return Err(GatewayError::invalid_request(
                "GATEWAY_ADMIN_TOKEN must be at least 16 characters",
            ));
        }
        Ok(Self(Some(token)))
    }

    /// Whether the request may pass: no gate, or the right token in [`TOKEN_HEADER`].
    fn admits(&self, req: &Request) -> bool {
        let Some(want) = &self.0 else { return true };
        req.headers()
            .get(TOKEN_HEADER)
            .is_some_and(|got| constant_time_eq(got.as_bytes(), want.as_bytes()))
    }
}

/// Whether a path is one of the console's static files (open: they hold no data).
fn is_static_asset(path: &str) -> bool {
    (path == "/console" || path.starts_with("/console/")) && path != "/console/config.json"
}

/// Middleware: 401 `unauthorized` (JSON) without the token, on every route but static files.
pub async fn require_token(State(token): State<AdminToken>, req: Request, next: Next) -> Response {
    if is_static_asset(req.uri().path()) || token.admits(&req) {
        return next.run(req).await;
    }
    GatewayError::unauthorized(format!(
        "admin routes need the admin token in `{TOKEN_HEADER}` (the console URL `make dev` prints carries it)"
    ))
    .into_response()
}
