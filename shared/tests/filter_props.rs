//! Robustness: no input panics, masking is idempotent, nothing allocates when nothing is found.

// In a module named `filter` so that `cargo test -p inference-core filter` selects these.
mod filter {
    use std::borrow::Cow;

    use gateway_model::filter::{Filter, Policy, bench_corpus};
    use proptest::prelude::*;

    fn mask_filter() -> Filter {
        let mut policy = Policy::mask_all();
        policy
            .add_denied_terms(["email", "secret", "dé", "x-y"])
            .unwrap();
        Filter::new(&policy)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_strings_never_panic(text in any::<String>(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
            let f = mask_filter();
            let _ = f.apply(&text);
            let mut s = f.stream();
            let mut last = 0;
            for c in cuts {
                let mut i = c % (text.len() + 1);
                while !text.is_char_boundary(i) { i -= 1; }
                if i > last { s.push(&text[last..i]); last = i; }
            }
            s.push(&text[last..]);
            s.finish();
        }

        #[test]
        fn apply_is_idempotent(text in "[a-zA-Z0-9 .:@+/_\\[\\]()-]{0,80}") {
            let f = mask_filter();
            let once = f.apply(&text).text.into_owned();
            let twice = f.apply(&once).text.into_owned();
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn apply_is_idempotent_on_entities(parts in prop::collection::vec(prop::sample::select(vec![
            "jane@example.com", "4111111111111111", "192.168.1.1", "::1", "AKIAIOSFODNN7EXAMPLE",
            "DE89370400440532013000", "+44 20 7946 0958", "123-45-6789", "email", "secret",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", " ", ".", "-", "@", ":", "1", "a", "[", "]",
        ]), 0..16)) {
            let f = mask_filter();
            let text = parts.concat();
            let once = f.apply(&text).text.into_owned();
            let twice = f.apply(&once).text.into_owned();
            prop_assert_eq!(once, twice);
        }
    }

    #[test]
    fn clean_text_is_borrowed() {
        let f = mask_filter();
        assert!(matches!(
            f.apply("plain prose, nothing here: 42 and 3.14").text,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn corpus_is_deterministic_and_mixed() {
        let a = bench_corpus();
        assert_eq!(a, bench_corpus());
        assert!(a.len() >= 1 << 20);
        let out = Filter::new(&Policy::mask_all()).apply(&a);
        assert!(out.findings.total() > 100, "{:?}", out.findings);
    }

    /// Throughput for information (`cargo test --release -p inference-core --test filter_props -- --ignored --nocapture`);
    /// the official figure comes from `make bench`.
    #[test]
    #[ignore]
    fn throughput_print() {
        let corpus = bench_corpus();
        let f = Filter::new(&Policy::mask_all());
        let _ = f.apply(&corpus);
        let t = std::time::Instant::now();
        let rounds = 5;
        for _ in 0..rounds {
            std::hint::black_box(f.apply(std::hint::black_box(&corpus)));
        }
        let secs = t.elapsed().as_secs_f64();
        let mb = (corpus.len() * rounds) as f64 / 1e6;
        println!("apply: {:.1} MB/s", mb / secs);
        let t = std::time::Instant::now();
        let mut s = f.stream();
        let mut out = 0;
        let mut chars = corpus.char_indices().map(|(i, _)| i).step_by(4).peekable();
        let mut last = 0;
        let mut pushes = 0;
        while let Some(i) = chars.next() {
            if i > last {
                out += s.push(&corpus[last..i]).emit.len();
                last = i;
                pushes += 1;
            }
            let _ = chars.peek();
        }
        out += s.push(&corpus[last..]).emit.len();
        out += s.finish().emit.len();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "stream (4-char chunks): {:.1} MB/s, {:.2} us/push, {out} bytes out",
            corpus.len() as f64 / 1e6 / secs,
            secs * 1e6 / pushes as f64
        );
    }
}
