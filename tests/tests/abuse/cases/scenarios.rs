//! Checks that are more than one request: one key reaching another's jobs, usage or cached
//! answers, and many concurrent calls against a small budget or tokens-per-minute limit.

use futures_util::FutureExt;
use futures_util::future::join_all;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::case::{Test, check_contract, error_type, scenario, send};
use crate::event::{Reply, Who, get, post};
use crate::world::{Target, World};

use super::converse;

/// A request's status and JSON body, after the error-contract checks.
async fn call(w: &World, target: Target, r: crate::event::Req) -> Result<(u16, Value), String> {
    let path = r.path.clone();
    let reply: Reply = send(w, target, &r).await?;
    check_contract(target, &path, &reply)?;
    Ok((reply.status, reply.json()))
}

fn expect(what: &str, got: u16, want: u16, body: &Value) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: expected {want}, got {got}: {body}"))
    }
}

fn unique(tag: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{tag}-{n}")
}

async fn submit(w: &World, who: Who, body: Value) -> Result<(u16, Value), String> {
    call(w, Target::Invoke, post("/v1/jobs").json(body).who(who)).await
}

/// Key B cannot read key A's job: the same 404 as a job that does not exist.
async fn jobs_of_another_key(w: &World) -> Result<(), String> {
    let (s, job) = submit(w, Who::A, json!({"request": converse(&unique("job"))})).await?;
    expect("A submits", s, 202, &job)?;
    let id = job["job_id"].as_str().ok_or("no job_id")?.to_owned();
    let read = |who| call(w, Target::Invoke, get(&format!("/v1/jobs/{id}")).who(who));
    let (s, body) = read(Who::A).await?;
    expect("A reads", s, 200, &body)?;
    let (s, body) = read(Who::Admin).await?;
    expect("admin reads", s, 200, &body)?;
    let (s, theirs) = read(Who::B).await?;
    expect("B reads A's job", s, 404, &theirs)?;
    let missing = format!("/v1/jobs/job_{}", "0".repeat(32));
    let (s, none) = call(w, Target::Invoke, get(&missing).who(Who::B)).await?;
    expect("B reads a missing job", s, 404, &none)?;
    if error_type(&theirs) != error_type(&none) {
        return Err(format!(
            "A's job and a missing one differ: {theirs} vs {none}"
        ));
    }
    Ok(())
}

/// Key B using key A's idempotency key gets its own job, never A's (same or other body).
async fn idempotency_is_per_key(w: &World) -> Result<(), String> {
    let idem = unique("idem");
    let body = json!({"request": converse("same"), "idempotency_key": idem});
    let (s, a) = submit(w, Who::A, body).await?;
    expect("A submits", s, 202, &a)?;
    // B's first use of A's key, with another body: a 409 would tell B that A used the key.
    let other = json!({"request": converse("other"), "idempotency_key": idem});
    let (s, b) = submit(w, Who::B, other.clone()).await?;
    if s == 409 {
        return Err(format!("B learns that A used the key (409): {b}"));
    }
    expect("B submits another body with A's key", s, 202, &b)?;
    if a["job_id"] == b["job_id"] {
        return Err(format!("B got A's job: {b}"));
    }
    // The key is still idempotent for B itself.
    let (s, again) = submit(w, Who::B, other).await?;
    if !matches!(s, 200 | 202) {
        return Err(format!(
            "B repeats its submission: expected 200 or 202, got {s}: {again}"
        ));
    }
    if again["job_id"] != b["job_id"] {
        return Err(format!("B's repeat made a new job: {again} vs {b}"));
    }
    Ok(())
}

