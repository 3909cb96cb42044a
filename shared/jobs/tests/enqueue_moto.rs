//! `submit::enqueue_or_mark_failed` against moto: a queued job's message is on the queue; a job
//! whose message cannot be sent (the queue is gone) is marked `failed` / `enqueue_failed`,
//! retryable, so it never waits for a worker that will not come.

use gateway_jobs::planner::{Mode, Plan};
use gateway_jobs::submit::{self, Submission};
use gateway_jobs::{JobKind, JobStatus, JobStore, queue::JobQueue};
use gateway_tests::jobs::{JOBS_TABLE, JobsAws};
use rust_decimal::Decimal;
use serde_json::json;

fn submission() -> Submission {
    Submission {
        kind: JobKind::Converse,
        model: "amazon.nova-lite-v1:0".into(),
        request: json!({"messages": []}),
        webhook_url: None,
        idempotency_key: None,
        request_hash: "h".into(),
        deadline: None,
        max_cost_usd: None,
        plan: Plan {
            mode: Mode::OnDemand,
            reason: "test".into(),
            estimated_cost_usd: Decimal::ONE,
            on_demand_cost_usd: Decimal::ONE,
            saving_usd: Decimal::ZERO,
        },
    }
}

#[tokio::test]
async fn a_job_is_queued_or_marked_as_not_queued() {
    let aws = JobsAws::start().await;
    let store = JobStore::new(&aws.sdk, JOBS_TABLE);

    let queued = submit::record_new(&store, submission(), None, 1_000)
        .await
        .unwrap();
    let queue = JobQueue::new(&aws.sdk, aws.queue_url.clone());
    assert!(submit::enqueue_or_mark_failed(&store, &queue, &queued.job_id, "not queued").await);
    let got = aws.receive_jobs().await;
    let bodies: Vec<&str> = got.iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains(queued.job_id.as_str()), "{bodies:?}");
    let record = store.get(&queued.job_id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Queued);
    assert!(record.error.is_none());

    let lost = submit::record_new(&store, submission(), None, 1_000)
        .await
        .unwrap();
    let gone = JobQueue::new(&aws.sdk, format!("{}-deleted", aws.queue_url));
    assert!(!submit::enqueue_or_mark_failed(&store, &gone, &lost.job_id, "not queued").await);
    let record = store.get(&lost.job_id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    let error = record.error.expect("the reason is on the record");
    assert_eq!(error.error_type, "enqueue_failed");
    assert_eq!(error.message, "not queued");
    assert!(error.retryable);
}
