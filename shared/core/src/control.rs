//! The Bedrock control plane (service `bedrock`, not `bedrock-runtime`): what the account and
//! region can call. Configured at cold start from the same SDK configuration as the runtime
//! client, so `AWS_ENDPOINT_URL_BEDROCK` points it at `bedrock-local`; the SDK client itself is
//! built at its first use (see [`ControlPlane`]).
//!
//! Used to learn an application inference profile's underlying model (GetInferenceProfile),
//! which the gateway needs to price and police a call made through the profile's ARN, and to
//! read what the region offers for the live catalog (ListFoundationModels,
//! ListInferenceProfiles).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_bedrock::Client;

use crate::catalog::Modality;
use crate::config::Config;
use crate::error::{ErrorKind, GatewayError};
use crate::ids::{ApplicationProfile, Geography, ModelRef, ProfileId, Region};
use crate::live_catalog::LiveModel;

/// How long an ARN GetInferenceProfile did not find is answered 404 without asking again, so
/// a caller sending made-up ARNs costs one control-plane call per ARN and minute, not one per
/// request (the control plane's quota is the account's, shared with every other caller).
const UNKNOWN_PROFILE_TTL: Duration = Duration::from_secs(60);
/// At most this many unknown ARNs are remembered per warm function (memory stays bounded);
/// beyond it, expired ones are dropped, then new ones are not remembered.
const UNKNOWN_PROFILES_MAX: usize = 1024;

/// The control-plane SDK client, built at its first use and shared by every clone.
///
/// Building an SDK client builds its HTTPS connector (the SDK checks the HTTP client when the
/// client is made), and this client's timeouts differ from the runtime client's, so it gets a
/// connector of its own: a second rustls configuration with every CA root parsed again. No
/// first request needs it (the live catalog's first read waits for the first answer; an
/// application profile ARN is the exception), so a cold start does not pay for it.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    client: Arc<OnceLock<Client>>,
    /// What [`ControlPlane::client`] builds the client from.
    sdk: Arc<aws_config::SdkConfig>,
    /// ARNs GetInferenceProfile did not find, and when.
    unknown: Arc<Mutex<HashMap<String, Instant>>>,
}

impl ControlPlane {
    /// The client for the gateway's region, from the cold start's SDK configuration.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> ControlPlane {
        let shared = sdk
            .to_builder()
            .region(aws_config::Region::new(config.region.as_str().to_owned()))
            .build();
        ControlPlane {
            client: Arc::default(),
            sdk: Arc::new(shared),
            unknown: Arc::default(),
        }
    }

    /// Wraps an already built SDK client (tests).
    pub fn from_sdk(client: Client) -> ControlPlane {
        ControlPlane {
            client: Arc::new(OnceLock::from(client)),
            sdk: Arc::new(aws_config::SdkConfig::builder().build()),
            unknown: Arc::default(),
        }
    }

    /// Whether `arn` was not found less than [`UNKNOWN_PROFILE_TTL`] ago.
    fn known_unknown(&self, arn: &str) -> bool {
        let Ok(unknown) = self.unknown.lock() else {
            return false;
        };
        unknown
            .get(arn)
            .is_some_and(|at| at.elapsed() < UNKNOWN_PROFILE_TTL)
    }

    fn remember_unknown(&self, arn: &str) {
        let Ok(mut unknown) = self.unknown.lock() else {
            return;
        };
        if unknown.len() >= UNKNOWN_PROFILES_MAX {
            unknown.retain(|_, at| at.elapsed() < UNKNOWN_PROFILE_TTL);
        }
        if unknown.len() < UNKNOWN_PROFILES_MAX {
            unknown.insert(arn.to_owned(), Instant::now());
        }
    }

    /// The SDK client (the live catalog lists models and profiles with it).
    pub fn client(&self) -> &Client {
        self.client.get_or_init(|| Client::new(&self.sdk))
    }

    /// GetInferenceProfile for an application profile's ARN: `None` when it does not exist
    /// (or is not an application profile of a known foundation model shape). A `None` is
    /// remembered for a minute.
    pub async fn application_profile(
        &self,
        arn: &str,
    ) -> Result<Option<ApplicationProfile>, GatewayError> {
        if self.known_unknown(arn) {
            return Ok(None);
        }
        let found = self.get_inference_profile(arn).await?;
        if found.is_none() {
            self.remember_unknown(arn);
        }
        Ok(found)
    }

    async fn get_inference_profile(
        &self,
        arn: &str,
    ) -> Result<Option<ApplicationProfile>, GatewayError> {
        let out = match self
            .client()
            .get_inference_profile()
            .inference_profile_identifier(arn)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => {
                // The SDK's Display is the operation name only; its source says why.
                let why = std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .unwrap_or_else(|| e.to_string());
                tracing::warn!(error = %why, "GetInferenceProfile failed");
                return Err(GatewayError::new(
                    ErrorKind::ServiceUnavailable,
                    "model: the application inference profile could not be read from Bedrock's \
                     control plane (GetInferenceProfile); retry later",
                ));
            }
        };
        let arns: Vec<&str> = out.models().iter().filter_map(|m| m.model_arn()).collect();
        Ok(profile_from_models(arn, &arns))
    }
}

