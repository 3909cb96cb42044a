//! What a call asks for, as the pipeline takes it: the model's name, or its resolution when the
//! route already made one.
//!
//! The compat routes (`/v1/chat/completions`, `/v1/responses`, `/v1/messages`, embeddings)
//! resolve the requested model before the call, to translate the request for what the model
//! can do. They hand that resolution in as a [`Known`], and admission takes it for the candidate
//! of the same name instead of looking the name up again: one resolution per call.

use serde_json::Value;

use crate::catalog::{Capability, ModelEntry};
use crate::error::GatewayError;
use crate::resolve::Resolved;

use super::Gateway;

/// A model name resolved and allowed by [`Gateway::resolve_known`]. Only that method makes
/// one, so a route cannot hand admission a resolution that skipped the allowlist.
#[derive(Debug, Clone)]
pub struct Known(Resolved);

impl Known {
    /// The catalog entry (what the route translates for).
    pub fn model(&self) -> &ModelEntry {
        &self.0.model
    }

    /// The resolution.
    pub fn resolved(&self) -> &Resolved {
        &self.0
    }

    /// The resolution, taken out.
    pub(crate) fn into_resolved(self) -> Resolved {
        self.0
    }

    /// The name it was resolved from.
    pub fn name(&self) -> &str {
        &self.0.requested
    }
}

/// The model a native call (InvokeModel, its stream) names: as written, or [`Known`].
#[derive(Debug, Clone, Copy)]
pub enum Requested<'a> {
    /// A name to resolve.
    Name(&'a str),
    /// A name the route resolved.
    Known(&'a Known),
}

impl Requested<'_> {
    /// The name as written.
    pub fn name(&self) -> &str {
        match self {
            Requested::Name(n) => n,
            Requested::Known(k) => k.name(),
        }
    }

    /// The route's resolution, if it made one.
    pub(crate) fn known(&self) -> Option<&Resolved> {
        match self {
            Requested::Name(_) => None,
            Requested::Known(k) => Some(&k.0),
        }
    }
}

impl<'a> From<&'a str> for Requested<'a> {
    fn from(name: &'a str) -> Self {
        Requested::Name(name)
    }
}

impl<'a> From<&'a String> for Requested<'a> {
    fn from(name: &'a String) -> Self {
        Requested::Name(name)
    }
}

impl<'a> From<&'a Known> for Requested<'a> {
    fn from(known: &'a Known) -> Self {
        Requested::Known(known)
    }
}

/// A call's JSON body as the pipeline takes it (a Converse request plus `model`, or a count's
/// `{"model", ...}`), with the route's resolution of its `model` when it made one.
#[derive(Debug, Clone)]
pub struct CallBody {
    pub(crate) body: Value,
    pub(crate) known: Option<Known>,
}

impl CallBody {
    /// `body`, whose requested model the route resolved as `known` (`None`: not resolved, as
    /// when the name did not resolve and admission is to say why).
    pub fn new(body: Value, known: Option<Known>) -> CallBody {
        CallBody { body, known }
    }
}

impl From<Value> for CallBody {
    fn from(body: Value) -> Self {
        CallBody { body, known: None }
    }
}

impl Gateway {
    /// Resolves `name` and checks the allowlist and `capability` ([`Gateway::resolve_allowed`]),
    /// as a [`Known`] to hand the call.
    pub fn resolve_known(&self, name: &str, capability: Capability) -> Result<Known, GatewayError> {
        self.resolve_allowed(name, capability).map(Known)
    }

    /// `name` resolved: `known` when it was resolved from that name (no second lookup), else
    /// looked up now. The allowlist and capability are the caller's to check.
    pub(crate) fn resolve_or_reuse(
        &self,
        name: &str,
        known: Option<&Resolved>,
    ) -> Result<Resolved, GatewayError> {
        match known {
            Some(r) if r.requested == name.trim() => Ok(r.clone()),
            _ => self.resolve_name(name),
        }
    }
}
