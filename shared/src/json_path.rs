//! Nested JSON lookups by a literal path, for code that runs per streamed event.
//!
//! `Value::pointer` parses its argument on every call and allocates two strings per segment (it
//! unescapes `~1` and `~0`); per streamed token that was a dozen allocations (`perf`, stream-url
//! relaying an unpaced reply). These take the same `/a/0/b` paths, written in the code, whose
//! keys hold no `~` or `/`, and allocate nothing.

use serde_json::Value;

/// The value at `path` (`""` is `v` itself; an array index is a decimal segment).
pub fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(v);
    }
    path.strip_prefix('/')?
        .split('/')
        .try_fold(v, |v, key| match v {
            Value::Object(m) => m.get(key),
            Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        })
}

/// [`at`], mutable.
pub fn at_mut<'a>(v: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    if path.is_empty() {
        return Some(v);
    }
    path.strip_prefix('/')?
        .split('/')
        .try_fold(v, |v, key| match v {
            Value::Object(m) => m.get_mut(key),
            Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The same answers as `Value::pointer` for every path the stream code uses, and for the
    /// edge cases (root, missing keys, indices, a path without its leading slash).
    #[test]
    fn answers_as_pointer_does() {
        let mut v = json!({
            "delta": {"text": "hi", "toolUse": {"input": "{}"}},
            "choices": [{"delta": {"content": "x"}}],
            "metadata": {"trace": {"guardrail": {"a": 1}}},
            "n": 3
        });
        for p in [
            "",
            "/delta/text",
            "/delta/toolUse/input",
            "/delta/reasoningContent/text",
            "/choices/0/delta/content",
            "/choices/1/delta/content",
            "/choices/x",
            "/metadata/trace/guardrail",
            "/n/0",
            "/n",
            "delta",
            "/",
        ] {
            assert_eq!(at(&v, p), v.pointer(p), "{p}");
            let expected = v.pointer(p).cloned();
            assert_eq!(at_mut(&mut v, p).map(|x| x.clone()), expected, "{p}");
        }
        if let Some(Value::String(s)) = at_mut(&mut v, "/choices/0/delta/content") {
            s.push('y');
        }
        assert_eq!(v.pointer("/choices/0/delta/content"), Some(&json!("xy")));
    }
}
