//! A generated case as the HTTP request an SDK would send (REST-JSON: members in the path,
//! headers and query string where the model places them, the rest as the JSON body).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use super::Case;
use crate::model::{Placement, ServiceModel};

/// A request ready to write to a socket.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// Path and query string, percent-encoded.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Case {
    /// The request, or `None` where HTTP cannot carry it: an empty or missing path label (the
    /// path would name another operation; the SDKs refuse to send it) or a header value that is
    /// not visible ASCII.
    pub fn to_http(&self, model: &ServiceModel) -> Option<HttpRequest> {
        let op = &model.operations[&self.operation];
        let shape = model.shape(&op.input);
        let mut body = self.input.as_object().cloned().unwrap_or_default();
        let mut target = op.http.request_uri.clone();
        let mut query = Vec::new();
        let mut headers = Vec::new();
        for (name, member) in &shape.members {
            let Some(place) = member.location else {
                continue;
            };
            let wire = member.location_name.clone().unwrap_or_else(|| name.clone());
            let value = body.remove(name);
            match (place, value) {
                (Placement::Uri, Some(v)) if !text(&v).is_empty() => {
                    target = target.replace(&format!("{{{wire}}}"), &encode(&text(&v)));
                }
                (Placement::Uri, _) => return None,
                (Placement::Header, Some(v)) => {
                    let t = text(&v);
                    if !t.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                        return None;
                    }
                    headers.push((wire, t));
                }
                (Placement::Querystring, Some(v)) => {
                    query.push(format!("{}={}", encode(&wire), encode(&text(&v))))
                }
                (_, None) => {}
            }
        }
        if !query.is_empty() {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(&query.join("&"));
        }
        let body = match &shape.payload {
            // The raw payload: the generated blob, decoded.
            Some(p) => body
                .get(p)
                .and_then(Value::as_str)
                .and_then(|b| B64.decode(b).ok())
                .unwrap_or_default(),
            None if op.http.method == "GET" => Vec::new(),
            None => serde_json::to_vec(&Value::Object(body)).unwrap_or_default(),
        };
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        Some(HttpRequest {
            method: op.http.method.clone(),
            target,
            headers,
            body,
        })
    }
}
