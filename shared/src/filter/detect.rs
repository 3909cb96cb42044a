//! Candidate detection: one regular expression per entity kind finds candidates in a single
//! left-to-right pass (the regex engine's lazy DFA, ASCII word boundaries so non-ASCII text
//! stays on the fast path), and a validator confirms each one (checksums, ranges, context).
//!
//! Every decision about a candidate depends only on the text before it, the candidate, and the
//! characters after it up to the first one outside the kind's [`Spec::alphabet`] (or at most
//! [`Spec::reach`] bytes from its start). The stream filter relies on this to know which tail
//! of a buffer is still undecided.

use std::net::Ipv6Addr;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use super::iban::{self, iban_valid};
use super::kind::{EntityKind, Finding};
use super::luhn::luhn_valid;

/// Where to search next after a candidate. Candidates are collected at every start position
/// (overlaps are resolved later, across kinds), so what is found never depends on where an
/// earlier candidate ended: masking one entity cannot reveal another on a second pass, and a
/// stream can resume anywhere.
#[derive(Clone, Copy)]
enum Next {
    /// From the next character: another entity may start inside this candidate.
    Char,
    /// After the candidate: it spans a whole run, and nothing starting inside can match.
    Run,
}

/// Validates the candidate `hay[start..end]`; returns the entity's end (it may be trimmed).
type Validate = fn(hay: &str, start: usize, end: usize) -> Option<usize>;

/// How one entity kind is detected.
pub(crate) struct Spec {
    pub(crate) kind: EntityKind,
    regex: &'static LazyLock<Regex>,
    validate: Validate,
    next: Next,
    /// Bytes that can occur in a candidate or in the look-ahead that decides it.
    pub(crate) alphabet: fn(u8) -> bool,
    /// Longest candidate plus look-ahead, in bytes: text further than this past a candidate's
    /// start never changes the decision.
    pub(crate) reach: usize,
    /// A necessary condition on the bytes of a text holding one of these entities (every
    /// candidate contains them). A text that fails it is not scanned: its regex is neither run
    /// nor, in a cold function, compiled (most cost 0.1 to 0.5 ms to compile).
    possible: fn(&ByteSet) -> bool,
    /// Every candidate is a run of at least this many consecutive `alphabet` bytes (0: no such
    /// bound). A text with no run that long is not scanned either: prose has none, so the
    /// secret-key pattern (any 40 key characters) is neither run nor compiled for it.
    min_run: usize,
}

/// Which byte values a text holds, gathered in one pass so that each kind can skip a text that
/// cannot hold it ([`Spec::possible`]).
pub(crate) struct ByteSet([u64; 4]);

impl ByteSet {
    pub(crate) fn of(text: &[u8]) -> ByteSet {
        let mut set = [0u64; 4];
        for &b in text {
            set[usize::from(b >> 6)] |= 1 << (b & 63);
        }
        ByteSet(set)
    }

    fn has(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    fn digit(&self) -> bool {
        // b'0'..=b'9' are bits 48..=57 of the first word.
        self.0[0] & (0x3ff << 48) != 0
    }
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants covered by tests; failure here is a programming error.
    Regex::new(pattern).expect("built-in filter pattern compiles")
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?-u:\b)[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,4}[A-Za-z]{2,24}(?-u:\b)",
    )
});
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"\+[1-9][0-9]{0,2}(?:[ .\-]?(?:\([0-9]{1,4}\)|[0-9]{1,5})){1,6}",
        r"|(?:\+?1[ .\-]?)?(?:\([0-9]{3}\) ?|[0-9]{3}[.\-])[0-9]{3}[.\-][0-9]{4}",
    ))
});
static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u:\b)[0-9]{3}-[0-9]{2}-[0-9]{4}(?-u:\b)"));
static CARD: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u:\b)[0-9](?:[ \-]?[0-9]){12,18}(?-u:\b)"));
static IBAN: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u:\b)[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}(?-u:\b)"));
static ACCESS_KEY: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?-u:\b)"));
static SECRET_KEY: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z0-9/+]{40,}"));
static IPV4: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u:\b)(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?-u:\b)"));
static IPV6: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*"));

