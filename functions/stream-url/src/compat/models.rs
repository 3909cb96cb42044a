//! `GET /v1/models` on the streaming URL: the gateway's own list, or a client's list shape.
//!
//! The shape is chosen per request (docs/compat.md): `?format=openai|anthropic|gateway` wins;
//! otherwise an `anthropic-version` header means Anthropic's shape, and an OpenAI client (an
//! `x-stainless-*` header or a `User-Agent` starting `OpenAI/`) means OpenAI's; anything else
//! gets the gateway's shape, the same as the invoke function's `GET /v1/models`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Uri};
use inference_core::web::Ctx;
use inference_core::{Gateway, GatewayError, models_view};
use serde_json::{Value, json};

use super::error::{CompatError, Provider, refuse};
use super::json_response;

/// The list shape a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"models": [...], ...}` (the gateway's).
    Gateway,
    /// `{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}`.
    OpenAi,
    /// `{"data": [{"type": "model", "id", "display_name", "created_at"}], "has_more", ...}`.
    Anthropic,
}

/// The shape for a query string and headers (see the module docs).
pub fn shape(query: Option<&str>, headers: &HeaderMap) -> Result<Shape, String> {
    let format = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("format="));
    match format {
        Some("openai") => return Ok(Shape::OpenAi),
        Some("anthropic") => return Ok(Shape::Anthropic),
        Some("gateway") => return Ok(Shape::Gateway),
        Some(other) => return Err(format!("{other:?}: expected openai, anthropic or gateway")),
        None => {}
    }
    if headers.contains_key("anthropic-version") {
        return Ok(Shape::Anthropic);
    }
    let openai_ua = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("OpenAI/"));
    if openai_ua
        || headers
            .keys()
            .any(|k| k.as_str().starts_with("x-stainless-"))
    {
        return Ok(Shape::OpenAi);
    }
    Ok(Shape::Gateway)
}

/// Reshapes the gateway's list (`models_view::list_models`).
pub fn reshape(list: &Value, shape: Shape) -> Value {
    let models = list
        .get("models")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let s = |m: &Value, k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    match shape {
        Shape::Gateway => list.clone(),
        Shape::OpenAi => json!({
            "object": "list",
            "data": models.iter().map(|m| json!({
                "id": s(m, "id"),
                "object": "model",
                "created": 0,
                "owned_by": s(m, "provider"),
            })).collect::<Vec<_>>(),
        }),
        Shape::Anthropic => {
            let data: Vec<Value> = models
                .iter()
                .filter(|m| s(m, "provider") == "anthropic")
                .map(|m| {
                    json!({
                        "type": "model",
                        "id": s(m, "id"),
                        "display_name": s(m, "display_name"),
                        "created_at": "1970-01-01T00:00:00Z",
                    })
                })
                .collect();
            json!({
                "first_id": data.first().map(|m| m["id"].clone()),
                "last_id": data.last().map(|m| m["id"].clone()),
                "has_more": false,
                "data": data,
            })
        }
    }
}

