//! Where a catalog's model list comes from: the shipped data alone, or merged with Bedrock's
//! control plane (the live catalog). `/v1/models` reports it.

use serde::Serialize;

/// Where a catalog's model list comes from, as `/v1/models` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CatalogOrigin {
    /// `true`: merged with what ListFoundationModels / ListInferenceProfiles answered.
    pub live: bool,
    /// When the control plane was last read successfully (RFC 3339), if ever.
    pub refreshed_at: Option<String>,
}
