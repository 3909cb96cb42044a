//! Filtering a stream of chunks with the same result as filtering the whole text at once.
//!
//! After each chunk the filter emits everything that can no longer be part of an entity and
//! holds back the rest: for each enabled kind, the trailing run of characters that kind's
//! entities are made of (at most its reach, e.g. 346 bytes for an e-mail address), and for
//! denied terms a tail that is the beginning of a term. Prose ends in a partial word at most,
//! so it is held for about one token; a long unbroken run is held for at most the largest
//! reach. Already-emitted text is kept as look-behind context (64 bytes), never re-emitted.

use super::detect::Spec;
use super::kind::{EntityKind, Finding, FindingCounts};
use super::{Filter, resolve};

/// Bytes of emitted text kept for look-behind (`secret` within 48 bytes, `ISBN` within 20).
const CONTEXT: usize = 64;

/// What one [`StreamFilter::push`] or [`StreamFilter::finish`] releases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOutput {
    /// Filtered text to forward now (possibly empty).
    pub emit: String,
    /// Set once an entity whose action is block was reached: stop the stream. Text before the
    /// entity has been emitted; nothing after it will be.
    pub blocked: Option<EntityKind>,
}

/// Incremental filter over a stream of text chunks (one per response stream).
#[derive(Debug, Clone)]
pub struct StreamFilter {
    filter: Filter,
    /// `buf[..ctx]` was already emitted (look-behind only); `buf[ctx..]` is held back.
    buf: String,
    ctx: usize,
    blocked: Option<EntityKind>,
    counts: FindingCounts,
}

impl StreamFilter {
    /// A stream filter using `filter`'s policy.
    pub fn new(filter: &Filter) -> StreamFilter {
        StreamFilter {
            filter: filter.clone(),
            buf: String::new(),
            ctx: 0,
            blocked: None,
            counts: FindingCounts::default(),
        }
    }

    /// Feeds one chunk; returns what can be forwarded now.
    pub fn push(&mut self, chunk: &str) -> StreamOutput {
        if self.blocked.is_some() {
            return self.output(String::new());
        }
        self.buf.push_str(chunk);
        let raw = self.filter.raw_scan(&self.buf, self.ctx);
        let mut cut = self.pending_start();
        // Never cut through a candidate: what is left of it would be scanned differently.
        while let Some(f) = raw.iter().find(|f| f.start < cut && f.end > cut) {
            cut = f.start;
        }
        self.emit_until(cut, raw)
    }

    /// Ends the stream: releases everything held back.
    pub fn finish(&mut self) -> StreamOutput {
        if self.blocked.is_some() {
            return self.output(String::new());
        }
        let raw = self.filter.raw_scan(&self.buf, self.ctx);
        let out = self.emit_until(self.buf.len(), raw);
        self.buf.clear();
        self.ctx = 0;
        out
    }

    /// Bytes currently held back (for latency metrics).
    pub fn held_back(&self) -> usize {
        self.buf.len() - self.ctx
    }

    /// Entities found in the emitted part so far.
    pub fn findings(&self) -> FindingCounts {
        self.counts
    }

    /// The blocked kind, once the stream has been blocked.
    pub fn blocked(&self) -> Option<EntityKind> {
        self.blocked
    }

    fn output(&self, emit: String) -> StreamOutput {
        StreamOutput {
            emit,
            blocked: self.blocked,
        }
    }

    /// The earliest position where an entity that the next chunk could complete, extend or
    /// invalidate may start.
    fn pending_start(&self) -> usize {
        let len = self.buf.len();
        let mut start = len;
        for spec in &self.filter.inner.specs {
            start = start.min(self.run_start(spec));
        }
        if let Some(terms) = &self.filter.inner.terms {
            let floor = self.ctx.max(len.saturating_sub(terms.longest()));
            if let Some(s) = terms.pending_from(&self.buf, floor) {
                start = start.min(s);
            }
        }
        floor_char_boundary(&self.buf, start.max(self.ctx))
    }

    /// Start of the trailing run of `spec`'s alphabet, no further back than its reach.
    fn run_start(&self, spec: &Spec) -> usize {
        let bytes = self.buf.as_bytes();
        let floor = self.ctx.max(bytes.len().saturating_sub(spec.reach + 1));
        let mut i = bytes.len();
        while i > floor && (spec.alphabet)(bytes[i - 1]) {
            i -= 1;
        }
        i
    }

    /// Emits `buf[ctx..cut]` using the candidates that start before `cut`.
    fn emit_until(&mut self, cut: usize, raw: Vec<Finding>) -> StreamOutput {
        let findings = resolve(raw.into_iter().filter(|f| f.start < cut).collect());
        let mut emit = String::with_capacity(cut - self.ctx);
        let (blocked, counts) = self
            .filter
            .render(&self.buf, self.ctx, cut, &findings, &mut emit, true);
        self.counts.merge(&counts);
        if blocked.is_some() {
            self.blocked = blocked;
            self.buf = String::new();
            self.ctx = 0;
            return self.output(emit);
        }
        let keep_from = floor_char_boundary(&self.buf, cut.saturating_sub(CONTEXT));
        self.buf.drain(..keep_from);
        self.ctx = cut - keep_from;
        self.output(emit)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
