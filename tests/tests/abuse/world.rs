//! What every case shares: one bedrock-local, one moto (keys, usage and jobs tables, the jobs
//! queue, the results bucket), the keys of two tenants, an admin and two limited keys, and every
//! HTTP function's router configured as template.yaml deploys it (API keys on, response cache on,
//! jobs on, production webhook policy).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gateway_jobs::JobsSettings;
use gateway_stores::admin::KeyAdmin;
use gateway_stores::auth::KeyStore;
use gateway_tests::Emulator;
use gateway_tests::jobs::{Env, JobsAws, jobs_env};
use gateway_tests::keys::{KEYS_TABLE, USAGE_TABLE, create_key_tables};
use inference_core::auth::{AuthSettings, KeyRecord, Limits};
use inference_core::cache::ResponseCache;
use inference_core::{BedrockClient, Catalog, Config, Gateway};
use invoke::{AppState, JobsApi};
use rust_decimal::Decimal;

use crate::event::Who;

/// The function a case is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `invoke` (HTTP API).
    Invoke,
    /// `stream-url` (Function URL).
    Stream,
    /// `count` (HTTP API).
    Count,
    /// `admin` (HTTP API, behind IAM: no key).
    Admin,
    /// `invoke` deployed with `AuthMode=JWT`: API Gateway has checked a JWT in `Authorization`,
    /// the gateway's key is read from `x-api-key` only (`GATEWAY_KEY_HEADERS=x-api-key`).
    InvokeJwt,
    /// `invoke` with the local content filter masking e-mail addresses (`GATEWAY_PII_POLICY`).
    InvokeMasking,
}

/// A key and its record.
pub struct Key {
    /// The secret.
    pub secret: String,
    /// The record.
    pub record: KeyRecord,
}

/// The shared servers, keys and routers.
pub struct World {
    _emulator: Emulator,
    _aws: JobsAws,
    keys: HashMap<&'static str, Key>,
    routers: HashMap<&'static str, axum::Router>,
}

impl World {
    /// The secret of `who` (`None` for [`Who::Nobody`]).
    pub fn secret(&self, who: Who) -> Option<&str> {
        self.key(who).map(|k| k.secret.as_str())
    }

    /// The key of `who`.
    pub fn key(&self, who: Who) -> Option<&Key> {
        let name = match who {
            Who::Nobody => return None,
            Who::A => "a",
            Who::B => "b",
            Who::Admin => "admin",
            Who::Budget => "budget",
            Who::Tpm => "tpm",
            Who::Streams => "streams",
        };
        self.keys.get(name)
    }

    /// The emulator every router calls.
    pub fn emulator(&self) -> &Emulator {
        &self._emulator
    }

    /// The router of `target`.
    pub fn router(&self, target: Target) -> &axum::Router {
        &self.routers[name_of(target)]
    }

    /// Starts the servers, creates the tables, queue and bucket, issues the keys and builds the
    /// routers.
    pub async fn start() -> World {
        let aws = JobsAws::start().await;
        let emulator = Emulator::start(&[]);
        let sdk = &aws.sdk;
        create_key_tables(sdk).await;
        let keys = issue_keys(sdk).await;
        let mut routers = HashMap::new();
        for target in [
            Target::Invoke,
            Target::Stream,
            Target::Count,
            Target::Admin,
            Target::InvokeJwt,
            Target::InvokeMasking,
        ] {
            let app = build(target, sdk, &emulator.url, &aws.queue_url);
            routers.insert(name_of(target), app);
        }
        World {
            _emulator: emulator,
            _aws: aws,
            keys,
            routers,
        }
    }
}

fn name_of(target: Target) -> &'static str {
    match target {
        Target::Invoke => "invoke",
        Target::Stream => "stream-url",
        Target::Count => "count",
        Target::Admin => "admin",
        Target::InvokeJwt => "invoke-jwt",
        Target::InvokeMasking => "invoke-masking",
    }
}

