//! Handlers of the Bedrock Runtime operations.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::chat::ChatRequest;
use crate::converse;
use crate::errors::{BedrockError, malformed, validation};
use crate::eventstream;
use crate::faults::Fault;
use crate::generate::{Generation, OutBlock, StopReason, generate};
use crate::guardrails::{Guardrail, strip_markers};
use crate::models::{self, Family, Model, UNSUPPORTED_ACTION};
use crate::native::{self, NativeExtras, Usage};
use crate::server::AppState;
use crate::stats::Op;
use crate::stream::{self, Encoder, Format, Step, StreamEnd};
use crate::timing::Timing;
use crate::tokens::{self, Fnv};
use crate::validation::{MAX_BODY_BYTES, body_too_large};

type St = State<Arc<AppState>>;

/// Decodes a percent-encoded path label or query value.
pub fn percent_decode(s: &str) -> Result<String, BedrockError> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                None => {
                    return validation("The request path contains an invalid percent-encoding.");
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| BedrockError::Validation("The request path is not valid UTF-8.".into()))
}

fn label(params: &RawPathParams, name: &str) -> Result<String, BedrockError> {
    let raw = params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .unwrap_or("");
    percent_decode(raw)
}

async fn read_body(body: Body) -> Result<Bytes, BedrockError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| body_too_large())
}

