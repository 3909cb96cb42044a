//! Inference profiles: the system-defined ones derived from the model table, and the
//! application profiles clients create (in memory, with their tags). The runtime resolves an
//! application profile ARN through [`Profiles::resolve_for_invoke`] to the model it copies.

pub mod request;
pub mod system;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::async_invoke::iso;
use crate::constraints;
use crate::errors::{BedrockError, validation};
use crate::models::{self, ACCOUNT, Model, Resolved};
use crate::paging;
use request::{CreateRequest, MAX_TAGS, Tag};

/// `SYSTEM_DEFINED` or `APPLICATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SystemDefined,
    Application,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::SystemDefined => "SYSTEM_DEFINED",
            Kind::Application => "APPLICATION",
        }
    }
}

/// A profile as GetInferenceProfile and ListInferenceProfiles show it.
#[derive(Debug, Clone)]
pub struct ProfileView {
    pub name: String,
    pub description: Option<String>,
    pub arn: String,
    pub id: String,
    /// Foundation-model ARNs the profile routes to.
    pub models: Vec<String>,
    pub kind: Kind,
    pub created: Option<OffsetDateTime>,
}

impl ProfileView {
    pub fn json(&self) -> Value {
        let mut v = json!({
            "inferenceProfileName": self.name,
            "inferenceProfileArn": self.arn,
            "inferenceProfileId": self.id,
            "models": self.models.iter().map(|m| json!({"modelArn": m})).collect::<Vec<_>>(),
            "status": "ACTIVE",
            "type": self.kind.as_str(),
        });
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        if let Some(t) = self.created {
            v["createdAt"] = json!(iso(t));
            v["updatedAt"] = json!(iso(t));
        }
        v
    }
}

/// An application inference profile: its view, the model it serves, and its tags.
#[derive(Debug, Clone)]
struct AppProfile {
    view: ProfileView,
    model: &'static Model,
    /// The geography when copied from a system profile.
    geo: Option<&'static str>,
    tags: Vec<Tag>,
}

#[derive(Debug, Default)]
struct Inner {
    apps: Vec<AppProfile>,
    /// `clientRequestToken` → the request it created and the ARN it got.
    tokens: HashMap<String, (CreateRequest, String)>,
}

/// The application profiles of this emulator (system profiles need no state).
#[derive(Debug, Default)]
pub struct Profiles {
    inner: Mutex<Inner>,
}

fn not_found(identifier: &str) -> BedrockError {
    BedrockError::ResourceNotFound(format!(
        "The inference profile {identifier} does not exist."
    ))
}

impl Inner {
    /// The application profile an ID or ARN names.
    fn find(&self, identifier: &str) -> Option<&AppProfile> {
        self.apps
            .iter()
            .find(|p| p.view.arn == identifier || p.view.id == identifier)
    }

    fn find_mut(&mut self, arn: &str) -> Option<&mut AppProfile> {
        self.apps.iter_mut().find(|p| p.view.arn == arn)
    }
}

