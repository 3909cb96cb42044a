//! Local PII and policy filter, applied to prompts before the model is called and to its
//! output (whole responses and streams).
//!
//! - [`Policy`]: per entity kind an [`Action`] (block, mask, allow), denied terms; read from
//!   `GATEWAY_PII_POLICY`, `GATEWAY_PII_POLICY_FILE`, `GATEWAY_DENIED_TERMS`.
//! - [`Filter`]: finds entities ([`Filter::scan`]) and masks or blocks them ([`Filter::apply`]).
//! - [`StreamFilter`]: the same on a stream of chunks, holding back only a tail that could
//!   still be the start of an entity.
//!
//! Findings carry kinds and byte positions, never the matched text, so they are safe to log.
//! See `docs/guardrails.md` for what is detected, near misses and the stream hold-back bound.

mod corpus;
mod detect;
mod iban;
mod kind;
mod luhn;
mod policy;
mod stream;

use std::borrow::Cow;
use std::sync::Arc;

pub use corpus::bench_corpus;
pub use kind::{EntityKind, Finding, FindingCounts};
pub use policy::{
    Action, ENV_DENIED_TERMS, ENV_POLICY, ENV_POLICY_FILE, MAX_DENIED_TERMS, MAX_TERM_LEN, Policy,
};
pub use stream::{StreamFilter, StreamOutput};

use detect::{ByteSet, SPECS, Spec, Terms};

/// The result of filtering one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<'a> {
    /// The text with every masked or blocked entity replaced by its label (`[EMAIL]`, …);
    /// borrowed, without allocation, when nothing was found.
    pub text: Cow<'a, str>,
    /// The first entity whose action is [`Action::Block`]: the caller must reject the text.
    pub blocked: Option<EntityKind>,
    /// How many entities of each kind were found.
    pub findings: FindingCounts,
}

/// A compiled filter. Cheap to clone (shared, immutable); build it once per cold start.
#[derive(Clone)]
pub struct Filter {
    inner: Arc<Inner>,
}

struct Inner {
    actions: [Action; EntityKind::COUNT],
    specs: Vec<&'static Spec>,
    terms: Option<Terms>,
    max_len: usize,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("actions", &self.inner.actions)
            .field(
                "denied_terms",
                &self.inner.terms.as_ref().map_or(0, |t| t.count()),
            )
            .finish()
    }
}

impl Filter {
    /// Compiles `policy`. Kinds whose action is [`Action::Allow`] are not scanned at all.
    pub fn new(policy: &Policy) -> Filter {
        let mut actions = [Action::Allow; EntityKind::COUNT];
        for kind in EntityKind::ALL {
            actions[kind.index()] = policy.action(kind);
        }
        let specs = SPECS
            .iter()
            .filter(|s| actions[s.kind.index()] != Action::Allow)
            .collect();
        let terms = if actions[EntityKind::Denied.index()] == Action::Allow {
            None
        } else {
            Terms::new(policy.denied_terms())
        };
        let max_len = policy.max_entity_len().unwrap_or(usize::MAX);
        Filter {
            inner: Arc::new(Inner {
                actions,
                specs,
                terms,
                max_len,
            }),
        }
    }

    /// The action configured for `kind`.
    pub fn action(&self, kind: EntityKind) -> Action {
        self.inner.actions[kind.index()]
    }

    /// A stream filter using this filter.
    pub fn stream(&self) -> StreamFilter {
        StreamFilter::new(self)
    }

    /// The entities in `text`, in order, without overlaps (at one position the longest wins).
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        resolve(self.raw_scan(text, 0))
    }

    /// Masks (or marks as blocked) every entity in `text` according to the policy.
    pub fn apply<'a>(&self, text: &'a str) -> Outcome<'a> {
        let findings = self.scan(text);
        if findings.is_empty() {
            return Outcome {
                text: Cow::Borrowed(text),
                blocked: None,
                findings: FindingCounts::default(),
            };
        }
        let mut out = String::with_capacity(text.len());
        let (blocked, counts) = self.render(text, 0, text.len(), &findings, &mut out, false);
        Outcome {
            text: Cow::Owned(out),
            blocked,
            findings: counts,
        }
    }

    /// Every validated candidate of every enabled kind starting at or after `from` (earlier
    /// bytes are look-behind context), unsorted and possibly overlapping.
    fn raw_scan(&self, hay: &str, from: usize) -> Vec<Finding> {
        let mut out = Vec::new();
        let bytes = ByteSet::of(&hay.as_bytes()[from..]);
        for spec in &self.inner.specs {
            detect::scan_spec(spec, hay, from, &bytes, self.inner.max_len, &mut out);
        }
        if let Some(terms) = &self.inner.terms {
            terms.scan(hay, from, self.inner.max_len, &mut out);
        }
        out
    }

    /// Appends `text[from..to]` to `out` with `findings` (sorted, inside the range) replaced
    /// by their labels. With `stop_at_block`, stops before the first blocked entity.
    fn render(
        &self,
        text: &str,
        from: usize,
        to: usize,
        findings: &[Finding],
        out: &mut String,
        stop_at_block: bool,
    ) -> (Option<EntityKind>, FindingCounts) {
        let mut counts = FindingCounts::default();
        let mut blocked = None;
        let mut pos = from;
        for f in findings {
            let action = self.action(f.kind);
            if action == Action::Block && blocked.is_none() {
                blocked = Some(f.kind);
                if stop_at_block {
                    out.push_str(&text[pos..f.start]);
                    counts.add(f.kind);
                    return (blocked, counts);
                }
            }
            counts.add(f.kind);
            if action != Action::Allow {
                out.push_str(&text[pos..f.start]);
                out.push_str(f.kind.mask());
                pos = f.end;
            }
        }
        out.push_str(&text[pos..to]);
        (blocked, counts)
    }
}

/// Orders candidates and drops overlaps: earliest start first, then the longest.
fn resolve(mut raw: Vec<Finding>) -> Vec<Finding> {
    raw.sort_unstable_by_key(|f| (f.start, std::cmp::Reverse(f.end), f.kind));
    let mut end = 0;
    raw.retain(|f| {
        let keep = f.start >= end;
        if keep {
            end = f.end;
        }
        keep
    });
    raw
}
