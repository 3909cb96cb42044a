//! Class counts of the calibration corpus, for `infra/count-calibration/calibrate.py`.
//!
//! The fit must see exactly what the Rust estimator sees, so the script asks Rust for the counts
//! instead of re-implementing the pre-tokenizer:
//!
//! ```text
//! ESTIMATE_CLASSES_OUT=/tmp/classes.json \
//!   cargo test -p inference-core --test estimate_classes -- --ignored --exact dump_class_counts
//! ```

use gateway_model::estimate::{CLASS_NAMES, corpus, count_classes};
use serde_json::{Map, Value, json};

#[test]
#[ignore = "run by calibrate.py"]
fn dump_class_counts() {
    let out = std::env::var("ESTIMATE_CLASSES_OUT").expect("ESTIMATE_CLASSES_OUT is set");
    let mut samples = Map::new();
    for s in corpus::load_corpus().expect("corpus readable") {
        let counts = count_classes(&s.text);
        samples.insert(s.name, json!(counts.0));
    }
    let doc = json!({ "classes": CLASS_NAMES, "samples": Value::Object(samples) });
    std::fs::write(&out, serde_json::to_string_pretty(&doc).expect("json")).expect("write");
}

#[test]
fn estimate_corpus_samples_have_text() {
    let samples = corpus::load_corpus().expect("corpus readable");
    assert!(samples.len() >= 40, "corpus has {} samples", samples.len());
    assert!(samples.iter().all(|s| !s.text.trim().is_empty()));
}