/// A job's ID cannot be derived from its idempotency key.
async fn job_ids_are_not_derived(w: &World) -> Result<(), String> {
    let idem = unique("derive");
    let (s, a) = submit(
        w,
        Who::A,
        json!({"request": converse("x"), "idempotency_key": idem}),
    )
    .await?;
    expect("A submits", s, 202, &a)?;
    let digest = Sha256::digest(format!("idempotency-key:{idem}").as_bytes());
    let derived = format!("job_{}", hex::encode(&digest[..16]));
    if a["job_id"] == json!(derived) {
        return Err(format!(
            "the job ID is the hash of the idempotency key: {derived}"
        ));
    }
    Ok(())
}

/// A key reads only its own usage; naming another key is refused.
async fn usage_of_another_key(w: &World) -> Result<(), String> {
    let b_id = w.key(Who::B).ok_or("no key B")?.record.id.to_string();
    let (s, body) = call(w, Target::Invoke, get(&format!("/v1/usage?key_id={b_id}"))).await?;
    if s == 200 {
        return Err(format!("A read B's usage: {body}"));
    }
    let (s, body) = call(
        w,
        Target::Invoke,
        get(&format!("/v1/usage?key_id={b_id}")).who(Who::Admin),
    )
    .await?;
    expect("admin reads B's usage", s, 200, &body)
}

/// An answer cached for key A is not served to key B (`GATEWAY_CACHE_SCOPE=key`, the default).
async fn cache_of_another_key(w: &World) -> Result<(), String> {
    let body = converse(&unique("cache"));
    let ask = |who| {
        call(
            w,
            Target::Invoke,
            post("/v1/converse").json(body.clone()).who(who),
        )
    };
    let (s, first) = ask(Who::A).await?;
    expect("A asks", s, 200, &first)?;
    let (_, again) = ask(Who::A).await?;
    if again["cache"]["status"] != "hit" {
        return Err(format!("A's second call is not a hit: {again}"));
    }
    let (s, theirs) = ask(Who::B).await?;
    expect("B asks", s, 200, &theirs)?;
    if theirs["cache"]["status"] == "hit" {
        return Err(format!("B got A's cached answer: {theirs}"));
    }
    Ok(())
}

/// `n` concurrent Converse calls of `who` with `max_tokens`; the statuses and bodies.
async fn burst(
    w: &World,
    who: Who,
    n: usize,
    max_tokens: u32,
) -> Result<Vec<(u16, Value)>, String> {
    let calls = (0..n).map(|i| {
        // The model answers after 1 s: every call is admitted or refused while all are open.
        let mut body = converse(&unique(&format!("[[ttft_ms:1000]] burst-{i}")));
        body["inferenceConfig"]["maxTokens"] = json!(max_tokens);
        call(w, Target::Invoke, post("/v1/converse").json(body).who(who))
    });
    join_all(calls).await.into_iter().collect()
}

fn refused(results: &[(u16, Value)], kind: &str) -> Result<usize, String> {
    let mut admitted = 0;
    for (s, body) in results {
        match s {
            200 => admitted += 1,
            429 if error_type(body) == kind => {}
            _ => return Err(format!("expected 200 or 429 {kind}, got {s}: {body}")),
        }
    }
    if admitted == results.len() {
        return Err(format!("all {admitted} calls were admitted"));
    }
    Ok(admitted)
}

