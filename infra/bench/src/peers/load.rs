//! The measurements, interleaved: round-robin over the targets per round (latency) and per
//! batch (throughput), the starting target rotating, so drift and other load on the machine
//! fall on every target alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::client::Conn;
use super::{CALL_TIMEOUT, PeerPlan, Target, connect_all};
use crate::stats::ms;

/// Per target, per round: the plain call's latency and the stream's first token (ms).
#[derive(Debug, Default)]
pub struct Latency {
    pub chat: Vec<Vec<Option<f64>>>,
    pub ttft: Vec<Vec<Option<f64>>>,
    pub errors: Vec<String>,
}

/// One target at one concurrency.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Level {
    pub clients: usize,
    pub completed: usize,
    pub errors: usize,
    pub seconds: f64,
    pub first_error: Option<String>,
}

impl Level {
    pub fn rps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.completed as f64 / self.seconds
        } else {
            0.0
        }
    }
}

#[derive(Debug, Default)]
pub struct Throughput {
    /// Per target, per concurrency level.
    pub levels: Vec<Vec<Level>>,
    pub errors: Vec<String>,
}

/// The index order of round `r`: every target once, starting at `r % n`.
pub fn rotation(n: usize, r: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (r + i) % n)
}

async fn one_plain(c: &mut Conn, t: &Target) -> Result<f64, String> {
    let start = Instant::now();
    let (status, body) = tokio::time::timeout(CALL_TIMEOUT, c.call(&t.chat))
        .await
        .map_err(|_| "timed out".to_string())??;
    let took = ms(start.elapsed());
    if status != 200 {
        return Err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    Ok(took)
}

async fn one_stream(c: &mut Conn, t: &Target) -> Result<f64, String> {
    let (status, at, body) = tokio::time::timeout(CALL_TIMEOUT, c.first_token(&t.stream, t.first))
        .await
        .map_err(|_| "timed out".to_string())??;
    match (status, at) {
        (200, Some(d)) => Ok(ms(d)),
        _ => Err(format!(
            "stream status {status}, no first token: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )),
    }
}

/// `plan.warmup` discarded rounds, then up to `plan.rounds` (or the time budget): per round,
/// per target in rotated order, one plain call and one stream, each on the target's own
/// keep-alive connection.
pub async fn latency(targets: &[Target], plan: &PeerPlan) -> Latency {
    let n = targets.len();
    let mut out = Latency {
        chat: vec![Vec::new(); n],
        ttft: vec![Vec::new(); n],
        errors: Vec::new(),
    };
    let mut conns = match connect_all(targets).await {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(format!("peers latency: {e}"));
            return out;
        }
    };
    let end = Instant::now() + Duration::from_secs(plan.latency_budget_s);
    let mut failed = vec![false; n];
    for r in 0..plan.warmup + plan.rounds {
        if Instant::now() >= end {
            break;
        }
        for i in rotation(n, r) {
            let (t, c) = (&targets[i], &mut conns[i]);
            let plain = one_plain(c, t).await;
            let stream = one_stream(c, t).await;
            for res in [&plain, &stream] {
                if let Err(e) = res
                    && !failed[i]
                {
                    failed[i] = true;
                    out.errors.push(format!("{}: {e}", t.name));
                }
            }
            if r >= plan.warmup {
                out.chat[i].push(plain.ok());
                out.ttft[i].push(stream.ok());
            }
            if failed[i] {
                // A broken connection stays broken: open a new one for the next round.
                if let Ok(nc) = Conn::connect(t.addr).await {
                    conns[i] = nc;
                }
            }
        }
    }
    out
}

/// One batch of `count` plain calls over `conns` (one client each): completed, errors, time.
async fn batch(conns: Vec<Conn>, t: &Target, count: usize) -> Level {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut c in conns {
        let (next, req) = (Arc::clone(&next), t.chat.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut err, mut first) = (0usize, 0usize, None);
            while next.fetch_add(1, Ordering::Relaxed) < count {
                match tokio::time::timeout(CALL_TIMEOUT, c.call(&req)).await {
                    Ok(Ok((200, _))) => ok += 1,
                    Ok(Ok((s, b))) => {
                        err += 1;
                        first.get_or_insert(format!(
                            "status {s}: {}",
                            String::from_utf8_lossy(&b[..b.len().min(200)])
                        ));
                    }
                    Ok(Err(e)) => {
                        err += 1;
                        first.get_or_insert(e);
                        break;
                    }
                    Err(_) => {
                        err += 1;
                        first.get_or_insert("timed out".into());
                        break;
                    }
                }
            }
            (ok, err, first)
        }));
    }
    let mut level = Level::default();
    for task in tasks {
        if let Ok((ok, err, first)) = task.await {
            level.completed += ok;
            level.errors += err;
            if level.first_error.is_none() {
                level.first_error = first;
            }
        }
    }
    level.seconds = start.elapsed().as_secs_f64();
    level
}

/// At each concurrency (clients per core × cores): batches of `plan.batch` plain calls,
/// round-robin over the targets, until each target has had `plan.requests` or the time budget
/// (split evenly over the levels) is spent. Throughput = completed / time in its own batches.
pub async fn throughput(targets: &[Target], plan: &PeerPlan, cores: usize) -> Throughput {
    let n = targets.len();
    let mut out = Throughput {
        levels: vec![Vec::new(); n],
        errors: Vec::new(),
    };
    let per_level =
        Duration::from_secs(plan.throughput_budget_s) / plan.clients_per_core.len() as u32;
    for per_core in plan.clients_per_core {
        let clients = per_core * cores;
        eprintln!("bench: peers: throughput at {clients} concurrent clients");
        let end = Instant::now() + per_level;
        let mut acc: Vec<Level> = (0..n)
            .map(|_| Level {
                clients,
                ..Level::default()
            })
            .collect();
        let mut r = 0;
        while Instant::now() < end && acc.iter().any(|a| a.completed + a.errors < plan.requests) {
            for i in rotation(n, r) {
                let t = &targets[i];
                if acc[i].completed + acc[i].errors >= plan.requests || Instant::now() >= end {
                    continue;
                }
                // Fresh connections per batch, opened before its clock starts: a pool left idle
                // while the other targets ran may have been closed by its server (Node closes
                // idle keep-alive connections after 5 s).
                let mut pool = Vec::with_capacity(clients);
                while pool.len() < clients {
                    match Conn::connect(t.addr).await {
                        Ok(c) => pool.push(c),
                        Err(e) => {
                            out.errors.push(format!("{}: {e}", t.name));
                            break;
                        }
                    }
                }
                let l = batch(pool, t, plan.batch).await;
                let a = &mut acc[i];
                a.completed += l.completed;
                a.errors += l.errors;
                a.seconds += l.seconds;
                if a.first_error.is_none() {
                    a.first_error = l.first_error;
                }
            }
            r += 1;
        }
        for (i, a) in acc.into_iter().enumerate() {
            if let Some(e) = &a.first_error {
                out.errors.push(format!(
                    "{} at {clients} clients: {} errors, first: {e}",
                    targets[i].name, a.errors
                ));
            }
            out.levels[i].push(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_visits_every_target_once_from_a_moving_start() {
        assert_eq!(rotation(4, 0).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(rotation(4, 1).collect::<Vec<_>>(), [1, 2, 3, 0]);
        assert_eq!(rotation(4, 6).collect::<Vec<_>>(), [2, 3, 0, 1]);
    }
}
