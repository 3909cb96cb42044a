//! What the handler needs, built once per cold start.

use crate::inbox::InboxSettings;
use crate::jobs::JobsWorker;
use crate::runner::Runner;
use crate::storage::Storage;

/// Everything the handler needs, built once per cold start.
pub struct State {
    pub runner: Box<dyn Runner>,
    pub storage: Storage,
    /// The jobs table, bucket and webhook sender (`None`: jobs not configured; job messages
    /// then come back and end in the DLQ rather than being dropped, and inbox lines run
    /// without checkpoints).
    pub jobs: Option<JobsWorker>,
    /// The inbox's size cap.
    pub inbox: InboxSettings,
}
