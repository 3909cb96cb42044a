//! In-process microbenchmarks of the shared crate (issues 8 and 10): the local token estimate
//! and the PII filter, each beside a trivial baseline over the same input (a byte scan, a copy,
//! an unfiltered pass-through), so the figure says what the work costs over touching the bytes.
//!
//! Every benchmark does one discarded warm-up pass, then measured passes until its pass count or
//! its time budget runs out (at least one). Inputs and results go through `black_box` so the
//! optimiser can neither precompute nor drop the work.

use std::hint::black_box;
use std::time::{Duration, Instant};

use inference_core::estimate::{self, Family};
use inference_core::filter::{self, Filter, Policy};
use serde_json::{Value, json};

use crate::report::Figure;
use crate::stats::{Summary, summarize};

/// Bounds of every microbenchmark.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct MicroPlan {
    /// Time budget of one benchmark (its baseline has the same).
    pub budget_ms: u64,
    /// Most measured passes over a corpus.
    pub max_passes: usize,
    /// `estimate_request` calls per timed batch.
    pub request_batch: usize,
    /// Bytes of the filter corpus fed to the stream filter (4-character chunks).
    pub stream_bytes: usize,
}

/// Times `pass` (which returns the units it processed) repeatedly; samples are units/s.
fn rate(plan: &MicroPlan, mut pass: impl FnMut() -> f64) -> Vec<f64> {
    pass();
    let end = Instant::now() + Duration::from_millis(plan.budget_ms);
    let mut out = Vec::new();
    while out.is_empty() || (out.len() < plan.max_passes && Instant::now() < end) {
        let t = Instant::now();
        let units = pass();
        out.push(units / t.elapsed().as_secs_f64());
    }
    out
}

fn scaled(v: &[f64], k: f64) -> Vec<f64> {
    v.iter().map(|x| x * k).collect()
}

fn sum(v: &[f64]) -> Summary {
    summarize(v).unwrap_or(Summary {
        n: 0,
        min: f64::NAN,
        median: f64::NAN,
        p99: f64::NAN,
        max: f64::NAN,
        mean: f64::NAN,
    })
}

/// Whitespace bytes: the cheapest scan that reads every byte, the estimator's floor.
fn whitespace(text: &str) -> usize {
    text.bytes().filter(u8::is_ascii_whitespace).count()
}

/// A typical Converse body: a system prompt and a three-turn conversation (~1 KB).
pub fn typical_request() -> Value {
    json!({
        "system": [{"text": "You are a concise assistant for an internal engineering team. Answer in short paragraphs and cite file names when relevant."}],
        "messages": [
            {"role": "user", "content": [{"text": "Our Lambda cold starts went from 40 ms to 180 ms after the last deploy. The only change was adding the AWS SDK for S3 and a config file read at init. What should I look at first?"}]},
            {"role": "assistant", "content": [{"text": "Start with what init now does: time the config read and the S3 client construction separately, check whether the SDK loads credentials from the network, and compare binary sizes before and after."}]},
            {"role": "user", "content": [{"text": "The binary grew from 6 MB to 14 MB. Could that alone explain 140 ms? We deploy arm64 with 256 MB of memory."}]}
        ],
        "inferenceConfig": {"maxTokens": 512, "temperature": 0.2}
    })
}

