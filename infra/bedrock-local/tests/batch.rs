//! Conformance of batch inference: the real `aws-sdk-bedrock` against the spawned binary, with
//! the input read from and the output written to moto's S3 (submit → poll → Completed with
//! Bedrock's output layout, partial failure, stop, validation errors, list filters).

mod common;

use std::time::Duration;

use aws_sdk_bedrock::error::ProvideErrorMetadata;
use aws_sdk_bedrock::types::{
    ModelInvocationJobInputDataConfig, ModelInvocationJobOutputDataConfig,
    ModelInvocationJobS3InputDataConfig, ModelInvocationJobS3OutputDataConfig,
    ModelInvocationJobStatus as S, SortOrder,
};
use common::{Local, Moto};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/BatchRole";
const NOVA_LITE: &str = "amazon.nova-lite-v1:0";
const SONNET_BARE: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const SONNET_US: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

struct Stack {
    // Dropped after `local`, so the emulator never outlives its S3.
    local: Local,
    s3: aws_sdk_s3::Client,
    _moto: Moto,
}

/// moto, the buckets `in-b` and `out-b`, and bedrock-local with fast steps and a low minimum.
async fn stack(step_ms: &str) -> Stack {
    let moto = Moto::start();
    let s3 = moto.s3();
    for b in ["in-b", "out-b"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let local = Local::start_with_env(
        &[
            "--batch-step-ms",
            step_ms,
            "--batch-min-records",
            "3",
            "--batch-max-file-bytes",
            "20000",
        ],
        &moto.env(),
    );
    Stack {
        local,
        s3,
        _moto: moto,
    }
}

fn nova(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": [{"text": text}]}],
           "inferenceConfig": {"maxTokens": 50}})
}

fn claude(text: &str) -> Value {
    json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
           "messages": [{"role": "user", "content": text}]})
}

fn jsonl(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: String) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into_bytes().into())
        .send()
        .await
        .unwrap();
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let o = s3.get_object().bucket(bucket).key(key).send().await;
    let o = o.unwrap_or_else(|e| panic!("s3://{bucket}/{key}: {}", e.into_service_error()));
    String::from_utf8(o.body.collect().await.unwrap().into_bytes().to_vec()).unwrap()
}

fn create(
    c: &aws_sdk_bedrock::Client,
    name: &str,
    model: &str,
    input: &str,
) -> aws_sdk_bedrock::operation::create_model_invocation_job::builders::CreateModelInvocationJobFluentBuilder
{
    c.create_model_invocation_job()
        .job_name(name)
        .role_arn(ROLE)
        .model_id(model)
        .input_data_config(ModelInvocationJobInputDataConfig::S3InputDataConfig(
            ModelInvocationJobS3InputDataConfig::builder()
                .s3_uri(input)
                .build()
                .unwrap(),
        ))
        .output_data_config(ModelInvocationJobOutputDataConfig::S3OutputDataConfig(
            ModelInvocationJobS3OutputDataConfig::builder()
                .s3_uri("s3://out-b/results/")
                .build()
                .unwrap(),
        ))
}

