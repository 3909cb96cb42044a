use serde_json::json;

use super::*;

const SONNET_US: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

fn req(name: &str, copy_from: &str, token: Option<&str>) -> CreateRequest {
    CreateRequest {
        name: name.into(),
        description: None,
        copy_from: copy_from.into(),
        tags: vec![Tag {
            key: "team".into(),
            value: "a".into(),
        }],
        token: token.map(str::to_string),
    }
}

fn system_arn(id: &str) -> String {
    format!("arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{id}")
}

#[test]
fn create_get_resolve_delete() {
    let p = Profiles::default();
    let arn = p
        .create("us-east-1", req("team-a", &system_arn(SONNET_US), None))
        .unwrap();
    let id = arn.rsplit('/').next().unwrap();
    assert_eq!(id.len(), 12);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert!(
        arn.starts_with("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/")
    );
    let got = p.get("us-east-1", &arn).unwrap();
    assert_eq!(got["type"], "APPLICATION");
    assert_eq!(got["models"].as_array().unwrap().len(), 3);
    assert_eq!(
        p.get("us-east-1", id).unwrap()["inferenceProfileArn"],
        json!(arn)
    );
    let r = p.resolve_for_invoke(&arn).unwrap();
    assert_eq!(r.model.id, "anthropic.claude-sonnet-4-5-20250929-v1:0");
    assert_eq!(
        p.tags(&arn).unwrap()["tags"],
        json!([{"key": "team", "value": "a"}])
    );
    p.delete(&arn).unwrap();
    assert_eq!(
        p.get("us-east-1", &arn).unwrap_err().name(),
        "ResourceNotFoundException"
    );
    assert_eq!(
        p.resolve_for_invoke(&arn).unwrap_err().name(),
        "ResourceNotFoundException"
    );
    assert_eq!(
        p.delete(&arn).unwrap_err().name(),
        "ResourceNotFoundException"
    );
}

#[test]
fn duplicate_names_tokens_and_sources() {
    let p = Profiles::default();
    let fm = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0";
    let a = p.create("us-east-1", req("one", fm, Some("tok1"))).unwrap();
    assert_eq!(
        p.create("us-east-1", req("one", fm, Some("tok1"))).unwrap(),
        a
    );
    assert_eq!(
        p.create("us-east-1", req("two", fm, Some("tok1")))
            .unwrap_err()
            .name(),
        "ConflictException"
    );
    assert_eq!(
        p.create("us-east-1", req("one", fm, Some("tok2")))
            .unwrap_err()
            .name(),
        "ConflictException"
    );
    let missing = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nope-v1:0";
    assert_eq!(
        p.create("us-east-1", req("three", missing, None))
            .unwrap_err()
            .name(),
        "ResourceNotFoundException"
    );
    let no_geo = system_arn("global.amazon.nova-pro-v1:0");
    assert_eq!(
        p.create("us-east-1", req("four", &no_geo, None))
            .unwrap_err()
            .name(),
        "ResourceNotFoundException"
    );
    assert_eq!(
        p.delete(SONNET_US).unwrap_err().name(),
        "ValidationException"
    );
}

#[test]
fn lists_system_then_application_with_paging() {
    let p = Profiles::default();
    let fm = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0";
    for n in ["a", "b", "c"] {
        p.create("us-east-1", req(n, fm, None)).unwrap();
    }
    let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let sys = p
        .list("us-east-1", &q(&[("type", "SYSTEM_DEFINED")]))
        .unwrap();
    let n_sys = sys["inferenceProfileSummaries"].as_array().unwrap().len();
    assert_eq!(n_sys, system::all("us-east-1").count());
    assert!(
        sys["inferenceProfileSummaries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["inferenceProfileId"] == SONNET_US)
    );
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut pairs = vec![
            ("type", "APPLICATION".to_string()),
            ("maxResults", "2".into()),
        ];
        if let Some(t) = &token {
            pairs.push(("nextToken", t.clone()));
        }
        let qm = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let page = p.list("us-east-1", &qm).unwrap();
        for s in page["inferenceProfileSummaries"].as_array().unwrap() {
            names.push(s["inferenceProfileName"].as_str().unwrap().to_string());
        }
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.into()),
            None => break,
        }
    }
    assert_eq!(names, ["a", "b", "c"]);
    let all = p.list("us-east-1", &HashMap::new()).unwrap();
    assert_eq!(
        all["inferenceProfileSummaries"].as_array().unwrap().len(),
        n_sys + 3
    );
    assert!(p.list("us-east-1", &q(&[("type", "OTHER")])).is_err());
    assert!(p.list("us-east-1", &q(&[("maxResults", "0")])).is_err());
    assert!(p.list("us-east-1", &q(&[("nextToken", "junk")])).is_err());
}

#[test]
fn tags_merge_and_cap() {
    let p = Profiles::default();
    let fm = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0";
    let arn = p.create("us-east-1", req("t", fm, None)).unwrap();
    let tag = |k: &str, v: &str| Tag {
        key: k.into(),
        value: v.into(),
    };
    p.tag(&arn, &[tag("team", "b"), tag("env", "dev")]).unwrap();
    assert_eq!(
        p.tags(&arn).unwrap()["tags"],
        json!([{"key": "team", "value": "b"}, {"key": "env", "value": "dev"}])
    );
    p.untag(&arn, &["team".into(), "absent".into()]).unwrap();
    assert_eq!(
        p.tags(&arn).unwrap()["tags"],
        json!([{"key": "env", "value": "dev"}])
    );
    let many: Vec<Tag> = (0..MAX_TAGS).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_eq!(
        p.tag(&arn, &many).unwrap_err().name(),
        "TooManyTagsException"
    );
    assert_eq!(
        p.tags("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzzzzzzzzzzz")
            .unwrap_err()
            .name(),
        "ResourceNotFoundException"
    );
}
