//! Where a request may ask Bedrock to read media from: `s3Location` sources.
//!
//! Bedrock reads an `s3Location` (image, video or document source, in Converse and in Nova's
//! native bodies) with the calling function's role, not the caller's. Any caller could then have
//! the model read the gateway's own bucket (other tenants' job requests and answers) or anything
//! else the role reaches. So such sources are refused unless their bucket is one the deployment
//! names in `GATEWAY_S3_SOURCE_BUCKETS` (and grants the functions' roles read access to).

use serde_json::Value;

use crate::error::{GatewayError, clip};

/// Refuses every `s3Location` in `body` whose bucket is not in `allowed` (400, naming the JSON
/// path). Depth-first over the whole body, so no shape (Converse blocks, tool results, native
/// bodies) can carry one past it.
pub fn check_s3_sources(body: &Value, allowed: &[String]) -> Result<(), GatewayError> {
    let mut path = Vec::new();
    walk(body, allowed, &mut path)
}

/// One step of the path to where the walk is: borrowed, so every request's walk allocates
/// nothing until it refuses.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn walk<'a>(
    v: &'a Value,
    allowed: &[String],
    path: &mut Vec<Step<'a>>,
) -> Result<(), GatewayError> {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                path.push(Step::Key(k));
                if k == "s3Location" {
                    check(child, allowed, path)?;
                }
                walk(child, allowed, path)?;
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                path.push(Step::Index(i));
                walk(child, allowed, path)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

fn check(location: &Value, allowed: &[String], path: &[Step<'_>]) -> Result<(), GatewayError> {
    let at = || {
        path.iter()
            .map(|s| match s {
                Step::Key(k) => (*k).to_owned(),
                Step::Index(i) => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".")
    };
    let uri = location.get("uri").and_then(Value::as_str).unwrap_or("");
    let bucket = uri
        .strip_prefix("s3://")
        .and_then(|rest| rest.split('/').next())
        .filter(|b| !b.is_empty());
    match bucket {
        Some(b) if allowed.iter().any(|a| a == b) => Ok(()),
        Some(b) => Err(GatewayError::invalid_request(format!(
            "{}: bucket {:?} is not one this deployment lets models read \
             (GATEWAY_S3_SOURCE_BUCKETS); send the content as bytes instead",
            at(),
            clip(b)
        ))),
        None => Err(GatewayError::invalid_request(format!(
            "{}.uri: expected s3://bucket/key",
            at()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(uri: &str) -> Value {
        json!({"messages": [{"role": "user", "content": [
            {"text": "What is in it?"},
            {"image": {"format": "png", "source": {"s3Location": {"uri": uri}}}},
        ]}]})
    }

    #[test]
    fn s3_sources_are_refused_unless_their_bucket_is_allowed() {
        let e =
            check_s3_sources(&image("s3://gateway-results/results/job_1.json"), &[]).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(
            e.message().starts_with(
                "messages.0.content.1.image.source.s3Location: bucket \"gateway-results\""
            ),
            "{e}"
        );
        let allowed = vec!["team-media".to_owned()];
        check_s3_sources(&image("s3://team-media/cat.png"), &allowed).unwrap();
        assert!(check_s3_sources(&image("s3://team-media-evil/cat.png"), &allowed).is_err());
        assert!(check_s3_sources(&image("https://team-media/cat.png"), &allowed).is_err());
        // Nested anywhere: a tool result's document, a native Nova body.
        let nested = json!({"messages": [{"role": "user", "content": [{"toolResult": {
            "toolUseId": "t", "content": [{"document": {"format": "pdf", "name": "d",
            "source": {"s3Location": {"uri": "s3://other/x.pdf"}}}}]}}]}]});
        assert!(check_s3_sources(&nested, &allowed).is_err());
        let nova = json!({"messages": [{"role": "user", "content": [{"video": {"format": "mp4",
            "source": {"s3Location": {"uri": "s3://other/v.mp4", "bucketOwner": "1"}}}}]}]});
        assert!(check_s3_sources(&nova, &allowed).is_err());
        check_s3_sources(
            &json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
            &[],
        )
        .unwrap();
    }
}
