//! Content blocks, both ways: JSON (Bedrock field names) <-> `aws_sdk_bedrockruntime::types`.

use aws_sdk_bedrockruntime::types::{
    CachePointBlock, CachePointType, CacheTtl, CitationsConfig, ContentBlock, ConversationRole,
    DocumentBlock, DocumentContentBlock, DocumentFormat, DocumentSource,
    GuardrailConverseContentBlock, GuardrailConverseContentQualifier, GuardrailConverseImageBlock,
    GuardrailConverseImageFormat, GuardrailConverseImageSource, GuardrailConverseTextBlock,
    ImageBlock, ImageFormat, ImageSource, Message, ReasoningContentBlock, ReasoningTextBlock,
    S3Location, SystemContentBlock, ToolResultBlock, ToolResultContentBlock, ToolResultStatus,
    ToolUseBlock, VideoBlock, VideoFormat, VideoSource,
};
use serde_json::{Map, Value, json};

use super::{
    Path, R, arr, b64, blob, build_err, document_to_json, json_to_document, obj, only, required,
    sdk_enum, string, union,
};

const CONTENT_BLOCKS: &[&str] = &[
    "text",
    "image",
    "document",
    "video",
    "toolUse",
    "toolResult",
    "reasoningContent",
    "cachePoint",
    "guardContent",
];

/// `{"role", "content": [...]}` -> `Message`.
pub(crate) fn message(v: &Value, p: &Path) -> R<Message> {
    let o = obj(v, p)?;
    only(o, &["role", "content"], p)?;
    let role: ConversationRole = sdk_enum(
        required(o, "role", p)?,
        ConversationRole::values(),
        &p.key("role"),
    )?;
    let cp = p.key("content");
    let blocks = arr(required(o, "content", p)?, &cp)?;
    let content = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| content_block(b, &cp.idx(i)))
        .collect::<R<Vec<_>>>()?;
    Message::builder()
        .role(role)
        .set_content(Some(content))
        .build()
        .map_err(|e| build_err(p, e))
}

/// `Message` -> JSON.
pub fn message_to_json(m: &Message) -> Value {
    json!({
        "role": m.role().as_str(),
        "content": m.content().iter().map(content_block_to_json).collect::<Vec<_>>(),
    })
}

/// One content block of a message.
pub(crate) fn content_block(v: &Value, p: &Path) -> R<ContentBlock> {
    let (k, inner) = union(v, CONTENT_BLOCKS, "block", p)?;
    let ip = p.key(k);
    Ok(match k {
        "text" => ContentBlock::Text(string(inner, &ip)?),
        "image" => ContentBlock::Image(image(inner, &ip)?),
        "document" => ContentBlock::Document(document(inner, &ip)?),
        "video" => ContentBlock::Video(video(inner, &ip)?),
        "toolUse" => {
            let o = obj(inner, &ip)?;
            only(o, &["toolUseId", "name", "input"], &ip)?;
            ContentBlock::ToolUse(
                ToolUseBlock::builder()
                    .tool_use_id(string(
                        required(o, "toolUseId", &ip)?,
                        &ip.key("toolUseId"),
                    )?)
                    .name(string(required(o, "name", &ip)?, &ip.key("name"))?)
                    .input(json_to_document(required(o, "input", &ip)?))
                    .build()
                    .map_err(|e| build_err(&ip, e))?,
            )
        }
        "toolResult" => ContentBlock::ToolResult(tool_result(inner, &ip)?),
        "reasoningContent" => {
            let (rk, rv) = union(
                inner,
                &["reasoningText", "redactedContent"],
                "reasoning block",
                &ip,
            )?;
            let rp = ip.key(rk);
            ContentBlock::ReasoningContent(match rk {
                "reasoningText" => {
                    let o = obj(rv, &rp)?;
                    only(o, &["text", "signature"], &rp)?;
                    let mut b = ReasoningTextBlock::builder()
                        .text(string(required(o, "text", &rp)?, &rp.key("text"))?);
                    if let Some(s) = o.get("signature") {
                        b = b.signature(string(s, &rp.key("signature"))?);
                    }
                    ReasoningContentBlock::ReasoningText(b.build().map_err(|e| build_err(&rp, e))?)
                }
                _ => ReasoningContentBlock::RedactedContent(blob(rv, &rp)?),
            })
        }
        "cachePoint" => ContentBlock::CachePoint(cache_point(inner, &ip)?),
        _ => ContentBlock::GuardContent(guard_content(inner, &ip)?),
    })
}

