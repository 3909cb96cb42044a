//! A DynamoDB client whose writes fail the way the network and DynamoDB fail them, through an
//! SDK interceptor in front of moto:
//!
//! - [`Fault::LostAnswer`]: the write reaches moto and is applied, then its answer is replaced by
//!   a 500, so the SDK retries a write that was applied (a timeout or a 500 after the commit).
//! - [`Fault::Conflict`]: the write never reaches moto (it is turned into a `ListTables`), and
//!   the answer is DynamoDB's for a write that met a transaction on its item:
//!   `TransactionConflictException` for an `UpdateItem`, `TransactionCanceledException` with
//!   reason `TransactionConflict` for a `TransactWriteItems`. Nothing was written.
//!
//! Only a request's first attempt is faulted; the SDK's retries pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// What happens to a chosen write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Applied, answered with a 500: the SDK sends it again.
    LostAnswer,
    /// Not applied, answered with DynamoDB's transaction conflict.
    Conflict,
}

/// Which writes are faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// Settlement's: every `TransactWriteItems`, and every `UpdateItem` without a condition
    /// (how settlement wrote its counters before it was one transaction).
    Settlement,
    /// Admission's: `UpdateItem`s with a condition (the reservations, the request count).
    Admission,
}

/// The interceptor; keep an `Arc` of it to arm it and count its faults.
#[derive(Debug)]
pub struct Flaky {
    fault: Fault,
    writes: Writes,
    armed: AtomicBool,
    /// Faults left to inject (`u32::MAX`: unlimited).
    left: AtomicU32,
    injected: AtomicU32,
}

impl Flaky {
    /// Faults every chosen write while armed (it starts armed).
    pub fn new(fault: Fault, writes: Writes) -> Arc<Flaky> {
        Arc::new(Flaky {
            fault,
            writes,
            armed: AtomicBool::new(true),
            left: AtomicU32::new(u32::MAX),
            injected: AtomicU32::new(0),
        })
    }

    /// Faults at most `n` more writes.
    pub fn limit(&self, n: u32) {
        self.left.store(n, Ordering::SeqCst);
    }

    /// Turns faults on or off.
    pub fn arm(&self, on: bool) {
        self.armed.store(on, Ordering::SeqCst);
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> u32 {
        self.injected.load(Ordering::SeqCst)
    }

    /// A client of `sdk` with this interceptor (and short retry pauses, to keep tests quick).
    pub fn client(self: &Arc<Self>, sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(Interceptor(Arc::clone(self)))
            .retry_config(
                aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                    .with_initial_backoff(std::time::Duration::from_millis(10)),
            )
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    fn take_one(&self) -> bool {
        self.armed.load(Ordering::SeqCst)
            && self
                .left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
                    0 => None,
                    u32::MAX => Some(u32::MAX),
                    n => Some(n - 1),
                })
                .is_ok()
    }
}

/// The fault chosen for the operation in flight (kept in its config bag across attempts).
#[derive(Debug, Clone)]
struct Chosen(Fault);

impl Storable for Chosen {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug)]
struct Interceptor(Arc<Flaky>);

fn first_attempt(cfg: &ConfigBag) -> bool {
    cfg.load::<RequestAttempts>()
        .is_none_or(|a| a.attempts() <= 1)
}

fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}

impl Intercept for Interceptor {
    fn name(&self) -> &'static str {
        "Flaky"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !first_attempt(cfg) {
            return Ok(());
        }
        let op = operation(cfg);
        let conditional = context
            .request()
            .body()
            .bytes()
            .is_some_and(|b| String::from_utf8_lossy(b).contains("\"ConditionExpression\""));
        let chosen = match (self.0.writes, op.as_str()) {
            (Writes::Settlement, "TransactWriteItems") => true,
            (Writes::Settlement, "UpdateItem") => !conditional,
            (Writes::Admission, "UpdateItem") => conditional,
            _ => false,
        };
        if !chosen || !self.0.take_one() {
            return Ok(());
        }
        self.0.injected.fetch_add(1, Ordering::SeqCst);
        cfg.interceptor_state().store_put(Chosen(self.0.fault));
        if self.0.fault == Fault::Conflict {
            // Diverted to a read: DynamoDB refuses a conflicting write without applying it.
            let req = context.request_mut();
            req.headers_mut()
                .insert("x-amz-target", "DynamoDB_20120810.ListTables");
            req.headers_mut().insert("content-length", "2");
            *req.body_mut() = SdkBody::from("{}");
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Chosen(fault)) = cfg.load::<Chosen>().cloned() else {
            return Ok(());
        };
        if !first_attempt(cfg) {
            return Ok(());
        }
        let (status, body) = match (fault, operation(cfg).as_str()) {
            (Fault::LostAnswer, _) => (
                500,
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"the answer was lost"}"#.to_owned(),
            ),
            (Fault::Conflict, "TransactWriteItems") => (
                400,
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]","CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#.to_owned(),
            ),
            (Fault::Conflict, _) => (
                400,
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}"#.to_owned(),
            ),
        };
        let mut response = HttpResponse::new(StatusCode::try_from(status)?, SdkBody::from(body));
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        *context.response_mut() = response;
        Ok(())
    }
}