/// The variables of a deployment with keys, the response cache and jobs.
fn variables(target: Target, queue_url: &str) -> Env {
    let per_target = match target {
        Target::InvokeJwt => Some(("GATEWAY_KEY_HEADERS", "x-api-key")),
        Target::InvokeMasking => Some(("GATEWAY_PII_POLICY", "email=mask")),
        _ => None,
    };
    let extra: Vec<(&str, &str)> = [
        ("GATEWAY_AUTH", "api_key"),
        ("GATEWAY_KEYS_TABLE", KEYS_TABLE),
        ("GATEWAY_USAGE_TABLE", USAGE_TABLE),
        ("GATEWAY_KEY_CACHE_SECONDS", "30"),
        ("GATEWAY_CACHE", "on"),
        // Stream leases are given back by a spawned DynamoDB write; with four rows at a time
        // against one moto (which serialises DynamoDB calls), key A's default of 10 open
        // streams was once reached by leases not yet given back (a 429 where a 400 was
        // expected). The limit itself is checked by the `streams` key's scenario.
        ("GATEWAY_DEFAULT_MAX_STREAMS", "1000"),
    ]
    .into_iter()
    .chain(per_target)
    .collect();
    jobs_env(queue_url, false, &extra)
}

fn build(
    target: Target,
    sdk: &aws_config::SdkConfig,
    endpoint: &str,
    queue_url: &str,
) -> axum::Router {
    let vars = variables(target, queue_url);
    let lookup = |k: &str| vars.lookup(k);
    let config = Config::from_lookup(lookup).expect("configuration");
    let settings = AuthSettings::from_lookup(lookup).expect("auth settings");
    let catalog = Catalog::load(&config).expect("catalog");
    let client = BedrockClient::for_endpoint(&config, endpoint);
    let cache = ResponseCache::new(config.cache.clone());
    let gateway = Gateway::new(config.clone(), catalog, client)
        .with_auth(gateway_stores::auth::from_settings(sdk, &settings))
        .with_cache(cache);
    match target {
        Target::Invoke | Target::InvokeJwt | Target::InvokeMasking => {
            let jobs = JobsSettings::from_lookup(&config, lookup)
                .expect("jobs settings")
                .and_then(|s| JobsApi::new(sdk, s));
            assert!(jobs.is_some(), "jobs configured");
            invoke::router(Arc::new(AppState::new(gateway).with_jobs(jobs)))
        }
        Target::Stream => stream_url::router(gateway),
        Target::Count => count::router(gateway),
        Target::Admin => admin::router(Arc::new(KeyAdmin::new(
            aws_sdk_dynamodb::Client::new(sdk),
            KEYS_TABLE,
            Some(USAGE_TABLE),
        ))),
    }
}

async fn issue_keys(sdk: &aws_config::SdkConfig) -> HashMap<&'static str, Key> {
    let store = KeyStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        KEYS_TABLE,
        Duration::ZERO,
    );
    let budget = Limits {
        // A few cheap calls' worth: concurrent calls must not spend far past it.
        budget_day_usd: Some(Decimal::new(2, 3)),
        ..Limits::default()
    };
    let tpm = Limits {
        tokens_per_minute: Some(2_000),
        ..Limits::default()
    };
    let mut keys = HashMap::new();
    for (name, admin, limits) in [
        ("a", false, Limits::default()),
        ("b", false, Limits::default()),
        ("admin", true, Limits::default()),
        ("budget", false, budget),
        ("tpm", false, tpm),
        (
            "streams",
            false,
            Limits {
                max_concurrent_streams: Some(2),
                ..Limits::default()
            },
        ),
    ] {
        let (secret, record) = store
            .issue(&format!("abuse-{name}"), vec![], admin, limits)
            .await
            .expect("issue a key");
        keys.insert(name, Key { secret, record });
    }
    keys
}