fn respond(r: Result<Response, BedrockError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn pause(ms: u64) {
    pause_for(Duration::from_millis(ms)).await;
}

/// Sleeps only when there is something to wait: even a zero `sleep` waits for the next
/// timer tick (about 1 ms), which would cap throughput with timing off.
async fn pause_for(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

fn pace(tokens: u32, tokens_per_sec: f64) -> Duration {
    if tokens_per_sec > 0.0 && tokens > 0 {
        Duration::from_secs_f64(f64::from(tokens) / tokens_per_sec)
    } else {
        Duration::ZERO
    }
}

fn seed(model: &Model, body: &[u8]) -> u64 {
    let mut h = Fnv::new();
    h.write(model.id.as_bytes());
    h.write(body);
    h.0
}

fn json_response(value: &Value) -> Response {
    let mut r = (
        StatusCode::OK,
        serde_json::to_vec(value).unwrap_or_default(),
    )
        .into_response();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Applies a fault taken for this call: non-stream faults end the call now; a stream fault
/// is handed back for the stream to fire later.
fn take_fault(
    st: &AppState,
    op: Op,
    ids: &[&str],
    body: &[u8],
    model_id: &str,
) -> Result<Option<Fault>, BedrockError> {
    let streaming = matches!(op, Op::ConverseStream | Op::InvokeModelWithResponseStream);
    match st.faults.take(op.name(), ids, body, streaming) {
        None => Ok(None),
        Some(f) => {
            st.stats.faults_injected.fetch_add(1, Relaxed);
            if f.is_stream() {
                Ok(Some(f))
            } else {
                Err(f.error(model_id, &st.config.region))
            }
        }
    }
}

/// A guardrail applied to an invocation.
#[derive(Debug, Clone)]
struct Guard {
    rail: Arc<Guardrail>,
    trace: bool,
}

/// Everything known about an answer before it is encoded.
#[derive(Debug)]
struct Planned {
    generation: Generation,
    usage: Usage,
    trace: Option<Value>,
    intervened: bool,
    /// Output blocked by the guardrail: the message that replaces it.
    blocked_output: Option<String>,
}

fn blocked_generation(message: &str) -> Generation {
    let mut g = Generation {
        blocks: vec![OutBlock::Text(message.to_string())],
        stop_reason: StopReason::GuardrailIntervened,
        stop_sequence: None,
        output_tokens: 0,
    };
    g.recount();
    g
}

/// Counts, caches, generates and applies the guardrail: shared by every text operation.
fn plan(
    st: &AppState,
    model: &'static Model,
    chat: &ChatRequest,
    guard: Option<&Guard>,
    seed: u64,
) -> Planned {
    let count = tokens::count_request(model.id, chat);
    let mut usage = st.cache.usage(&count);
    let mut trace = None;
    let mut intervened = false;
    let mut blocked_output = None;
    let mut input_json = None;
    let generation = match guard {
        Some(g) => {
            let a = g.rail.assess(&strip_markers(&chat.guarded_input()));
            input_json = Some(g.rail.assessment_json(&a));
            if a.blocked {
                intervened = true;
                None
            } else {
                Some(generate(model, chat, seed))
            }
        }
        None => Some(generate(model, chat, seed)),
    };
    let generation = match (generation, guard) {
        (None, Some(g)) => blocked_generation(&g.rail.blocked_input_messaging),
        (Some(mut generation), Some(g)) => {
            let a = g.rail.assess(&generation.text());
            if a.intervened() {
                intervened = true;
                generation.stop_reason = StopReason::GuardrailIntervened;
                if a.blocked {
                    blocked_output = Some(g.rail.blocked_outputs_messaging.clone());
                } else {
                    for b in &mut generation.blocks {
                        if let OutBlock::Text(t) = b {
                            *t = g.rail.assess(t).masked;
                        }
                    }
                    generation.recount();
                }
            }
            if g.trace {
                let mut t = json!({"inputAssessment": {g.rail.id.clone(): input_json.take()}});
                t["outputAssessments"] = json!({g.rail.id.clone(): [g.rail.assessment_json(&a)]});
                trace = Some(t);
            }
            generation
        }
        (Some(generation), None) => generation,
        (None, None) => blocked_generation(""),
    };
    if let (Some(g), Some(input)) = (guard, input_json)
        && g.trace
    {
        trace = Some(json!({"inputAssessment": {g.rail.id.clone(): input}}));
    }
    usage.output = generation.output_tokens;
    Planned {
        generation,
        usage,
        trace,
        intervened,
        blocked_output,
    }
}

impl Planned {
    /// The non-streaming view: a blocked output is replaced wholesale.
    fn settle(&mut self) {
        if let Some(msg) = self.blocked_output.take() {
            self.generation = blocked_generation(&msg);
            self.usage.output = self.generation.output_tokens;
        }
    }

    /// The streaming view: the steps, cut where the guardrail intervenes.
    fn stream_steps(&mut self, guard: Option<&Guard>) -> Vec<Step> {
        let mut steps = stream::steps(&self.generation);
        if let (Some(msg), Some(g)) = (self.blocked_output.take(), guard) {
            let rail = Arc::clone(&g.rail);
            if !stream::intervene(&mut steps, &msg, |acc| rail.assess(acc).blocked) {
                steps = stream::steps(&blocked_generation(&msg));
            }
        }
        self.usage.output = steps
            .iter()
            .map(|s| {
                if let Step::Delta { tokens, .. } = s {
                    *tokens
                } else {
                    0
                }
            })
            .sum();
        steps
    }
}

fn guard_from(st: &AppState, id: &str, version: &str, trace: bool) -> Result<Guard, BedrockError> {
    if id.is_empty() {
        return validation(
            "1 validation error detected: Value null at 'guardrailIdentifier' failed to satisfy constraint: Member must not be null",
        );
    }
    Ok(Guard {
        rail: st.guardrails.get(id, version)?,
        trace,
    })
}

// ---------------------------------------------------------------- Converse

pub async fn converse(State(st): St, params: RawPathParams, body: Body) -> Response {
    respond(converse_call(st, params, body, false).await)
}

pub async fn converse_stream(State(st): St, params: RawPathParams, body: Body) -> Response {
    respond(converse_call(st, params, body, true).await)
}

async fn converse_call(
    st: Arc<AppState>,
    params: RawPathParams,
    body: Body,
    streaming: bool,
) -> Result<Response, BedrockError> {
    let started = Instant::now();
    pause(st.config.latency_ms).await;
    let id = label(&params, "model_id")?;
    let model = models::resolve_for_invoke(&id)?.model;
    let bytes = read_body(body).await?;
    let op = if streaming {
        Op::ConverseStream
    } else {
        Op::Converse
    };
    let stream_fault = take_fault(&st, op, &[id.as_str(), model.id], &bytes, model.id)?;
    let timing = Timing::for_request(&st.config, &bytes);
    if !model.caps.converse {
        return validation(UNSUPPORTED_ACTION);
    }
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| {
        BedrockError::Validation(format!("The request body is not valid JSON: {e}"))
    })?;
    let input = converse::parse(model, &json, streaming)?;
    let guard = match &input.guardrail {
        Some(cfg) => Some(guard_from(&st, &cfg.id, &cfg.version, cfg.trace)?),
        None => None,
    };
    let mut planned = plan(&st, model, &input.chat, guard.as_ref(), seed(model, &bytes));
    if streaming {
        let steps = planned.stream_steps(guard.as_ref());
        let enc = Encoder::new(
            Format::Converse,
            model,
            String::new(),
            planned.usage.all_input(),
        );
        return Ok(spawn_stream(
            st,
            enc,
            steps,
            planned,
            stream_fault,
            Clock { started, timing },
            None,
        ));
    }
    planned.settle();
    pause(timing.ttft_ms).await;
    pause_for(pace(planned.usage.output, timing.tokens_per_sec)).await;
    let mut out = json!({
        "output": {"message": {"role": "assistant", "content": native::converse_content(&planned.generation)}},
        "stopReason": planned.generation.stop_reason.as_str(),
        "usage": stream::converse_usage(&planned.usage),
        "metrics": {"latencyMs": started.elapsed().as_millis() as u64},
    });
    if let (Some(seq), Family::Anthropic) = (&planned.generation.stop_sequence, model.family) {
        out["additionalModelResponseFields"] = json!({"stop_sequence": seq});
    }
    if let Some(t) = planned.trace {
        out["trace"] = json!({"guardrail": t});
    }
    Ok(json_response(&out))
}

// ---------------------------------------------------------------- streaming

/// How a stream ended, for the counters.
enum StreamOutcome {
    Cancelled,
    Failed,
}

struct Sink {
    tx: mpsc::Sender<Bytes>,
    sent: u32,
    fault: Option<(u32, BedrockError)>,
}

impl Sink {
    async fn send(&mut self, frame: Bytes) -> Result<(), StreamOutcome> {
        if let Some((after, err)) = &self.fault
            && self.sent >= *after
        {
            let _ = self.tx.send(eventstream::exception(err)).await;
            return Err(StreamOutcome::Failed);
        }
        self.tx
            .send(frame)
            .await
            .map_err(|_| StreamOutcome::Cancelled)?;
        self.sent += 1;
        Ok(())
    }

    /// Sleeps, but gives up as soon as the client has gone.
    async fn wait(&self, d: Duration) -> Result<(), StreamOutcome> {
        if d.is_zero() {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(d) => Ok(()),
            () = self.tx.closed() => Err(StreamOutcome::Cancelled),
        }
    }
}

struct ActiveStream(Arc<AppState>);

impl Drop for ActiveStream {
    fn drop(&mut self) {
        self.0.stats.active_streams.fetch_sub(1, Relaxed);
    }
}

/// When the request started and how this stream is paced.
struct Clock {
    started: Instant,
    timing: Timing,
}

/// Starts the producer task and returns the 200 event-stream response at once; frames are
/// written one per channel message, so each reaches the socket as soon as it is produced.
fn spawn_stream(
    st: Arc<AppState>,
    mut enc: Encoder,
    steps: Vec<Step>,
    planned: Planned,
    fault: Option<Fault>,
    clock: Clock,
    native_content_type: Option<&'static str>,
) -> Response {
    let Clock { started, timing } = clock;
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    st.stats.streams_started.fetch_add(1, Relaxed);
    st.stats.active_streams.fetch_add(1, Relaxed);
    let region = st.config.region.clone();
    let model_id = enc.model_id();
    let task_state = Arc::clone(&st);
    tokio::spawn(async move {
        let st = task_state;
        let _active = ActiveStream(Arc::clone(&st));
        let mut sink = Sink {
            tx,
            sent: 0,
            fault: fault.map(|f| (f.after(), f.error(model_id, &region))),
        };
        let outcome = async {
            for f in enc.start(&planned.usage) {
                sink.send(f).await?;
            }
            sink.wait(Duration::from_millis(timing.ttft_ms)).await?;
            let first_byte_ms = started.elapsed().as_millis() as u64;
            for s in &steps {
                if let Step::Delta { tokens, .. } = s {
                    sink.wait(pace(*tokens, timing.tokens_per_sec)).await?;
                }
                if let Some(f) = enc.step(s) {
                    sink.send(f).await?;
                }
            }
            let end = StreamEnd {
                stop_reason: planned.generation.stop_reason,
                stop_sequence: planned.generation.stop_sequence.clone(),
                usage: planned.usage,
                latency_ms: started.elapsed().as_millis() as u64,
                first_byte_ms,
                guardrail_trace: planned.trace.clone(),
                guardrail_intervened: planned.intervened,
            };
            for f in enc.finish(&end) {
                sink.send(f).await?;
            }
            Ok::<(), StreamOutcome>(())
        }
        .await;
        let counter = match outcome {
            Ok(()) => &st.stats.streams_completed,
            Err(StreamOutcome::Cancelled) => &st.stats.streams_cancelled,
            Err(StreamOutcome::Failed) => &st.stats.streams_failed,
        };
        counter.fetch_add(1, Relaxed);
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), rx))
    });
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(eventstream::CONTENT_TYPE),
    );
    if let Some(ct) = native_content_type {
        h.insert("X-Amzn-Bedrock-Content-Type", HeaderValue::from_static(ct));
    }
    r
}

