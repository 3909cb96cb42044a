//! `gateway-jobs`: async jobs, what `invoke` (`POST /v1/jobs`, `GET /v1/jobs/{id}`) and
//! `async-callback` (the jobs queue) share. The lifecycle and its guarantees are described in
//! `docs/jobs.md`; the state machine itself is [`record`].
//!
//! - [`id`]: `JobId`, `IdempotencyKey` and `JobOwner`.
//! - [`idempotency`]: idempotency keys per owner, each pointing at a random job ID.
//! - [`record`]: the job record, its states and the pure transition rules.
//! - [`store`]: the record in DynamoDB, every transition a conditional write.
//! - [`queue`]: the SQS message (`{"job_id"}`) and enqueueing.
//! - [`s3`]: the results bucket's object calls, SigV4-signed on the SDK's HTTPS connector
//!   (no S3 SDK crate); [`results`]: result objects (async-callback, stream-url's batch files);
//!   [`presign`]: presigned links to them (invoke).
//! - [`submit`]: checking a submission up front.
//! - [`deadline`], [`planner`], [`quote`]: a job's deadline and the choice of on demand, flex, batch or
//!   async invoke that meets it at the lowest cost.
//! - [`async_invoke`]: StartAsyncInvoke / GetAsyncInvoke.
//! - [`batch`]: Bedrock batch inference for jobs planned there (groups, runs, records).
//! - [`charge`]: jobs admitted and charged to the API key that submitted them.
//! - [`checkpoint`]: per-line checkpoints of S3 `inbox/` objects (no line runs twice).
//! - [`signature`], [`url_guard`], [`webhook`]: signed, SSRF-safe webhook delivery, each API
//!   key's deliveries signed with its own derived key.
//! - [`secrets`]: reading the deployment's webhook key from Secrets Manager or SSM.
//! - [`settings`]: the jobs configuration.

pub mod async_invoke;
pub mod batch;
pub mod charge;
pub mod checkpoint;
pub mod deadline;
pub mod id;
pub mod idempotency;
pub mod planner;
pub mod presign;
pub mod queue;
pub mod quote;
pub mod record;
pub mod results;
pub mod s3;
pub mod secrets;
pub mod settings;
pub mod signature;
pub mod store;
pub mod submit;
mod transport;
pub mod url_guard;
pub mod webhook;
mod webhook_post;

pub use id::{IdempotencyKey, JobId, JobOwner};
pub use record::{JobError, JobKind, JobRecord, JobStatus, WebhookOutcome, WebhookStatus};
pub use settings::{JobsSettings, SecretSource};
pub use signature::{SIGNATURE_HEADER, signature_header, verify_signature};
pub use store::JobStore;