/// The built-in kinds (denied terms are configured, see [`Terms`]).
pub(crate) static SPECS: [Spec; 9] = [
    Spec {
        kind: EntityKind::Email,
        regex: &EMAIL,
        validate: email,
        next: Next::Char,
        alphabet: |b| b.is_ascii_alphanumeric() || b"._%+-@".contains(&b),
        reach: 346,
        possible: |b| b.has(b'@'),
        min_run: 0,
    },
    Spec {
        kind: EntityKind::Phone,
        regex: &PHONE,
        validate: phone,
        next: Next::Char,
        alphabet: |b| b.is_ascii_digit() || b" ()+-.".contains(&b),
        reach: 50,
        possible: ByteSet::digit,
        min_run: 0,
    },
    Spec {
        kind: EntityKind::Ssn,
        regex: &SSN,
        validate: ssn,
        next: Next::Char,
        alphabet: |b| b.is_ascii_digit() || b == b'-',
        reach: 14,
        possible: |b| b.digit() && b.has(b'-'),
        min_run: 11,
    },
    Spec {
        kind: EntityKind::Card,
        regex: &CARD,
        validate: card,
        next: Next::Char,
        alphabet: |b| b.is_ascii_digit() || b" -.,".contains(&b),
        reach: 40,
        possible: ByteSet::digit,
        min_run: 13,
    },
    Spec {
        kind: EntityKind::Iban,
        regex: &IBAN,
        validate: iban,
        next: Next::Char,
        alphabet: |b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ',
        reach: 66,
        possible: ByteSet::digit,
        min_run: 15,
    },
    Spec {
        kind: EntityKind::AwsAccessKey,
        regex: &ACCESS_KEY,
        validate: |_, _, end| Some(end),
        next: Next::Char,
        alphabet: |b| b.is_ascii_uppercase() || b.is_ascii_digit(),
        reach: 21,
        possible: |b| b.has(b'A'),
        min_run: 20,
    },
    Spec {
        kind: EntityKind::AwsSecretKey,
        regex: &SECRET_KEY,
        validate: secret_key,
        next: Next::Run,
        alphabet: |b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+',
        reach: 41,
        possible: |_| true,
        min_run: 40,
    },
    Spec {
        kind: EntityKind::Ip,
        regex: &IPV4,
        validate: ipv4,
        next: Next::Char,
        alphabet: |b| b.is_ascii_digit() || b == b'.',
        reach: 17,
        possible: |b| b.digit() && b.has(b'.'),
        min_run: 7,
    },
    Spec {
        kind: EntityKind::Ip,
        regex: &IPV6,
        validate: ipv6,
        next: Next::Run,
        alphabet: |b| b.is_ascii_hexdigit() || b == b':' || b == b'.',
        reach: 47,
        possible: |b| b.has(b':'),
        min_run: 0,
    },
];

/// Runs one kind's scanner over `hay[from..]` (earlier bytes are look-behind context only);
/// `bytes` is the [`ByteSet`] of `hay[from..]`.
pub(crate) fn scan_spec(
    spec: &Spec,
    hay: &str,
    from: usize,
    bytes: &ByteSet,
    max_len: usize,
    out: &mut Vec<Finding>,
) {
    if !(spec.possible)(bytes)
        || !has_run(
            hay.as_bytes().get(from..).unwrap_or_default(),
            spec.alphabet,
            spec.min_run,
        )
    {
        return;
    }
    scan_with(
        spec.regex,
        spec.validate,
        spec.next,
        spec.kind,
        hay,
        from,
        max_len,
        out,
    );
}

/// Whether `text` holds `len` consecutive bytes of `alphabet` (always, for `len` 0).
fn has_run(text: &[u8], alphabet: fn(u8) -> bool, len: usize) -> bool {
    let mut run = 0;
    for &b in text {
        run = if alphabet(b) { run + 1 } else { 0 };
        if run >= len {
            return true;
        }
    }
    len == 0
}

