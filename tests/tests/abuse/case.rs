//! One table row: a request to one function and the answer it must get. Every answer is also
//! held to the error contract (JSON with `content-type: application/json`, the gateway's or the
//! provider's error shape, no 5xx, no ARN), and the function must answer a normal call after it.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use crate::event::{Origin, Reply, Req, Who, deliver, event_json, get, post};
use crate::world::{Target, World};

/// Longest a case (its request and the health call after it) may take.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest error body: an error names what is wrong, it does not echo a huge input back.
pub const MAX_ERROR_BYTES: usize = 8 * 1024;

/// The status a case must get.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Exactly this status.
    Status(u16),
    /// Any of these (inputs whose answer depends on the model, e.g. a huge but valid array).
    OneOf(&'static [u16]),
    /// `lambda_http` refuses the event before any router sees it (what HTTP itself forbids).
    EventRefused,
}

/// A table row.
#[derive(Debug, Clone)]
pub struct Case {
    /// Unique within its table.
    pub name: String,
    /// The function.
    pub target: Target,
    /// The request.
    pub req: Req,
    /// The status.
    pub expect: Expect,
    /// The `error.type` (checked when given).
    pub kind: Option<&'static str>,
    /// Text the error message must contain (checked when given).
    pub says: Option<&'static str>,
    /// Why the case is skipped by default (`--ignored` runs it).
    pub ignore: Option<&'static str>,
}

/// `name`: `req` to `target` must get `status`.
pub fn case(name: &str, target: Target, req: Req, status: u16) -> Case {
    Case {
        name: name.into(),
        target,
        req,
        expect: Expect::Status(status),
        kind: None,
        says: None,
        ignore: None,
    }
}

impl Case {
    /// Any of `statuses` passes.
    pub fn one_of(mut self, statuses: &'static [u16]) -> Case {
        self.expect = Expect::OneOf(statuses);
        self
    }

    /// The event never reaches the router.
    pub fn event_refused(mut self) -> Case {
        self.expect = Expect::EventRefused;
        self
    }

    /// The error's `type` must be `kind`.
    pub fn kind(mut self, kind: &'static str) -> Case {
        self.kind = Some(kind);
        self
    }

    /// The error message must contain `text`.
    pub fn says(mut self, text: &'static str) -> Case {
        self.says = Some(text);
        self
    }

    /// Skipped by default, for `why` (`fixed on branch ...` or `finding: ...`). No case is
    /// skipped today; kept so an open finding is recorded in one line.
    #[allow(dead_code)]
    pub fn ignore(mut self, why: &'static str) -> Case {
        self.ignore = Some(why);
        self
    }
}

/// A check that is not one request: cross-key access, concurrent spending.
pub type ScenarioFn = for<'a> fn(&'a World) -> BoxFuture<'a, Result<(), String>>;

/// Something the runner runs: a table row or a scenario.
pub enum Test {
    /// A row.
    Row(Case),
    /// A named scenario.
    Scenario {
        /// Name.
        name: String,
        /// Why skipped by default.
        ignore: Option<&'static str>,
        /// The check.
        run: ScenarioFn,
    },
}

impl Test {
    /// The name printed and filtered on.
    pub fn name(&self) -> &str {
        match self {
            Test::Row(c) => &c.name,
            Test::Scenario { name, .. } => name,
        }
    }

    /// Why skipped by default.
    pub fn ignored(&self) -> Option<&'static str> {
        match self {
            Test::Row(c) => c.ignore,
            Test::Scenario { ignore, .. } => *ignore,
        }
    }
}

/// A scenario as a [`Test`].
pub fn scenario(name: &str, run: ScenarioFn) -> Test {
    Test::Scenario {
        name: name.into(),
        ignore: None,
        run,
    }
}

/// A scenario skipped by default (none today; see [`Case::ignore`]).
#[allow(dead_code)]
pub fn scenario_ignored(name: &str, why: &'static str, run: ScenarioFn) -> Test {
    Test::Scenario {
        name: name.into(),
        ignore: Some(why),
        run,
    }
}

/// Sends `req` to `target` as Lambda would.
pub async fn send(world: &World, target: Target, req: &Req) -> Result<Reply, String> {
    let origin = match target {
        Target::Stream => Origin::FunctionUrl,
        _ => Origin::HttpApi,
    };
    let key = match target {
        // On AWS the admin routes are behind IAM; the function takes no key.
        Target::Admin => None,
        _ => world.secret(req.who),
    };
    let keys = [Who::A, Who::B].map(|w| world.secret(w).unwrap_or_default());
    deliver(world.router(target), &event_json(origin, req, key, keys)).await
}