/// `ContentBlock` -> JSON. Blocks this gateway does not model are rendered as
/// `{"unsupported": "<Debug name>"}` rather than dropped silently.
pub fn content_block_to_json(b: &ContentBlock) -> Value {
    match b {
        ContentBlock::Text(t) => json!({"text": t}),
        ContentBlock::Image(i) => json!({"image": image_to_json(i)}),
        ContentBlock::Document(d) => json!({"document": document_to_json_block(d)}),
        ContentBlock::Video(v) => json!({"video": video_to_json(v)}),
        ContentBlock::ToolUse(t) => json!({"toolUse": {
            "toolUseId": t.tool_use_id(), "name": t.name(), "input": document_to_json(t.input()),
        }}),
        ContentBlock::ToolResult(t) => json!({"toolResult": tool_result_to_json(t)}),
        ContentBlock::ReasoningContent(r) => json!({"reasoningContent": match r {
            ReasoningContentBlock::ReasoningText(t) => {
                let mut o = Map::new();
                o.insert("text".into(), json!(t.text()));
                if let Some(s) = t.signature() {
                    o.insert("signature".into(), json!(s));
                }
                json!({"reasoningText": o})
            }
            ReasoningContentBlock::RedactedContent(bytes) => json!({"redactedContent": b64(bytes.as_ref())}),
            other => json!({"unsupported": format!("{other:?}")}),
        }}),
        ContentBlock::CachePoint(c) => json!({"cachePoint": cache_point_to_json(c)}),
        ContentBlock::GuardContent(g) => json!({"guardContent": guard_content_to_json(g)}),
        ContentBlock::CitationsContent(c) => json!({"citationsContent": {
            "content": c.content().iter().filter_map(|g| g.as_text().ok()).map(|t| json!({"text": t})).collect::<Vec<_>>(),
            "citations": c.citations().iter().map(|x| {
                let mut o = Map::new();
                if let Some(t) = x.title() { o.insert("title".into(), json!(t)); }
                if let Some(s) = x.source() { o.insert("source".into(), json!(s)); }
                o.insert("sourceContent".into(), Value::Array(x.source_content().iter().filter_map(|s| s.as_text().ok()).map(|t| json!({"text": t})).collect()));
                Value::Object(o)
            }).collect::<Vec<_>>(),
        }}),
        other => json!({"unsupported": short_debug(other)}),
    }
}

fn short_debug(b: &impl std::fmt::Debug) -> String {
    let s = format!("{b:?}");
    s.split('(').next().unwrap_or_default().to_owned()
}

/// A system block: text, guardContent or cachePoint.
pub(crate) fn system_block(v: &Value, p: &Path) -> R<SystemContentBlock> {
    let (k, inner) = union(
        v,
        &["text", "guardContent", "cachePoint"],
        "system block",
        p,
    )?;
    let ip = p.key(k);
    Ok(match k {
        "text" => SystemContentBlock::Text(string(inner, &ip)?),
        "guardContent" => SystemContentBlock::GuardContent(guard_content(inner, &ip)?),
        _ => SystemContentBlock::CachePoint(cache_point(inner, &ip)?),
    })
}

/// System block -> JSON.
pub fn system_block_to_json(b: &SystemContentBlock) -> Value {
    match b {
        SystemContentBlock::Text(t) => json!({"text": t}),
        SystemContentBlock::GuardContent(g) => json!({"guardContent": guard_content_to_json(g)}),
        SystemContentBlock::CachePoint(c) => json!({"cachePoint": cache_point_to_json(c)}),
        other => json!({"unsupported": short_debug(other)}),
    }
}

