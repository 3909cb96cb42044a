//! ConverseStream events (SDK) -> JSON, one object per event, keyed by the event name as boto3
//! yields them: `{"messageStart": {...}}`, `{"contentBlockDelta": {...}}`, ... `{"metadata": {...}}`.

use aws_sdk_bedrockruntime::types::{
    ContentBlockDelta, ContentBlockStart, ConverseStreamOutput, ReasoningContentBlockDelta,
};
use serde_json::{Map, Value, json};

use super::response::{performance_to_json, service_tier_to_json, trace_to_json, usage_to_json};
use super::{b64, document_to_json};

/// The event's name (`messageStart`, ...), for SSE `event:` lines.
pub fn stream_event_name(e: &ConverseStreamOutput) -> &'static str {
    match e {
        ConverseStreamOutput::MessageStart(_) => "messageStart",
        ConverseStreamOutput::ContentBlockStart(_) => "contentBlockStart",
        ConverseStreamOutput::ContentBlockDelta(_) => "contentBlockDelta",
        ConverseStreamOutput::ContentBlockStop(_) => "contentBlockStop",
        ConverseStreamOutput::MessageStop(_) => "messageStop",
        ConverseStreamOutput::Metadata(_) => "metadata",
        _ => "unknown",
    }
}

/// One stream event as JSON.
pub fn stream_event_to_json(e: &ConverseStreamOutput) -> Value {
    let body = match e {
        ConverseStreamOutput::MessageStart(m) => json!({"role": m.role().as_str()}),
        ConverseStreamOutput::ContentBlockStart(s) => {
            let start = match s.start() {
                Some(ContentBlockStart::ToolUse(t)) => {
                    let mut o = Map::new();
                    o.insert("toolUseId".into(), json!(t.tool_use_id()));
                    o.insert("name".into(), json!(t.name()));
                    if let Some(ty) = t.r#type() {
                        o.insert("type".into(), json!(ty.as_str()));
                    }
                    json!({"toolUse": o})
                }
                Some(ContentBlockStart::ToolResult(t)) => {
                    let mut o = Map::new();
                    o.insert("toolUseId".into(), json!(t.tool_use_id()));
                    if let Some(s) = t.status() {
                        o.insert("status".into(), json!(s.as_str()));
                    }
                    json!({"toolResult": o})
                }
                Some(ContentBlockStart::Image(i)) => {
                    json!({"image": {"format": i.format().as_str()}})
                }
                _ => json!({}),
            };
            json!({"start": start, "contentBlockIndex": s.content_block_index()})
        }
        ConverseStreamOutput::ContentBlockDelta(d) => {
            let delta = match d.delta() {
                Some(ContentBlockDelta::Text(t)) => json!({"text": t}),
                Some(ContentBlockDelta::ToolUse(t)) => json!({"toolUse": {"input": t.input()}}),
                Some(ContentBlockDelta::ReasoningContent(r)) => {
                    json!({"reasoningContent": match r {
                        ReasoningContentBlockDelta::Text(t) => json!({"text": t}),
                        ReasoningContentBlockDelta::Signature(s) => json!({"signature": s}),
                        ReasoningContentBlockDelta::RedactedContent(b) => json!({"redactedContent": b64(b.as_ref())}),
                        _ => json!({}),
                    }})
                }
                Some(ContentBlockDelta::Citation(c)) => {
                    let mut o = Map::new();
                    if let Some(t) = c.title() {
                        o.insert("title".into(), json!(t));
                    }
                    o.insert(
                        "sourceContent".into(),
                        json!(
                            c.source_content()
                                .iter()
                                .filter_map(|s| s.text())
                                .map(|t| json!({"text": t}))
                                .collect::<Vec<_>>()
                        ),
                    );
                    json!({"citation": o})
                }
                _ => json!({}),
            };
            json!({"delta": delta, "contentBlockIndex": d.content_block_index()})
        }
        ConverseStreamOutput::ContentBlockStop(s) => {
            json!({"contentBlockIndex": s.content_block_index()})
        }
        ConverseStreamOutput::MessageStop(m) => {
            let mut o = Map::new();
            o.insert("stopReason".into(), json!(m.stop_reason().as_str()));
            if let Some(d) = m.additional_model_response_fields() {
                o.insert("additionalModelResponseFields".into(), document_to_json(d));
            }
            Value::Object(o)
        }
        ConverseStreamOutput::Metadata(m) => {
            let mut o = Map::new();
            if let Some(u) = m.usage() {
                o.insert("usage".into(), usage_to_json(u));
            }
            if let Some(x) = m.metrics() {
                o.insert("metrics".into(), json!({"latencyMs": x.latency_ms()}));
            }
            if let Some(t) = m.trace() {
                o.insert(
                    "trace".into(),
                    trace_to_json(t.guardrail(), t.prompt_router()),
                );
            }
            if let Some(p) = m.performance_config() {
                o.insert("performanceConfig".into(), performance_to_json(p));
            }
            if let Some(t) = m.service_tier() {
                o.insert("serviceTier".into(), service_tier_to_json(t));
            }
            Value::Object(o)
        }
        _ => json!({}),
    };
    let mut o = Map::new();
    o.insert(stream_event_name(e).to_owned(), body);
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_bedrockruntime::types::*;

    #[test]
    fn events_in_boto3_shape() {
        let events = [
            ConverseStreamOutput::MessageStart(
                MessageStartEvent::builder()
                    .role(ConversationRole::Assistant)
                    .build()
                    .unwrap(),
            ),
            ConverseStreamOutput::ContentBlockStart(
                ContentBlockStartEvent::builder()
                    .content_block_index(1)
                    .start(ContentBlockStart::ToolUse(
                        ToolUseBlockStart::builder()
                            .tool_use_id("t")
                            .name("f")
                            .build()
                            .unwrap(),
                    ))
                    .build()
                    .unwrap(),
            ),
            ConverseStreamOutput::ContentBlockDelta(
                ContentBlockDeltaEvent::builder()
                    .content_block_index(0)
                    .delta(ContentBlockDelta::Text("Hel".into()))
                    .build()
                    .unwrap(),
            ),
            ConverseStreamOutput::ContentBlockDelta(
                ContentBlockDeltaEvent::builder()
                    .content_block_index(1)
                    .delta(ContentBlockDelta::ToolUse(
                        ToolUseBlockDelta::builder()
                            .input("{\"x\":")
                            .build()
                            .unwrap(),
                    ))
                    .build()
                    .unwrap(),
            ),
            ConverseStreamOutput::ContentBlockDelta(
                ContentBlockDeltaEvent::builder()
                    .content_block_index(2)
                    .delta(ContentBlockDelta::ReasoningContent(
                        ReasoningContentBlockDelta::Signature("sig".into()),
                    ))
                    .build()
                    .unwrap(),
            ),
            ConverseStreamOutput::ContentBlockStop(
                ContentBlockStopEvent::builder()
                    .content_block_index(0)
                    .build()
                    .unwrap(),
            ),
            ConverseStreamOutput::MessageStop(
                MessageStopEvent::builder()
                    .stop_reason(StopReason::EndTurn)
                    .build()
                    .unwrap(),
            ),
            ConverseStreamOutput::Metadata(
                ConverseStreamMetadataEvent::builder()
                    .usage(
                        TokenUsage::builder()
                            .input_tokens(3)
                            .output_tokens(4)
                            .total_tokens(7)
                            .build()
                            .unwrap(),
                    )
                    .metrics(
                        ConverseStreamMetrics::builder()
                            .latency_ms(9)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ),
        ];
        let got: Vec<Value> = events.iter().map(stream_event_to_json).collect();
        assert_eq!(
            got,
            vec![
                json!({"messageStart": {"role": "assistant"}}),
                json!({"contentBlockStart": {"start": {"toolUse": {"toolUseId": "t", "name": "f"}}, "contentBlockIndex": 1}}),
                json!({"contentBlockDelta": {"delta": {"text": "Hel"}, "contentBlockIndex": 0}}),
                json!({"contentBlockDelta": {"delta": {"toolUse": {"input": "{\"x\":"}}, "contentBlockIndex": 1}}),
                json!({"contentBlockDelta": {"delta": {"reasoningContent": {"signature": "sig"}}, "contentBlockIndex": 2}}),
                json!({"contentBlockStop": {"contentBlockIndex": 0}}),
                json!({"messageStop": {"stopReason": "end_turn"}}),
                json!({"metadata": {"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}, "metrics": {"latencyMs": 9}}}),
            ]
        );
        assert_eq!(stream_event_name(&events[5]), "contentBlockStop");
    }
}
