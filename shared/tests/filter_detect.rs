//! Detection per entity kind: true positives and near misses that must not match.

// In a module named `filter` so that `cargo test -p inference-core filter` selects these.
mod filter {
    use gateway_model::filter::{EntityKind, Filter, Policy};

    fn filter() -> Filter {
        Filter::new(&Policy::mask_all())
    }

    fn masked(text: &str) -> String {
        filter().apply(text).text.into_owned()
    }

    fn kinds(text: &str) -> Vec<EntityKind> {
        filter().scan(text).into_iter().map(|f| f.kind).collect()
    }

    #[track_caller]
    fn hit(text: &str, kind: EntityKind, expected: &str) {
        assert_eq!(kinds(text), vec![kind], "kinds in {text:?}");
        assert_eq!(masked(text), expected, "masked {text:?}");
    }

    #[track_caller]
    fn miss(text: &str) {
        assert_eq!(kinds(text), vec![], "nothing expected in {text:?}");
        assert!(matches!(
            filter().apply(text).text,
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn email() {
        hit(
            "mail jane.doe@example.com now",
            EntityKind::Email,
            "mail [EMAIL] now",
        );
        hit(
            "<a.b+tag@mail.dept.example.co.uk>",
            EntityKind::Email,
            "<[EMAIL]>",
        );
        hit(
            "Reach me at J_Smith99@Example.ORG.",
            EntityKind::Email,
            "Reach me at [EMAIL].",
        );
        miss("a@b");
        miss("user@localhost");
        miss("@example.com");
        miss("name@example.c0m");
    }

    #[test]
    fn phone() {
        hit(
            "call +14155552671 today",
            EntityKind::Phone,
            "call [PHONE] today",
        );
        hit("call +44 20 7946 0958.", EntityKind::Phone, "call [PHONE].");
        hit("office (555) 123-4567", EntityKind::Phone, "office [PHONE]");
        hit("cell 555-123-4567", EntityKind::Phone, "cell [PHONE]");
        hit("fax 555.123.4567", EntityKind::Phone, "fax [PHONE]");
        hit("US +1 (555) 123-4567", EntityKind::Phone, "US [PHONE]");
        miss("order 12345678901234");
        miss("on 2024-11-26 at 10:30");
        miss("ISBN 978-155-860-8322");
        miss("ISBN-10: 155-860-8322");
        miss("build 1.2.3");
        miss("id 555-123-4567-89");
        miss("+15 minutes");
    }

    #[test]
    fn ssn() {
        hit("SSN 123-45-6789.", EntityKind::Ssn, "SSN [SSN].");
        miss("SSN 123-45-678");
        miss("SSN 000-12-3456");
        miss("SSN 666-12-3456");
        miss("SSN 912-12-3456");
        miss("SSN 123-00-3456");
        miss("SSN 123-45-0000");
        miss("part 1-123-45-6789");
    }

    #[test]
    fn card() {
        hit(
            "card 4111111111111111 ok",
            EntityKind::Card,
            "card [CARD] ok",
        );
        hit("card 4111 1111 1111 1111", EntityKind::Card, "card [CARD]");
        hit("card 5500-0000-0000-0004", EntityKind::Card, "card [CARD]");
        hit("amex 3782 822463 10005", EntityKind::Card, "amex [CARD]");
        hit(
            "disc 6011111111111117, thanks",
            EntityKind::Card,
            "disc [CARD], thanks",
        );
        hit(
            "card 4111 1111 1111 1111 22",
            EntityKind::Card,
            "card [CARD] 22",
        );
        miss("number 4111111111111112");
        miss("number 4111 1111 1111 1112");
        miss("mixed 4111-1111 1111-1111");
        miss("pi 3.4111111111111111");
        miss("airline 1234567812345670"); // Luhn-valid, but no card network starts with 1
    }

    #[test]
    fn iban() {
        hit(
            "IBAN DE89 3704 0044 0532 0130 00 please",
            EntityKind::Iban,
            "IBAN [IBAN] please",
        );
        hit("pay GB82WEST12345698765432", EntityKind::Iban, "pay [IBAN]");
        hit(
            "FR14 2004 1010 0505 0001 3M02 606 OK",
            EntityKind::Iban,
            "[IBAN] OK",
        );
        hit("NL91ABNA0417164300.", EntityKind::Iban, "[IBAN].");
        miss("IBAN DE88 3704 0044 0532 0130 00");
        miss("IBAN DE89370400440532013001");
        miss("IBAN ZZ89370400440532013000");
    }

    #[test]
    fn aws_keys() {
        hit(
            "key AKIAIOSFODNN7EXAMPLE",
            EntityKind::AwsAccessKey,
            "key [AWS_ACCESS_KEY]",
        );
        hit(
            "ASIAY34FZKBOKMUTVV7A,",
            EntityKind::AwsAccessKey,
            "[AWS_ACCESS_KEY],",
        );
        miss("key AKIAIOSFODNN7EXAMPL");
        miss("key AKIAIOSFODNN7EXAMPLE1");
        miss("key XKIAIOSFODNN7EXAMPLE");
        hit(
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            EntityKind::AwsSecretKey,
            "aws_secret_access_key = [AWS_SECRET_KEY]",
        );
        // Alone, but random-looking (both cases, digits).
        hit(
            "token wJalrXUtnFEMI/K7MDENG/bPxRfiCY3XAMPLEKEY",
            EntityKind::AwsSecretKey,
            "token [AWS_SECRET_KEY]",
        );
        // A git SHA (hex, one case), a path, 39 and 41 characters, a base64 blob.
        miss("commit da39a3ee5e6b4b0d3255bfef95601890afd80709");
        miss("see src/lib/Module1/Sub2/Part3/Item4/x.rs");
        miss("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE");
        miss("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYS");
        miss("blob wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY==");
    }

    #[test]
    fn ip() {
        hit("host 192.168.1.20 up", EntityKind::Ip, "host [IP] up");
        hit("host 10.0.0.255.", EntityKind::Ip, "host [IP].");
        hit("v6 2001:db8::ff00:42:8329 up", EntityKind::Ip, "v6 [IP] up");
        hit("loopback ::1.", EntityKind::Ip, "loopback [IP].");
        hit("mapped ::ffff:192.0.2.128", EntityKind::Ip, "mapped [IP]");
        hit(
            "full 2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            EntityKind::Ip,
            "full [IP]",
        );
        miss("version 1.2.3.4.5");
        miss("bad 10.0.0.256");
        miss("tag v1.2.3.4");
        miss("time 10:30:45");
        miss("mac 00:1a:2b:3c:4d:5e");
        miss("rust std::net::Ipv6Addr and Foo::Bar");
        miss("path a::b");
    }

    #[test]
    fn denied_terms() {
        let mut policy = Policy::mask_all();
        policy
            .add_denied_terms(["Project Falcon", "acme", "c++"])
            .unwrap();
        let f = Filter::new(&policy);
        assert_eq!(
            f.apply("about project falcon and ACME.").text,
            "about [DENIED] and [DENIED]."
        );
        assert_eq!(
            f.apply("acmeCorp and subacme stay").text,
            "acmeCorp and subacme stay"
        );
        assert_eq!(f.apply("I like C++ a lot").text, "I like [DENIED] a lot");
        assert_eq!(f.apply("project falcons").text, "project falcons");
    }

    #[test]
    fn findings_hold_positions_not_text() {
        let text = "x jane@example.com y 4111111111111111";
        let found = filter().scan(text);
        assert_eq!(found.len(), 2);
        assert_eq!(&text[found[0].start..found[0].end], "jane@example.com");
        assert_eq!(&text[found[1].start..found[1].end], "4111111111111111");
        let out = filter().apply(text);
        assert_eq!(out.findings.get(EntityKind::Email), 1);
        assert_eq!(out.findings.get(EntityKind::Card), 1);
        assert_eq!(out.findings.total(), 2);
    }

    #[test]
    fn block_and_allow() {
        let policy = Policy::default();
        let f = Filter::new(&policy);
        let out = f.apply("mail jane@example.com card 4111111111111111 host 10.1.2.3");
        assert_eq!(out.blocked, Some(EntityKind::Card));
        assert_eq!(out.text, "mail [EMAIL] card [CARD] host 10.1.2.3");
        let clean = f.apply("nothing to see here");
        assert_eq!(clean.blocked, None);
        assert!(clean.findings.is_empty());
    }

    #[test]
    fn non_ascii_neighbours() {
        assert_eq!(
            masked("café jane@example.com 日本語"),
            "café [EMAIL] 日本語"
        );
        assert_eq!(masked("電話+81 3 1234 5678。"), "電話[PHONE]。");
    }
}
