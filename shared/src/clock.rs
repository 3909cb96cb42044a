//! The wall clock as Unix time: one reading for every record that stores a timestamp (leases,
//! cache entries, job records, EMF lines, OpenAI `created`). A clock set before 1970 reads as 0
//! rather than failing a call.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn unix_seconds() -> u64 {
    unix_millis() / 1000
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_millis_agree_and_are_after_2026() {
        let (s, ms) = (unix_seconds(), unix_millis());
        assert!(s >= 1_767_225_600, "{s}"); // 2026-01-01
        assert!(ms / 1000 >= s && ms / 1000 - s <= 1);
    }
}
