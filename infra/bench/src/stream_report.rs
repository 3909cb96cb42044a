//! The streaming figures (issue 7 / 12.3) from a [`StreamResult`] and the Python buffered
//! baseline: time to first content against the emulator's own, relay rate beside the bench's raw
//! client reading the emulator (a client-bound reference: see `streaming`), and what a Python
//! Lambda on the managed runtime delivers instead.

use crate::report::Figure;
use crate::stats::{Summary, summarize};
use crate::streaming::{BufferedResult, Pairs, StreamPlan, StreamResult};

/// Issue 7's relay target: 50× a fast model's 4,000 tokens/s.
const RELAY_TARGET: f64 = 50.0 * 4_000.0;
/// Issue 7's time-to-first-byte target: within 5 ms of the emulator's.
const TTFB_TARGET_MS: f64 = 5.0;

/// What a ~40 ms unpaced stall is (see `docs/performance.md`, seen with `strace` on stream-url).
const NAGLE: &str = "a ~40 ms stall: stream-url's runtime API connection has TCP_NODELAY explicitly off (lambda_runtime's hyper-util HttpConnector default), so after the first write of the response POST (headers + prelude) its small chunk writes wait in the kernel for that segment's ACK, which the receiving side delays (Linux delayed ACK, 40 ms minimum) because the runtime API answers only after the body ends. TCP_NODELAY on the runtime API's side does not change it (only its own sends); paced replies hide it when the time to first token exceeds ~40 ms";

fn mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

fn one(v: f64) -> Option<Summary> {
    summarize(&[v])
}

/// The function's time to first content minus its direct twin's, request by request.
fn first_content_added(p: &Pairs) -> Option<Summary> {
    summarize(&Pairs::diff(
        &p.fn_first_content_ms,
        &p.direct_first_content_ms,
    ))
}

/// The row of a paired difference in time to first content (`stream.ttfb_added.{id}`).
fn added_row(id: &str, what: &str, diff: Summary) -> Figure {
    Figure::new(
        &format!("stream.ttfb_added.{id}"),
        &format!(
            "Streaming: time to first content added by stream-url, {what} (paired difference)"
        ),
        "ms",
        diff,
    )
}

/// Function TTFB vs emulator TTFB (paired), with the paired difference as target and note, and
/// the difference as its own row.
fn ttfb(out: &mut Vec<Figure>, p: &Pairs, id: &str, what: &str) {
    let (Some(f), Some(d)) = (
        summarize(&p.fn_first_content_ms),
        summarize(&p.direct_first_content_ms),
    ) else {
        return;
    };
    let Some(diff) = first_content_added(p) else {
        return;
    };
    let met = diff.median <= TTFB_TARGET_MS;
    out.push(
        Figure::new(
            &format!("stream.ttfb.{id}"),
            &format!("Streaming time to first content event: stream-url, {what}"),
            "ms",
            f,
        )
        .with_baseline("bedrock-local direct (raw client, same request)", d)
        .with_target("within 5 ms of the emulator's (paired p50 difference)", met)
        .note(format!(
            "paired difference p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; stream-url: event handed out → arrival at the runtime API of the first `contentBlockDelta` bytes; direct: request sent → first delta decoded",
            diff.median, diff.p99, diff.max
        )),
    );
    out.push(added_row(id, what, diff));
}

/// The paced streams on a process with the content filter off, and what the filter's hold-back
/// adds to the paced row: the default policy blocks AWS secret keys, runs of up to 40 letters,
/// digits, `/` and `+`, so a word at the end of a delta is held until the next delta shows where
/// it ends (docs/guardrails.md, "Streams: the hold-back bound"), and the first content waits for
/// the second delta.
fn unfiltered(out: &mut Vec<Figure>, filtered: &Pairs, off: &Pairs, what: &str) {
    let (Some(with), Some(without)) = (first_content_added(filtered), first_content_added(off))
    else {
        return;
    };
    let (with_p50, without_p50) = (with.median, without.median);
    out.push(
        added_row(
            "paced_unfiltered",
            &format!("{what}, content filter off (`GATEWAY_PII_POLICY=off`)"),
            without,
        )
        .note("the same paced requests, each also sent to a second stream-url process started with `GATEWAY_PII_POLICY=off`; paired with its own direct request"),
    );
    if let Some(f) = out.iter_mut().find(|f| f.id == "stream.ttfb.paced") {
        f.notes.push(format!(
            "with the default content filter (AWS keys blocked: a trailing run of letters, digits, `/` and `+` that could still become a key is held until the next delta shows where it ends; docs/guardrails.md), so the first word waits for the second delta: added p50 {:.3} ms with it, {:.3} ms with it off (`stream.ttfb_added.paced_unfiltered`). The {:.3} ms between them is that hold, about one delta interval at this pacing; with a real model it is the model's own interval between deltas",
            with_p50,
            without_p50,
            with_p50 - without_p50
        ));
    }
}

