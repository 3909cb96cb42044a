//! Guardrails on every path: the local content filter on what callers send and on what models
//! answer (whole and streamed), and how interventions (Bedrock's, a caller's, the local
//! filter's) are reported, counted and logged.
//!
//! Reports name policies and entity kinds, never the offending text; see `docs/guardrails.md`.

mod report;
mod screen;
mod stream;

pub use report::{
    GUARDRAIL_EVENT, GuardrailReport, Intervention, Source, Stage, acting_policies,
    blocked_output_message,
};
pub use screen::{
    Screen, Visit, converse_input, converse_output, mask_all_strings, native_input, native_output,
    screen_output,
};
pub use stream::{StreamGuard, StreamShape};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{Action, EntityKind, Filter, Policy};
    use serde_json::{Value, json};

    fn mask_filter() -> Filter {
        let mut p = Policy::secrets_only();
        p.set_action(EntityKind::Email, Action::Mask);
        Filter::new(&p)
    }

    fn texts(events: &[Value]) -> String {
        events
            .iter()
            .filter_map(|e| {
                e.pointer("/contentBlockDelta/delta/text")
                    .and_then(Value::as_str)
            })
            .collect()
    }

    #[test]
    fn converse_stream_masks_across_deltas_and_flushes_at_block_stop() {
        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Converse);
        let mut out = Vec::new();
        for piece in [
            "Write to ",
            "jane.d",
            "oe@exam",
            "ple.com",
            " now, ",
            "jo@x.io",
        ] {
            out.extend(g.on_event(
                json!({"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": 0}}),
            ));
        }
        out.extend(g.on_event(json!({"contentBlockStop": {"contentBlockIndex": 0}})));
        out.extend(g.on_event(json!({"messageStop": {"stopReason": "end_turn"}})));
        assert_eq!(texts(&out), "Write to [EMAIL] now, [EMAIL]");
        assert!(out.iter().all(|e| !e.to_string().contains('@')));
        assert_eq!(out.last().unwrap()["messageStop"]["stopReason"], "end_turn");
        let i = g.intervention().unwrap();
        assert_eq!(
            (i.action, i.policies.clone()),
            ("masked", vec!["email".to_owned()])
        );
    }

    #[test]
    fn converse_stream_block_ends_the_message() {
        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Converse);
        let mut out = Vec::new();
        for piece in ["key ", "AKIAIOSF", "ODNN7EXAMPLE", " and more"] {
            out.extend(g.on_event(
                json!({"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": 0}}),
            ));
        }
        assert_eq!(g.blocked(), Some(EntityKind::AwsAccessKey));
        assert_eq!(texts(&out), "key ");
        assert_eq!(
            out.last().unwrap()["messageStop"]["stopReason"],
            "guardrail_intervened"
        );
        assert!(
            g.on_event(json!({"contentBlockStop": {"contentBlockIndex": 0}}))
                .is_empty()
        );
    }

    #[test]
    fn native_single_field_and_anthropic_streams() {
        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Llama);
        let mut text = String::new();
        for (piece, last) in [("mail a@", false), ("b.org", false), ("", true)] {
            let mut c = json!({"generation": piece});
            if last {
                c["amazon-bedrock-invocationMetrics"] = json!({});
            }
            for e in g.on_event(c) {
                text.push_str(e["generation"].as_str().unwrap());
            }
        }
        assert_eq!(text, "mail [EMAIL]");

        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Anthropic);
        let mut text = String::new();
        for c in [
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "to x@exa"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "mple.com"}}),
            json!({"type": "content_block_stop", "index": 0}),
        ] {
            for e in g.on_event(c) {
                if let Some(t) = e.pointer("/delta/text").and_then(Value::as_str) {
                    text.push_str(t);
                }
            }
        }
        assert_eq!(text, "to [EMAIL]");
    }

    #[test]
    fn input_walkers_cover_the_documented_fields() {
        let mut body = json!({
            "system": [{"text": "s a@b.io"}],
            "messages": [{"role": "user", "content": [
                {"text": "t a@b.io"},
                {"toolResult": {"toolUseId": "x", "content": [{"text": "r a@b.io"}, {"json": {"k": ["j a@b.io"]}}]}},
                {"document": {"format": "txt", "name": "d", "source": {"text": "d a@b.io"}}},
            ]}],
        });
        let f = mask_filter();
        let mut s = Screen::new(&f);
        converse_input(&mut body, &mut |p, t| s.text(p, t));
        assert!(!body.to_string().contains("a@b.io"), "{body}");
        assert!(s.input_verdict().unwrap().is_some());

        let mut body = json!({"prompt": "ssn 123-45-6789"});
        let mut s = Screen::new(&f);
        native_input(
            Some(crate::family::Family::MetaLlama),
            &mut body,
            &mut |p, t| s.text(p, t),
        );
        let e = s.input_verdict().unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.error_type(), "guardrail_blocked");
        assert!(
            e.message().contains("(ssn)") && !e.message().contains("6789"),
            "{e}"
        );
    }

    #[test]
    fn a_blocked_answer_is_withheld_in_its_text_block() {
        let mut v = json!({"output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "think 123-45-6789", "signature": "s"}}},
            {"text": "Your SSN is 123-45-6789."},
        ]}}, "stopReason": "end_turn"});
        let i = screen_output(&mask_filter(), &mut v, converse_output).unwrap();
        assert_eq!((i.action, i.policies), ("blocked", vec!["ssn".to_owned()]));
        let content = &v["output"]["message"]["content"];
        assert_eq!(content[0]["reasoningContent"]["reasoningText"]["text"], "");
        assert_eq!(content[1]["text"], blocked_output_message(EntityKind::Ssn));
        assert!(!v.to_string().contains("6789"));
    }

    #[test]
    fn policies_from_a_trace() {
        let t = json!({"inputAssessment": {"demo": {"wordPolicy": {"customWords": [{"match": "x", "action": "BLOCKED"}], "managedWordLists": []},
            "topicPolicy": {"topics": [{"name": "n", "type": "DENY", "action": "NONE"}]}}}});
        assert_eq!(acting_policies(&t), vec!["wordPolicy"]);
        let i = Intervention::bedrock(Source::Bedrock, Some(t));
        assert_eq!(i.stage, Some(Stage::Input));
    }

    fn tool_deltas(events: &[Value]) -> String {
        events
            .iter()
            .filter_map(|e| {
                e.pointer("/contentBlockDelta/delta/toolUse/input")
                    .or(e.pointer("/delta/partial_json"))
                    .and_then(Value::as_str)
            })
            .collect()
    }

    #[test]
    fn streamed_tool_input_is_held_whole_and_masked_at_block_stop() {
        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Converse);
        let start = json!({"contentBlockStart": {"start": {"toolUse": {"toolUseId": "t1", "name": "mail"}}, "contentBlockIndex": 1}});
        assert!(g.on_event(start).is_empty());
        let mut out = Vec::new();
        for piece in [r#"{"to": "jane.d"#, r#"oe@exam"#, r#"ple.com", "n": 1}"#] {
            out.extend(g.on_event(
                json!({"contentBlockDelta": {"delta": {"toolUse": {"input": piece}}, "contentBlockIndex": 1}}),
            ));
        }
        assert!(out.is_empty(), "tool input is held until its block ends");
        out.extend(g.on_event(json!({"contentBlockStop": {"contentBlockIndex": 1}})));
        assert!(out[0].pointer("/contentBlockStart/start/toolUse").is_some());
        let input: Value = serde_json::from_str(&tool_deltas(&out)).unwrap();
        assert_eq!(input, json!({"to": "[EMAIL]", "n": 1}));
        assert!(out.last().unwrap().get("contentBlockStop").is_some());
        assert_eq!(g.intervention().unwrap().policies, vec!["email".to_owned()]);

        // Anthropic native chunks: `input_json_delta`, same rule.
        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Anthropic);
        let mut out = Vec::new();
        for c in [
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "mail", "input": {}}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"to\": \"a@exa"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "mple.com\"}"}}),
        ] {
            out.extend(g.on_event(c));
        }
        assert!(out.is_empty());
        out.extend(g.on_event(json!({"type": "content_block_stop", "index": 0})));
        assert_eq!(tool_deltas(&out), r#"{"to":"[EMAIL]"}"#);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn a_blocked_streamed_tool_call_is_never_started() {
        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Converse);
        let mut out = Vec::new();
        for ev in [
            json!({"contentBlockDelta": {"delta": {"text": "Calling."}, "contentBlockIndex": 0}}),
            json!({"contentBlockStop": {"contentBlockIndex": 0}}),
            json!({"contentBlockStart": {"start": {"toolUse": {"toolUseId": "t1", "name": "f"}}, "contentBlockIndex": 1}}),
            json!({"contentBlockDelta": {"delta": {"toolUse": {"input": "{\"ssn\": \"123-45-"}}, "contentBlockIndex": 1}}),
            json!({"contentBlockDelta": {"delta": {"toolUse": {"input": "6789\"}"}}, "contentBlockIndex": 1}}),
            json!({"contentBlockStop": {"contentBlockIndex": 1}}),
        ] {
            out.extend(g.on_event(ev));
        }
        assert_eq!(g.blocked(), Some(EntityKind::Ssn));
        assert!(!out.iter().any(|e| e.get("contentBlockStart").is_some()));
        assert!(!out.iter().any(|e| e.to_string().contains("6789")));
        assert_eq!(
            out.last().unwrap()["messageStop"]["stopReason"],
            "guardrail_intervened"
        );
        // The end of the stream before the block's end withholds it the same way.
        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Nova);
        g.on_event(json!({"contentBlockDelta": {"delta": {"toolUse": {"input": "{\"k\": \"AKIAIOSFODNN7EXAMPLE\"}"}}, "contentBlockIndex": 0}}));
        assert!(g.flush_all().is_empty());
        assert_eq!(g.blocked(), Some(EntityKind::AwsAccessKey));
    }

    #[test]
    fn tool_calls_in_whole_answers_are_masked_or_withheld() {
        let answer = |input: Value| {
            json!({"output": {"message": {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "t", "name": "f", "input": input}},
            ]}}, "stopReason": "tool_use"})
        };
        let mut v = answer(json!({"to": ["x a@b.io"]}));
        let i = screen_output(&mask_filter(), &mut v, converse_output).unwrap();
        assert_eq!(i.action, "masked");
        assert_eq!(
            v["output"]["message"]["content"][0]["toolUse"]["input"]["to"][0],
            "x [EMAIL]"
        );

        let mut v = answer(json!({"ssn": "123-45-6789"}));
        let i = screen_output(&mask_filter(), &mut v, converse_output).unwrap();
        assert_eq!(i.action, "blocked");
        assert_eq!(
            v["output"]["message"]["content"],
            json!([{"text": blocked_output_message(EntityKind::Ssn)}])
        );

        // Anthropic native: the tool_use block goes, a text block says why.
        let mut v = json!({"content": [
            {"type": "text", "text": "Sure."},
            {"type": "tool_use", "id": "t", "name": "f", "input": {"k": "AKIAIOSFODNN7EXAMPLE"}},
        ], "stop_reason": "tool_use"});
        screen_output(&mask_filter(), &mut v, |v, f| {
            native_output(Some(crate::family::Family::Anthropic), v, f)
        })
        .unwrap();
        assert_eq!(v["content"].as_array().unwrap().len(), 1);
        assert_eq!(
            v["content"][0]["text"],
            blocked_output_message(EntityKind::AwsAccessKey)
        );
        assert_eq!(v["stop_reason"], "end_turn");
    }

    #[test]
    fn tool_definitions_are_filtered_on_input_and_names_only_checked() {
        let mut body = json!({
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "toolConfig": {"tools": [{"toolSpec": {
                "name": "mail",
                "description": "Send mail as ops a@b.io",
                "inputSchema": {"json": {"type": "object", "properties": {
                    "to": {"type": "string", "description": "e.g. c@d.io"}}}},
            }}]},
        });
        let f = mask_filter();
        let mut s = Screen::new(&f);
        converse_input(&mut body, &mut |p, t| s.text(p, t));
        assert!(!body.to_string().contains("@"), "{body}");
        assert!(s.input_verdict().unwrap().is_some());

        let mut body = json!({"messages": [], "toolConfig": {"tools": [{"toolSpec": {
            "name": "f", "description": "d",
            "inputSchema": {"json": {"enum": ["123-45-6789"]}}}}]}});
        let mut s = Screen::new(&f);
        converse_input(&mut body, &mut |p, t| s.text(p, t));
        let e = s.input_verdict().unwrap_err();
        assert!(
            e.message()
                .starts_with("toolConfig.tools[0].toolSpec.inputSchema.json.enum[0]"),
            "{e}"
        );

        // A name is an identifier: a blocked entity in it refuses the call, a masked one stays.
        let mut body = json!({"tools": [
            {"name": "AKIAIOSFODNN7EXAMPLE", "description": "d", "input_schema": {}}]});
        let mut s = Screen::new(&f);
        native_input(
            Some(crate::family::Family::Anthropic),
            &mut body,
            &mut |p, t| s.text(p, t),
        );
        assert_eq!(s.blocked().unwrap().1, "tools[0].name");
    }

    /// A model whose native body the gateway does not model (gpt-oss's OpenAI chat shape here)
    /// is no way around the filter: every string of its body and answer is screened.
    #[test]
    fn an_unknown_familys_native_body_and_answer_are_screened_whole() {
        let f = mask_filter();
        let mut body = json!({"messages": [{"role": "user", "content": "mail jo@x.io"}],
            "max_completion_tokens": 50, "reasoning_effort": "low"});
        let mut s = Screen::new(&f);
        native_input(None, &mut body, &mut |p, t| s.text(p, t));
        assert_eq!(body["messages"][0]["content"], "mail [EMAIL]");
        assert_eq!(body["reasoning_effort"], "low");

        let mut body = json!({"messages": [{"role": "user", "content": "AKIAIOSFODNN7EXAMPLE"}]});
        let mut s = Screen::new(&f);
        native_input(None, &mut body, &mut |p, t| s.text(p, t));
        assert_eq!(s.blocked().unwrap().1, "messages[0].content");

        let mut answer = json!({"choices": [{"message": {"content": "write to jo@x.io"}}]});
        let mut s = Screen::new(&f);
        native_output(None, &mut answer, &mut |p, t| s.text(p, t));
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            "write to [EMAIL]"
        );
    }

    #[test]
    fn an_unknown_familys_stream_is_screened_chunk_by_chunk() {
        let mut g = StreamGuard::new(&mask_filter(), StreamShape::Opaque);
        let out = g.on_event(json!({"choices": [{"delta": {"content": "to jo@x.io"}}]}));
        assert_eq!(out[0]["choices"][0]["delta"]["content"], "to [EMAIL]");
        let metrics = json!({"amazon-bedrock-invocationMetrics": {"inputTokenCount": 3}});
        assert_eq!(g.on_event(metrics.clone()), vec![metrics]);
        assert!(
            g.on_event(json!({"choices": [{"delta": {"content": "AKIAIOSFODNN7EXAMPLE"}}]}))
                .is_empty()
        );
        assert_eq!(g.blocked(), Some(EntityKind::AwsAccessKey));
        assert!(
            g.on_event(json!({"choices": [{"delta": {"content": "more"}}]}))
                .is_empty()
        );
    }
}
