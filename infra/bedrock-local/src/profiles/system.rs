//! System-defined (cross-region) inference profiles: one per model and geography the runtime
//! accepts (`us.`, `eu.`, `apac.`, `global.` + model ID), listed in the table's order.

use super::{Kind, ProfileView};
use crate::foundation;
use crate::models::{self, ACCOUNT, GEOS, Model};

/// The regions a geography's profile routes to (representative: the list AWS publishes per
/// profile differs by model and changes over time).
fn regions(geo: &str) -> &'static [&'static str] {
    match geo {
        "us" => &["us-east-1", "us-east-2", "us-west-2"],
        "eu" => &["eu-central-1", "eu-west-1", "eu-west-3"],
        "apac" => &["ap-northeast-1", "ap-southeast-1", "ap-southeast-2"],
        _ => &["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"],
    }
}

/// The profile of `model` in `geo`, as ListInferenceProfiles and GetInferenceProfile show it.
pub fn view(region: &str, model: &Model, geo: &str) -> ProfileView {
    let id = format!("{geo}.{}", model.id);
    let label = if geo == "global" {
        "Global".to_string()
    } else {
        geo.to_ascii_uppercase()
    };
    let regions = regions(geo);
    ProfileView {
        name: format!("{label} {} {}", model.provider(), model.name),
        description: Some(format!(
            "Routes requests to {} {} in {}.",
            model.provider(),
            model.name,
            regions.join(", ")
        )),
        arn: format!("arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{id}"),
        id,
        models: regions.iter().map(|r| foundation::arn(r, model)).collect(),
        kind: Kind::SystemDefined,
        created: None,
    }
}

/// Every system profile, model by model.
pub fn all(region: &str) -> impl Iterator<Item = ProfileView> + '_ {
    models::shipped().flat_map(move |m| {
        GEOS.iter()
            .filter(|g| m.offered_in(g))
            .map(move |g| view(region, m, g))
    })
}

/// The model and geography a system profile ID or ARN names, if the runtime accepts it.
pub fn find(identifier: &str) -> Option<(&'static Model, &'static str)> {
    let id = match identifier.split_once(":inference-profile/") {
        Some((prefix, id)) if prefix.starts_with("arn:") => id,
        Some(_) => return None,
        None => identifier,
    };
    let (geo, model_id) = id.split_once('.')?;
    let geo = GEOS.iter().copied().find(|g| *g == geo)?;
    let model = models::find(model_id)?;
    model.offered_in(geo).then_some((model, geo))
}
