//! Command-line flags; every flag can also come from a `BEDROCK_LOCAL_*` variable.

use std::path::PathBuf;

use clap::Parser;

/// A wire-compatible Amazon Bedrock Runtime emulator for offline tests.
#[derive(Debug, Clone, Parser)]
#[command(name = "bedrock-local", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "BEDROCK_LOCAL_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free port; the first stdout line names it).
    #[arg(long, env = "BEDROCK_LOCAL_PORT", default_value_t = 9101)]
    pub port: u16,
    /// Delay added before every response, in milliseconds.
    #[arg(long, env = "BEDROCK_LOCAL_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Delay before the first content event (time to first token), in milliseconds.
    #[arg(long, env = "BEDROCK_LOCAL_TTFT_MS", default_value_t = 0)]
    pub ttft_ms: u64,
    /// Output pacing in tokens per second (0 = as fast as possible).
    #[arg(long, env = "BEDROCK_LOCAL_TOKENS_PER_SEC", default_value_t = 0.0)]
    pub tokens_per_sec: f64,
    /// Guardrail rules file (JSON); the built-in `demo` guardrail is always present.
    #[arg(long, env = "BEDROCK_LOCAL_GUARDRAILS")]
    pub guardrails: Option<PathBuf>,
    /// Fraction of calls (0..1) answered with ThrottlingException at random.
    #[arg(long, env = "BEDROCK_LOCAL_FAULT_RATE", default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Seed of the random fault sequence.
    #[arg(long, env = "BEDROCK_LOCAL_SEED", default_value_t = 0)]
    pub seed: u64,
    /// Time until an async invocation completes, in milliseconds.
    #[arg(long, env = "BEDROCK_LOCAL_ASYNC_COMPLETE_MS", default_value_t = 1000)]
    pub async_complete_ms: u64,
    /// Time a batch inference job spends in each of Submitted, Validating, Scheduled and
    /// InProgress, in milliseconds.
    #[arg(long, env = "BEDROCK_LOCAL_BATCH_STEP_MS", default_value_t = 1000)]
    pub batch_step_ms: u64,
    /// Fewest records a batch inference job may have (Bedrock's default quota is 100).
    #[arg(long, env = "BEDROCK_LOCAL_BATCH_MIN_RECORDS", default_value_t = 100)]
    pub batch_min_records: usize,
    /// Largest batch input file, in bytes (Bedrock's default quota is 1 GB).
    #[arg(
        long,
        env = "BEDROCK_LOCAL_BATCH_MAX_FILE_BYTES",
        default_value_t = 1_000_000_000
    )]
    pub batch_max_file_bytes: u64,
    /// Region named in ARNs.
    #[arg(long, env = "BEDROCK_LOCAL_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Log one line per request on stderr (operation, model, status; never prompt text).
    #[arg(long, env = "BEDROCK_LOCAL_LOG_REQUESTS")]
    pub log_requests: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config::parse_from(["bedrock-local"])
    }
}