pub(crate) fn cache_point(v: &Value, p: &Path) -> R<CachePointBlock> {
    let o = obj(v, p)?;
    only(o, &["type", "ttl"], p)?;
    let t: CachePointType = sdk_enum(
        required(o, "type", p)?,
        CachePointType::values(),
        &p.key("type"),
    )?;
    let mut b = CachePointBlock::builder().r#type(t);
    if let Some(ttl) = o.get("ttl") {
        b = b.ttl(sdk_enum::<CacheTtl>(
            ttl,
            CacheTtl::values(),
            &p.key("ttl"),
        )?);
    }
    b.build().map_err(|e| build_err(p, e))
}

pub(crate) fn cache_point_to_json(c: &CachePointBlock) -> Value {
    let mut o = Map::new();
    o.insert("type".into(), json!(c.r#type().as_str()));
    if let Some(t) = c.ttl() {
        o.insert("ttl".into(), json!(t.as_str()));
    }
    Value::Object(o)
}

fn s3_location(v: &Value, p: &Path) -> R<S3Location> {
    let o = obj(v, p)?;
    only(o, &["uri", "bucketOwner"], p)?;
    let mut b = S3Location::builder().uri(string(required(o, "uri", p)?, &p.key("uri"))?);
    if let Some(x) = o.get("bucketOwner") {
        b = b.bucket_owner(string(x, &p.key("bucketOwner"))?);
    }
    b.build().map_err(|e| build_err(p, e))
}

fn s3_to_json(s: &S3Location) -> Value {
    let mut o = Map::new();
    o.insert("uri".into(), json!(s.uri()));
    if let Some(b) = s.bucket_owner() {
        o.insert("bucketOwner".into(), json!(b));
    }
    Value::Object(o)
}

fn image(v: &Value, p: &Path) -> R<ImageBlock> {
    let o = obj(v, p)?;
    only(o, &["format", "source"], p)?;
    let format: ImageFormat = sdk_enum(
        required(o, "format", p)?,
        ImageFormat::values(),
        &p.key("format"),
    )?;
    let sp = p.key("source");
    let (k, sv) = union(
        required(o, "source", p)?,
        &["bytes", "s3Location"],
        "image source",
        &sp,
    )?;
    let source = match k {
        "bytes" => ImageSource::Bytes(blob(sv, &sp.key(k))?),
        _ => ImageSource::S3Location(s3_location(sv, &sp.key(k))?),
    };
    ImageBlock::builder()
        .format(format)
        .source(source)
        .build()
        .map_err(|e| build_err(p, e))
}

/// Image block -> JSON (bytes as base64).
pub fn image_to_json(i: &ImageBlock) -> Value {
    let source = match i.source() {
        Some(ImageSource::Bytes(b)) => json!({"bytes": b64(b.as_ref())}),
        Some(ImageSource::S3Location(s)) => json!({"s3Location": s3_to_json(s)}),
        _ => Value::Null,
    };
    json!({"format": i.format().as_str(), "source": source})
}

fn video(v: &Value, p: &Path) -> R<VideoBlock> {
    let o = obj(v, p)?;
    only(o, &["format", "source"], p)?;
    let format: VideoFormat = sdk_enum(
        required(o, "format", p)?,
        VideoFormat::values(),
        &p.key("format"),
    )?;
    let sp = p.key("source");
    let (k, sv) = union(
        required(o, "source", p)?,
        &["bytes", "s3Location"],
        "video source",
        &sp,
    )?;
    let source = match k {
        "bytes" => VideoSource::Bytes(blob(sv, &sp.key(k))?),
        _ => VideoSource::S3Location(s3_location(sv, &sp.key(k))?),
    };
    VideoBlock::builder()
        .format(format)
        .source(source)
        .build()
        .map_err(|e| build_err(p, e))
}

fn video_to_json(v: &VideoBlock) -> Value {
    let source = match v.source() {
        Some(VideoSource::Bytes(b)) => json!({"bytes": b64(b.as_ref())}),
        Some(VideoSource::S3Location(s)) => json!({"s3Location": s3_to_json(s)}),
        _ => Value::Null,
    };
    json!({"format": v.format().as_str(), "source": source})
}

fn document(v: &Value, p: &Path) -> R<DocumentBlock> {
    let o = obj(v, p)?;
    only(o, &["format", "name", "source", "context", "citations"], p)?;
    let mut b = DocumentBlock::builder().name(string(required(o, "name", p)?, &p.key("name"))?);
    if let Some(f) = o.get("format") {
        b = b.format(sdk_enum::<DocumentFormat>(
            f,
            DocumentFormat::values(),
            &p.key("format"),
        )?);
    }
    let sp = p.key("source");
    let (k, sv) = union(
        required(o, "source", p)?,
        &["bytes", "s3Location", "text", "content"],
        "document source",
        &sp,
    )?;
    let kp = sp.key(k);
    let source = match k {
        "bytes" => DocumentSource::Bytes(blob(sv, &kp)?),
        "s3Location" => DocumentSource::S3Location(s3_location(sv, &kp)?),
        "text" => DocumentSource::Text(string(sv, &kp)?),
        _ => DocumentSource::Content(
            arr(sv, &kp)?
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let (_, t) = union(c, &["text"], "document content block", &kp.idx(i))?;
                    Ok(DocumentContentBlock::Text(string(
                        t,
                        &kp.idx(i).key("text"),
                    )?))
                })
                .collect::<R<Vec<_>>>()?,
        ),
    };
    b = b.source(source);
    if let Some(c) = o.get("context") {
        b = b.context(string(c, &p.key("context"))?);
    }
    if let Some(c) = o.get("citations") {
        let cp = p.key("citations");
        let co = obj(c, &cp)?;
        only(co, &["enabled"], &cp)?;
        let enabled = required(co, "enabled", &cp)?
            .as_bool()
            .ok_or_else(|| cp.key("enabled").err("expected a boolean"))?;
        b = b.citations(
            CitationsConfig::builder()
                .enabled(enabled)
                .build()
                .map_err(|e| build_err(&cp, e))?,
        );
    }
    b.build().map_err(|e| build_err(p, e))
}

