//! A job's `deadline`: how long the caller can wait for its result, as a duration string
//! (`"90s"`, `"10m"`, `"24h"`, `"7d"`). Bounded on both sides: under a minute no job machinery
//! helps (call `/v1/converse`), over seven days the job record and the batch window
//! (Bedrock's longest batch timeout is 168 h) say nothing useful.

use std::fmt;

use inference_core::error::GatewayError;

/// Shortest deadline accepted: one minute.
pub const MIN_DEADLINE_MS: i64 = 60_000;
/// Longest deadline accepted: seven days.
pub const MAX_DEADLINE_MS: i64 = 7 * 86_400_000;

/// A checked deadline, as a duration from submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline {
    ms: i64,
}

impl Deadline {
    /// Parses `<digits><unit>` with unit `s`, `m`, `h` or `d`, within the bounds; the error is a
    /// 400 naming the `deadline` field.
    pub fn parse(text: &str) -> Result<Deadline, GatewayError> {
        let bad = |why: &str| {
            GatewayError::invalid_request(format!(
                "deadline: {why} (a duration such as \"90s\", \"10m\", \"24h\" or \"7d\", from 1m to 7d)"
            ))
        };
        let t = text.trim();
        let split = t
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| bad("a unit is required"))?;
        let (digits, unit) = t.split_at(split);
        if digits.is_empty() || digits.len() > 9 {
            return Err(bad(&format!("{text:?} is not a duration")));
        }
        let n: i64 = digits.parse().map_err(|_| bad("not a number"))?;
        let unit_ms = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad(&format!("unknown unit {unit:?}"))),
        };
        let ms = n * unit_ms;
        if ms < MIN_DEADLINE_MS {
            return Err(bad(&format!("{text:?} is shorter than one minute")));
        }
        if ms > MAX_DEADLINE_MS {
            return Err(bad(&format!("{text:?} is longer than seven days")));
        }
        Ok(Deadline { ms })
    }

    /// From milliseconds (a stored deadline), unchecked.
    pub fn from_ms(ms: i64) -> Deadline {
        Deadline { ms }
    }

    /// The duration in milliseconds.
    pub fn as_ms(self) -> i64 {
        self.ms
    }
}

impl fmt::Display for Deadline {
    /// The largest whole unit: `24h`, `90s`, `2d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, ms) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)] {
            if self.ms % ms == 0 {
                return write!(f, "{}{unit}", self.ms / ms);
            }
        }
        write!(f, "{}s", self.ms / 1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(Deadline::parse("90s").unwrap().as_ms(), 90_000);
        assert_eq!(Deadline::parse("10m").unwrap().as_ms(), 600_000);
        assert_eq!(Deadline::parse("24h").unwrap().as_ms(), 86_400_000);
        assert_eq!(Deadline::parse("7d").unwrap().as_ms(), MAX_DEADLINE_MS);
        assert_eq!(Deadline::parse("1m").unwrap().to_string(), "1m");
        assert_eq!(Deadline::parse("90s").unwrap().to_string(), "90s");
        assert_eq!(Deadline::parse("48h").unwrap().to_string(), "2d");
    }

    #[test]
    fn refuses_bad_values_naming_the_field() {
        for bad in [
            "",
            "10",
            "m",
            "59s",
            "8d",
            "169h",
            "10 m",
            "-5m",
            "1.5h",
            "10w",
            "99999999999s",
        ] {
            let e = Deadline::parse(bad).unwrap_err();
            assert!(
                e.message().starts_with("deadline:"),
                "{bad}: {}",
                e.message()
            );
            assert_eq!(e.error_type(), "invalid_request", "{bad}");
        }
    }
}