#[allow(clippy::too_many_arguments)]
fn scan_with(
    regex: &Regex,
    validate: impl Fn(&str, usize, usize) -> Option<usize>,
    on_next: Next,
    kind: EntityKind,
    hay: &str,
    from: usize,
    max_len: usize,
    out: &mut Vec<Finding>,
) {
    let mut pos = from;
    while pos < hay.len() {
        let Some(m) = regex.find_at(hay, pos) else {
            break;
        };
        let next = next_char(hay, m.start());
        match validate(hay, m.start(), m.end()) {
            Some(end) if end > m.start() && end - m.start() <= max_len => {
                out.push(Finding {
                    kind,
                    start: m.start(),
                    end,
                });
            }
            _ => {}
        }
        pos = match on_next {
            Next::Char => next,
            Next::Run => m.end().max(next),
        };
    }
}

/// Configured denied terms: one alternation, longest first, ASCII case-insensitive.
pub(crate) struct Terms {
    regex: Regex,
    /// Terms as lower-cased bytes, longest first.
    lower: Vec<Vec<u8>>,
}

impl Terms {
    pub(crate) fn new(terms: &[String]) -> Option<Terms> {
        if terms.is_empty() {
            return None;
        }
        let mut sorted: Vec<&str> = terms.iter().map(String::as_str).collect();
        sorted.sort_by_key(|t| std::cmp::Reverse(t.len()));
        let alternation: Vec<String> = sorted.iter().map(|t| case_insensitive(t)).collect();
        // Terms are escaped and limited in number and length by `Policy`, so this compiles.
        let regex = regex::RegexBuilder::new(&alternation.join("|"))
            .size_limit(64 << 20)
            .build()
            .expect("escaped denied terms compile");
        let lower = sorted
            .iter()
            .map(|t| t.to_ascii_lowercase().into_bytes())
            .collect();
        Some(Terms { regex, lower })
    }

    /// Number of terms.
    pub(crate) fn count(&self) -> usize {
        self.lower.len()
    }

    /// Longest term in bytes.
    pub(crate) fn longest(&self) -> usize {
        self.lower.first().map_or(0, Vec::len)
    }

    /// Start of the earliest suffix of `hay[floor..]` that is a prefix of some term (an
    /// occurrence that the next chunk may complete or extend), if any.
    pub(crate) fn pending_from(&self, hay: &str, floor: usize) -> Option<usize> {
        let tail = &hay.as_bytes()[floor..];
        let mut best: Option<usize> = None;
        for term in &self.lower {
            let longest = term.len().min(tail.len());
            for k in (1..=longest).rev() {
                let start = hay.len() - k;
                if best.is_some_and(|b| b <= start) {
                    break;
                }
                if tail[tail.len() - k..].eq_ignore_ascii_case(&term[..k]) {
                    best = Some(start);
                    break;
                }
            }
        }
        best
    }

    pub(crate) fn scan(&self, hay: &str, from: usize, max_len: usize, out: &mut Vec<Finding>) {
        let validate = |hay: &str, start: usize, _end: usize| self.validate(hay, start);
        let kind = EntityKind::Denied;
        scan_with(
            &self.regex,
            validate,
            Next::Char,
            kind,
            hay,
            from,
            max_len,
            out,
        );
    }

    /// The longest term at `start` that stands as a whole word.
    fn validate(&self, hay: &str, start: usize) -> Option<usize> {
        let rest = &hay.as_bytes()[start..];
        self.lower.iter().find_map(|term| {
            let end = start + term.len();
            let fits = rest.len() >= term.len()
                && rest[..term.len()].eq_ignore_ascii_case(term)
                && hay.is_char_boundary(end);
            (fits && whole_word(hay, start, end) && !is_mask_label(hay, start, end)).then_some(end)
        })
    }
}

