//! Every `"GATEWAY_..."` / `"AWS_..."` string literal in the workspace's Rust sources
//! (`shared/src`, `shared/core/src`, `shared/stores/src`, `shared/jobs/src`, `functions/*/src`) must be listed in `docs/configuration.md`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `"GATEWAY_X"` / `"AWS_X"` literals: the quote, the prefix, then [A-Z0-9_]+, then a quote.
fn env_literals(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('"') {
        let rest = &text[i + 1..];
        if !(rest.starts_with("GATEWAY_") || rest.starts_with("AWS_")) {
            continue;
        }
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        if bytes.get(i + 1 + len) == Some(&b'"') && !rest[..len].ends_with('_') {
            found.insert(rest[..len].to_owned());
        }
    }
    found
}

fn documented(doc: &str) -> BTreeSet<String> {
    // First column of a Markdown table row, in backticks: | `NAME` | ...
    doc.lines()
        .filter_map(|l| l.trim().strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name.to_owned()))
        .collect()
}

#[test]
fn every_env_variable_is_documented() {
    let root = workspace_root();
    let doc_path = root.join("docs/configuration.md");
    let doc = fs::read_to_string(&doc_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", doc_path.display()));
    let listed = documented(&doc);

    let mut files = Vec::new();
    rust_files(&root.join("shared/src"), &mut files);
    rust_files(&root.join("shared/core/src"), &mut files);
    rust_files(&root.join("shared/stores/src"), &mut files);
    rust_files(&root.join("shared/jobs/src"), &mut files);
    if let Ok(functions) = fs::read_dir(root.join("functions")) {
        for f in functions.flatten() {
            rust_files(&f.path().join("src"), &mut files);
        }
    }
    assert!(
        !files.is_empty(),
        "no sources found under {}",
        root.display()
    );

    let mut missing = Vec::new();
    for f in &files {
        let text = fs::read_to_string(f).unwrap_or_default();
        for var in env_literals(&text) {
            if !listed.contains(&var) {
                missing.push(format!(
                    "{var} (in {})",
                    f.strip_prefix(&root).unwrap_or(f).display()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "environment variables read in code but not listed in docs/configuration.md:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn the_scanner_finds_literals() {
    let found =
        env_literals(r#"get("GATEWAY_MAX_TOKENS_CAP"); x = "AWS_REGION"; "GATEWAY_" "AWS_lower" "#);
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        vec!["AWS_REGION", "GATEWAY_MAX_TOKENS_CAP"]
    );
    let doc = "| `GATEWAY_A` | 1 | x |\n| not | a | row |\n";
    assert!(documented(doc).contains("GATEWAY_A"));
}