/// Runs a row: the request, its checks, then the health call.
pub async fn run_row(world: &World, case: &Case) -> Result<(), String> {
    let sent = send(world, case.target, &case.req).await;
    let reply = match (&case.expect, sent) {
        (Expect::EventRefused, Err(e)) if e.starts_with("event:") => {
            return healthy(world, case.target).await;
        }
        (_, sent) => sent?,
    };
    let ok = match &case.expect {
        Expect::Status(s) => reply.status == *s,
        Expect::OneOf(all) => all.contains(&reply.status),
        Expect::EventRefused => false,
    };
    if !ok {
        return Err(format!(
            "expected {:?}, got {}: {}",
            case.expect,
            reply.status,
            reply.text()
        ));
    }
    check_contract(case.target, &case.req.path, &reply)?;
    let body = reply.json();
    if let Some(kind) = case.kind
        && error_type(&body) != kind
    {
        return Err(format!("expected error type {kind}: {}", reply.text()));
    }
    if let Some(text) = case.says
        && !body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains(text)
    {
        return Err(format!(
            "expected the message to say {text:?}: {}",
            reply.text()
        ));
    }
    healthy(world, case.target).await
}

/// What every answer must be: below 500; an error is JSON in the right shape with
/// `content-type: application/json`, carries the request ID (gateway shape) and no ARN.
pub fn check_contract(target: Target, path: &str, reply: &Reply) -> Result<(), String> {
    if reply.status >= 500 {
        return Err(format!("{}: {}", reply.status, reply.text()));
    }
    if reply.status < 400 {
        return Ok(());
    }
    let ct = reply.header("content-type");
    if !ct.starts_with("application/json") {
        return Err(format!(
            "{} error with content-type {ct:?}: {}",
            reply.status,
            reply.text()
        ));
    }
    let body = reply.json();
    let error = &body["error"];
    let message = error["message"].as_str().unwrap_or("");
    if message.is_empty() || !error["type"].is_string() {
        return Err(format!("not the error shape: {}", reply.text()));
    }
    if gateway_shape(target, path)
        && error["request_id"].as_str() != Some(reply.header("x-request-id"))
    {
        return Err(format!(
            "error.request_id is not x-request-id: {}",
            reply.text()
        ));
    }
    if reply.bytes.len() > MAX_ERROR_BYTES {
        return Err(format!(
            "a {} byte error (the input echoed back?): {}",
            reply.bytes.len(),
            reply.text()
        ));
    }
    let text = String::from_utf8_lossy(&reply.bytes);
    // A real ARN (an account ID in it), not the text of a pattern that describes ARNs.
    static ARN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{12}:").expect("ARN regex")
    });
    if ARN.is_match(&text) {
        return Err(format!("an ARN in the error: {}", reply.text()));
    }
    Ok(())
}

/// Whether the route answers in the gateway's own error shape (not OpenAI's or Anthropic's).
fn gateway_shape(target: Target, path: &str) -> bool {
    target != Target::Stream || !path.starts_with("/v1/")
}

/// `error.type` of an error body.
pub fn error_type(body: &Value) -> &str {
    body["error"]["type"].as_str().unwrap_or("")
}

/// A normal call to the function succeeds.
pub async fn healthy(world: &World, target: Target) -> Result<(), String> {
    let req = match target {
        Target::Invoke | Target::InvokeJwt | Target::InvokeMasking => post("/v1/converse").json(
            json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": "ping"}]}],
                   "inferenceConfig": {"maxTokens": 10}}),
        ),
        Target::Stream => post("/v1/chat/completions").json(
            json!({"model": "haiku", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 10}),
        ),
        Target::Count => post("/v1/count").json(
            json!({"model": "haiku", "messages": [{"role": "user", "content": [{"text": "ping"}]}]}),
        ),
        Target::Admin => get("/v1/admin/keys"),
    };
    let reply = send(world, target, &req).await?;
    if reply.status != 200 {
        return Err(format!(
            "unhealthy after: {} {}: {}",
            reply.status,
            req.path,
            reply.text()
        ));
    }
    Ok(())
}
