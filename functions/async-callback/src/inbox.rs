//! Requests dropped into the bucket's `inbox/` prefix: one Converse request as JSON, or many as
//! JSON Lines. Each line gets one result line under `outbox/` with the same base name; a line that
//! cannot be run produces an error line, never a lost batch.

use inference_core::GatewayError;
use serde_json::{Value, json};

use crate::error::CallbackError;

pub const INBOX_PREFIX: &str = "inbox/";
pub const OUTBOX_PREFIX: &str = "outbox/";

/// Default of `GATEWAY_INBOX_MAX_BYTES`: 5 MiB. An object is read whole and parsed (several
/// times its size in memory) by a 256 MB function; 5 MiB is thousands of typical requests.
pub const DEFAULT_INBOX_MAX_BYTES: u64 = 5 * 1024 * 1024;

/// The inbox's settings, read once per cold start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxSettings {
    /// `GATEWAY_INBOX_MAX_BYTES`: a larger object is not read; its outbox gets one error line.
    pub max_bytes: u64,
}

impl Default for InboxSettings {
    fn default() -> Self {
        InboxSettings {
            max_bytes: DEFAULT_INBOX_MAX_BYTES,
        }
    }
}

impl InboxSettings {
    /// From the process environment.
    pub fn from_env() -> Result<InboxSettings, GatewayError> {
        InboxSettings::from_lookup(|k| std::env::var(k).ok())
    }

    /// From any lookup (tests). A bad value stops the cold start, naming the variable.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<InboxSettings, GatewayError> {
        let Some(v) = get("GATEWAY_INBOX_MAX_BYTES").filter(|v| !v.trim().is_empty()) else {
            return Ok(InboxSettings::default());
        };
        let max_bytes = v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=1024 * 1024 * 1024).contains(n))
            .ok_or_else(|| {
                GatewayError::internal(format!(
                    "configuration: GATEWAY_INBOX_MAX_BYTES: expected a number of bytes from 1 to 1073741824, got {v:?}"
                ))
            })?;
        Ok(InboxSettings { max_bytes })
    }
}

/// `inbox/team/batch.jsonl` -> `outbox/team/batch.jsonl`; `inbox/one.json` -> `outbox/one.jsonl`.
/// `None` for keys outside `inbox/` (the trigger's prefix filter should already exclude them).
pub fn outbox_key(inbox_key: &str) -> Option<String> {
    let rest = inbox_key.strip_prefix(INBOX_PREFIX)?;
    if rest.is_empty() || rest.ends_with('/') {
        return None;
    }
    let (dir, file) = match rest.rfind('/') {
        Some(i) => (&rest[..=i], &rest[i + 1..]),
        None => ("", rest),
    };
    let base = match file.rfind('.') {
        Some(i) if i > 0 => &file[..i],
        _ => file,
    };
    Some(format!("{OUTBOX_PREFIX}{dir}{base}.jsonl"))
}

/// One request read from an inbox object: its 1-based line number and what the line held.
#[derive(Debug, PartialEq)]
pub struct InboxLine {
    pub line: usize,
    pub request: Result<Value, String>,
}

/// Splits an inbox object into requests. A whole-file JSON object is one request; otherwise every
/// non-blank line must be a JSON object. Invalid UTF-8 or JSON in a line is that line's error.
pub fn parse_requests(bytes: &[u8]) -> Vec<InboxLine> {
    let text = String::from_utf8_lossy(bytes);
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&text) {
        return vec![InboxLine {
            line: 1,
            request: Ok(Value::Object(map)),
        }];
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| InboxLine {
            line: i + 1,
            request: match serde_json::from_str::<Value>(l) {
                Ok(Value::Object(map)) => Ok(Value::Object(map)),
                Ok(_) => Err("line is not a JSON object".to_string()),
                Err(e) => Err(format!("malformed JSON at column {}: {e}", e.column())),
            },
        })
        .collect()
}

/// The result line for a request that ran.
pub fn ok_line(line: usize, response: Value) -> Value {
    json!({"line": line, "ok": true, "response": response})
}

/// The result line of an object over the size cap: line 0 stands for the whole object.
pub fn too_large_line(size: u64, max: u64) -> Value {
    error_line(
        0,
        "payload_too_large",
        &format!(
            "the inbox object is {size} bytes; at most {max} are read (GATEWAY_INBOX_MAX_BYTES): split it into smaller files"
        ),
        false,
    )
}

/// The result line kept for a line whose answer was too large to checkpoint.
pub fn unkept_line(line: usize, size: usize) -> Value {
    error_line(
        line,
        "result_not_kept",
        &format!(
            "this line ran, but its {size}-byte result was too large to checkpoint and the outbox written by that run was lost; it was not run again"
        ),
        false,
    )
}

/// The result line for a request that did not run (or failed upstream).
pub fn error_line(line: usize, error_type: &str, message: &str, retryable: bool) -> Value {
    json!({
        "line": line,
        "ok": false,
        "error": {"type": error_type, "message": message, "retryable": retryable}
    })
}

/// Joins result lines into a JSON Lines body.
pub fn to_jsonl(lines: &[Value]) -> Result<Vec<u8>, CallbackError> {
    let mut out = Vec::new();
    for l in lines {
        serde_json::to_writer(&mut out, l)?;
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_cap_has_a_default_and_is_checked() {
        assert_eq!(
            InboxSettings::from_lookup(|_| None).unwrap().max_bytes,
            DEFAULT_INBOX_MAX_BYTES
        );
        let set = |v: &str| {
            let v = v.to_owned();
            InboxSettings::from_lookup(move |k| (k == "GATEWAY_INBOX_MAX_BYTES").then(|| v.clone()))
        };
        assert_eq!(set("2048").unwrap().max_bytes, 2048);
        for bad in ["0", "-1", "ten", "99999999999"] {
            let e = set(bad).unwrap_err();
            assert!(
                e.message().contains("GATEWAY_INBOX_MAX_BYTES"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn outbox_keys_keep_the_base_name() {
        assert_eq!(
            outbox_key("inbox/a.jsonl").as_deref(),
            Some("outbox/a.jsonl")
        );
        assert_eq!(
            outbox_key("inbox/one.json").as_deref(),
            Some("outbox/one.jsonl")
        );
        assert_eq!(
            outbox_key("inbox/t/b.x.jsonl").as_deref(),
            Some("outbox/t/b.x.jsonl")
        );
        assert_eq!(
            outbox_key("inbox/noext").as_deref(),
            Some("outbox/noext.jsonl")
        );
        assert_eq!(
            outbox_key("inbox/.hidden").as_deref(),
            Some("outbox/.hidden.jsonl")
        );
        assert_eq!(outbox_key("inbox/"), None);
        assert_eq!(outbox_key("other/a.json"), None);
    }

    #[test]
    fn one_object_or_json_lines_with_bad_lines_kept() {
        let one = parse_requests(br#"{"model": "haiku", "messages": []}"#);
        assert_eq!(one.len(), 1);
        assert!(one[0].request.is_ok());

        let many = parse_requests(b"{\"a\":1}\n\nnot json\n[1]\n{\"b\":2}\n");
        let lines: Vec<usize> = many.iter().map(|l| l.line).collect();
        assert_eq!(lines, vec![1, 3, 4, 5]);
        assert!(many[0].request.is_ok());
        assert!(
            many[1]
                .request
                .as_ref()
                .unwrap_err()
                .contains("malformed JSON")
        );
        assert!(
            many[2]
                .request
                .as_ref()
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(many[3].request.is_ok());
    }
}
