//! A deterministic mixed corpus for the filter benchmark: prose (ASCII and some non-ASCII) with
//! an entity or a near miss every few hundred bytes, the way prompts and answers look.

/// Target size of [`bench_corpus`].
const TARGET: usize = 1 << 20;

const WORDS: &[&str] = &[
    "the",
    "model",
    "returns",
    "a",
    "summary",
    "of",
    "request",
    "gateway",
    "latency",
    "stream",
    "token",
    "invoice",
    "customer",
    "account",
    "please",
    "review",
    "attached",
    "report",
    "and",
    "with",
    "for",
    "deploy",
    "region",
    "version",
    "build",
    "status",
    "update",
    "order",
    "ticket",
    "support",
    "team",
    "meeting",
    "Monday",
    "café",
    "naïve",
    "Straße",
    "日本語",
    "données",
];

const ENTITIES: &[&str] = &[
    "jane.doe@example.com",
    "+44 20 7946 0958",
    "(555) 123-4567",
    "123-45-6789",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "192.168.10.24",
    "2001:db8::ff00:42:8329",
];

const NEAR_MISSES: &[&str] = &[
    "4111111111111112",
    "v1.2.3.4.5",
    "2024-11-26",
    "10.0.0.256",
    "123-45-678",
    "a@b",
    "ISBN 978-0-306-40615-7",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
];

/// About 1 MiB of mixed text, identical on every call (for `make bench`: throughput of
/// [`Filter::apply`](super::Filter::apply) against passing the same text through unfiltered).
pub fn bench_corpus() -> String {
    let mut out = String::with_capacity(TARGET + 256);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: usize| {
        // xorshift64: deterministic, no dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    while out.len() < TARGET {
        for _ in 0..(20 + next(40)) {
            out.push_str(WORDS[next(WORDS.len())]);
            out.push(if next(12) == 0 { ',' } else { ' ' });
        }
        match next(4) {
            0 => out.push_str(ENTITIES[next(ENTITIES.len())]),
            1 => out.push_str(NEAR_MISSES[next(NEAR_MISSES.len())]),
            _ => out.push_str(&next(100_000).to_string()),
        }
        out.push_str(if next(5) == 0 { ".\n" } else { ". " });
    }
    out
}