// ---------------------------------------------------------------- InvokeModel

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

fn invoke_guard(st: &AppState, h: &HeaderMap) -> Result<Option<Guard>, BedrockError> {
    let Some(id) = header(h, "x-amzn-bedrock-guardrailidentifier") else {
        return Ok(None);
    };
    let version = header(h, "x-amzn-bedrock-guardrailversion").ok_or_else(|| {
        BedrockError::Validation(
            "Guardrail version is required when a guardrail identifier is provided.".into(),
        )
    })?;
    let trace = matches!(
        header(h, "x-amzn-bedrock-trace"),
        Some("ENABLED" | "ENABLED_FULL")
    );
    guard_from(st, id, version, trace).map(Some)
}

pub async fn invoke(
    State(st): St,
    params: RawPathParams,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(invoke_call(st, params, headers, body, false).await)
}

pub async fn invoke_stream(
    State(st): St,
    params: RawPathParams,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(invoke_call(st, params, headers, body, true).await)
}

async fn invoke_call(
    st: Arc<AppState>,
    params: RawPathParams,
    headers: HeaderMap,
    body: Body,
    streaming: bool,
) -> Result<Response, BedrockError> {
    let started = Instant::now();
    pause(st.config.latency_ms).await;
    let id = label(&params, "model_id")?;
    let model = models::resolve_for_invoke(&id)?.model;
    let bytes = read_body(body).await?;
    let op = if streaming {
        Op::InvokeModelWithResponseStream
    } else {
        Op::InvokeModel
    };
    let stream_fault = take_fault(&st, op, &[id.as_str(), model.id], &bytes, model.id)?;
    let timing = Timing::for_request(&st.config, &bytes);
    let json: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => return malformed("#: expected type: JSONObject, found: String"),
    };
    let seed = seed(model, &bytes);
    match model.family {
        Family::NovaReel => return validation(UNSUPPORTED_ACTION),
        Family::TitanEmbed | Family::CohereEmbed => {
            if streaming {
                return validation("The model is unsupported for streaming.");
            }
            let (out, input_tokens) = native::embed(model, &json, seed)?;
            let mut r = json_response(&out);
            token_headers(&mut r, input_tokens, 0, started);
            return Ok(r);
        }
        _ => {}
    }
    let guard = invoke_guard(&st, &headers)?;
    let chat = native::parse(model, &json)?;
    if streaming {
        check_stream_tools(model, &chat)?;
    }
    let mut planned = plan(&st, model, &chat, guard.as_ref(), seed);
    let msg_id = format!("{:024x}", seed as u128 * 0x1_0000_0001);
    if streaming {
        let steps = planned.stream_steps(guard.as_ref());
        let enc = Encoder::new(
            Format::Native(model.family),
            model,
            msg_id,
            planned.usage.all_input(),
        );
        return Ok(spawn_stream(
            st,
            enc,
            steps,
            planned,
            stream_fault,
            Clock { started, timing },
            Some("application/json"),
        ));
    }
    planned.settle();
    pause(timing.ttft_ms).await;
    pause_for(pace(planned.usage.output, timing.tokens_per_sec)).await;
    let extras = NativeExtras {
        guardrail_intervened: planned.intervened,
        trace: planned.trace.clone(),
        metrics: None,
    };
    let out = native::response(
        model,
        &chat,
        &planned.generation,
        &planned.usage,
        &msg_id,
        &extras,
    );
    let mut r = json_response(&out);
    token_headers(
        &mut r,
        planned.usage.all_input(),
        planned.usage.output,
        started,
    );
    Ok(r)
}