/// Estimator figures: `estimate_text` over the shipped corpus (MB/s and tokens/s) against a
/// whitespace scan, and `estimate_request` per call against a scan of the same body's JSON.
pub fn estimator(plan: &MicroPlan) -> Result<Vec<Figure>, String> {
    let corpus = estimate::corpus::load_corpus().map_err(|e| format!("estimate corpus: {e}"))?;
    let texts: Vec<&str> = corpus.iter().map(|s| s.text.as_str()).collect();
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    let family = Family::Anthropic;
    let tokens: u64 = texts
        .iter()
        .map(|t| u64::from(estimate::estimate_text(family, t)))
        .sum();
    let est = rate(plan, || {
        let mut n = 0u64;
        for t in &texts {
            n += u64::from(estimate::estimate_text(family, black_box(t)));
        }
        black_box(n);
        bytes as f64
    });
    let scan = rate(plan, || {
        let n: usize = texts.iter().map(|t| whitespace(black_box(t))).sum();
        black_box(n);
        bytes as f64
    });
    let per_token = tokens as f64 / bytes as f64;
    let kb = bytes as f64 / 1e3;
    let mut out = vec![
        Figure::new(
            "micro.estimate.text_mb_s",
            "Local token estimate: `estimate_text` over the shipped corpus",
            "MB/s",
            sum(&scaled(&est, 1e-6)),
        )
        .with_baseline("whitespace byte scan of the same corpus", sum(&scaled(&scan, 1e-6)))
        .note(format!("{} samples, {kb:.0} kB, {tokens} estimated tokens (family {family}); one sample per pass over the corpus", texts.len())),
        Figure::new(
            "micro.estimate.text_tokens_s",
            "Local token estimate: tokens estimated per second (same passes)",
            "tokens/s",
            sum(&scaled(&est, per_token)),
        ),
    ];
    let req = typical_request();
    let req_json = req.to_string();
    let batch = plan.request_batch.max(1);
    let per_call = |v: Vec<f64>| sum(&v.iter().map(|calls_s| 1e6 / calls_s).collect::<Vec<_>>());
    let mut failed = None;
    let calls = rate(plan, || {
        for _ in 0..batch {
            match estimate::estimate_request(family, black_box(&req)) {
                Ok(e) => {
                    black_box(e);
                }
                Err(e) => {
                    failed.get_or_insert(e.to_string());
                }
            }
        }
        batch as f64
    });
    if let Some(e) = failed {
        return Err(format!("estimate_request on the typical body: {e}"));
    }
    let scan_calls = rate(plan, || {
        for _ in 0..batch {
            black_box(whitespace(black_box(&req_json)));
        }
        batch as f64
    });
    out.push(
        Figure::new(
            "micro.estimate.request_us",
            "Local token estimate: `estimate_request` per call, typical Converse body",
            "µs",
            per_call(calls),
        )
        .with_baseline("whitespace byte scan of the body's JSON", per_call(scan_calls))
        .note(format!(
            "system prompt + 3 messages, {} bytes of JSON, already parsed (parsing is not included); one sample per batch of {batch} calls",
            req_json.len()
        )),
    );
    Ok(out)
}

/// Conversion figures, for the "SDK types or serde mirror types" decision (docs/architecture.md):
/// a typical Converse body from JSON to the SDK's request (`ConverseParts::from_json`, then the
/// fluent builder, as every call does), against a serde round trip of the same body (parse and
/// serialise: about the least a serde mirror type sent as JSON could cost).
pub fn conversion(plan: &MicroPlan) -> Result<Figure, String> {
    use inference_core::convert::ConverseParts;
    let req = typical_request();
    let req_json = req.to_string();
    let sdk = aws_sdk_bedrockruntime::Client::from_conf(
        aws_sdk_bedrockruntime::Config::builder()
            .behavior_version(aws_sdk_bedrockruntime::config::BehaviorVersion::latest())
            .region(aws_sdk_bedrockruntime::config::Region::new("us-east-1"))
            .build(),
    );
    ConverseParts::from_json(&req, &[]).map_err(|e| format!("typical body: {e}"))?;
    let batch = plan.request_batch.max(1);
    let per_call = |v: Vec<f64>| sum(&v.iter().map(|calls_s| 1e6 / calls_s).collect::<Vec<_>>());
    let to_sdk = rate(plan, || {
        for _ in 0..batch {
            let v: Value = serde_json::from_str(black_box(&req_json)).unwrap_or_default();
            if let Ok(parts) = ConverseParts::from_json(&v, &[]) {
                black_box(parts.apply(sdk.converse().model_id("m")));
            }
        }
        batch as f64
    });
    let round_trip = rate(plan, || {
        for _ in 0..batch {
            let v: Value = serde_json::from_str(black_box(&req_json)).unwrap_or_default();
            black_box(serde_json::to_vec(&v).unwrap_or_default());
        }
        batch as f64
    });
    Ok(Figure::new(
        "micro.convert.request_us",
        "Converse request JSON -> SDK input (parse, `ConverseParts::from_json`, fluent builder)",
        "µs",
        per_call(to_sdk),
    )
    .with_baseline(
        "serde_json parse + serialise of the same body",
        per_call(round_trip),
    )
    .note(format!(
        "typical body ({} bytes of JSON); one sample per batch of {batch} calls",
        req_json.len()
    )))
}

