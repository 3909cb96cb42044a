//! One wave: N `POST /converse` Function URL events queued at once on the Runtime API, then
//! every signal read until each has its response (or error), counting the invocations in
//! flight (handed out, response not yet complete) as the signals arrive.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::procs::ChildGuard;
use crate::runtime_api::{RuntimeApi, Signal};
use crate::session::Outcome;
use crate::stats::ms;
use crate::streaming::{Ask, function_timing};

/// Unpaced short streams: the warm-up wave (connections to bedrock-local, allocator arenas).
pub fn unpaced(n: usize) -> Vec<Ask> {
    (0..n)
        .map(|i| Ask {
            text: format!(
                "lmi warm-up {n}/{i}: hello [[len:8]] [[ttft_ms:0]] [[tokens_per_sec:0]]"
            ),
            max_tokens: 64,
        })
        .collect()
}

/// Streams paced by the emulator's own flags (no timing markers), `len` tokens each.
pub fn paced(n: usize, round: usize, len: u32) -> Vec<Ask> {
    (0..n)
        .map(|i| Ask {
            text: format!("lmi {n}/{round}/{i}: hello [[len:{len}]]"),
            max_tokens: len * 2 + 64,
        })
        .collect()
}

/// One stream's figures, from the event handed out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamMs {
    /// To the arrival of the frame carrying the first `contentBlockDelta`.
    pub first_token: f64,
    /// To the whole response received.
    pub end: f64,
}

/// What a wave saw.
#[derive(Debug, Default)]
pub struct Wave {
    pub streams: Vec<Result<StreamMs, String>>,
    /// Most invocations in flight at once.
    pub max_in_flight: usize,
    /// From the events queued to the last one handed out.
    pub handout_spread_ms: f64,
}

#[derive(Default)]
struct Slot {
    handed_out: Option<Instant>,
    done: Option<Result<StreamMs, String>>,
}

impl Wave {
    pub fn failed(&self) -> usize {
        self.streams.iter().filter(|s| s.is_err()).count()
    }

    /// Queues one event per ask and reads signals until every one has ended.
    pub async fn run(
        api: &mut RuntimeApi,
        child: &mut ChildGuard,
        template: &Value,
        n: usize,
        asks: &[Ask],
        timeout: Duration,
    ) -> Result<Wave, String> {
        let queued = Instant::now();
        let mut slots: HashMap<String, Slot> = asks
            .iter()
            .map(|a| (api.push(a.event(template, "haiku")), Slot::default()))
            .collect();
        let (mut w, mut in_flight, mut left) = (Wave::default(), 0usize, slots.len());
        let end = queued + timeout;
        while left > 0 {
            if Instant::now() >= end {
                return Err(format!(
                    "wave of {n}: {left} streams not done in {} s",
                    timeout.as_secs()
                ));
            }
            let Some(sig) = api.signal(Duration::from_millis(100)).await else {
                if let Some(st) = child.exited() {
                    return Err(format!("exited ({st}) mid-wave: {}", child.log_tail(1500)));
                }
                continue;
            };
            let (id, result) = match event(sig, |id| slots.get(id).and_then(|s| s.handed_out))? {
                Event::HandedOut { id, at } => {
                    if let Some(s) = slots.get_mut(&id) {
                        s.handed_out = Some(at);
                        in_flight += 1;
                        w.max_in_flight = w.max_in_flight.max(in_flight);
                        w.handout_spread_ms = w.handout_spread_ms.max(ms(at - queued));
                    }
                    continue;
                }
                Event::Ended { id, result } => (id, result),
                Event::Other => continue,
            };
            if let Some(s) = slots.get_mut(&id)
                && s.done.is_none()
            {
                s.done = Some(result);
                in_flight = in_flight.saturating_sub(1);
                left -= 1;
            }
        }
        w.streams = slots.into_values().filter_map(|s| s.done).collect();
        Ok(w)
    }
}

/// What a Runtime API signal says about one invocation of a wave or of the steady phase.
pub enum Event {
    HandedOut {
        id: String,
        at: Instant,
    },
    /// Its response (timed from its hand-out) or its function error.
    Ended {
        id: String,
        result: Result<StreamMs, String>,
    },
    /// Nothing to count: a `next` call, or a response to an event not handed out here.
    Other,
}

/// Reads `sig`; `handed_out` says when an invocation was handed out. An init error ends the
/// run (`Err`).
pub fn event(sig: Signal, handed_out: impl Fn(&str) -> Option<Instant>) -> Result<Event, String> {
    Ok(match sig {
        Signal::HandedOut { id, at } => Event::HandedOut { id, at },
        Signal::Response {
            id,
            at,
            body,
            streaming,
            arrivals,
            error,
        } => {
            let Some(h) = handed_out(&id) else {
                return Ok(Event::Other);
            };
            let out = Outcome {
                handed_out: h,
                done: at,
                body,
                streaming,
                arrivals,
                error,
            };
            let result = function_timing(&out).map(|t| StreamMs {
                first_token: ms(t.first_content),
                end: ms(out.duration()),
            });
            Event::Ended { id, result }
        }
        Signal::Error { id, body, .. } => Event::Ended {
            id,
            result: Err(format!(
                "function error: {}",
                String::from_utf8_lossy(&body)
            )),
        },
        Signal::InitError { body, .. } => {
            return Err(format!("init error: {}", String::from_utf8_lossy(&body)));
        }
        Signal::NextCalled { .. } => Event::Other,
    })
}