fn check_stream_tools(model: &Model, chat: &ChatRequest) -> Result<(), BedrockError> {
    if !chat.tools.is_empty() && !model.caps.stream_tools {
        return validation("This model doesn't support tool use in streaming mode.");
    }
    if !model.caps.streaming {
        return validation("The model is unsupported for streaming.");
    }
    Ok(())
}

fn token_headers(r: &mut Response, input: u32, output: u32, started: Instant) {
    let h = r.headers_mut();
    h.insert("X-Amzn-Bedrock-Input-Token-Count", HeaderValue::from(input));
    h.insert(
        "X-Amzn-Bedrock-Output-Token-Count",
        HeaderValue::from(output),
    );
    h.insert(
        "X-Amzn-Bedrock-Invocation-Latency",
        HeaderValue::from(started.elapsed().as_millis() as u64),
    );
}

// ---------------------------------------------------------------- CountTokens

pub async fn count_tokens(State(st): St, params: RawPathParams, body: Body) -> Response {
    respond(count_call(st, params, body).await)
}

async fn count_call(
    st: Arc<AppState>,
    params: RawPathParams,
    body: Body,
) -> Result<Response, BedrockError> {
    pause(st.config.latency_ms).await;
    let id = label(&params, "model_id")?;
    let resolved = models::parse(&id)?;
    if resolved.profile.is_some() || id.contains(":inference-profile/") {
        return validation(format!(
            "The provided model identifier {id} is an inference profile. CountTokens accepts a foundation model ID only; retry with the foundation model ID."
        ));
    }
    let model = resolved.model;
    let bytes = read_body(body).await?;
    take_fault(
        &st,
        Op::CountTokens,
        &[id.as_str(), model.id],
        &bytes,
        model.id,
    )?;
    if !model.caps.count_tokens {
        return validation("The provided model doesn't support counting tokens.");
    }
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| {
        BedrockError::Validation(format!("The request body is not valid JSON: {e}"))
    })?;
    let input = json.get("input").ok_or_else(|| {
        BedrockError::Validation("1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must not be null".into())
    })?;
    let chat = if let Some(c) = input.get("converse") {
        converse::parse(model, c, false)?.chat
    } else if let Some(im) = input.get("invokeModel") {
        let b64 = im.get("body").and_then(Value::as_str).unwrap_or("");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| {
                BedrockError::Validation("The invokeModel body is not valid base64.".into())
            })?;
        let native: Value = serde_json::from_slice(&raw)
            .or_else(|_| malformed("#: expected type: JSONObject, found: String"))?;
        native::parse(model, &native)?
    } else {
        return validation("The input must set exactly one of converse or invokeModel.");
    };
    let count = tokens::count_request(model.id, &chat);
    Ok(json_response(&json!({"inputTokens": count.total})))
}