/// Filter figures: `Filter::apply` (default policy) against a copy of the same corpus, and the
/// stream filter pushed 4-character chunks against an unfiltered pass-through (a copy per chunk).
pub fn pii(plan: &MicroPlan) -> Vec<Figure> {
    let corpus = filter::bench_corpus();
    let f = Filter::new(&Policy::default());
    let mb = corpus.len() as f64 / 1e6;
    let apply = rate(plan, || {
        black_box(f.apply(black_box(&corpus)));
        corpus.len() as f64
    });
    let copy = rate(plan, || {
        black_box(black_box(&corpus).to_owned());
        corpus.len() as f64
    });
    let mut out = vec![
        Figure::new(
            "micro.filter.apply_mb_s",
            "PII filter: `Filter::apply` (default policy) on `bench_corpus()`",
            "MB/s",
            sum(&scaled(&apply, 1e-6)),
        )
        .with_baseline(
            "unfiltered: a copy of the same corpus",
            sum(&scaled(&copy, 1e-6)),
        )
        .note(format!("{mb:.2} MB corpus; one sample per pass")),
    ];
    let s = stream(&f, &corpus, plan);
    out.push(
        Figure::new(
            "micro.filter.stream_push_us",
            "PII stream filter: `StreamFilter::push` per 4-character chunk",
            "µs",
            sum(&s.push_us),
        )
        .with_baseline("unfiltered pass-through (copy of the chunk)", sum(&s.copy_us))
        .note(format!(
            "{} chunks over the first {} kB of `bench_corpus()`; each push timed alone (includes ~2 `Instant::now()` calls, as does the baseline); max {:.2} µs; {} blocked entities restarted the stream filter",
            s.push_us.len(),
            s.bytes / 1000,
            s.push_us.iter().copied().fold(0.0, f64::max),
            s.restarts
        )),
    );
    let held = sum(&s.held_chars);
    let (max, mean) = (held.max, held.mean);
    out.push(
        Figure::new(
            "micro.filter.stream_held_back_chars",
            "PII stream filter: hold-back after each chunk (`held_back()`)",
            "chars",
            held,
        )
        .with_baseline("unfiltered pass-through (holds nothing)", sum(&[0.0]))
        .note(format!("max {max:.0} chars, mean {mean:.2} chars (`held_back()` is in bytes; converted to characters of the held tail)")),
    );
    out
}

/// Per-chunk samples of the stream filter and its pass-through baseline.
struct StreamSamples {
    push_us: Vec<f64>,
    copy_us: Vec<f64>,
    held_chars: Vec<f64>,
    bytes: usize,
    restarts: usize,
}

/// 4-character chunks of `text` (on character boundaries).
pub fn chunks(text: &str, chars: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (n, (i, _)) in text.char_indices().enumerate() {
        if n > 0 && n % chars == 0 {
            out.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn stream(f: &Filter, corpus: &str, plan: &MicroPlan) -> StreamSamples {
    let mut end = plan.stream_bytes.min(corpus.len());
    while !corpus.is_char_boundary(end) {
        end -= 1;
    }
    let parts = chunks(&corpus[..end], 4);
    let mut s = StreamSamples {
        push_us: Vec::with_capacity(parts.len()),
        copy_us: Vec::with_capacity(parts.len()),
        held_chars: Vec::with_capacity(parts.len()),
        bytes: end,
        restarts: 0,
    };
    let deadline = Instant::now() + Duration::from_millis(plan.budget_ms * 2);
    let mut sf = f.stream();
    let mut fed = 0;
    for (i, c) in parts.iter().enumerate() {
        if i % 1024 == 0 && Instant::now() >= deadline {
            s.bytes = fed;
            break;
        }
        let t = Instant::now();
        let o = sf.push(black_box(c));
        let dt = t.elapsed();
        fed += c.len();
        let t = Instant::now();
        black_box(String::from(black_box(*c)));
        s.copy_us.push(t.elapsed().as_secs_f64() * 1e6);
        s.push_us.push(dt.as_secs_f64() * 1e6);
        let held = sf.held_back();
        let tail = corpus.get(fed - held.min(fed)..fed);
        s.held_chars
            .push(tail.map_or(held, |t| t.chars().count()) as f64);
        if black_box(o).blocked.is_some() {
            sf = f.stream();
            s.restarts += 1;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_characters_whole() {
        let c = chunks("abcdé日本語xyz", 4);
        assert_eq!(c, vec!["abcd", "é日本語", "xyz"]);
        assert_eq!(c.concat(), "abcdé日本語xyz");
    }

    #[test]
    fn microbenchmarks_run_within_their_bounds() {
        let plan = MicroPlan {
            budget_ms: 20,
            max_passes: 2,
            request_batch: 10,
            stream_bytes: 4_000,
        };
        let t = Instant::now();
        let figs = pii(&plan);
        assert_eq!(figs.len(), 3);
        assert!(figs.iter().all(|f| f.ours.n >= 1 && f.baseline.is_some()));
        let est = estimator(&plan).unwrap();
        assert_eq!(est.len(), 3);
        assert!(est[0].ours.median > 0.0);
        assert!(t.elapsed() < Duration::from_secs(60));
    }
}
