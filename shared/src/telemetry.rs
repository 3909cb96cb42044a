//! Logs and metrics.
//!
//! Logs are `tracing` events rendered as one JSON object per line (CloudWatch Logs Insights reads
//! the fields), with the Lambda request ID as a span field. Metrics are CloudWatch Embedded Metric
//! Format (EMF) records: one JSON line on stdout per call, which CloudWatch turns into metrics
//! without an API call from the function. Prompt and completion text is never logged unless the
//! deployment sets `GATEWAY_LOG_CONTENT=true`.

use std::io::Write;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value, json};
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::{Filter, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Config;

/// Installs the JSON `tracing` subscriber. Call once per cold start (in `main`); later calls,
/// and calls after another subscriber was installed, do nothing.
pub fn init(config: &Config) {
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter(config)))
        .try_init();
}

/// Targets whose trace (and for signing, debug) events carry what must not reach the logs:
/// the signing request with its session token, request and response bodies (prompts and
/// completions). `GATEWAY_LOG_LEVEL=trace` still traces the gateway's own code; these stay
/// capped unless `GATEWAY_LOG_CONTENT=true` says the deployment accepts content in its logs.
const SDK_CAPS: [(&str, LevelFilter); 10] = [
    ("aws_sigv4", LevelFilter::INFO),
    ("aws_credential_types", LevelFilter::INFO),
    ("aws_config", LevelFilter::DEBUG),
    ("aws_smithy_runtime", LevelFilter::DEBUG),
    ("aws_smithy_runtime_api", LevelFilter::DEBUG),
    ("aws_smithy_http", LevelFilter::DEBUG),
    ("aws_smithy_http_client", LevelFilter::DEBUG),
    ("aws_smithy_types", LevelFilter::DEBUG),
    ("hyper", LevelFilter::DEBUG),
    ("h2", LevelFilter::DEBUG),
];

/// The log filter: `GATEWAY_LOG_LEVEL` (an `EnvFilter` directive; `info` if unreadable), and
/// the SDK's sensitive targets capped (`SDK_CAPS`). An event is logged only when both allow it,
/// so a cap only ever lowers a level: a cap written as a directive of the `EnvFilter` itself
/// would raise those targets to its level when `GATEWAY_LOG_LEVEL` is lower (at the default
/// `info`, the SDK's and hyper's debug lines: 65 on invoke's first call).
pub fn filter<S: Subscriber>(config: &Config) -> impl Filter<S> + Send + Sync + 'static {
    let levels = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let mut caps = Targets::new().with_default(LevelFilter::TRACE);
    if !config.log_content {
        caps = caps.with_targets(SDK_CAPS);
    }
    levels.and(caps)
}

/// The span every request's work runs in: its fields appear on every log line inside it.
pub fn request_span(request_id: &str, function: &'static str) -> tracing::Span {
    tracing::info_span!("request", request_id = %request_id, function = function)
}

/// Logs prompt or completion text only when the deployment allows it.
pub fn log_content(config: &Config, what: &'static str, content: &Value) {
    if config.log_content {
        tracing::info!(content_kind = what, content = %content, "content");
    }
}

/// One call's measurements, written as a single EMF line.
#[derive(Debug, Clone, Default)]
pub struct CallMetrics {
    /// `Model` dimension: the bare model ID.
    pub model: String,
    /// `Function` dimension: which Lambda function made the call.
    pub function: String,
    /// Operation (`Converse`, `ConverseStream`, `InvokeModel`, ...), a property, not a dimension.
    pub operation: String,
    /// The gateway request ID, as a property for correlation.
    pub request_id: String,
    /// Wall time of the call.
    pub latency: Option<Duration>,
    /// Time to first token (streaming).
    pub time_to_first_token: Option<Duration>,
    /// Input tokens (uncached).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Tokens written to the prompt cache.
    pub cache_write_tokens: u64,
    /// Cost in USD.
    pub cost: Option<Decimal>,
    /// 1 if the call ended throttled.
    pub throttles: u64,
    /// Fallback steps taken.
    pub fallbacks: u64,
    /// 1 if a guardrail intervened (Bedrock's, the caller's, or the local filter masking or
    /// blocking something).
    pub guardrail_interventions: u64,
    /// 1 if the local content filter masked or blocked something (a subset of the above).
    pub local_filter_interventions: u64,
    /// Which guardrails intervened (`bedrock`, `caller`, `local`): the `GuardrailSource`
    /// property, comma-separated.
    pub guardrail_sources: Vec<&'static str>,
    /// 1 if the call failed.
    pub errors: u64,
    /// The error type, when it failed.
    pub error_type: Option<String>,
    /// 1 if the answer came from the response cache.
    pub cache_hits: u64,
    /// 1 if the response cache was asked and did not have the answer.
    pub cache_misses: u64,
    /// What a cache hit saved (the original call's cost).
    pub cache_saved: Option<Decimal>,
}