/// All streaming figures.
pub fn figures(r: &StreamResult, py: Option<&BufferedResult>, plan: &StreamPlan) -> Vec<Figure> {
    let mut out = Vec::new();
    let paced = format!(
        "paced (`[[ttft_ms:{}]]`, `[[tokens_per_sec:{}]]`, ~{} tokens)",
        plan.ttft_ms, plan.tokens_per_sec, plan.paced_len
    );
    ttfb(&mut out, &r.paced, "paced", &paced);
    unfiltered(&mut out, &r.paced, &r.paced_unfiltered, &paced);
    ttfb(&mut out, &r.warm, "unpaced", "unpaced short replies");
    let stall = first_content_added(&r.warm).is_some_and(|d| d.median > 30.0);
    if stall && let Some(f) = out.iter_mut().find(|f| f.id == "stream.ttfb.unpaced") {
        f.notes.push(NAGLE.into());
    }
    let w = &r.warm;
    if let (Some(f), Some(d), Some(diff)) = (
        summarize(&w.fn_complete_ms),
        summarize(&w.direct_complete_ms),
        summarize(&Pairs::diff(&w.fn_complete_ms, &w.direct_complete_ms)),
    ) {
        out.push(
            Figure::new(
                "stream.complete.unpaced",
                "Streaming time to last byte: stream-url, unpaced short replies",
                "ms",
                f,
            )
            .with_baseline("bedrock-local direct (raw client, same request)", d)
            .note(format!(
                "paired difference p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (a ~40 ms difference is the signature of a Nagle / delayed-ACK stall)",
                diff.median, diff.p99, diff.max
            )),
        );
    }
    let rl = &r.relay;
    if let (Some(f), Some(d)) = (summarize(&rl.fn_relay_tps), summarize(&rl.direct_relay_tps)) {
        let met = f.median >= RELAY_TARGET;
        let toks = summarize(
            &rl.output_tokens
                .iter()
                .map(|&n| n as f64)
                .collect::<Vec<_>>(),
        )
        .map_or(0.0, |s| s.median);
        out.push(
            Figure::new(
                "stream.relay.tokens_per_s",
                "Streaming relay rate: stream-url, pacing off (tokens / (last byte − first byte))",
                "tokens/s",
                f,
            )
            .with_baseline(
                "bedrock-local ConverseStream read by the bench's raw client (client-bound)",
                d,
            )
            .with_target("≥ 200,000 tokens/s (50× a 4,000 tokens/s model)", met)
            .note(format!(
                "replies of {toks:.0} output tokens (`[[len:{}]]`), counted from the `done` event's usage; one stream at a time, paired. The baseline is bounded by the bench's client (hyper, each event decoded as it arrives), not by bedrock-local, which curl read several times faster by hand: the ratio is not relay ÷ emulator. The function's side is timed where the bench's Runtime API receives the stream, so the bench may bound it too",
                plan.relay_len
            )),
        );
    }
    if let Some(kb) = r.rss_after_warm_kb
        && let Some(v) = one(mb(kb))
    {
        let mut f = Figure::new(
            "memory.peak_rss.stream-url",
            &format!(
                "Peak RSS after {} warm streamed requests: stream-url",
                plan.warmup + r.warm.fn_complete_ms.len()
            ),
            "MB",
            v,
        )
        .with_target("< 40 MB", mb(kb) < 40.0);
        if let Some(p) = py.and_then(|p| p.peak_rss_kb).and_then(|kb| one(mb(kb))) {
            f = f.with_baseline("Python boto3 buffered stream handler", p);
        }
        if let Some(end) = r.rss_end_kb {
            f = f.note(format!(
                "{:.2} MB after the {} paced and {} long ({}-token) streams that follow",
                mb(end),
                r.paced.fn_complete_ms.len(),
                r.relay.fn_complete_ms.len(),
                plan.relay_len
            ));
        }
        out.push(f);
    }
    if let Some(p) = py {
        python_figures(&mut out, r, p, plan);
    }
    if r.truncated {
        for f in out.iter_mut().filter(|f| f.id.starts_with("stream.")) {
            f.notes
                .push("stopped by the time bound before the request count".into());
        }
    }
    out
}