/// `[aA][bB]…` for ASCII letters, other characters escaped: case-insensitive without needing
/// the regex crate's Unicode case tables.
fn case_insensitive(term: &str) -> String {
    let mut out = String::with_capacity(term.len() * 4);
    for c in term.chars() {
        if c.is_ascii_alphabetic() {
            out.push('[');
            out.push(c.to_ascii_lowercase());
            out.push(c.to_ascii_uppercase());
            out.push(']');
        } else {
            out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
        }
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A word-character edge of `hay[start..end]` must not touch another word character.
fn whole_word(hay: &str, start: usize, end: usize) -> bool {
    let inner = &hay[start..end];
    let before = hay[..start].chars().next_back();
    let after = hay[end..].chars().next();
    let left_ok = !inner.chars().next().is_some_and(is_word_char)
        || !before.is_some_and(|c| is_word_char(c) || c == ']');
    let right_ok = !inner.chars().next_back().is_some_and(is_word_char)
        || !after.is_some_and(|c| is_word_char(c) || c == '[');
    left_ok && right_ok
}

/// `hay[start..end]` is the inside of one of our own mask labels (keeps `apply` idempotent
/// when a denied term happens to be, say, `email`).
fn is_mask_label(hay: &str, start: usize, end: usize) -> bool {
    let b = hay.as_bytes();
    start > 0
        && b[start - 1] == b'['
        && b.get(end) == Some(&b']')
        && EntityKind::ALL
            .iter()
            .any(|k| k.mask()[1..k.mask().len() - 1] == hay[start..end])
}

fn next_char(hay: &str, i: usize) -> usize {
    hay[i..]
        .chars()
        .next()
        .map_or(hay.len(), |c| i + c.len_utf8())
}

fn before(hay: &str, i: usize, back: usize) -> Option<u8> {
    i.checked_sub(back).map(|j| hay.as_bytes()[j])
}

fn at(hay: &str, i: usize) -> Option<u8> {
    hay.as_bytes().get(i).copied()
}

/// A word character (or the `]` of a mask label) right before `i`: an entity cannot start here.
/// Counting `]` keeps `apply` idempotent: masking a neighbour must not un-glue an entity.
fn glued_before(hay: &str, i: usize) -> bool {
    before(hay, i, 1).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b']')
}

/// A word character (or the `[` of a mask label) at `i`: an entity cannot end here.
fn glued_after(hay: &str, i: usize) -> bool {
    at(hay, i).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'[')
}

/// `hay[start..end]` is not glued to a longer number: not `d-`/`d.` before, not `-d`/`.d` after
/// (a mask label counts as the number it replaced).
fn detached_number(hay: &str, start: usize, end: usize, seps: &[u8]) -> bool {
    let left_glued = before(hay, start, 1).is_some_and(|b| seps.contains(&b))
        && before(hay, start, 2).is_some_and(|b| b.is_ascii_alphanumeric() || b == b']');
    let right_glued = at(hay, end).is_some_and(|b| seps.contains(&b))
        && at(hay, end + 1).is_some_and(|b| b.is_ascii_digit() || b == b'[');
    !left_glued && !right_glued
}

fn email(hay: &str, start: usize, end: usize) -> Option<usize> {
    // A local part longer than 64 would otherwise be matched from its middle.
    let glued =
        glued_before(hay, start) || before(hay, start, 1).is_some_and(|b| b"._%+-".contains(&b));
    (!glued && end - start <= 254).then_some(end)
}

fn phone(hay: &str, start: usize, end: usize) -> Option<usize> {
    let b = hay.as_bytes();
    if glued_before(hay, start) || before(hay, start, 1) == Some(b'+') {
        return None;
    }
    // "ISBN 978-…" and "ISBN-10: 155-860-8322" are book numbers, not phones.
    if b[start.saturating_sub(20)..start]
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"isbn"))
    {
        return None;
    }
    let international = b[start] == b'+';
    // The whole candidate, else its longest prefix ending at a group boundary (a number may
    // be glued to the last group).
    let group_ends = (start + 2..end)
        .rev()
        .filter(|&p| b" .-".contains(&b[p]) && (b[p - 1].is_ascii_digit() || b[p - 1] == b')'));
    std::iter::once(end).chain(group_ends).find(|&e| {
        let digits = b[start..e].iter().filter(|c| c.is_ascii_digit()).count();
        let digits_ok = if international {
            (8..=15).contains(&digits)
        } else {
            (10..=11).contains(&digits)
        };
        digits_ok && !glued_after(hay, e) && detached_number(hay, start, e, b".-")
    })
}

