//! Sections that a run of their own (`--only peers`, `--only lmi`) writes into the last full
//! report in place: their block of `bench/results.json` and their part of `docs/performance.md`,
//! between their own markers. The other figures stay those of their own run.

use std::path::Path;

/// One section's output.
pub struct Part<'a> {
    /// Its key in the JSON report.
    pub key: &'a str,
    pub json: serde_json::Value,
    /// Its Markdown, starting with `start` and ending with `end` (and a newline).
    pub md: String,
    pub start: &'a str,
    pub end: &'a str,
}

/// Replaces the part between `start` and `end` in `doc`, or inserts `part` before
/// "## How it is measured" (at the end when there is no such heading).
pub fn splice(doc: &str, start: &str, end: &str, part: &str) -> String {
    if let (Some(a), Some(b)) = (doc.find(start), doc.find(end))
        && a < b
    {
        let stop = b + end.len();
        let stop = stop + usize::from(doc[stop..].starts_with('\n'));
        return format!("{}{part}{}", &doc[..a], &doc[stop..]);
    }
    match doc.find("\n## How it is measured") {
        Some(i) => format!("{}\n{part}{}", &doc[..i], &doc[i..]),
        None => format!("{doc}\n{part}"),
    }
}

/// Writes each part into the existing JSON report and Markdown document.
pub fn merge(out: &Path, doc: &Path, parts: &[Part<'_>]) -> Result<(), String> {
    let text = std::fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut md = std::fs::read_to_string(doc).map_err(|e| format!("{}: {e}", doc.display()))?;
    for p in parts {
        v[p.key] = p.json.clone();
        md = splice(&md, p.start, p.end, &p.md);
    }
    let json = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())? + "\n";
    std::fs::write(out, json).map_err(|e| e.to_string())?;
    std::fs::write(doc, md).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_keeps_other_sections_parts() {
        let doc = "# P\n\n<!-- a:start -->\nA1\n<!-- a:end -->\n\n## How it is measured\ny\n";
        let with_b = splice(
            doc,
            "<!-- b:start -->",
            "<!-- b:end -->",
            "<!-- b:start -->\nB1\n<!-- b:end -->\n",
        );
        assert!(with_b.contains("A1") && with_b.contains("B1"), "{with_b}");
        assert!(with_b.find("B1") < with_b.find("## How it is measured"));
        let again = splice(
            &with_b,
            "<!-- a:start -->",
            "<!-- a:end -->",
            "<!-- a:start -->\nA2\n<!-- a:end -->\n",
        );
        assert!(
            again.contains("A2") && !again.contains("A1") && again.contains("B1"),
            "{again}"
        );
        assert_eq!(again.matches("<!-- a:start -->").count(), 1);
    }

    #[test]
    fn merge_replaces_only_its_own_block_and_part() {
        let dir = std::env::temp_dir().join(format!("bench-doc-parts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (out, doc) = (dir.join("r.json"), dir.join("p.md"));
        std::fs::write(&out, r#"{"figures": [1], "peers": {"x": 1}}"#).unwrap();
        std::fs::write(&doc, "# P\nfigures\n\n## How it is measured\nm\n").unwrap();
        let part = Part {
            key: "lmi",
            json: serde_json::json!({"levels": []}),
            md: "<!-- l:start -->\nL\n<!-- l:end -->\n".into(),
            start: "<!-- l:start -->",
            end: "<!-- l:end -->",
        };
        merge(&out, &doc, &[part]).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(v["figures"], serde_json::json!([1]));
        assert_eq!(v["peers"], serde_json::json!({"x": 1}));
        assert_eq!(v["lmi"], serde_json::json!({"levels": []}));
        let md = std::fs::read_to_string(&doc).unwrap();
        assert!(
            md.starts_with("# P\nfigures\n") && md.contains("\nL\n"),
            "{md}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