impl CallMetrics {
    /// Records what a call used and cost.
    pub fn usage(&mut self, usage: &crate::cost::Usage, cost: &crate::cost::Cost) {
        self.input_tokens = usage.input_tokens;
        self.output_tokens = usage.output_tokens;
        self.cache_read_tokens = usage.cache_read_tokens;
        self.cache_write_tokens = usage.cache_write_tokens();
        self.cost = Some(cost.total());
    }

    /// Records a failure: one error, a throttle when it was one, and its type.
    pub fn error(&mut self, e: &crate::error::GatewayError) {
        self.errors = 1;
        self.throttles = u64::from(matches!(e.error_type(), "throttled" | "quota_exceeded"));
        self.error_type = Some(e.error_type().to_owned());
    }

    /// The EMF document for these metrics in `namespace`, stamped `timestamp_ms`.
    pub fn to_emf(&self, namespace: &str, timestamp_ms: u128) -> Value {
        let mut metrics = Vec::new();
        let mut root = Map::new();
        let mut put = |name: &str, unit: &str, value: Value| {
            metrics.push(json!({"Name": name, "Unit": unit}));
            root.insert(name.to_owned(), value);
        };
        if let Some(l) = self.latency {
            put("Latency", "Milliseconds", json!(l.as_secs_f64() * 1000.0));
        }
        if let Some(t) = self.time_to_first_token {
            put(
                "TimeToFirstToken",
                "Milliseconds",
                json!(t.as_secs_f64() * 1000.0),
            );
        }
        put("InputTokens", "Count", json!(self.input_tokens));
        put("OutputTokens", "Count", json!(self.output_tokens));
        put("CacheReadTokens", "Count", json!(self.cache_read_tokens));
        put("CacheWriteTokens", "Count", json!(self.cache_write_tokens));
        if let Some(c) = self.cost {
            // EMF values are doubles; the exact decimal is kept as a property below.
            put("Cost", "None", json!(c.to_f64().unwrap_or(0.0)));
        }
        put("Throttles", "Count", json!(self.throttles));
        put("Fallbacks", "Count", json!(self.fallbacks));
        put(
            "GuardrailInterventions",
            "Count",
            json!(self.guardrail_interventions),
        );
        put(
            "LocalFilterInterventions",
            "Count",
            json!(self.local_filter_interventions),
        );
        put("Errors", "Count", json!(self.errors));
        // Only calls that asked the response cache carry its metrics.
        if self.cache_hits + self.cache_misses > 0 {
            put("CacheHits", "Count", json!(self.cache_hits));
            put("CacheMisses", "Count", json!(self.cache_misses));
            put(
                "CacheSavedCost",
                "None",
                json!(self.cache_saved.and_then(|c| c.to_f64()).unwrap_or(0.0)),
            );
        }

        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms as u64,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["Model", "Function"], ["Function"]],
                    "Metrics": metrics,
                }],
            }),
        );
        root.insert("Model".to_owned(), json!(self.model));
        root.insert("Function".to_owned(), json!(self.function));
        root.insert("Operation".to_owned(), json!(self.operation));
        root.insert("request_id".to_owned(), json!(self.request_id));
        if let Some(c) = self.cost {
            root.insert("cost_usd".to_owned(), json!(c.normalize().to_string()));
        }
        if !self.guardrail_sources.is_empty() {
            root.insert(
                "GuardrailSource".to_owned(),
                json!(self.guardrail_sources.join(",")),
            );
        }
        if let Some(e) = &self.error_type {
            root.insert("error_type".to_owned(), json!(e));
        }
        Value::Object(root)
    }

    /// Writes the EMF line to stdout (if metrics are enabled), in one `write` so concurrent
    /// output cannot split it.
    pub fn emit(&self, config: &Config) {
        if !config.metrics_enabled {
            return;
        }
        let now = u128::from(crate::clock::unix_millis());
        let mut line = self.to_emf(&config.metrics_namespace, now).to_string();
        line.push('\n');
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::dec;

    /// The lines `config`'s filter lets through when each target logs at trace.
    fn logged_at_trace(config: &Config) -> String {
        #[derive(Clone, Default)]
        struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let layer = tracing_subscriber::fmt::layer().with_writer(move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer.with_filter(filter(config)));
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "aws_sigv4::http_request::sign", "x-amz-security-token: SESSION");
            tracing::debug!(target: "aws_sigv4::http_request::sign", "canonical request SESSION");
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "body PROMPT");
            tracing::trace!(target: "hyper::proto::h1", "wrote PROMPT");
            tracing::trace!(target: "gateway_model::resolve", "own trace");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "sdk debug");
            tracing::debug!(target: "hyper_util::client::legacy::pool", "pool debug");
            tracing::info!(target: "gateway_model::resolve", "own info");
        });
        let out = sink.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(move |k| vars.get(k).cloned()).unwrap()
    }

    #[test]
    fn trace_level_keeps_credentials_and_bodies_out_of_the_logs() {
        let logged = logged_at_trace(&config(&[
            ("AWS_REGION", "us-east-1"),
            ("GATEWAY_LOG_LEVEL", "trace"),
        ]));
        assert!(logged.contains("own trace"), "{logged}");
        assert!(
            !logged.contains("SESSION") && !logged.contains("PROMPT"),
            "{logged}"
        );
        // The deployment that accepts content in its logs gets everything.
        let logged = logged_at_trace(&config(&[
            ("AWS_REGION", "us-east-1"),
            ("GATEWAY_LOG_LEVEL", "trace"),
            ("GATEWAY_LOG_CONTENT", "true"),
        ]));
        assert!(
            logged.contains("SESSION") && logged.contains("PROMPT"),
            "{logged}"
        );
    }

    #[test]
    fn the_default_level_logs_no_sdk_debug_lines() {
        let logged = logged_at_trace(&config(&[("AWS_REGION", "us-east-1")]));
        assert!(logged.contains("own info"), "{logged}");
        assert!(
            !logged.contains("sdk debug") && !logged.contains("own trace"),
            "{logged}"
        );
        assert!(!logged.contains("SESSION") && !logged.contains("PROMPT"));
        // Debug everywhere: the SDK's debug lines appear, its trace and signing lines do not.
        let logged = logged_at_trace(&config(&[
            ("AWS_REGION", "us-east-1"),
            ("GATEWAY_LOG_LEVEL", "debug"),
        ]));
        assert!(logged.contains("sdk debug") && logged.contains("pool debug"));
        assert!(!logged.contains("SESSION") && !logged.contains("PROMPT"));
    }

    #[test]
    fn emf_shape() {
        let m = CallMetrics {
            model: "amazon.nova-pro-v1:0".into(),
            function: "invoke".into(),
            operation: "Converse".into(),
            request_id: "r-1".into(),
            latency: Some(Duration::from_millis(120)),
            input_tokens: 10,
            output_tokens: 5,
            cost: Some(dec!(0.000024)),
            fallbacks: 1,
            ..Default::default()
        };
        let v = m.to_emf("BedrockGateway", 1_700_000_000_000);
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "BedrockGateway");
        assert_eq!(cw["Dimensions"][0], json!(["Model", "Function"]));
        assert_eq!(v["Model"], "amazon.nova-pro-v1:0");
        assert_eq!(v["Function"], "invoke");
        assert_eq!(v["Latency"], json!(120.0));
        assert_eq!(v["InputTokens"], 10);
        assert_eq!(v["Fallbacks"], 1);
        assert_eq!(v["cost_usd"], "0.000024");
        // Every declared metric has a value at the root.
        for metric in cw["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(v.get(name).is_some(), "{name}");
        }
        assert!(v.get("TimeToFirstToken").is_none());
        // One line.
        assert!(!v.to_string().contains('\n'));
    }
}