fn ssn(hay: &str, start: usize, end: usize) -> Option<usize> {
    let s = &hay.as_bytes()[start..end];
    let area = &s[0..3];
    let valid = area != b"000"
        && area != b"666"
        && area[0] != b'9'
        && &s[4..6] != b"00"
        && &s[7..11] != b"0000";
    (valid && detached_number(hay, start, end, b"-")).then_some(end)
}

fn card(hay: &str, start: usize, end: usize) -> Option<usize> {
    let s = &hay.as_bytes()[start..end];
    let sep = s.iter().copied().find(|b| !b.is_ascii_digit());
    let groups: Vec<&[u8]> = match sep {
        None => vec![s],
        Some(sep) => s.split(|&b| b == sep).collect(),
    };
    if groups
        .iter()
        .any(|g| g.is_empty() || !g.iter().all(u8::is_ascii_digit))
    {
        return None; // mixed separators or a doubled one
    }
    // Longest prefix of whole groups that is a card (a trailing unrelated number may follow).
    let mut ends: Vec<usize> = Vec::with_capacity(groups.len());
    let mut at_end = 0;
    for g in &groups {
        at_end += g.len();
        ends.push(at_end);
        at_end += 1;
    }
    (1..=groups.len()).rev().find_map(|k| {
        let used = &groups[..k];
        let sizes: Vec<usize> = used.iter().map(|g| g.len()).collect();
        let digits: Vec<u8> = used.concat();
        let grouping_ok = k == 1
            || matches!(sizes.as_slice(), [4, 6, 5] | [4, 6, 4])
            || (sizes[..k - 1].iter().all(|&n| n == 4) && (1..=4).contains(&sizes[k - 1]));
        let ok = grouping_ok
            && detached_number(hay, start, start + ends[k - 1], b".,")
            && (13..=19).contains(&digits.len())
            && (b'2'..=b'6').contains(&digits[0])
            && luhn_valid(&digits);
        ok.then(|| start + ends[k - 1])
    })
}

fn iban(hay: &str, start: usize, end: usize) -> Option<usize> {
    let b = hay.as_bytes();
    // The whole candidate, else its longest prefix ending before a space (an upper-case word
    // or a number may follow the IBAN).
    let space_ends = (start + 1..end).rev().filter(|&p| b[p] == b' ');
    std::iter::once(end).chain(space_ends).find(|&e| {
        let groups: Vec<&[u8]> = b[start..e].split(|&c| c == b' ').collect();
        // Printed form: `CCdd`, then groups of four, the last one may be shorter.
        let grouping_ok = groups.len() == 1
            || groups.iter().enumerate().all(|(i, g)| {
                g.len() == 4 || (i == groups.len() - 1 && i > 0 && !g.is_empty() && g.len() < 4)
            });
        let compact: Vec<u8> = groups.concat();
        grouping_ok && compact.len() <= iban::MAX_LEN && iban_valid(&compact)
    })
}

fn secret_key(hay: &str, start: usize, end: usize) -> Option<usize> {
    if end - start != 40 {
        return None;
    }
    let glued = glued_before(hay, start)
        || before(hay, start, 1).is_some_and(|b| b"/+=".contains(&b))
        || glued_after(hay, end)
        || at(hay, end) == Some(b'=');
    if glued {
        return None;
    }
    let s = &hay.as_bytes()[start..end];
    if named_secret(hay, start) {
        return Some(end);
    }
    // Standing alone: it must look random (both cases and digits, few `/` and `+`); a 40-hex
    // git SHA has no upper case, a path has many slashes.
    let upper = s.iter().filter(|b| b.is_ascii_uppercase()).count();
    let lower = s.iter().filter(|b| b.is_ascii_lowercase()).count();
    let digit = s.iter().filter(|b| b.is_ascii_digit()).count();
    let punct = s.len() - upper - lower - digit;
    (upper >= 2 && lower >= 2 && digit >= 2 && punct <= 4).then_some(end)
}

