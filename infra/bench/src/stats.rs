//! Summaries of samples: min, median, p99 (nearest rank), max, mean.

use serde::Serialize;

/// A distribution of samples, in the unit of the figure that owns it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// Nearest-rank percentile of sorted samples (`q` in 0..=1).
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let rank = (q * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// `None` for no samples; NaNs are dropped.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|v| !v.is_nan()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Some(Summary {
        n,
        min: s[0],
        median,
        p99: nearest_rank(&s, 0.99),
        max: s[n - 1],
        mean: s.iter().sum::<f64>() / n as f64,
    })
}

/// Milliseconds of a duration, as f64.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_samples() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = summarize(&v).unwrap();
        assert_eq!(
            (s.n, s.min, s.median, s.p99, s.max),
            (100, 1.0, 50.5, 99.0, 100.0)
        );
        assert_eq!(summarize(&[3.0]).unwrap().p99, 3.0);
        assert!(summarize(&[]).is_none());
    }
}
