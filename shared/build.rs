//! Embeds `catalog.toml` as JSON. Every function parses the catalog at cold start, and the TOML
//! parser took about 1.5 ms of it (61 KB); serde_json reads the same data in a fraction of that.
//! The file people edit stays TOML; `GATEWAY_CATALOG_FILE` still takes either form.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=catalog.toml");
    let text = std::fs::read_to_string("catalog.toml").expect("shared/catalog.toml is readable");
    let table: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("shared/catalog.toml: {e}"));
    let json = serde_json::to_string(&table).expect("a TOML table serializes as JSON");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("catalog.json"), json).expect("OUT_DIR is writable");
}