fn document_to_json_block(d: &DocumentBlock) -> Value {
    let mut o = Map::new();
    o.insert("format".into(), json!(d.format().as_str()));
    o.insert("name".into(), json!(d.name()));
    let source = match d.source() {
        Some(DocumentSource::Bytes(b)) => json!({"bytes": b64(b.as_ref())}),
        Some(DocumentSource::S3Location(s)) => json!({"s3Location": s3_to_json(s)}),
        Some(DocumentSource::Text(t)) => json!({"text": t}),
        Some(DocumentSource::Content(c)) => {
            json!({"content": c.iter().filter_map(|b| b.as_text().ok()).map(|t| json!({"text": t})).collect::<Vec<_>>()})
        }
        _ => Value::Null,
    };
    o.insert("source".into(), source);
    if let Some(c) = d.context() {
        o.insert("context".into(), json!(c));
    }
    if let Some(c) = d.citations() {
        o.insert("citations".into(), json!({"enabled": c.enabled()}));
    }
    Value::Object(o)
}

fn tool_result(v: &Value, p: &Path) -> R<ToolResultBlock> {
    let o = obj(v, p)?;
    only(o, &["toolUseId", "content", "status"], p)?;
    let cp = p.key("content");
    let content = arr(required(o, "content", p)?, &cp)?
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ip = cp.idx(i);
            let (k, inner) = union(
                c,
                &["text", "json", "image", "document", "video"],
                "tool result block",
                &ip,
            )?;
            let kp = ip.key(k);
            Ok(match k {
                "text" => ToolResultContentBlock::Text(string(inner, &kp)?),
                "json" => ToolResultContentBlock::Json(json_to_document(inner)),
                "image" => ToolResultContentBlock::Image(image(inner, &kp)?),
                "document" => ToolResultContentBlock::Document(document(inner, &kp)?),
                _ => ToolResultContentBlock::Video(video(inner, &kp)?),
            })
        })
        .collect::<R<Vec<_>>>()?;
    let mut b = ToolResultBlock::builder()
        .tool_use_id(string(required(o, "toolUseId", p)?, &p.key("toolUseId"))?)
        .set_content(Some(content));
    if let Some(s) = o.get("status") {
        b = b.status(sdk_enum::<ToolResultStatus>(
            s,
            ToolResultStatus::values(),
            &p.key("status"),
        )?);
    }
    b.build().map_err(|e| build_err(p, e))
}