impl ControlPlane {
    /// Every foundation model the region lists, with the system profiles that serve it.
    pub async fn live_models(&self) -> Result<Vec<LiveModel>, String> {
        let why = |e: &dyn std::error::Error| {
            std::error::Error::source(e)
                .map(ToString::to_string)
                .unwrap_or_else(|| e.to_string())
        };
        let models = self
            .client()
            .list_foundation_models()
            .send()
            .await
            .map_err(|e| format!("ListFoundationModels: {}", why(&e)))?;
        let mut profiles: Vec<ProfileId> = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client()
                .list_inference_profiles()
                .type_equals(aws_sdk_bedrock::types::InferenceProfileType::SystemDefined)
                .max_results(1000)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| format!("ListInferenceProfiles: {}", why(&e)))?;
            profiles.extend(
                page.inference_profile_summaries()
                    .iter()
                    .filter_map(|p| p.inference_profile_id().parse().ok()),
            );
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(models
            .model_summaries()
            .iter()
            .filter_map(|m| {
                let id = m.model_id().parse().ok()?;
                let geos = profiles
                    .iter()
                    .filter(|p| p.model == id)
                    .map(|p| p.geography)
                    .collect();
                Some(LiveModel {
                    name: m.model_name().unwrap_or(m.model_id()).to_owned(),
                    input_modalities: m.input_modalities().iter().filter_map(modality).collect(),
                    output_modalities: m.output_modalities().iter().filter_map(modality).collect(),
                    streaming: m.response_streaming_supported().unwrap_or(false),
                    on_demand: m
                        .inference_types_supported()
                        .iter()
                        .any(|t| t.as_str() == "ON_DEMAND"),
                    profiles: geos,
                    id,
                })
            })
            .collect())
    }
}

/// The catalog's modality for the control plane's (`VIDEO` is not in the SDK's enum yet: read
/// by name).
fn modality(m: &aws_sdk_bedrock::types::ModelModality) -> Option<Modality> {
    Some(match m.as_str() {
        "TEXT" => Modality::Text,
        "IMAGE" => Modality::Image,
        "EMBEDDING" => Modality::Embedding,
        "VIDEO" => Modality::Video,
        "AUDIO" => Modality::Audio,
        _ => return None,
    })
}

/// The profile's model and geography from its models' ARNs: one foundation model (in one or
/// several regions). Several regions of one geography: a copy of that geography's system
/// profile; of several geographies: of the global profile (priced at the base price).
pub fn profile_from_models(arn: &str, model_arns: &[&str]) -> Option<ApplicationProfile> {
    let mut model = None;
    let mut geographies: Vec<Option<Geography>> = Vec::new();
    for m in model_arns {
        let ModelRef::Model(id) = ModelRef::parse(m) else {
            return None;
        };
        if model.as_ref().is_some_and(|known| known != &id) {
            return None; // Several models: not a shape Bedrock creates today.
        }
        model = Some(id);
        let region = m.split(':').nth(3).and_then(|r| r.parse::<Region>().ok());
        let geo = region.and_then(|r| r.geography());
        if !geographies.contains(&geo) {
            geographies.push(geo);
        }
    }
    let geography = match (model_arns.len(), geographies.as_slice()) {
        (0 | 1, _) => None,
        (_, [one]) => *one,
        _ => Some(Geography::Global),
    };
    Some(ApplicationProfile {
        arn: arn.to_owned(),
        model: model?,
        geography,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc";
    const M: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";

    fn fm(region: &str) -> String {
        format!("arn:aws:bedrock:{region}::foundation-model/{M}")
    }

    #[test]
    fn the_models_decide_model_and_geography() {
        let one = profile_from_models(ARN, &[&fm("us-east-1")]).unwrap();
        assert_eq!((one.model.as_str(), one.geography), (M, None));
        let us = profile_from_models(ARN, &[&fm("us-east-1"), &fm("us-west-2")]).unwrap();
        assert_eq!(us.geography, Some(Geography::Us));
        let global = profile_from_models(ARN, &[&fm("us-east-1"), &fm("eu-west-1")]).unwrap();
        assert_eq!(global.geography, Some(Geography::Global));
        assert!(profile_from_models(ARN, &[]).is_none());
        assert!(profile_from_models(ARN, &["arn:aws:bedrock:us-east-1::custom-model/x"]).is_none());
        let other = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0";
        assert!(profile_from_models(ARN, &[&fm("us-east-1"), other]).is_none());
    }

    /// The cold start builds no control-plane client (nor its connector); the first use builds
    /// one, and every clone (the gateway's, the live catalog's) uses that one.
    #[test]
    fn the_client_is_built_at_first_use_and_shared_by_clones() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(crate::sdk_http::https_client())
            .build();
        let config = crate::test_util::config_from(&[("GATEWAY_AUTH", "none")]).unwrap();
        let control = ControlPlane::from_sdk_config(&sdk, &config);
        let other = control.clone();
        assert!(control.client.get().is_none());
        let built = control.client().config().region().map(|r| r.to_string());
        assert_eq!(built.as_deref(), Some(config.region.as_str()));
        assert!(other.client.get().is_some());
        assert!(std::ptr::eq(control.client(), other.client()));
    }
}
