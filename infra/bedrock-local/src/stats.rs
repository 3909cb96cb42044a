//! Counters served by `GET /_local/stats`; atomics so the hot path takes no lock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde_json::{Value, json};

/// Bedrock Runtime and control-plane operations, in a fixed order so counters are an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Converse,
    ConverseStream,
    InvokeModel,
    InvokeModelWithResponseStream,
    CountTokens,
    ApplyGuardrail,
    StartAsyncInvoke,
    GetAsyncInvoke,
    ListAsyncInvokes,
    ListFoundationModels,
    GetFoundationModel,
    ListInferenceProfiles,
    GetInferenceProfile,
    CreateInferenceProfile,
    DeleteInferenceProfile,
    ListTagsForResource,
    TagResource,
    UntagResource,
    CreateModelInvocationJob,
    GetModelInvocationJob,
    ListModelInvocationJobs,
    StopModelInvocationJob,
}

const OPS: usize = 22;

impl Op {
    pub const ALL: [Op; OPS] = [
        Op::Converse,
        Op::ConverseStream,
        Op::InvokeModel,
        Op::InvokeModelWithResponseStream,
        Op::CountTokens,
        Op::ApplyGuardrail,
        Op::StartAsyncInvoke,
        Op::GetAsyncInvoke,
        Op::ListAsyncInvokes,
        Op::ListFoundationModels,
        Op::GetFoundationModel,
        Op::ListInferenceProfiles,
        Op::GetInferenceProfile,
        Op::CreateInferenceProfile,
        Op::DeleteInferenceProfile,
        Op::ListTagsForResource,
        Op::TagResource,
        Op::UntagResource,
        Op::CreateModelInvocationJob,
        Op::GetModelInvocationJob,
        Op::ListModelInvocationJobs,
        Op::StopModelInvocationJob,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Converse => "Converse",
            Op::ConverseStream => "ConverseStream",
            Op::InvokeModel => "InvokeModel",
            Op::InvokeModelWithResponseStream => "InvokeModelWithResponseStream",
            Op::CountTokens => "CountTokens",
            Op::ApplyGuardrail => "ApplyGuardrail",
            Op::StartAsyncInvoke => "StartAsyncInvoke",
            Op::GetAsyncInvoke => "GetAsyncInvoke",
            Op::ListAsyncInvokes => "ListAsyncInvokes",
            Op::ListFoundationModels => "ListFoundationModels",
            Op::GetFoundationModel => "GetFoundationModel",
            Op::ListInferenceProfiles => "ListInferenceProfiles",
            Op::GetInferenceProfile => "GetInferenceProfile",
            Op::CreateInferenceProfile => "CreateInferenceProfile",
            Op::DeleteInferenceProfile => "DeleteInferenceProfile",
            Op::ListTagsForResource => "ListTagsForResource",
            Op::TagResource => "TagResource",
            Op::UntagResource => "UntagResource",
            Op::CreateModelInvocationJob => "CreateModelInvocationJob",
            Op::GetModelInvocationJob => "GetModelInvocationJob",
            Op::ListModelInvocationJobs => "ListModelInvocationJobs",
            Op::StopModelInvocationJob => "StopModelInvocationJob",
        }
    }

    /// The operation a request addresses, from its method and (still encoded) path.
    pub fn from_request(method: &http::Method, path: &str) -> Option<Op> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let post = method == http::Method::POST;
        let get = method == http::Method::GET;
        Some(match segs.as_slice() {
            ["model", _, "converse"] if post => Op::Converse,
            ["model", _, "converse-stream"] if post => Op::ConverseStream,
            ["model", _, "invoke"] if post => Op::InvokeModel,
            ["model", _, "invoke-with-response-stream"] if post => {
                Op::InvokeModelWithResponseStream
            }
            ["model", _, "count-tokens"] if post => Op::CountTokens,
            ["guardrail", _, "version", _, "apply"] if post => Op::ApplyGuardrail,
            ["async-invoke"] if post => Op::StartAsyncInvoke,
            ["async-invoke"] => Op::ListAsyncInvokes,
            ["async-invoke", _] => Op::GetAsyncInvoke,
            ["foundation-models"] if get => Op::ListFoundationModels,
            ["foundation-models", _] if get => Op::GetFoundationModel,
            ["inference-profiles"] if post => Op::CreateInferenceProfile,
            ["inference-profiles"] if get => Op::ListInferenceProfiles,
            ["inference-profiles", _] if get => Op::GetInferenceProfile,
            ["inference-profiles", _] if method == http::Method::DELETE => {
                Op::DeleteInferenceProfile
            }
            ["listTagsForResource"] if post => Op::ListTagsForResource,
            ["tagResource"] if post => Op::TagResource,
            ["untagResource"] if post => Op::UntagResource,
            ["model-invocation-job"] if post => Op::CreateModelInvocationJob,
            ["model-invocation-job", _] if get => Op::GetModelInvocationJob,
            ["model-invocation-job", _, "stop"] if post => Op::StopModelInvocationJob,
            ["model-invocation-jobs"] if get => Op::ListModelInvocationJobs,
            _ => return None,
        })
    }
}

#[derive(Debug, Default)]
pub struct Stats {
    requests: [AtomicU64; OPS],
    pub faults_injected: AtomicU64,
    pub streams_started: AtomicU64,
    pub streams_completed: AtomicU64,
    pub streams_cancelled: AtomicU64,
    pub streams_failed: AtomicU64,
    pub active_streams: AtomicU64,
}

impl Stats {
    pub fn request(&self, op: Op) {
        self.requests[op as usize].fetch_add(1, Relaxed);
    }

    pub fn reset(&self) {
        for c in &self.requests {
            c.store(0, Relaxed);
        }
        self.faults_injected.store(0, Relaxed);
        self.streams_started.store(0, Relaxed);
        self.streams_completed.store(0, Relaxed);
        self.streams_cancelled.store(0, Relaxed);
        self.streams_failed.store(0, Relaxed);
    }

    pub fn json(&self) -> Value {
        let mut per_op = serde_json::Map::new();
        for op in Op::ALL {
            per_op.insert(
                op.name().into(),
                json!(self.requests[op as usize].load(Relaxed)),
            );
        }
        json!({
            "requests": per_op,
            "requests_total": self.requests.iter().map(|c| c.load(Relaxed)).sum::<u64>(),
            "faults_injected": self.faults_injected.load(Relaxed),
            "streams_started": self.streams_started.load(Relaxed),
            "streams_completed": self.streams_completed.load(Relaxed),
            "streams_cancelled": self.streams_cancelled.load(Relaxed),
            "streams_failed": self.streams_failed.load(Relaxed),
            "active_streams": self.active_streams.load(Relaxed),
        })
    }
}
