//! Batch settings: on only when the deployment names the service role Bedrock assumes to read
//! the input and write the output (`GATEWAY_BATCH_ROLE_ARN`); without it no job is planned as
//! batch (the planner says so in its reason).

use inference_core::error::GatewayError;

/// Default for `GATEWAY_BATCH_MIN_RECORDS`: Bedrock's default quota of records per batch job.
pub const DEFAULT_MIN_RECORDS: usize = 100;
/// Default for `GATEWAY_BATCH_FLUSH_MARGIN_SECONDS`: the schedule's period and some slack.
pub const DEFAULT_FLUSH_MARGIN_MS: i64 = 600_000;
/// Records per batch job at most: the group item's string set stays far under DynamoDB's
/// 400 KB (a job ID is 36 bytes), and Bedrock's per-job record quota is higher.
pub const MAX_RECORDS: usize = 5_000;

/// What batch grouping and flushing need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSettings {
    /// `GATEWAY_BATCH_ROLE_ARN`: the service role CreateModelInvocationJob passes to Bedrock.
    pub role_arn: String,
    /// `GATEWAY_BATCH_MIN_RECORDS`: a group is flushed once it has this many jobs (Bedrock
    /// refuses fewer).
    pub min_records: usize,
    /// `GATEWAY_BATCH_FLUSH_MARGIN_SECONDS`: a group is flushed, whatever its size, once its
    /// earliest deadline is less than 24 h plus this margin away.
    pub flush_margin_ms: i64,
}

impl BatchSettings {
    /// From a lookup of non-empty variables. `Ok(None)`: batch is off (no role).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<BatchSettings>, GatewayError> {
        let Some(role_arn) = get("GATEWAY_BATCH_ROLE_ARN") else {
            return Ok(None);
        };
        if !role_arn.starts_with("arn:") || !role_arn.contains(":role/") {
            return Err(GatewayError::internal(format!(
                "configuration: GATEWAY_BATCH_ROLE_ARN: expected an IAM role ARN, got {role_arn:?}"
            )));
        }
        let num = |name: &str, default: i64, max: i64| -> Result<i64, GatewayError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        GatewayError::internal(format!(
                            "configuration: {name}: expected an integer from 1 to {max}, got {v:?}"
                        ))
                    }),
            }
        };
        let min = num(
            "GATEWAY_BATCH_MIN_RECORDS",
            DEFAULT_MIN_RECORDS as i64,
            MAX_RECORDS as i64,
        )?;
        let margin = num(
            "GATEWAY_BATCH_FLUSH_MARGIN_SECONDS",
            DEFAULT_FLUSH_MARGIN_MS / 1000,
            86_400,
        )?;
        Ok(Some(BatchSettings {
            role_arn,
            min_records: usize::try_from(min).unwrap_or(DEFAULT_MIN_RECORDS),
            flush_margin_ms: margin * 1000,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<BatchSettings>, GatewayError> {
        BatchSettings::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    const ROLE: (&str, &str) = (
        "GATEWAY_BATCH_ROLE_ARN",
        "arn:aws:iam::123456789012:role/batch",
    );

    #[test]
    fn off_without_a_role_defaults_with_one() {
        assert_eq!(read(&[]).unwrap(), None);
        let s = read(&[ROLE]).unwrap().unwrap();
        assert_eq!(s.min_records, 100);
        assert_eq!(s.flush_margin_ms, 600_000);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = read(&[("GATEWAY_BATCH_ROLE_ARN", "batch")]).unwrap_err();
        assert!(e.message().contains("GATEWAY_BATCH_ROLE_ARN"));
        for (k, v) in [
            ("GATEWAY_BATCH_MIN_RECORDS", "0"),
            ("GATEWAY_BATCH_MIN_RECORDS", "x"),
            ("GATEWAY_BATCH_FLUSH_MARGIN_SECONDS", "-5"),
        ] {
            let e = read(&[ROLE, (k, v)]).unwrap_err();
            assert!(e.message().contains(k), "{k}={v}");
        }
        let s = read(&[ROLE, ("GATEWAY_BATCH_MIN_RECORDS", "10")])
            .unwrap()
            .unwrap();
        assert_eq!(s.min_records, 10);
    }
}
