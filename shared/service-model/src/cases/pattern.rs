//! Strings that match a pattern, of a chosen length where the pattern allows it.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Characters tried first for a class, so generated values read like ordinary input.
const PREFERRED: &[char] = &['a', 'A', '0', '_', '-', '.', ':'];

/// A string matching `pattern` (ECMAScript syntax, whole-value) as close to `len` characters as
/// the pattern allows; `None` if the pattern cannot be read.
pub fn matching(pattern: &str, len: usize) -> Option<String> {
    let hir = regex_syntax::Parser::new()
        .parse(&crate::model::ecma_to_rust(pattern))
        .ok()?;
    let shortest = generate(&hir, &mut 0);
    let mut extra = len.saturating_sub(shortest.chars().count());
    Some(generate(&hir, &mut extra))
}

/// Builds the shortest match, then spends `extra` characters on repetitions that may grow.
fn generate(hir: &Hir, extra: &mut usize) -> String {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => String::new(),
        HirKind::Literal(l) => String::from_utf8_lossy(&l.0).into_owned(),
        HirKind::Class(c) => one_of(c).to_string(),
        HirKind::Capture(c) => generate(&c.sub, extra),
        HirKind::Concat(parts) => parts.iter().map(|p| generate(p, extra)).collect(),
        HirKind::Alternation(alts) => {
            // The branch that comes closest to the wanted length.
            let mut best: Option<(usize, String)> = None;
            for a in alts {
                let mut left = *extra;
                let s = generate(a, &mut left);
                if best.as_ref().is_none_or(|(l, _)| left < *l) {
                    best = Some((left, s));
                }
            }
            let (left, s) = best.unwrap_or_default();
            *extra = left;
            s
        }
        HirKind::Repetition(r) => {
            let mut out = String::new();
            let mut n = 0u32;
            loop {
                let need = n < r.min;
                let may = r.max.is_none_or(|m| n < m) && *extra > 0;
                if !need && !may {
                    break;
                }
                let piece = generate(&r.sub, &mut 0);
                if !need {
                    let cost = piece.chars().count().max(1);
                    if cost > *extra {
                        break;
                    }
                    *extra -= cost;
                }
                out.push_str(&piece);
                n += 1;
            }
            out
        }
    }
}

fn one_of(c: &Class) -> char {
    match c {
        Class::Unicode(u) => PREFERRED
            .iter()
            .copied()
            .find(|p| u.ranges().iter().any(|r| r.start() <= *p && *p <= r.end()))
            .or_else(|| {
                u.ranges()
                    .iter()
                    .find_map(|r| (r.start()..=r.end()).find(|c| !c.is_control()))
            })
            .unwrap_or('a'),
        Class::Bytes(b) => b.ranges().first().map_or('a', |r| char::from(r.start())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_strings_match_and_reach_the_length() {
        let m = crate::ServiceModel::bedrock_runtime();
        for (name, s) in &m.shapes {
            let (Some(p), Some(re)) = (&s.pattern, s.regex()) else {
                continue;
            };
            for len in [1, 12, 64] {
                let v = matching(p, len).unwrap_or_else(|| panic!("{name}: {p}"));
                assert!(re.is_match(&v), "{name}: {v:?} does not match {p}");
            }
        }
        assert_eq!(matching("[a-zA-Z0-9_-]+", 64).unwrap().len(), 64);
        assert_eq!(matching("[0-9]{12}", 3).unwrap(), "000000000000");
    }
}
