//! What can trigger `async-callback`, told apart by the records' `eventSource`.
//!
//! S3 and SQS events both have a `Records` array and mostly optional fields, so deserializing into
//! an untagged enum would happily read one as the other; the source field is the real tag.

use aws_lambda_events::sqs::SqsEvent;
use gateway_jobs::JobId;
use gateway_jobs::queue::JobMessage;
use serde_json::Value;

use crate::error::CallbackError;

/// A trigger the function understands.
#[derive(Debug)]
pub enum Trigger {
    /// A batch from an SQS event source mapping (jobs, or S3 notifications through a queue).
    Sqs(SqsEvent),
    /// S3 ObjectCreated delivered to the function directly.
    S3(Vec<ObjectRef>),
    /// The EventBridge schedule (`source: aws.events`, `detail-type: Scheduled Event`): a tick
    /// of the batch driver (flush groups, poll batches).
    Schedule,
}

impl Trigger {
    pub fn from_json(event: Value) -> Result<Self, CallbackError> {
        if event.get("source").and_then(Value::as_str) == Some("aws.events")
            && event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        {
            return Ok(Trigger::Schedule);
        }
        let source = event
            .get("Records")
            .and_then(|r| r.get(0))
            .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match source.as_str() {
            "aws:sqs" => Ok(Trigger::Sqs(serde_json::from_value(event)?)),
            "aws:s3" => Ok(Trigger::S3(created_objects(&event)?)),
            "" => Err(CallbackError::UnknownEvent(
                "no Records[0].eventSource".into(),
            )),
            other => Err(CallbackError::UnknownEvent(format!(
                "event source {other:?}"
            ))),
        }
    }
}

/// What one SQS message body asks for.
#[derive(Debug, PartialEq)]
pub enum MessageBody {
    /// A job from the jobs queue: `{"job_id": "job_..."}`.
    Job(JobId),
    /// Objects created, from S3 notification(s) carried through the notification queue.
    S3(Vec<ObjectRef>),
    /// The `s3:TestEvent` S3 sends when notifications are configured: nothing to do.
    S3Test,
    /// Anything else: not understood; left to the queue's redrive so it ends in the DLQ, not lost.
    Unknown(String),
}

impl MessageBody {
    pub fn parse(body: &str) -> Self {
        if let Some(id) = JobMessage::parse(body) {
            return MessageBody::Job(id);
        }
        let Ok(value) = serde_json::from_str::<Value>(body) else {
            return MessageBody::Unknown("message body is not JSON".into());
        };
        if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
            return MessageBody::S3Test;
        }
        let is_s3 = value
            .get("Records")
            .and_then(|r| r.get(0))
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str)
            == Some("aws:s3");
        if is_s3 {
            return match created_objects(&value) {
                Ok(objects) => MessageBody::S3(objects),
                Err(e) => MessageBody::Unknown(e.to_string()),
            };
        }
        MessageBody::Unknown("message body is neither a job nor an S3 notification".into())
    }
}

/// An S3 object named by an event: bucket and (URL-decoded) key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
}

/// The ObjectCreated records of an S3 event. Read field by field rather than through
/// `aws_lambda_events::s3::S3Event`, which requires members (e.g. `userIdentity`) that only matter
/// for auditing and that some S3-compatible stores leave out. S3 URL-encodes keys in
/// notifications (spaces as `+`).
pub fn created_objects(event: &Value) -> Result<Vec<ObjectRef>, CallbackError> {
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| CallbackError::UnknownEvent("S3 notification without Records".into()))?;
    let mut objects = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let name = record
            .get("eventName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let s3 = record.get("s3");
        let bucket = s3
            .and_then(|s| s.pointer("/bucket/name"))
            .and_then(Value::as_str);
        let key = s3
            .and_then(|s| s.pointer("/object/key"))
            .and_then(Value::as_str);
        match (bucket, key) {
            (Some(bucket), Some(key)) => objects.push(ObjectRef {
                bucket: bucket.to_string(),
                key: url_decode_key(key),
            }),
            _ => {
                return Err(CallbackError::UnknownEvent(format!(
                    "malformed S3 notification: Records[{i}] has no s3.bucket.name or s3.object.key"
                )));
            }
        }
    }
    Ok(objects)
}

fn url_decode_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                // Bytes, not a str slice: a multi-byte character after `%` must not panic.
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(
            url_decode_key("inbox/Happy+Face%20x.jsonl"),
            "inbox/Happy Face x.jsonl"
        );
        assert_eq!(url_decode_key("inbox/100%"), "inbox/100%");
        assert_eq!(url_decode_key("inbox/%zz"), "inbox/%zz");
        assert_eq!(url_decode_key("inbox/%é"), "inbox/%é");
    }

    #[test]
    fn test_events_and_garbage_are_told_apart() {
        assert_eq!(
            MessageBody::parse(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#),
            MessageBody::S3Test
        );
        assert!(matches!(
            MessageBody::parse("not json"),
            MessageBody::Unknown(_)
        ));
        assert!(matches!(MessageBody::parse("{}"), MessageBody::Unknown(_)));
        assert!(matches!(
            MessageBody::parse(r#"{"job_id":"job_0123456789abcdef0123456789abcdef"}"#),
            MessageBody::Job(_)
        ));
        assert!(matches!(
            MessageBody::parse(r#"{"job_id":"x"}"#),
            MessageBody::Unknown(_)
        ));
        // What moto sends: no userIdentity / requestParameters.
        let minimal = r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
            "s3":{"bucket":{"name":"b"},"object":{"key":"inbox/a+b.jsonl"}}}]}"#;
        assert_eq!(
            MessageBody::parse(minimal),
            MessageBody::S3(vec![ObjectRef {
                bucket: "b".into(),
                key: "inbox/a b.jsonl".into()
            }])
        );
    }
}