fn tool_result_to_json(t: &ToolResultBlock) -> Value {
    let content: Vec<Value> = t
        .content()
        .iter()
        .map(|c| match c {
            ToolResultContentBlock::Text(s) => json!({"text": s}),
            ToolResultContentBlock::Json(d) => json!({"json": document_to_json(d)}),
            ToolResultContentBlock::Image(i) => json!({"image": image_to_json(i)}),
            ToolResultContentBlock::Document(d) => json!({"document": document_to_json_block(d)}),
            ToolResultContentBlock::Video(v) => json!({"video": video_to_json(v)}),
            other => json!({"unsupported": short_debug(other)}),
        })
        .collect();
    let mut o = Map::new();
    o.insert("toolUseId".into(), json!(t.tool_use_id()));
    o.insert("content".into(), Value::Array(content));
    if let Some(s) = t.status() {
        o.insert("status".into(), json!(s.as_str()));
    }
    Value::Object(o)
}

pub(crate) fn guard_content(v: &Value, p: &Path) -> R<GuardrailConverseContentBlock> {
    let (k, inner) = union(v, &["text", "image"], "guard content", p)?;
    let ip = p.key(k);
    let o = obj(inner, &ip)?;
    if k == "text" {
        only(o, &["text", "qualifiers"], &ip)?;
        let mut b = GuardrailConverseTextBlock::builder()
            .text(string(required(o, "text", &ip)?, &ip.key("text"))?);
        if let Some(q) = o.get("qualifiers") {
            let qp = ip.key("qualifiers");
            for (i, x) in arr(q, &qp)?.iter().enumerate() {
                b = b.qualifiers(sdk_enum::<GuardrailConverseContentQualifier>(
                    x,
                    GuardrailConverseContentQualifier::values(),
                    &qp.idx(i),
                )?);
            }
        }
        Ok(GuardrailConverseContentBlock::Text(
            b.build().map_err(|e| build_err(&ip, e))?,
        ))
    } else {
        only(o, &["format", "source"], &ip)?;
        let format: GuardrailConverseImageFormat = sdk_enum(
            required(o, "format", &ip)?,
            GuardrailConverseImageFormat::values(),
            &ip.key("format"),
        )?;
        let sp = ip.key("source");
        let (_, bytes) = union(
            required(o, "source", &ip)?,
            &["bytes"],
            "guard image source",
            &sp,
        )?;
        Ok(GuardrailConverseContentBlock::Image(
            GuardrailConverseImageBlock::builder()
                .format(format)
                .source(GuardrailConverseImageSource::Bytes(blob(
                    bytes,
                    &sp.key("bytes"),
                )?))
                .build()
                .map_err(|e| build_err(&ip, e))?,
        ))
    }
}

pub(crate) fn guard_content_to_json(g: &GuardrailConverseContentBlock) -> Value {
    match g {
        GuardrailConverseContentBlock::Text(t) => {
            let mut o = Map::new();
            o.insert("text".into(), json!(t.text()));
            if !t.qualifiers().is_empty() {
                o.insert(
                    "qualifiers".into(),
                    json!(
                        t.qualifiers()
                            .iter()
                            .map(|q| q.as_str())
                            .collect::<Vec<_>>()
                    ),
                );
            }
            json!({"text": o})
        }
        GuardrailConverseContentBlock::Image(i) => {
            let source = match i.source() {
                Some(GuardrailConverseImageSource::Bytes(b)) => json!({"bytes": b64(b.as_ref())}),
                _ => Value::Null,
            };
            json!({"image": {"format": i.format().as_str(), "source": source}})
        }
        other => json!({"unsupported": short_debug(other)}),
    }
}