impl Profiles {
    fn lock(&self) -> Result<MutexGuard<'_, Inner>, BedrockError> {
        self.inner
            .lock()
            .map_err(|_| BedrockError::InternalServer("state poisoned".into()))
    }

    /// CreateInferenceProfile: the new profile's ARN. A repeated `clientRequestToken` with the
    /// same request answers the same ARN; with another request it is a ConflictException.
    pub fn create(&self, region: &str, req: CreateRequest) -> Result<String, BedrockError> {
        let (model, geo, models) = match system::find(&req.copy_from) {
            Some((model, geo)) => (model, Some(geo), system::view(region, model, geo).models),
            None => {
                let source = models::parse(&req.copy_from).ok().filter(|r| {
                    r.profile.is_none() && req.copy_from.contains(":foundation-model/")
                });
                match source {
                    Some(r) => (r.model, None, vec![req.copy_from.clone()]),
                    None => {
                        return Err(BedrockError::ResourceNotFound(format!(
                            "The model source {} was not found.",
                            req.copy_from
                        )));
                    }
                }
            }
        };
        let mut inner = self.lock()?;
        if let Some(t) = &req.token
            && let Some((earlier, arn)) = inner.tokens.get(t)
        {
            if *earlier != req {
                return Err(BedrockError::Conflict(
                    "The clientRequestToken was already used with a different request.".into(),
                ));
            }
            if inner.find(arn).is_some() {
                return Ok(arn.clone());
            }
        }
        if inner.apps.iter().any(|p| p.view.name == req.name) {
            return Err(BedrockError::Conflict(format!(
                "An inference profile named {} already exists.",
                req.name
            )));
        }
        let id = paging::short_id();
        let arn = format!("arn:aws:bedrock:{region}:{ACCOUNT}:application-inference-profile/{id}");
        let view = ProfileView {
            name: req.name.clone(),
            description: req.description.clone(),
            arn: arn.clone(),
            id,
            models,
            kind: Kind::Application,
            created: Some(OffsetDateTime::now_utc()),
        };
        let mut tags = Vec::new();
        merge_tags(&mut tags, &req.tags);
        if let Some(t) = &req.token {
            inner.tokens.insert(t.clone(), (req.clone(), arn.clone()));
        }
        inner.apps.push(AppProfile {
            view,
            model,
            geo,
            tags,
        });
        Ok(arn)
    }

    /// GetInferenceProfile by ID or ARN, system-defined or application.
    pub fn get(&self, region: &str, identifier: &str) -> Result<Value, BedrockError> {
        request::identifier(identifier)?;
        if let Some((model, geo)) = system::find(identifier) {
            return Ok(system::view(region, model, geo).json());
        }
        let inner = self.lock()?;
        inner
            .find(identifier)
            .map(|p| p.view.json())
            .ok_or_else(|| not_found(identifier))
    }

    /// DeleteInferenceProfile: application profiles only.
    pub fn delete(&self, identifier: &str) -> Result<(), BedrockError> {
        request::identifier(identifier)?;
        if system::find(identifier).is_some() {
            return validation(format!(
                "The inference profile {identifier} is system-defined and cannot be deleted."
            ));
        }
        let mut inner = self.lock()?;
        let arn = match inner.find(identifier) {
            Some(p) => p.view.arn.clone(),
            None => return Err(not_found(identifier)),
        };
        inner.apps.retain(|p| p.view.arn != arn);
        Ok(())
    }

    /// ListInferenceProfiles: system profiles, then application ones in creation order,
    /// filtered by `type` and paged by `maxResults` / `nextToken`.
    pub fn list(&self, region: &str, q: &HashMap<String, String>) -> Result<Value, BedrockError> {
        let kind = match q.get("type") {
            None => None,
            Some(t) => {
                constraints::one_of("typeEquals", t, &["SYSTEM_DEFINED", "APPLICATION"])?;
                Some(if t == "APPLICATION" {
                    Kind::Application
                } else {
                    Kind::SystemDefined
                })
            }
        };
        let max = constraints::max_results(q.get("maxResults").map(String::as_str), 1000)?;
        let start = paging::start(q)?;
        let mut views: Vec<ProfileView> = Vec::new();
        if kind != Some(Kind::Application) {
            views.extend(system::all(region));
        }
        if kind != Some(Kind::SystemDefined) {
            views.extend(self.lock()?.apps.iter().map(|p| p.view.clone()));
        }
        Ok(paging::page(
            &views,
            start,
            max,
            "inferenceProfileSummaries",
            |x| x.json(),
        ))
    }

    /// ListTagsForResource.
    pub fn tags(&self, arn: &str) -> Result<Value, BedrockError> {
        let inner = self.lock()?;
        let p = inner.find(arn).ok_or_else(|| not_found(arn))?;
        Ok(json!({
            "tags": p.tags.iter().map(|t| json!({"key": t.key, "value": t.value})).collect::<Vec<_>>()
        }))
    }

    /// TagResource: new keys are added, existing keys get the new value.
    pub fn tag(&self, arn: &str, tags: &[Tag]) -> Result<(), BedrockError> {
        let mut inner = self.lock()?;
        let p = inner.find_mut(arn).ok_or_else(|| not_found(arn))?;
        let mut merged = p.tags.clone();
        merge_tags(&mut merged, tags);
        if merged.len() > MAX_TAGS {
            return Err(BedrockError::TooManyTags {
                message: format!("The resource {arn} would have more than {MAX_TAGS} tags."),
                resource_name: arn.to_string(),
            });
        }
        p.tags = merged;
        Ok(())
    }

    /// UntagResource: keys the resource lacks are ignored.
    pub fn untag(&self, arn: &str, keys: &[String]) -> Result<(), BedrockError> {
        let mut inner = self.lock()?;
        let p = inner.find_mut(arn).ok_or_else(|| not_found(arn))?;
        p.tags.retain(|t| !keys.contains(&t.key));
        Ok(())
    }

    /// Resolves a runtime `modelId`: an application profile ARN routes to the model it was
    /// copied from (unknown or deleted: ResourceNotFoundException); anything else is the model
    /// table's resolution.
    pub fn resolve_for_invoke(&self, identifier: &str) -> Result<Resolved, BedrockError> {
        if !(identifier.starts_with("arn:")
            && identifier.contains(":application-inference-profile/"))
        {
            return models::resolve_for_invoke(identifier);
        }
        let inner = self.lock()?;
        let p = inner
            .apps
            .iter()
            .find(|p| p.view.arn == identifier)
            .ok_or_else(|| not_found(identifier))?;
        Ok(Resolved {
            model: p.model,
            profile: Some(p.geo.unwrap_or("application")),
        })
    }
}

fn merge_tags(into: &mut Vec<Tag>, tags: &[Tag]) {
    for t in tags {
        match into.iter_mut().find(|e| e.key == t.key) {
            Some(e) => e.value = t.value.clone(),
            None => into.push(t.clone()),
        }
    }
}

#[cfg(test)]
mod tests;
