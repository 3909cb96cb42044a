//! The calibration corpus shipped in `shared/estimate/corpus/`: for the calibration test and for
//! the bench's estimator throughput (tokens/s). Read from disk, not embedded, so deployed
//! functions don't carry it.

use std::path::{Path, PathBuf};

/// One corpus sample: file name and text.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub text: String,
}

/// `shared/estimate/` in the source tree this crate was built from.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("estimate")
}

/// Every `*.txt` sample of the corpus, sorted by name.
pub fn load_corpus() -> std::io::Result<Vec<Sample>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(data_dir().join("corpus"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "txt") {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push(Sample {
                name,
                text: std::fs::read_to_string(&path)?,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
