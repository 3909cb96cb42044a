//! Recomputes the calibration table of `docs/token-estimates.md` with the Rust estimator, against
//! the exact counts in `shared/estimate/exact_counts.json`, and fails if
//! - the corpus and the exact counts disagree (a sample added without recalibrating),
//! - a row's mean relative error exceeds the bound the docs state,
//! - the table in the docs differs from the recomputed one by more than rounding.

use std::collections::BTreeMap;
use std::path::Path;

use gateway_model::estimate::{Family, corpus, estimate_text};
use serde_json::Value;

/// Bounds on a row's mean relative error, as stated in the docs.
const EXACT_BOUND_PCT: f64 = 10.0;
const PROXY_BOUND_PCT: f64 = 20.0;
const TABLE_BEGIN: &str = "<!-- estimate-table:begin";
const TABLE_END: &str = "<!-- estimate-table:end -->";

#[derive(Debug)]
struct Row {
    family: String,
    label: String,
    samples: usize,
    /// mean, worst, held-out mean, held-out worst: percentages.
    pct: [f64; 4],
}

fn recompute() -> Vec<Row> {
    let exact: Value = serde_json::from_str(
        &std::fs::read_to_string(corpus::data_dir().join("exact_counts.json"))
            .expect("exact_counts.json"),
    )
    .expect("exact_counts.json is JSON");
    let texts: BTreeMap<String, String> = corpus::load_corpus()
        .expect("corpus")
        .into_iter()
        .map(|s| (s.name, s.text))
        .collect();
    let samples = exact["samples"].as_object().expect("samples");
    let counted: Vec<&String> = samples.keys().collect();
    let on_disk: Vec<&String> = texts.keys().collect();
    assert_eq!(
        counted, on_disk,
        "corpus and exact_counts.json differ: re-run infra/count-calibration/calibrate.py"
    );

    let mut rows = Vec::new();
    for (fam, spec) in exact["families"].as_object().expect("families") {
        let family: Family = fam.parse().expect("family name");
        for row in spec["rows"].as_array().expect("rows") {
            let refs: Vec<&str> = row["refs"]
                .as_array()
                .expect("refs")
                .iter()
                .map(|r| r.as_str().expect("ref"))
                .collect();
            let (mut all, mut held) = (Vec::new(), Vec::new());
            for (name, sample) in samples {
                let est = f64::from(estimate_text(family, &texts[name]));
                for r in &refs {
                    let y = sample["exact"][*r].as_f64().expect("exact count");
                    let e = (est - y).abs() / y;
                    all.push(e);
                    if sample["split"] == "holdout" {
                        held.push(e);
                    }
                }
            }
            let mean = |v: &[f64]| 100.0 * v.iter().sum::<f64>() / v.len() as f64;
            let worst = |v: &[f64]| 100.0 * v.iter().copied().fold(0.0, f64::max);
            rows.push(Row {
                family: fam.clone(),
                label: row["label"].as_str().expect("label").to_owned(),
                samples: samples.len(),
                pct: [mean(&all), worst(&all), mean(&held), worst(&held)],
            });
        }
    }
    rows
}

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/token-estimates.md");
    std::fs::read_to_string(path).expect("docs/token-estimates.md")
}

/// The rows of the doc's generated table.
fn doc_rows(doc: &str) -> Vec<Row> {
    let start = doc.find(TABLE_BEGIN).expect("table begin marker");
    let end = doc.find(TABLE_END).expect("table end marker");
    doc[start..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| family"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let pct =
                |i: usize| -> f64 { cells[i].trim_end_matches('%').parse().expect("percentage") };
            Row {
                family: cells[0].to_owned(),
                label: cells[1].to_owned(),
                samples: cells[2].parse().expect("samples"),
                pct: [pct(3), pct(4), pct(5), pct(6)],
            }
        })
        .collect()
}

#[test]
fn estimate_calibration_table_matches_docs_and_bounds() {
    let rows = recompute();
    println!("| family | reference | samples | mean | worst | held-out mean | held-out worst |");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.1}% | {:.1}% | {:.1}% | {:.1}% |",
            r.family, r.label, r.samples, r.pct[0], r.pct[1], r.pct[2], r.pct[3]
        );
    }

    for r in &rows {
        let bound = if r.label.starts_with("exact:") {
            EXACT_BOUND_PCT
        } else {
            PROXY_BOUND_PCT
        };
        assert!(
            r.pct[0] <= bound,
            "{} ({}): mean error {:.1}% > {bound}%",
            r.family,
            r.label,
            r.pct[0]
        );
    }

    let doc = doc();
    assert!(
        doc.contains(&format!("exceeds **{EXACT_BOUND_PCT:.0}%**"))
            && doc.contains(&format!("exceeds **{PROXY_BOUND_PCT:.0}%**")),
        "docs/token-estimates.md must state the bounds this test enforces"
    );
    let documented = doc_rows(&doc);
    assert_eq!(
        documented.len(),
        rows.len(),
        "table rows in docs vs recomputed"
    );
    for r in &rows {
        let d = documented
            .iter()
            .find(|d| d.family == r.family && d.label == r.label)
            .unwrap_or_else(|| panic!("no docs row for {} ({})", r.family, r.label));
        assert_eq!(
            d.samples, r.samples,
            "{} ({}): sample count",
            r.family, r.label
        );
        for (dv, rv) in d.pct.iter().zip(r.pct) {
            assert!(
                (dv - rv).abs() <= 0.051,
                "docs say {dv}% for {} ({}), recomputed {rv:.2}%: re-run calibrate.py --write-docs",
                r.family,
                r.label
            );
        }
    }
}