/// 20 concurrent calls against a $0.002 daily budget: some refused, the spend stays within the
/// budget plus one call's estimate.
async fn concurrent_budget(w: &World) -> Result<(), String> {
    let results = burst(w, Who::Budget, 20, 100).await?;
    refused(&results, "budget_exceeded")?;
    let id = w
        .key(Who::Budget)
        .ok_or("no budget key")?
        .record
        .id
        .to_string();
    let (s, usage) = call(
        w,
        Target::Admin,
        get(&format!("/v1/admin/usage?key_id={id}")),
    )
    .await?;
    expect("usage report", s, 200, &usage)?;
    let total: f64 = usage["totals"]["cost"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no total cost in the report: {usage}"))?;
    if total <= 0.0 {
        return Err(format!("nothing was spent: {usage}"));
    }
    // One call's estimate: ~40 input + 100 output tokens at haiku's regional $1.10/$5.50.
    let bound = 0.002 + 0.0006;
    if total > bound {
        return Err(format!("spent {total} USD against a 0.002 budget: {usage}"));
    }
    Ok(())
}

/// 20 concurrent calls of 500 tokens (plus input) against 2,000 tokens per minute: at most 3
/// admitted.
async fn concurrent_tpm(w: &World) -> Result<(), String> {
    let results = burst(w, Who::Tpm, 20, 500).await?;
    let admitted = refused(&results, "rate_limited")?;
    if admitted > 3 {
        return Err(format!(
            "{admitted} calls of 500 tokens admitted under 2000 tokens per minute"
        ));
    }
    Ok(())
}

/// 12 concurrent streams of a key that may hold 2 open: at most 2 admitted, the others 429
/// `too_many_streams`; once they have ended, the key streams again (every lease was given back).
async fn concurrent_streams(w: &World) -> Result<(), String> {
    let stream = |tag: String| {
        // The model answers after 1 s: every stream is admitted or refused while all are open.
        let body = converse(&unique(&format!("[[ttft_ms:1000]] {tag}")));
        call(
            w,
            Target::Stream,
            post("/converse").json(body).who(Who::Streams),
        )
    };
    let results: Vec<(u16, Value)> = join_all((0..12).map(|i| stream(format!("streams-{i}"))))
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let admitted = refused(&results, "too_many_streams")?;
    if admitted > 2 {
        return Err(format!(
            "{admitted} streams held at once under a limit of 2"
        ));
    }
    let (s, body) = stream("after".into()).await?;
    expect("a stream after the others ended", s, 200, &body)
}

/// With `email=mask`, an address the model writes into a tool call's input is masked. The
/// prompt spells the `@` as a JSON escape, so the input filter has nothing to mask.
async fn tool_input_is_filtered(w: &World) -> Result<(), String> {
    let body = json!({"model": "haiku",
        "messages": [{"role": "user", "content": [{"text": r#"Mail it. [[tool_input:{"to": "alice\u0040example.com"}]]"#}]}],
        "toolConfig": {"tools": [{"toolSpec": {"name": "send_mail", "description": "Sends mail.",
            "inputSchema": {"json": {"type": "object", "properties": {"to": {"type": "string"}}}}}}],
            "toolChoice": {"any": {}}},
        "inferenceConfig": {"maxTokens": 200}});
    let (s, answer) = call(w, Target::InvokeMasking, post("/v1/converse").json(body)).await?;
    expect("converse", s, 200, &answer)?;
    let text = answer["output"].to_string();
    if !text.contains("toolUse") {
        return Err(format!("the model called no tool: {answer}"));
    }
    if text.contains("alice@example.com") {
        return Err(format!("the address reached the caller: {text}"));
    }
    Ok(())
}

/// Every scenario.
pub fn all() -> Vec<Test> {
    vec![
        scenario("cross_key::jobs_of_another_key", |w| {
            jobs_of_another_key(w).boxed()
        }),
        scenario("cross_key::idempotency_is_per_key", |w| {
            idempotency_is_per_key(w).boxed()
        }),
        scenario("cross_key::job_ids_are_not_derived", |w| {
            job_ids_are_not_derived(w).boxed()
        }),
        scenario("cross_key::usage_of_another_key", |w| {
            usage_of_another_key(w).boxed()
        }),
        scenario("cross_key::cache_of_another_key", |w| {
            cache_of_another_key(w).boxed()
        }),
        scenario("limits::concurrent_budget", |w| {
            concurrent_budget(w).boxed()
        }),
        scenario("limits::concurrent_tpm", |w| concurrent_tpm(w).boxed()),
        scenario("limits::concurrent_streams", |w| {
            concurrent_streams(w).boxed()
        }),
        scenario("filter::tool_input_is_filtered", |w| {
            tool_input_is_filtered(w).boxed()
        }),
    ]
}