/// One model (`models_view::describe_model`'s view) in the asked shape: what the OpenAI
/// client's `models.retrieve` and Anthropic's `models.retrieve` read. `None`: Anthropic's
/// shape for a model that is not Claude (its API lists only Claude).
pub fn reshape_one(model: &Value, shape: Shape) -> Option<Value> {
    let s = |k: &str| {
        model
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    match shape {
        Shape::Gateway => Some(model.clone()),
        Shape::OpenAi => Some(json!({
            "id": s("id"),
            "object": "model",
            "created": 0,
            "owned_by": s("provider"),
        })),
        Shape::Anthropic => (s("provider") == "anthropic").then(|| {
            json!({
                "type": "model",
                "id": s("id"),
                "display_name": s("display_name"),
                "created_at": "1970-01-01T00:00:00Z",
            })
        }),
    }
}

/// `GET /v1/models/{model}`: any name a caller may use (alias, ID, profile, ARN); errors in the
/// shape's provider format (the gateway's own for the gateway shape).
pub async fn handle_one(
    State(gw): State<Gateway>,
    Path(model): Path<String>,
    Ctx(ctx): Ctx,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let request_id = ctx.request_id;
    let sh = match shape(uri.query(), &headers) {
        Ok(sh) => sh,
        Err(msg) => return refuse("format", msg).into_response(Provider::OpenAi, &request_id),
    };
    // An application inference profile's ARN is described as its model once learnt.
    let learnt = gw.learn_model(&model).await;
    let found = learnt
        .and_then(|()| models_view::describe_model(&gw.catalog(), gw.config(), &model))
        .and_then(|v| {
            reshape_one(&v, sh)
                .ok_or_else(|| GatewayError::not_found(format!("{model}: not a Claude model")))
        });
    match (found, sh) {
        (Ok(v), _) => json_response(&v, None),
        (Err(e), Shape::Gateway) => e.into_response(),
        (Err(e), Shape::OpenAi) => {
            CompatError::from(e).into_response(Provider::OpenAi, &request_id)
        }
        (Err(e), Shape::Anthropic) => {
            CompatError::from(e).into_response(Provider::Anthropic, &request_id)
        }
    }
}

/// The handler.
pub async fn handle(
    State(gw): State<Gateway>,
    Ctx(ctx): Ctx,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match shape(uri.query(), &headers) {
        Ok(sh) => {
            let list = models_view::list_models(&gw.catalog(), gw.config());
            json_response(&reshape(&list, sh), None)
        }
        Err(msg) => {
            let e: CompatError = refuse("format", msg);
            e.into_response(Provider::OpenAi, &ctx.request_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_shape_rule() {
        assert_eq!(shape(None, &headers(&[])), Ok(Shape::Gateway));
        assert_eq!(
            shape(Some("format=openai"), &headers(&[])),
            Ok(Shape::OpenAi)
        );
        assert_eq!(
            shape(None, &headers(&[("x-stainless-lang", "python")])),
            Ok(Shape::OpenAi)
        );
        assert_eq!(
            shape(None, &headers(&[("user-agent", "OpenAI/Python 3.51.0")])),
            Ok(Shape::OpenAi)
        );
        assert_eq!(
            shape(
                None,
                &headers(&[
                    ("x-stainless-lang", "python"),
                    ("anthropic-version", "2023-06-01")
                ])
            ),
            Ok(Shape::Anthropic)
        );
        assert_eq!(
            shape(
                Some("a=1&format=gateway"),
                &headers(&[("anthropic-version", "x")])
            ),
            Ok(Shape::Gateway)
        );
        assert!(shape(Some("format=xml"), &headers(&[])).is_err());
    }

    #[test]
    fn reshapes() {
        let list = json!({"models": [
            {"id": "anthropic.claude-haiku-4-5-20251001-v1:0", "provider": "anthropic", "display_name": "Claude Haiku 4.5"},
            {"id": "amazon.nova-lite-v1:0", "provider": "amazon", "display_name": "Nova Lite"}]});
        let o = reshape(&list, Shape::OpenAi);
        assert_eq!(o["object"], "list");
        assert_eq!(o["data"][1]["owned_by"], "amazon");
        let a = reshape(&list, Shape::Anthropic);
        assert_eq!(a["data"].as_array().unwrap().len(), 1);
        assert_eq!(a["first_id"], "anthropic.claude-haiku-4-5-20251001-v1:0");
        let haiku = &list["models"][0];
        let nova = &list["models"][1];
        assert_eq!(
            reshape_one(haiku, Shape::OpenAi).unwrap()["object"],
            "model"
        );
        assert_eq!(
            reshape_one(haiku, Shape::Anthropic).unwrap()["type"],
            "model"
        );
        assert_eq!(reshape_one(nova, Shape::Anthropic), None);
        assert_eq!(reshape_one(nova, Shape::Gateway).as_ref(), Some(nova));
    }
}
