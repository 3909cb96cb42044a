use base64::Engine as _;
use proptest::prelude::*;
use serde_json::json;

use super::image::tests::png_bytes;
use super::*;
use crate::error::ErrorKind;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn every_family_has_a_full_coefficient_row() {
    for f in Family::ALL {
        let c = coefficients::of(f);
        assert_eq!(c.coef_milli.len(), N_CLASSES, "{f}");
        assert!(
            c.reference.starts_with("exact:") || c.reference.starts_with("proxy:"),
            "{f}"
        );
    }
}

#[test]
fn family_names_parse() {
    for f in Family::ALL {
        assert_eq!(f.as_str().parse::<Family>().unwrap(), f);
    }
    for (s, f) in [
        ("claude", Family::Anthropic),
        ("nova", Family::AmazonNova),
        ("titan", Family::AmazonTitan),
        ("llama", Family::MetaLlama),
        ("mistral", Family::Mistral),
        ("command", Family::Cohere),
        ("embed", Family::Cohere),
    ] {
        assert_eq!(s.parse::<Family>().unwrap(), f, "{s}");
    }
    let err = "gpt".parse::<Family>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

/// Every shipped model has a family, except the open-weight chat models whose native body is
/// OpenAI's chat-completions body (gpt-oss, DeepSeek, Qwen, Kimi, MiniMax, GLM, Nemotron, Gemma): the
/// gateway does not model it, on
/// purpose (the filter reads all of it; usage comes from Bedrock's headers; the estimate uses
/// Claude's coefficients). A misspelt family elsewhere still fails here.
#[test]
fn every_catalog_model_has_a_family_but_the_open_weight_chat_models() {
    let catalog = crate::Catalog::embedded().expect("embedded catalog");
    for m in catalog.models() {
        let unmodelled = [
            "openai",
            "deepseek",
            "qwen",
            "moonshot",
            "moonshotai",
            "minimax",
            "zai",
            "nvidia",
            "google",
        ]
        .contains(&m.provider.as_str());
        assert_eq!(Family::for_model(m).is_none(), unmodelled, "{}", m.id);
    }
}

#[test]
fn empty_text_is_zero_and_any_text_is_at_least_one() {
    for f in Family::ALL {
        assert_eq!(estimate_text(f, ""), 0);
        assert_eq!(estimate_text(f, " "), 1);
        assert_eq!(estimate_text(f, "a"), 1);
    }
}

#[test]
fn english_prose_is_about_one_token_per_word() {
    let text = "The quick brown fox jumps over the lazy dog and runs into the forest. ".repeat(20);
    for f in Family::ALL {
        let t = estimate_text(f, &text);
        assert!((260..=360).contains(&t), "{f}: {t}");
    }
}

#[test]
fn empty_request_costs_only_the_request_overhead() {
    let e = estimate_request(Family::MetaLlama, &json!({})).unwrap();
    assert_eq!(e.text_tokens, 0);
    assert_eq!(e.tokens, e.overhead_tokens);
    assert!(e.is_complete());
}

#[test]
fn converse_text_system_tools_and_tool_blocks_are_counted() {
    let body = json!({
        "system": [{"text": "You are terse."}, {"cachePoint": {"type": "default"}}],
        "messages": [
            {"role": "user", "content": [{"text": "What's the weather in Lisbon?"}]},
            {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "Call the tool.", "signature": "x"}}},
                {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"city": "Lisbon"}}}
            ]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"json": {"temp_c": 21}}, {"text": "sunny"}]}}
            ]}
        ],
        "toolConfig": {"tools": [{"toolSpec": {
            "name": "weather", "description": "Current weather for a city.",
            "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}
        }}]}
    });
    let e = estimate_request(Family::Anthropic, &body).unwrap();
    assert!(e.is_complete(), "{:?}", e.not_countable);
    assert!(e.text_tokens > 30 && e.text_tokens < 120, "{e:?}");
    let c = coefficients::of(Family::Anthropic);
    assert_eq!(
        e.overhead_tokens,
        c.request_overhead + 3 * c.message_overhead + c.tools_prompt_auto
    );
    assert_eq!(e.tokens, e.text_tokens + e.overhead_tokens);

    // Forcing a tool uses the smaller documented tool prompt.
    let mut forced = body.clone();
    forced["toolConfig"]["toolChoice"] = json!({"any": {}});
    let f = estimate_request(Family::Anthropic, &forced).unwrap();
    assert_eq!(
        e.overhead_tokens - f.overhead_tokens,
        c.tools_prompt_auto - c.tools_prompt_forced
    );
}

