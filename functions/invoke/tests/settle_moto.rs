//! Settlement applies exactly once: a settlement the SDK sends again after its answer was lost
//! (applied, then a 500), and writes that meet a transaction on their item (refused with a
//! conflict, which the SDK does not retry), against moto through a faulting client
//! (`gateway_tests::flaky`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use gateway_stores::auth::{DynamoMeter, KeyStore};
use gateway_tests::Moto;
use gateway_tests::flaky::{Fault, Flaky, Writes};
use gateway_tests::keys::{KEYS_TABLE as KEYS, USAGE_TABLE as USAGE, create_key_tables};
use inference_core::auth::{Actual, AdmissionRequest, Caller, KeyRecord, Limits, Meter};
use rust_decimal::Decimal;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

struct Setup {
    _moto: Moto,
    sdk: aws_config::SdkConfig,
    /// A plain client's meter, to read the counters.
    reader: DynamoMeter,
    record: Arc<KeyRecord>,
}

/// moto with the tables and a key with day and month budgets and a tokens-per-minute limit.
async fn setup() -> Setup {
    let moto = Moto::start();
    let sdk = moto.sdk().await;
    create_key_tables(&sdk).await;
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let limits = Limits {
        budget_day_usd: Some(dec("10")),
        budget_month_usd: Some(dec("10")),
        tokens_per_minute: Some(1_000_000),
        ..Limits::default()
    };
    let (_, record) = KeyStore::new(db.clone(), KEYS, Duration::ZERO)
        .issue("settle", vec![], false, limits)
        .await
        .unwrap();
    Setup {
        _moto: moto,
        sdk,
        reader: DynamoMeter::new(db, USAGE),
        record: Arc::new(record),
    }
}

fn actual(cost: Decimal) -> Actual {
    Actual {
        model: "anthropic.claude-3-haiku-20240307-v1:0".into(),
        input_tokens: 10,
        output_tokens: 5,
        cache_tokens: 0,
        cost,
    }
}

/// The day and month spend, and the usage report's requests and cost.
async fn counters(s: &Setup) -> (Decimal, Decimal, u64, Decimal) {
    let b = Meter::budgets(&s.reader, &s.record.id, &s.record.limits).await;
    let rows = Meter::usage(&s.reader, Some(&s.record.id), "2000-01-01", "2999-12-31")
        .await
        .unwrap();
    (
        b[0].spent,
        b[1].spent,
        rows.iter().map(|r| r.requests).sum(),
        rows.iter().map(|r| r.cost).sum(),
    )
}

#[tokio::test]
async fn a_settlement_sent_again_after_its_answer_was_lost_is_applied_once() {
    let s = setup().await;
    let flaky = Flaky::new(Fault::LostAnswer, Writes::Settlement);
    flaky.arm(false);
    let meter = Arc::new(DynamoMeter::new(flaky.client(&s.sdk), USAGE));
    let dyn_meter: Arc<dyn Meter> = meter.clone();
    let caller = Caller::new(s.record.clone(), Some(dyn_meter));
    let mut total = Decimal::ZERO;
    for i in 0..5u32 {
        let reservation = Meter::admit(
            meter.as_ref(),
            &caller,
            &AdmissionRequest {
                tokens: 1000,
                usd: dec("0.05"),
            },
        )
        .await
        .unwrap();
        // Below the reservation: each settlement moves the spend down (a negative delta).
        let cost = dec("0.01") + Decimal::from(i) * dec("0.003");
        total += cost;
        // Only the settlement's writes lose their answers.
        flaky.arm(true);
        meter
            .clone()
            .settle(s.record.id.clone(), Some(reservation), Some(actual(cost)))
            .await;
        flaky.arm(false);
    }
    // A charge without a reservation (a video job's completion) too.
    flaky.arm(true);
    meter
        .clone()
        .settle(s.record.id.clone(), None, Some(actual(dec("0.02"))))
        .await;
    flaky.arm(false);
    total += dec("0.02");
    assert!(flaky.injected() >= 6, "every settlement lost an answer");
    let (day, month, requests, cost) = counters(&s).await;
    assert_eq!(requests, 6);
    assert_eq!(cost, total);
    assert_eq!(
        day, total,
        "the day's spend is the settled costs, once each"
    );
    assert_eq!(
        month, total,
        "the month's spend is the settled costs, once each"
    );
}

#[tokio::test]
async fn writes_that_meet_a_transaction_on_their_item_are_tried_again() {
    let s = setup().await;
    // Admission: its conditional UpdateItems meet a settlement in flight three times.
    let admission = Flaky::new(Fault::Conflict, Writes::Admission);
    admission.limit(3);
    let meter = Arc::new(DynamoMeter::new(admission.client(&s.sdk), USAGE));
    let dyn_meter: Arc<dyn Meter> = meter.clone();
    let caller = Caller::new(s.record.clone(), Some(dyn_meter));
    let request = AdmissionRequest {
        tokens: 1000,
        usd: dec("0.05"),
    };
    let reservation = Meter::admit(meter.as_ref(), &caller, &request)
        .await
        .expect("admitted after the conflicts");
    assert_eq!(admission.injected(), 3);
    let (day, month, _, _) = counters(&s).await;
    assert_eq!((day, month), (dec("0.05"), dec("0.05")), "reserved once");

    // Settlement: its transaction is cancelled for a conflict three times.
    let settlement = Flaky::new(Fault::Conflict, Writes::Settlement);
    settlement.limit(3);
    let meter = Arc::new(DynamoMeter::new(settlement.client(&s.sdk), USAGE));
    meter
        .clone()
        .settle(
            s.record.id.clone(),
            Some(reservation),
            Some(actual(dec("0.02"))),
        )
        .await;
    assert_eq!(settlement.injected(), 3);
    let (day, month, requests, cost) = counters(&s).await;
    assert_eq!(requests, 1);
    assert_eq!(cost, dec("0.02"));
    assert_eq!((day, month), (cost, cost), "settled once");
}