// ---------------------------------------------------------------- ApplyGuardrail

pub async fn apply_guardrail(State(st): St, params: RawPathParams, body: Body) -> Response {
    respond(apply_call(st, params, body).await)
}

async fn apply_call(
    st: Arc<AppState>,
    params: RawPathParams,
    body: Body,
) -> Result<Response, BedrockError> {
    pause(st.config.latency_ms).await;
    let id = label(&params, "id")?;
    let version = label(&params, "version")?;
    let bytes = read_body(body).await?;
    take_fault(&st, Op::ApplyGuardrail, &[id.as_str()], &bytes, &id)?;
    let rail = st.guardrails.get(&id, &version)?;
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| {
        BedrockError::Validation(format!("The request body is not valid JSON: {e}"))
    })?;
    let input_source = match json.get("source").and_then(Value::as_str) {
        Some("INPUT") => true,
        Some("OUTPUT") => false,
        _ => {
            return validation(
                "1 validation error detected: Value at 'source' failed to satisfy constraint: Member must satisfy enum value set: [INPUT, OUTPUT]",
            );
        }
    };
    let content = json.get("content").and_then(Value::as_array).ok_or_else(|| {
        BedrockError::Validation("1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null".into())
    })?;
    let texts: Vec<&str> = content
        .iter()
        .filter_map(|c| {
            c.get("text")
                .and_then(|t| t.get("text"))
                .and_then(Value::as_str)
        })
        .collect();
    let whole = texts.join("\n");
    let a = rail.assess(&whole);
    let outputs: Vec<Value> = if a.blocked {
        let msg = if input_source {
            &rail.blocked_input_messaging
        } else {
            &rail.blocked_outputs_messaging
        };
        vec![json!({"text": msg})]
    } else if a.anonymized {
        texts
            .iter()
            .map(|t| json!({"text": rail.assess(t).masked}))
            .collect()
    } else {
        Vec::new()
    };
    let chars = a.chars;
    let out = json!({
        "usage": rail.usage(chars),
        "action": if a.intervened() { "GUARDRAIL_INTERVENED" } else { "NONE" },
        "actionReason": if a.blocked { "Guardrail blocked." } else if a.anonymized { "Guardrail masked." } else { "No action." },
        "outputs": outputs,
        "assessments": [rail.assessment_json(&a)],
        "guardrailCoverage": {"textCharacters": {"guarded": chars, "total": chars}},
    });
    Ok(json_response(&out))
}