#[test]
fn images_are_counted_by_rule_or_flagged() {
    let img = json!({"image": {"format": "png", "source": {"bytes": b64(&png_bytes(1000, 1000))}}});
    let body = json!({"messages": [{"role": "user", "content": [{"text": "Describe."}, img]}]});

    let claude = estimate_request(Family::Anthropic, &body).unwrap();
    assert_eq!(claude.image_tokens, 1334);
    assert_eq!(claude.exact_parts, 1);
    assert!(claude.is_complete());

    let nova = estimate_request(Family::AmazonNova, &body).unwrap();
    assert_eq!(nova.image_tokens, 1300);

    let llama = estimate_request(Family::MetaLlama, &body).unwrap();
    assert_eq!(llama.image_tokens, 0);
    assert_eq!(llama.not_countable.len(), 1);
    assert_eq!(llama.not_countable[0].path, "messages[0].content[1]");
    assert_eq!(llama.not_countable[0].kind, PartKind::Image);
}

#[test]
fn documents_video_s3_images_and_unknown_blocks_are_flagged_not_zeroed() {
    let body = json!({"messages": [{"role": "user", "content": [
        {"text": "Summarise the attachments."},
        {"document": {"format": "pdf", "name": "report", "source": {"bytes": "JVBERi0xLjcK"}}},
        {"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://b/v.mp4"}}}},
        {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/i.png"}}}},
        {"image": {"format": "png", "source": {"bytes": "bm90IGFuIGltYWdl"}}},
        {"hologram": {}},
        {"reasoningContent": {"redactedContent": "AAAA"}}
    ]}]});
    let e = estimate_request(Family::Anthropic, &body).unwrap();
    let kinds: Vec<_> = e
        .not_countable
        .iter()
        .map(|n| (n.path.as_str(), n.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("messages[0].content[1]", PartKind::Document),
            ("messages[0].content[2]", PartKind::Video),
            ("messages[0].content[3]", PartKind::Image),
            ("messages[0].content[4]", PartKind::Image),
            ("messages[0].content[5]", PartKind::Unknown),
            ("messages[0].content[6]", PartKind::RedactedReasoning),
        ]
    );
    assert!(!e.is_complete());
    assert!(e.text_tokens > 0);

    // A document given as text is estimated instead.
    let text_doc = json!({"messages": [{"role": "user", "content": [
        {"document": {"format": "txt", "name": "notes", "source": {"text": "Meeting at noon."}}}
    ]}]});
    let e = estimate_request(Family::Mistral, &text_doc).unwrap();
    assert!(e.is_complete() && e.text_tokens > 0);
}

