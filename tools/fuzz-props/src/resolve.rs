//! Model-name resolution: any string a caller may send as `model`.

use gateway_model::catalog::Catalog;
use gateway_model::config::ProfilePreference;
use gateway_model::ids::Region;
use gateway_model::resolve::{resolve_in, suggestions};
use std::sync::OnceLock;

use crate::assert_client_error;

/// Regions of every geography (and one without a geographic profile).
const REGIONS: [&str; 6] = [
    "us-east-1",
    "eu-west-1",
    "ap-northeast-1",
    "us-gov-west-1",
    "ca-central-1",
    "sa-east-1",
];

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::embedded().expect("the embedded catalog loads"))
}

/// Any (selector, name): refused with a 4xx, or resolved to a target that resolves again to the
/// same model and target (what the gateway reports as `invoked` is itself a valid name).
pub fn check(data: &[u8]) {
    let Some((&selector, name)) = data.split_first() else {
        return;
    };
    let name = String::from_utf8_lossy(name);
    let region: Region = REGIONS[usize::from(selector) % REGIONS.len()]
        .parse()
        .expect("a valid region");
    let preference = if selector & 0x80 == 0 {
        ProfilePreference::Regional
    } else {
        ProfilePreference::Global
    };
    let _ = suggestions(catalog(), &name, 3);
    let resolved = match resolve_in(catalog(), &region, preference, &name) {
        Ok(r) => r,
        Err(e) => return assert_client_error("resolve", &e),
    };
    let invoked = resolved.target.id();
    let again = resolve_in(catalog(), &region, preference, &invoked).unwrap_or_else(|e| {
        panic!(
            "{name:?} resolved to {invoked:?}, which is refused: {}",
            e.message()
        )
    });
    assert_eq!(again.model.id, resolved.model.id, "{name:?} -> {invoked:?}");
    assert_eq!(again.target.id(), invoked, "{name:?}");
}