// ---------------------------------------------------------------- async invoke

pub async fn start_async(State(st): St, body: Body) -> Response {
    respond(
        async {
            pause(st.config.latency_ms).await;
            let bytes = read_body(body).await?;
            let json: Value = serde_json::from_slice(&bytes).map_err(|e| {
                BedrockError::Validation(format!("The request body is not valid JSON: {e}"))
            })?;
            let model_id = json.get("modelId").and_then(Value::as_str).unwrap_or("");
            take_fault(&st, Op::StartAsyncInvoke, &[model_id], &bytes, model_id)?;
            let arn = st.async_jobs.start(
                &json,
                &st.config.region,
                Duration::from_millis(st.config.async_complete_ms),
            )?;
            Ok(json_response(&json!({"invocationArn": arn})))
        }
        .await,
    )
}

pub async fn get_async(State(st): St, params: RawPathParams) -> Response {
    respond(
        async {
            pause(st.config.latency_ms).await;
            let arn = label(&params, "arn")?;
            take_fault(&st, Op::GetAsyncInvoke, &[], &[], "")?;
            Ok(json_response(&st.async_jobs.get(&arn)?))
        }
        .await,
    )
}

pub async fn list_async(State(st): St, RawQuery(q): RawQuery) -> Response {
    respond(
        async {
            pause(st.config.latency_ms).await;
            take_fault(&st, Op::ListAsyncInvokes, &[], &[], "")?;
            let mut map = HashMap::new();
            for pair in q
                .as_deref()
                .unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
            {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                map.insert(percent_decode(k)?, percent_decode(&v.replace('+', " "))?);
            }
            Ok(json_response(&st.async_jobs.list(&map)?))
        }
        .await,
    )
}