/// stream-url against the usual Python Lambda, which cannot stream on the managed runtime.
fn python_figures(out: &mut Vec<Figure>, r: &StreamResult, p: &BufferedResult, plan: &StreamPlan) {
    const LABEL: &str =
        "Python boto3 + awslambdaric, buffered (consumes ConverseStream, returns at the end)";
    if let (Some(f), Some(b)) = (
        summarize(&r.paced.fn_first_content_ms),
        summarize(&p.paced_complete_ms),
    ) {
        out.push(
            Figure::new(
                "stream.vs_python.first_content",
                "Streaming, paced: stream-url time to first content vs Python time to complete",
                "ms",
                f,
            )
            .with_baseline(LABEL, b)
            .note("the Python managed runtime cannot stream a response: its client sees the first token when the whole reply is posted, so the baseline is event handed out → response posted"),
        );
    }
    let e2e: Vec<f64> = r
        .relay
        .output_tokens
        .iter()
        .zip(&r.relay.fn_complete_ms)
        .map(|(&n, &ms)| n as f64 / (ms / 1e3))
        .collect();
    if let (Some(f), Some(b)) = (summarize(&e2e), summarize(&p.relay_tps)) {
        out.push(
            Figure::new(
                "stream.vs_python.tokens_per_s",
                "Streaming, pacing off: stream-url vs Python, output tokens / (event handed out → last byte)",
                "tokens/s",
                f,
            )
            .with_baseline(LABEL, b)
            .note(format!(
                "whole invocations of `[[len:{}]]` replies; Python parses the event stream with botocore and returns one JSON body",
                plan.relay_len
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(function: &[f64], direct: &[f64]) -> Pairs {
        Pairs {
            fn_first_content_ms: function.to_vec(),
            direct_first_content_ms: direct.to_vec(),
            ..Pairs::default()
        }
    }

    /// The unfiltered row is the filter-off process's own paired difference, and the paced row
    /// names the gap between the two as the filter's hold.
    #[test]
    fn the_filters_hold_is_the_gap_between_the_two_processes() {
        let direct = [100.0, 101.0, 102.0];
        let filtered = pairs(&[104.5, 105.5, 106.5], &direct);
        let off = pairs(&[100.8, 101.8, 102.8], &direct);
        let mut out = Vec::new();
        ttfb(&mut out, &filtered, "paced", "paced");
        unfiltered(&mut out, &filtered, &off, "paced");
        let row = out
            .iter()
            .find(|f| f.id == "stream.ttfb_added.paced_unfiltered")
            .expect("the unfiltered row");
        assert!((row.ours.median - 0.8).abs() < 1e-9, "{}", row.ours.median);
        let paced = out.iter().find(|f| f.id == "stream.ttfb.paced").unwrap();
        let note = paced.notes.last().unwrap();
        assert!(
            note.contains("4.500 ms with it, 0.800 ms with it off"),
            "{note}"
        );
        assert!(note.contains("The 3.700 ms between them"), "{note}");
    }

    #[test]
    fn no_unfiltered_row_without_unfiltered_streams() {
        let direct = [100.0];
        let mut out = Vec::new();
        unfiltered(
            &mut out,
            &pairs(&[104.0], &direct),
            &Pairs::default(),
            "paced",
        );
        assert!(out.is_empty());
    }
}
