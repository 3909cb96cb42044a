//! Requests generated from the service model: for every constraint an operation's input can
//! reach, one request that breaks it (and only it, where the model allows) and the requests on
//! its boundaries that keep it. Tests send them to the checker, to bedrock-local and to the
//! gateway; none of them is written by hand, so a constraint added to the model is tested the day
//! `extract.py` brings it in.

mod generate;
mod pattern;
mod wire;

use serde_json::Value;

pub use generate::cases;
pub use wire::HttpRequest;

/// One generated request.
#[derive(Debug, Clone)]
pub struct Case {
    pub operation: String,
    /// Every member by name, wherever it travels (see [`crate::ServiceModel::check`]).
    pub input: Value,
    pub expect: Expect,
    /// What was changed, for test failures: `messages[0].role = "NOT_AN_ENUM_VALUE"`.
    pub what: String,
}

/// What the checker (and Bedrock) must say about a [`Case`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// No constraint is broken.
    Valid,
    /// At least this constraint is broken, at this path (Bedrock's spelling, and the gateway's
    /// `messages[0].role`).
    Broken {
        path: String,
        json_path: String,
        rule: &'static str,
    },
}

impl Case {
    /// Whether the case's change sits under a top-level member that travels outside the JSON
    /// body (path label, header, query string).
    pub fn top_member(&self) -> Option<&str> {
        match &self.expect {
            Expect::Broken { path, .. } => path.split('.').next(),
            Expect::Valid => None,
        }
    }
}