/// Polls until the job leaves the running states; returns the final Get answer.
async fn wait_end(
    c: &aws_sdk_bedrock::Client,
    arn: &str,
) -> aws_sdk_bedrock::operation::get_model_invocation_job::GetModelInvocationJobOutput {
    for _ in 0..200 {
        let g = c
            .get_model_invocation_job()
            .job_identifier(arn)
            .send()
            .await
            .unwrap();
        let s = g.status().unwrap().clone();
        if !matches!(
            s,
            S::Submitted | S::Validating | S::Scheduled | S::InProgress | S::Stopping
        ) {
            return g;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {arn} did not end");
}

fn job_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn a_job_runs_to_completed_and_writes_bedrocks_output_layout() {
    let st = stack("40").await;
    let records = [
        json!({"recordId": "R1", "modelInput": nova("hello [[len:5]]")}),
        json!({"recordId": "R2", "modelInput": nova("second")}),
        json!({"modelInput": nova("no id")}),
    ];
    put(&st.s3, "in-b", "jobs/a.jsonl", jsonl(&records)).await;
    let c = st.local.control_client();
    let arn = create(&c, "nightly-1", NOVA_LITE, "s3://in-b/jobs/a.jsonl")
        .client_request_token("tok1")
        .send()
        .await
        .unwrap()
        .job_arn()
        .to_string();
    let re = regex::Regex::new(
        r"^arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/[a-z0-9]{12}$",
    )
    .unwrap();
    assert!(re.is_match(&arn), "{arn}");
    let first = c
        .get_model_invocation_job()
        .job_identifier(job_id(&arn))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), Some(&S::Submitted));
    assert!(first.end_time().is_none());
    assert_eq!(first.job_name(), Some("nightly-1"));
    assert_eq!(first.role_arn(), ROLE);
    // The same token answers the same job.
    let again = create(&c, "nightly-1", NOVA_LITE, "s3://in-b/jobs/a.jsonl")
        .client_request_token("tok1")
        .send()
        .await
        .unwrap();
    assert_eq!(again.job_arn(), arn);

    let done = wait_end(&c, &arn).await;
    assert_eq!(done.status(), Some(&S::Completed), "{:?}", done.message());
    assert!(done.end_time().is_some());
    assert_eq!(done.total_record_count(), Some(3));
    assert_eq!(done.success_record_count(), Some(3));
    assert_eq!(done.error_record_count(), Some(0));

    let prefix = format!("results/{}", job_id(&arn));
    let out = lines(&get(&st.s3, "out-b", &format!("{prefix}/a.jsonl.out")).await);
    assert_eq!(out.len(), 3);
    assert_eq!(out[0]["recordId"], "R1");
    assert_eq!(out[0]["modelInput"], records[0]["modelInput"]);
    // The model's native InvokeModel answer (Nova's shape).
    assert_eq!(
        out[0]["modelOutput"]["output"]["message"]["role"],
        "assistant"
    );
    assert!(
        out[0]["modelOutput"]["usage"]["outputTokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let generated = out[2]["recordId"].as_str().unwrap();
    assert_eq!(generated.len(), 11, "{generated}");
    let manifest: Value =
        serde_json::from_str(&get(&st.s3, "out-b", &format!("{prefix}/manifest.json.out")).await)
            .unwrap();
    let input_tokens: u64 = out
        .iter()
        .map(|l| l["modelOutput"]["usage"]["inputTokens"].as_u64().unwrap())
        .sum();
    assert_eq!(manifest["totalRecordCount"], 3);
    assert_eq!(manifest["processedRecordCount"], 3);
    assert_eq!(manifest["successRecordCount"], 3);
    assert_eq!(manifest["errorRecordCount"], 0);
    assert_eq!(manifest["inputTokenCount"], input_tokens);
    assert!(manifest["outputTokenCount"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn chosen_records_fail_and_the_job_ends_partially_completed() {
    let st = stack("20").await;
    let records: Vec<Value> = (1..=6)
        .map(|i| json!({"recordId": format!("R{i}"), "modelInput": claude(&format!("q{i}"))}))
        .collect();
    put(&st.s3, "in-b", "many/part1.jsonl", jsonl(&records[..3])).await;
    let mut second = records[3..].to_vec();
    second[0]["modelInput"] = claude("[[fault:throttle]]");
    put(&st.s3, "in-b", "many/part2.jsonl", jsonl(&second)).await;
    put(&st.s3, "in-b", "many/notes.txt", "ignored".into()).await;
    st.local
        .control("POST", "/_local/batch/failures", r#"{"recordIds": ["R2"]}"#);
    let c = st.local.control_client();
    // A profile-only model runs through its system profile.
    let arn = create(&c, "partial", SONNET_US, "s3://in-b/many/")
        .send()
        .await
        .unwrap()
        .job_arn()
        .to_string();
    let done = wait_end(&c, &arn).await;
    assert_eq!(done.status(), Some(&S::PartiallyCompleted));
    assert!(
        done.message().unwrap().contains("2 of 6"),
        "{:?}",
        done.message()
    );
    assert_eq!(done.error_record_count(), Some(2));
    assert_eq!(done.success_record_count(), Some(4));
    let prefix = format!("results/{}", job_id(&arn));
    let one = lines(&get(&st.s3, "out-b", &format!("{prefix}/part1.jsonl.out")).await);
    assert_eq!(one[1]["recordId"], "R2");
    assert_eq!(one[1]["error"]["errorCode"], 424);
    assert!(one[1].get("modelOutput").is_none());
    // Claude's native answer on the others.
    assert_eq!(one[0]["modelOutput"]["type"], "message");
    let two = lines(&get(&st.s3, "out-b", &format!("{prefix}/part2.jsonl.out")).await);
    assert_eq!(two[0]["error"]["errorCode"], 429);
    assert!(two[1]["modelOutput"].is_object());

    // Every other record, and all failing: Failed.
    st.local.control(
        "POST",
        "/_local/batch/failures",
        r#"{"every": 1, "fault": "internal"}"#,
    );
    let arn = create(&c, "all-fail", SONNET_US, "s3://in-b/many/part1.jsonl")
        .send()
        .await
        .unwrap()
        .job_arn()
        .to_string();
    let done = wait_end(&c, &arn).await;
    assert_eq!(done.status(), Some(&S::Failed));
    assert_eq!(done.error_record_count(), Some(3));
}

#[tokio::test]
async fn a_job_stops() {
    let st = stack("300").await;
    let records: Vec<Value> = (1..=3)
        .map(|i| json!({"modelInput": nova(&format!("{i}"))}))
        .collect();
    put(&st.s3, "in-b", "s.jsonl", jsonl(&records)).await;
    let c = st.local.control_client();
    let arn = create(&c, "to-stop", NOVA_LITE, "s3://in-b/s.jsonl")
        .send()
        .await
        .unwrap()
        .job_arn()
        .to_string();
    c.stop_model_invocation_job()
        .job_identifier(&arn)
        .send()
        .await
        .unwrap();
    let g = c
        .get_model_invocation_job()
        .job_identifier(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(g.status(), Some(&S::Stopping));
    let done = wait_end(&c, &arn).await;
    assert_eq!(done.status(), Some(&S::Stopped));
    assert!(done.end_time().is_some());
    let e = c
        .stop_model_invocation_job()
        .job_identifier(&arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.code(), Some("ValidationException"), "{e:?}");
    // Nothing is written for a job stopped before it ran.
    let listed = st
        .s3
        .list_objects_v2()
        .bucket("out-b")
        .send()
        .await
        .unwrap();
    assert!(listed.contents().is_empty());
}

#[tokio::test]
async fn bedrocks_validation() {
    let st = stack("10").await;
    let c = st.local.control_client();
    let code = |r: Result<_, aws_sdk_bedrock::error::SdkError<_, _>>| {
        let e: aws_sdk_bedrock::operation::create_model_invocation_job::CreateModelInvocationJobError =
            r.map(|_: aws_sdk_bedrock::operation::create_model_invocation_job::CreateModelInvocationJobOutput| ())
                .unwrap_err()
                .into_service_error();
        (
            e.code().unwrap_or("").to_string(),
            e.message().unwrap_or("").to_string(),
        )
    };
    let input = "s3://in-b/v.jsonl";
    let (c1, m1) = code(create(&c, "bare", SONNET_BARE, input).send().await);
    assert_eq!(c1, "ValidationException");
    assert!(m1.contains("inference profile"), "{m1}");
    let (c2, m2) = code(
        create(&c, "reel", "amazon.nova-reel-v1:0", input)
            .send()
            .await,
    );
    assert_eq!(c2, "ValidationException");
    assert!(m2.contains("does not support batch"), "{m2}");
    let (c3, m3) = code(create(&c, "bad name!", NOVA_LITE, input).send().await);
    assert_eq!(c3, "ValidationException");
    assert!(m3.contains("'jobName'"), "{m3}");
    let (c4, m4) = code(
        create(&c, "role", NOVA_LITE, input)
            .role_arn("arn:aws:iam::123456789012:user/me")
            .send()
            .await,
    );
    assert_eq!(c4, "ValidationException");
    assert!(m4.contains("'roleArn'"), "{m4}");
    let (c5, m5) = code(
        create(&c, "hours", NOVA_LITE, input)
            .timeout_duration_in_hours(2)
            .send()
            .await,
    );
    assert_eq!(c5, "ValidationException");
    assert!(m5.contains("timeoutDurationInHours"), "{m5}");

    // Too few records, a file over the size limit and a missing input fail the job.
    put(
        &st.s3,
        "in-b",
        "v.jsonl",
        jsonl(&[json!({"modelInput": nova("x")})]),
    )
    .await;
    let small = create(&c, "small", NOVA_LITE, input).send().await.unwrap();
    let (c6, _) = code(create(&c, "small", NOVA_LITE, input).send().await);
    assert_eq!(c6, "ConflictException");
    let done = wait_end(&c, small.job_arn()).await;
    assert_eq!(done.status(), Some(&S::Failed));
    assert!(
        done.message().unwrap().contains("minimum of 3"),
        "{:?}",
        done.message()
    );
    let big: Vec<Value> = (0..3)
        .map(|_| json!({"modelInput": nova(&"word ".repeat(2000))}))
        .collect();
    put(&st.s3, "in-b", "big.jsonl", jsonl(&big)).await;
    let arn = create(&c, "big", NOVA_LITE, "s3://in-b/big.jsonl")
        .send()
        .await
        .unwrap();
    let done = wait_end(&c, arn.job_arn()).await;
    assert_eq!(done.status(), Some(&S::Failed));
    assert!(
        done.message().unwrap().contains("20000 bytes"),
        "{:?}",
        done.message()
    );
    let arn = create(&c, "missing", NOVA_LITE, "s3://in-b/nothing/")
        .send()
        .await
        .unwrap();
    let done = wait_end(&c, arn.job_arn()).await;
    assert_eq!(done.status(), Some(&S::Failed));
    assert!(
        done.message().unwrap().contains("No .jsonl"),
        "{:?}",
        done.message()
    );

    let e = c
        .get_model_invocation_job()
        .job_identifier("abcdef123456")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = c
        .stop_model_invocation_job()
        .job_identifier("abcdef123456")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = c
        .get_model_invocation_job()
        .job_identifier("NOT-AN-ID")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.code(), Some("ValidationException"));
}

#[tokio::test]
async fn list_filters_and_pages() {
    let st = stack("10").await;
    let records: Vec<Value> = (1..=3)
        .map(|i| json!({"modelInput": nova(&format!("{i}"))}))
        .collect();
    put(&st.s3, "in-b", "l.jsonl", jsonl(&records)).await;
    let c = st.local.control_client();
    let mut arns = Vec::new();
    for name in ["alpha-1", "alpha-2", "beta-1"] {
        let arn = create(&c, name, NOVA_LITE, "s3://in-b/l.jsonl")
            .send()
            .await
            .unwrap();
        arns.push(arn.job_arn().to_string());
    }
    let failing = create(&c, "gamma", NOVA_LITE, "s3://in-b/none.jsonl")
        .send()
        .await
        .unwrap();
    for arn in &arns {
        wait_end(&c, arn).await;
    }
    wait_end(&c, failing.job_arn()).await;

    let all = c.list_model_invocation_jobs().send().await.unwrap();
    let names: Vec<&str> = all
        .invocation_job_summaries()
        .iter()
        .map(|j| j.job_name())
        .collect();
    assert_eq!(names, ["gamma", "beta-1", "alpha-2", "alpha-1"]);
    let asc = c
        .list_model_invocation_jobs()
        .sort_order(SortOrder::Ascending)
        .name_contains("alpha")
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = asc
        .invocation_job_summaries()
        .iter()
        .map(|j| j.job_name())
        .collect();
    assert_eq!(names, ["alpha-1", "alpha-2"]);
    let failed = c
        .list_model_invocation_jobs()
        .status_equals(S::Failed)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.invocation_job_summaries().len(), 1);
    assert_eq!(failed.invocation_job_summaries()[0].job_name(), "gamma");
    let summary = &all.invocation_job_summaries()[1];
    assert_eq!(summary.status(), Some(&S::Completed));
    assert_eq!(summary.total_record_count(), Some(3));

    let page = c
        .list_model_invocation_jobs()
        .max_results(3)
        .send()
        .await
        .unwrap();
    assert_eq!(page.invocation_job_summaries().len(), 3);
    let token = page.next_token().unwrap().to_string();
    let rest = c
        .list_model_invocation_jobs()
        .max_results(3)
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(rest.invocation_job_summaries().len(), 1);
    assert!(rest.next_token().is_none());
    let e = c
        .list_model_invocation_jobs()
        .max_results(0)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.code(), Some("ValidationException"));
    let stats = st.local.stats();
    assert_eq!(stats["requests"]["CreateModelInvocationJob"], 4);
}
