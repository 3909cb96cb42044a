//! Steady state: N streams kept in flight in one process. The first N are queued spread evenly
//! over one stream's expected length, and each stream that ends is replaced at once, so events
//! arrive at about N ÷ stream length per second, as when N long streams overlap, rather than N in
//! one instant (the waves of `wave.rs`). Only streams queued after that ramp are measured.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::wave::{Event, StreamMs, event};
use crate::procs::ChildGuard;
use crate::runtime_api::RuntimeApi;
use crate::streaming::Ask;

/// One level's steady phase.
#[derive(Debug, Clone, Copy)]
pub struct SteadyPlan {
    pub n: usize,
    /// Output tokens per stream.
    pub len: u32,
    /// How long one stream is expected to take (first-token delay + `len` at the pacing): the
    /// ramp queues the first N over this span.
    pub expected: Duration,
    /// Streams measured (queued after the ramp).
    pub measured: usize,
    /// Wall time allowed for the whole phase.
    pub timeout: Duration,
}

/// What the steady phase saw.
#[derive(Debug, Default)]
pub struct Steady {
    /// The measured streams.
    pub streams: Vec<Result<StreamMs, String>>,
    /// Invocations in flight (handed out, not ended) when each measured stream was handed out,
    /// itself included.
    pub in_flight_at_handout: Vec<usize>,
    /// Measured streams queued per second (from the first to the last queued).
    pub queued_per_s: f64,
    /// Every stream that ended in the phase, the ramp's included (what its CPU time covers).
    pub streams_run: usize,
}

#[derive(Default)]
struct Slot {
    measured: bool,
    handed_out: Option<Instant>,
    done: bool,
}

fn ask(n: usize, i: usize, len: u32) -> Ask {
    Ask {
        text: format!("lmi steady {n}/{i}: hello [[len:{len}]]"),
        max_tokens: len * 2 + 64,
    }
}

/// Runs the phase: the ramp, then a new stream for each one that ends until `measured` streams
/// have been queued after the ramp, then waits for every stream to end.
pub async fn run(
    api: &mut RuntimeApi,
    child: &mut ChildGuard,
    template: &Value,
    p: &SteadyPlan,
) -> Result<Steady, String> {
    let t0 = Instant::now();
    let gap = p.expected.div_f64(p.n.max(1) as f64);
    // When the ramp queues its k-th stream.
    let ramp_at = |k: usize| t0 + gap.mul_f64(k as f64);
    let ramp_end = t0 + p.expected;
    let mut slots: HashMap<String, Slot> = HashMap::new();
    let (mut queued, mut measured_queued) = (0usize, 0usize);
    let (mut first_measured, mut last_measured) = (None, None);
    let pusher = api.pusher();
    let push = |slots: &mut HashMap<String, Slot>, queued: &mut usize| {
        let measured = Instant::now() >= ramp_end;
        let id = pusher.push(ask(p.n, *queued, p.len).event(template, "haiku"));
        *queued += 1;
        slots.insert(
            id,
            Slot {
                measured,
                ..Slot::default()
            },
        );
        measured
    };
    let mut s = Steady::default();
    let mut in_flight = 0usize;
    loop {
        // The ramp: the first N, one every `gap`.
        while queued < p.n && Instant::now() >= ramp_at(queued) {
            push(&mut slots, &mut queued);
        }
        // Queued and not ended yet.
        let open = queued - s.streams_run;
        if queued >= p.n && open == 0 {
            break;
        }
        if t0.elapsed() >= p.timeout {
            return Err(format!(
                "steady N = {}: {open} streams not done in {} s",
                p.n,
                p.timeout.as_secs()
            ));
        }
        let wait = if queued < p.n {
            ramp_at(queued)
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100))
        } else {
            Duration::from_millis(100)
        };
        let Some(sig) = api.signal(wait).await else {
            if let Some(st) = child.exited() {
                return Err(format!(
                    "exited ({st}) in the steady phase: {}",
                    child.log_tail(1500)
                ));
            }
            continue;
        };
        match event(sig, |id| slots.get(id).and_then(|s| s.handed_out))? {
            Event::HandedOut { id, at } => {
                if let Some(slot) = slots.get_mut(&id) {
                    slot.handed_out = Some(at);
                    in_flight += 1;
                    if slot.measured {
                        s.in_flight_at_handout.push(in_flight);
                    }
                }
            }
            Event::Ended { id, result } => {
                let Some(slot) = slots.get_mut(&id).filter(|s| !s.done) else {
                    continue;
                };
                slot.done = true;
                in_flight = in_flight.saturating_sub(1);
                s.streams_run += 1;
                if slot.measured {
                    s.streams.push(result);
                }
                // Its replacement, while measured streams are still wanted.
                if queued >= p.n && measured_queued < p.measured {
                    let at = Instant::now();
                    if push(&mut slots, &mut queued) {
                        measured_queued += 1;
                        first_measured.get_or_insert(at);
                        last_measured = Some(at);
                    }
                }
            }
            Event::Other => {}
        }
    }
    if let (Some(a), Some(b)) = (first_measured, last_measured) {
        let span = (b - a).as_secs_f64();
        if span > 0.0 && measured_queued > 1 {
            s.queued_per_s = (measured_queued - 1) as f64 / span;
        }
    }
    Ok(s)
}