#[test]
fn malformed_bodies_are_invalid_requests_naming_the_path() {
    for (body, path) in [
        (json!([]), "request body"),
        (json!({"messages": {}}), "messages"),
        (
            json!({"messages": [{"role": "user"}]}),
            "messages[0].content",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": 5}]}]}),
            "messages[0].content[0].text",
        ),
        (json!({"system": "be brief"}), "system"),
    ] {
        let err = estimate_request(Family::Anthropic, &body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(err.message().starts_with(path), "{body}: {}", err.message());
    }
}

#[test]
fn native_bodies_per_family() {
    let text = "Tell me about the history of Lisbon.";
    let t = |f: Family| estimate_text(f, text);

    let anthropic = json!({
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": text},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(&png_bytes(200, 200))}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}}
        ]}],
        "tools": [{"name": "lookup", "description": "Look up a city.", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "lookup"}
    });
    let e = estimate_native(Family::Anthropic, &anthropic).unwrap();
    assert_eq!(e.image_tokens, 54);
    assert_eq!(e.not_countable.len(), 1);
    assert_eq!(e.not_countable[0].kind, PartKind::Document);
    assert!(e.overhead_tokens >= coefficients::of(Family::Anthropic).tools_prompt_forced);

    let titan = json!({"inputText": text, "textGenerationConfig": {"maxTokenCount": 50}});
    assert_eq!(
        estimate_native(Family::AmazonTitan, &titan)
            .unwrap()
            .text_tokens,
        t(Family::AmazonTitan)
    );

    let llama = json!({"prompt": text, "max_gen_len": 50});
    assert_eq!(
        estimate_native(Family::MetaLlama, &llama)
            .unwrap()
            .text_tokens,
        t(Family::MetaLlama)
    );

    let mistral_prompt = json!({"prompt": format!("<s>[INST] {text} [/INST]")});
    assert!(
        estimate_native(Family::Mistral, &mistral_prompt)
            .unwrap()
            .text_tokens
            > t(Family::Mistral)
    );
    let mistral_chat = json!({"messages": [{"role": "user", "content": text}]});
    let e = estimate_native(Family::Mistral, &mistral_chat).unwrap();
    assert_eq!(e.text_tokens, t(Family::Mistral));
    assert_eq!(e.overhead_tokens, {
        let c = coefficients::of(Family::Mistral);
        c.request_overhead + c.message_overhead
    });

    let cohere = json!({"preamble": "Be brief.", "message": text,
        "chat_history": [{"role": "USER", "message": "Hi"}, {"role": "CHATBOT", "message": "Hello!"}]});
    let e = estimate_native(Family::Cohere, &cohere).unwrap();
    assert!(e.text_tokens > t(Family::Cohere));
    let embed = json!({"texts": [text, text], "input_type": "search_document"});
    assert!(
        estimate_native(Family::Cohere, &embed).unwrap().text_tokens >= 2 * t(Family::Cohere) - 1
    );

    let nova = json!({"schemaVersion": "messages-v1", "system": [{"text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"text": text}]}]});
    assert!(
        estimate_native(Family::AmazonNova, &nova)
            .unwrap()
            .text_tokens
            > t(Family::AmazonNova)
    );
}

#[test]
fn native_bodies_without_known_input_are_refused() {
    for f in Family::ALL {
        let err = estimate_native(f, &json!({"max_tokens": 5})).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{f}");
    }
    let err = estimate_native(Family::AmazonTitan, &json!({"inputText": 3})).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

proptest! {
    #[test]
    fn never_panics_and_appending_never_lowers_the_count(a in any::<String>(), b in any::<String>()) {
        for f in Family::ALL {
            let alone = estimate_text(f, &a);
            let joined = estimate_text(f, &format!("{a}{b}"));
            prop_assert!(joined >= alone, "{f}: {alone} -> {joined}");
        }
    }

    #[test]
    fn arbitrary_image_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = image::dimensions(&bytes);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&bytes);
        let _ = image::dimensions(&png);
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend_from_slice(&bytes);
        let _ = image::dimensions(&jpeg);
    }

    #[test]
    fn arbitrary_json_shapes_never_panic(s in "[a-z\\[\\]{}:,\" 0-9]{0,80}") {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) {
            for f in Family::ALL {
                let _ = estimate_request(f, &v);
                let _ = estimate_native(f, &v);
                let _ = estimate_request(f, &json!({"messages": [{"role": "user", "content": [v.clone()]}]}));
            }
        }
    }
}
