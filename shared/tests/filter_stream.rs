//! Streams: entities split across chunks are masked exactly as in one piece.

// In a module named `filter` so that `cargo test -p inference-core filter` selects these.
mod filter {
    use gateway_model::filter::{EntityKind, Filter, Policy, StreamFilter};
    use proptest::prelude::*;

    fn mask_filter() -> Filter {
        let mut policy = Policy::mask_all();
        policy.add_denied_terms(["project falcon", "acme"]).unwrap();
        Filter::new(&policy)
    }

    /// Feeds `chunks` and returns the concatenated output.
    fn run(filter: &Filter, chunks: &[&str]) -> String {
        let mut s = StreamFilter::new(filter);
        let mut out = String::new();
        for c in chunks {
            out.push_str(&s.push(c).emit);
        }
        out.push_str(&s.finish().emit);
        out
    }

    /// Splits `text` at the given byte fractions (moved to char boundaries).
    fn split_at<'a>(text: &'a str, cuts: &[usize]) -> Vec<&'a str> {
        let mut idx: Vec<usize> = cuts
            .iter()
            .map(|&c| {
                let mut i = c % (text.len() + 1);
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                i
            })
            .collect();
        idx.push(0);
        idx.push(text.len());
        idx.sort_unstable();
        idx.windows(2).map(|w| &text[w[0]..w[1]]).collect()
    }

    #[test]
    fn entity_split_across_two_chunks() {
        let f = mask_filter();
        assert_eq!(
            run(&f, &["mail jane.do", "e@example.com now"]),
            "mail [EMAIL] now"
        );
        assert_eq!(
            run(&f, &["card 4111 1111 11", "11 1111 ok"]),
            "card [CARD] ok"
        );
        assert_eq!(
            run(&f, &["IBAN DE89 3704 0044 05", "32 0130 00."]),
            "IBAN [IBAN]."
        );
        assert_eq!(
            run(&f, &["key AKIAIOSFOD", "NN7EXAMPLE"]),
            "key [AWS_ACCESS_KEY]"
        );
        assert_eq!(run(&f, &["about Project Fal", "con!"]), "about [DENIED]!");
        assert_eq!(run(&f, &["host 10.0.0.25", "5 up"]), "host [IP] up");
        // The continuation can also turn a complete-looking entity into a near miss.
        assert_eq!(run(&f, &["host 10.0.0.25", "6 up"]), "host 10.0.0.256 up");
        assert_eq!(run(&f, &["v 1.2.3.4", ".5"]), "v 1.2.3.4.5");
    }

    #[test]
    fn entity_split_into_single_characters() {
        let f = mask_filter();
        let text = "Send 4111-1111-1111-1111 to jane@example.com or +44 20 7946 0958, acme!";
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let chunks: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(run(&f, &chunks), f.apply(text).text);
        assert_eq!(
            run(&f, &chunks),
            "Send [CARD] to [EMAIL] or [PHONE], [DENIED]!"
        );
    }

    #[test]
    fn prose_is_held_back_by_at_most_the_last_word() {
        let f = mask_filter();
        let mut s = f.stream();
        let out = s.push("The quick brown fox jumps over the lazy dog, and then");
        assert_eq!(
            out.emit,
            "The quick brown fox jumps over the lazy dog, and "
        );
        assert_eq!(s.held_back(), "then".len());
        assert_eq!(s.push(" rests.").emit, "then ");
        assert_eq!(s.finish().emit, "rests.");
    }

    #[test]
    fn hold_back_is_bounded() {
        let f = mask_filter();
        let mut s = f.stream();
        // A long unbroken run of e-mail characters: held back no more than the e-mail reach.
        for _ in 0..200 {
            s.push("abcdefghij");
            assert!(s.held_back() <= 347, "held {}", s.held_back());
        }
    }

    #[test]
    fn block_stops_the_stream() {
        let f = Filter::new(&Policy::default());
        let mut s = f.stream();
        let a = s.push("hello jane@example.com, card 4111 1111 ");
        assert_eq!(a.blocked, None);
        let b = s.push("1111 1111 and more");
        assert_eq!(b.blocked, Some(EntityKind::Card));
        assert_eq!(format!("{}{}", a.emit, b.emit), "hello [EMAIL], card ");
        assert_eq!(s.push("after").emit, "");
        assert_eq!(s.finish().blocked, Some(EntityKind::Card));
        assert_eq!(s.findings().get(EntityKind::Email), 1);
    }

    const PIECES: &[&str] = &[
        "jane.doe@example.com",
        "a@b",
        "x.y@mail.example.co.uk",
        "+44 20 7946 0958",
        "(555) 123-4567",
        "555-123-4567",
        "123-45-6789",
        "123-45-678",
        "000-12-3456",
        "4111 1111 1111 1111",
        "4111111111111112",
        "3782 822463 10005",
        "DE89 3704 0044 0532 0130 00",
        "DE88370400440532013000",
        "AKIAIOSFODNN7EXAMPLE",
        "AKIAIOSFODNN7EXAMP",
        "secret: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "192.168.1.20",
        "1.2.3.4.5",
        "10.0.0.256",
        "2001:db8::1",
        "::ffff:192.0.2.128",
        "2024-11-26",
        "ISBN 978-155-860-8322",
        "project falcon",
        "ACME",
        "acmecorp",
        "café",
        "日本語",
        " ",
        "  ",
        ", ",
        ".",
        "\n",
        "the",
        "number",
        "12",
        "-",
        "@",
        "+",
        ":",
        "/",
        "[EMAIL]",
        "DE",
        "89",
    ];

    fn text_strategy() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => prop::sample::select(PIECES).prop_map(str::to_owned),
                1 => "[a-zA-Z0-9 .:@+/-]{0,6}",
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any chunking of any text gives exactly what `apply` gives on the whole text.
        #[test]
        fn stream_equals_apply(text in text_strategy(), cuts in prop::collection::vec(0usize..4096, 0..12)) {
            let f = mask_filter();
            let chunks = split_at(&text, &cuts);
            prop_assert_eq!(run(&f, &chunks), f.apply(&text).text.into_owned());
        }

        /// Same, chunk by chunk of one character (the worst case for the hold-back logic).
        #[test]
        fn stream_by_char_equals_apply(text in text_strategy()) {
            let f = mask_filter();
            let chars: Vec<String> = text.chars().map(String::from).collect();
            let chunks: Vec<&str> = chars.iter().map(String::as_str).collect();
            prop_assert_eq!(run(&f, &chunks), f.apply(&text).text.into_owned());
        }

        /// With the default (blocking) policy the stream blocks on the same kind as `apply`.
        #[test]
        fn stream_blocks_like_apply(text in text_strategy(), cuts in prop::collection::vec(0usize..4096, 0..8)) {
            let f = Filter::new(&Policy::default());
            let mut s = f.stream();
            let mut blocked = None;
            for c in split_at(&text, &cuts) {
                blocked = blocked.or(s.push(c).blocked);
            }
            blocked = blocked.or(s.finish().blocked);
            prop_assert_eq!(blocked, f.apply(&text).blocked);
        }
    }
}
