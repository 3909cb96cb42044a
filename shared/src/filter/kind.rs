//! What the filter finds: entity kinds, positions and per-kind counts. Nothing here holds the
//! matched text, so a finding can be logged or put in a metric without leaking what it found.

use std::fmt;

/// A kind of sensitive entity the local filter recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    /// An e-mail address (`local@domain.tld`).
    Email,
    /// A phone number (E.164 / international with `+`, or a US format).
    Phone,
    /// A US social security number (`AAA-GG-SSSS`, valid ranges only).
    Ssn,
    /// A payment card number (13–19 digits, known prefix, Luhn-valid).
    Card,
    /// An IBAN (country length and mod-97 check).
    Iban,
    /// An AWS access key ID (`AKIA…`, `ASIA…`, `ABIA…`, `ACCA…`).
    AwsAccessKey,
    /// An AWS secret access key (40 base64-ish characters, by context or shape).
    AwsSecretKey,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A deployment-configured denied term.
    Denied,
}

impl EntityKind {
    /// Every kind, in the order used for tables and counts.
    pub const ALL: [EntityKind; 9] = [
        EntityKind::Email,
        EntityKind::Phone,
        EntityKind::Ssn,
        EntityKind::Card,
        EntityKind::Iban,
        EntityKind::AwsAccessKey,
        EntityKind::AwsSecretKey,
        EntityKind::Ip,
        EntityKind::Denied,
    ];

    /// Number of kinds (length of per-kind tables).
    pub const COUNT: usize = EntityKind::ALL.len();

    /// The name used in configuration (`GATEWAY_PII_POLICY`, policy files) and in logs.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Email => "email",
            EntityKind::Phone => "phone",
            EntityKind::Ssn => "ssn",
            EntityKind::Card => "card",
            EntityKind::Iban => "iban",
            EntityKind::AwsAccessKey => "aws_access_key",
            EntityKind::AwsSecretKey => "aws_secret_key",
            EntityKind::Ip => "ip",
            EntityKind::Denied => "denied",
        }
    }

    /// The text that replaces a masked entity.
    pub fn mask(self) -> &'static str {
        match self {
            EntityKind::Email => "[EMAIL]",
            EntityKind::Phone => "[PHONE]",
            EntityKind::Ssn => "[SSN]",
            EntityKind::Card => "[CARD]",
            EntityKind::Iban => "[IBAN]",
            EntityKind::AwsAccessKey => "[AWS_ACCESS_KEY]",
            EntityKind::AwsSecretKey => "[AWS_SECRET_KEY]",
            EntityKind::Ip => "[IP]",
            EntityKind::Denied => "[DENIED]",
        }
    }

    /// Parses a configuration name (case-insensitive; `-` and `_` are interchangeable).
    pub fn from_name(name: &str) -> Option<EntityKind> {
        let norm = name.trim().to_ascii_lowercase().replace('-', "_");
        EntityKind::ALL.into_iter().find(|k| k.name() == norm)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One detected entity: its kind and byte range in the scanned text (never the text itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Finding {
    /// What was found.
    pub kind: EntityKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

/// How many entities of each kind were found (for logs and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FindingCounts([u32; EntityKind::COUNT]);

impl FindingCounts {
    /// Count for one kind.
    pub fn get(&self, kind: EntityKind) -> u32 {
        self.0[kind.index()]
    }

    /// Sum over all kinds.
    pub fn total(&self) -> u32 {
        self.0.iter().sum()
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Kinds with a non-zero count, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (EntityKind, u32)> + '_ {
        EntityKind::ALL
            .into_iter()
            .map(|k| (k, self.get(k)))
            .filter(|&(_, n)| n > 0)
    }

    pub(crate) fn merge(&mut self, other: &FindingCounts) {
        for (slot, n) in self.0.iter_mut().zip(other.0) {
            *slot = slot.saturating_add(n);
        }
    }

    pub(crate) fn add(&mut self, kind: EntityKind) {
        let slot = &mut self.0[kind.index()];
        *slot = slot.saturating_add(1);
    }
}
