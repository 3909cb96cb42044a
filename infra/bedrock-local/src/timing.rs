//! Per-request timing: the command line's `--ttft-ms` / `--tokens-per-sec`, overridden for one
//! request by markers anywhere in its body (`[[ttft_ms:N]]`, `[[tokens_per_sec:N]]`), so a test
//! can ask for a paced stream from an emulator that other tests share unpaced.

use crate::cli::Config;

/// Timing for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Milliseconds before the first content event (or before a non-streamed answer).
    pub ttft_ms: u64,
    /// Output pacing; 0 means unpaced.
    pub tokens_per_sec: f64,
}

impl Timing {
    /// The configured timing, with any markers in `body` taking precedence.
    pub fn for_request(config: &Config, body: &[u8]) -> Timing {
        Timing {
            ttft_ms: marker(body, b"[[ttft_ms:")
                .and_then(|v| v.parse().ok())
                .unwrap_or(config.ttft_ms),
            tokens_per_sec: marker(body, b"[[tokens_per_sec:")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .unwrap_or(config.tokens_per_sec),
        }
    }
}

/// The value of the first `OPEN<value>]]` marker in `body` (at most 16 bytes of value).
fn marker<'a>(body: &'a [u8], open: &[u8]) -> Option<&'a str> {
    let start = body.windows(open.len()).position(|w| w == open)? + open.len();
    let rest = &body[start..body.len().min(start + 18)];
    let end = rest.windows(2).position(|w| w == b"]]")?;
    std::str::from_utf8(&rest[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn markers_override_the_command_line() {
        let config =
            Config::parse_from(["bedrock-local", "--ttft-ms", "5", "--tokens-per-sec", "10"]);
        assert_eq!(
            Timing::for_request(&config, b"plain"),
            Timing {
                ttft_ms: 5,
                tokens_per_sec: 10.0
            }
        );
        let t = Timing::for_request(
            &config,
            br#"{"text":"hi [[ttft_ms:200]] [[tokens_per_sec:50]]"}"#,
        );
        assert_eq!(
            t,
            Timing {
                ttft_ms: 200,
                tokens_per_sec: 50.0
            }
        );
        // Malformed or negative values fall back to the configuration.
        let t = Timing::for_request(&config, b"[[ttft_ms:abc]] [[tokens_per_sec:-3]]");
        assert_eq!(
            t,
            Timing {
                ttft_ms: 5,
                tokens_per_sec: 10.0
            }
        );
        assert_eq!(marker(b"[[ttft_ms:123", b"[[ttft_ms:"), None);
    }
}
