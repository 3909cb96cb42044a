//! `POST /v1/files` (purpose `batch`: the file is checked line by line now, so a bad line is a
//! 400 naming it at upload, not a failed batch later), `GET /v1/files/{id}`,
//! `GET /v1/files/{id}/content`.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use inference_core::Gateway;
use inference_core::web::Ctx;

use super::objects::{FileMeta, IdKind, ObjectId, Objects};
use super::{Api, configured, input, multipart};
use crate::compat::error::{CResult, Provider, refuse};
use crate::compat::json_response;
use inference_core::clock::unix_seconds;

/// `POST /v1/files`.
pub async fn create(
    State(gw): State<Gateway>,
    Extension(api): Extension<Api>,
    Ctx(ctx): Ctx,
    req: Request,
) -> Response {
    match upload(&gw, &api, &ctx, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(Provider::OpenAi, &ctx.request_id),
    }
}

async fn upload(
    gw: &Gateway,
    api: &Api,
    ctx: &inference_core::CallContext,
    req: Request,
) -> CResult<Response> {
    let api = configured(api)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let boundary = multipart::boundary(content_type.as_deref())?;
    let limit = gw.config().max_body_bytes;
    let body = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| inference_core::GatewayError::payload_too_large(limit + 1, limit))?;
    let parts = multipart::parse(&body, &boundary)?;
    let purpose = parts.iter().find(|p| p.name == "purpose");
    match purpose.map(|p| String::from_utf8_lossy(&p.data).trim().to_owned()) {
        Some(p) if p == "batch" => {}
        Some(p) => {
            return Err(refuse(
                "purpose",
                format!("{p:?} is not supported here; only \"batch\""),
            ));
        }
        None => return Err(refuse("purpose", "missing; send purpose=batch")),
    }
    let file = parts
        .into_iter()
        .find(|p| p.name == "file")
        .ok_or_else(|| refuse("file", "missing; send the JSONL file as the field file"))?;
    // Checked (and translated) now; `POST /v1/batches` checks again against the catalog then.
    input::parse(gw, &file.data)?;
    let meta = FileMeta {
        id: ObjectId::random(IdKind::File),
        bytes: file.data.len() as u64,
        created_at: unix_seconds(),
        filename: file.filename.unwrap_or_else(|| "batch.jsonl".into()),
        purpose: "batch".into(),
    };
    api.objects(ctx).put_file(&meta, file.data).await?;
    tracing::info!(
        file_id = meta.id.as_str(),
        bytes = meta.bytes,
        "batch file stored"
    );
    Ok(json_response(&meta.to_openai(), None))
}

/// `GET /v1/files/{id}`.
pub async fn get(
    Extension(api): Extension<Api>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Result<Response, inference_core::GatewayError> {
    let (_, _, meta) = owned_file(&api, &ctx, &id).await?;
    Ok(json_response(&meta.to_openai(), None))
}

/// `GET /v1/files/{id}/content`: the JSONL as stored.
pub async fn content(
    Extension(api): Extension<Api>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Result<Response, inference_core::GatewayError> {
    let (objects, id, _) = owned_file(&api, &ctx, &id).await?;
    let bytes = objects.content(&id).await?;
    let mut resp = Body::from(bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jsonl"),
    );
    Ok(resp)
}

/// The calling key's file `id` (parsed), its description, and where the key's objects are: the
/// one lookup before a file is answered, so a malformed ID, another key's file and a missing
/// one get the same 404.
async fn owned_file(
    api: &Api,
    ctx: &inference_core::CallContext,
    id: &str,
) -> Result<(Objects, ObjectId, FileMeta), inference_core::GatewayError> {
    let api = configured(api)?;
    let id = ObjectId::parse(IdKind::File, id)?;
    let objects = api.objects(ctx);
    let meta = objects.file(&id).await?;
    Ok((objects, id, meta))
}