/// The key is the value of something named secret: `aws_secret_access_key = KEY`,
/// `"SecretAccessKey": "KEY"`, `secret key: KEY`. Only the words right before it count (up to
/// 48 bytes, stopping at any other character), so masking a neighbour never adds context.
fn named_secret(hay: &str, start: usize) -> bool {
    let b = hay.as_bytes();
    let floor = start.saturating_sub(48);
    let mut i = start;
    while i > floor && b" \t:=\"'".contains(&b[i - 1]) {
        i -= 1;
    }
    let name_end = i;
    while i > floor && (b[i - 1].is_ascii_alphanumeric() || b"_-. ".contains(&b[i - 1])) {
        i -= 1;
    }
    b[i..name_end]
        .windows(6)
        .any(|w| w.eq_ignore_ascii_case(b"secret"))
}

fn ipv4(hay: &str, start: usize, end: usize) -> Option<usize> {
    let octets_ok = hay[start..end]
        .split('.')
        .all(|o| o.parse::<u16>().is_ok_and(|n| n <= 255));
    (octets_ok && detached_number(hay, start, end, b".")).then_some(end)
}

fn ipv6(hay: &str, start: usize, end: usize) -> Option<usize> {
    if glued_before(hay, start)
        || before(hay, start, 1).is_some_and(|b| b == b':' || b == b'.')
        || glued_after(hay, end)
    {
        return None;
    }
    // A sentence may end right after the address.
    let end = if hay.as_bytes()[end - 1] == b'.' {
        end - 1
    } else {
        end
    };
    let s = &hay[start..end];
    let has_digit = s.bytes().any(|b| b.is_ascii_digit());
    let one_case =
        !(s.bytes().any(|b| b.is_ascii_lowercase()) && s.bytes().any(|b| b.is_ascii_uppercase()));
    (s.len() <= 45 && has_digit && one_case && Ipv6Addr::from_str(s).is_ok()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        for spec in &SPECS {
            LazyLock::force(spec.regex);
        }
    }

    #[test]
    fn a_kinds_byte_condition_holds_for_every_candidate_its_regex_finds() {
        let corpus = super::super::corpus::bench_corpus();
        for spec in &SPECS {
            let mut found = 0;
            for m in spec.regex.find_iter(&corpus) {
                found += 1;
                let bytes = ByteSet::of(m.as_str().as_bytes());
                assert!((spec.possible)(&bytes), "{:?}: {:?}", spec.kind, m.as_str());
                assert!(
                    has_run(m.as_str().as_bytes(), spec.alphabet, spec.min_run),
                    "{:?}: {:?} is shorter than its run bound",
                    spec.kind,
                    m.as_str()
                );
            }
            assert!(found > 0, "{:?}: the corpus holds candidates", spec.kind);
        }
    }

    #[test]
    fn a_text_without_a_kinds_bytes_is_not_scanned_for_it() {
        let bytes = ByteSet::of(b"Hello there, how are you today?");
        assert!(!bytes.digit());
        let skipped: Vec<_> = SPECS.iter().filter(|s| !(s.possible)(&bytes)).collect();
        assert_eq!(
            skipped.len(),
            8,
            "only the secret-key run has no byte condition"
        );
        assert!(ByteSet::of(b"call 555").digit());
        // Prose has no 40-character run of key characters: the secret-key pattern is skipped.
        let secret = SPECS
            .iter()
            .find(|s| s.kind == EntityKind::AwsSecretKey)
            .unwrap();
        let prose = b"Hello there, how are you today? Internationalization is a long word.";
        assert!(!has_run(prose, secret.alphabet, secret.min_run));
        let key = b"key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.";
        assert!(has_run(key, secret.alphabet, secret.min_run));
        assert!(has_run(b"", secret.alphabet, 0));
        assert!(ByteSet::of(b"x@y").has(b'@'));
    }
}
