//! Policy configuration: compact spec, policy files (JSON, TOML), denied terms, errors.

// In a module named `filter` so that `cargo test -p inference-core filter` selects these.
mod filter {
    use std::collections::HashMap;

    use gateway_model::filter::{Action, EntityKind, Filter, Policy};

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("filter-policy-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let p = Policy::from_lookup(lookup(&[])).unwrap();
        assert_eq!(p, Policy::default());
        assert_eq!(p.action(EntityKind::Email), Action::Mask);
        assert_eq!(p.action(EntityKind::Phone), Action::Mask);
        assert_eq!(p.action(EntityKind::Ssn), Action::Block);
        assert_eq!(p.action(EntityKind::Card), Action::Block);
        assert_eq!(p.action(EntityKind::Iban), Action::Mask);
        assert_eq!(p.action(EntityKind::AwsAccessKey), Action::Block);
        assert_eq!(p.action(EntityKind::AwsSecretKey), Action::Block);
        assert_eq!(p.action(EntityKind::Ip), Action::Allow);
        assert_eq!(p.action(EntityKind::Denied), Action::Block);
        assert!(p.denied_terms().is_empty());
        assert!(!p.is_inactive());
    }

    #[test]
    fn compact_spec_and_terms() {
        let p = Policy::from_lookup(lookup(&[
            (
                "GATEWAY_PII_POLICY",
                " email=block, ip=mask ,AWS-SECRET-KEY=allow,max_entity_len=100",
            ),
            ("GATEWAY_DENIED_TERMS", "Project Falcon, acme ,,"),
        ]))
        .unwrap();
        assert_eq!(p.action(EntityKind::Email), Action::Block);
        assert_eq!(p.action(EntityKind::Ip), Action::Mask);
        assert_eq!(p.action(EntityKind::AwsSecretKey), Action::Allow);
        assert_eq!(p.action(EntityKind::Card), Action::Block); // default kept
        assert_eq!(p.denied_terms(), ["Project Falcon", "acme"]);
        assert_eq!(p.max_entity_len(), Some(100));

        let all =
            Policy::from_lookup(lookup(&[("GATEWAY_PII_POLICY", "*=mask,card=block")])).unwrap();
        assert!(EntityKind::ALL.iter().all(|&k| all.action(k)
            == if k == EntityKind::Card {
                Action::Block
            } else {
                Action::Mask
            }));

        let off = Policy::from_lookup(lookup(&[("GATEWAY_PII_POLICY", "off")])).unwrap();
        assert!(off.is_inactive());
        assert_eq!(
            Filter::new(&off)
                .apply("jane@example.com 4111111111111111")
                .findings
                .total(),
            0
        );
    }

    #[test]
    fn policy_files_json_and_toml() {
        let json = temp_file(
            "p.json",
            r#"{"actions": {"email": "allow", "ip": "block"}, "denied_terms": ["falcon"], "max_entity_len": 200}"#,
        );
        let p = Policy::from_lookup(lookup(&[
            ("GATEWAY_PII_POLICY_FILE", json.to_str().unwrap()),
            ("GATEWAY_PII_POLICY", "ip=mask"),
            ("GATEWAY_DENIED_TERMS", "acme"),
        ]))
        .unwrap();
        assert_eq!(p.action(EntityKind::Email), Action::Allow);
        assert_eq!(p.action(EntityKind::Ip), Action::Mask); // the variable wins over the file
        assert_eq!(p.denied_terms(), ["falcon", "acme"]);
        assert_eq!(p.max_entity_len(), Some(200));

        let toml = temp_file(
            "p.toml",
            "denied_terms = [\"falcon\"]\n[actions]\nphone = \"allow\"\naws_access_key = \"mask\"\n",
        );
        let p = Policy::from_lookup(lookup(&[(
            "GATEWAY_PII_POLICY_FILE",
            toml.to_str().unwrap(),
        )]))
        .unwrap();
        assert_eq!(p.action(EntityKind::Phone), Action::Allow);
        assert_eq!(p.action(EntityKind::AwsAccessKey), Action::Mask);
        assert_eq!(p.denied_terms(), ["falcon"]);
        let _ = std::fs::remove_file(json);
        let _ = std::fs::remove_file(toml);
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "GATEWAY_PII_POLICY",
                "email=hide",
                "expected block, mask or allow",
            ),
            ("GATEWAY_PII_POLICY", "emial=mask", "unknown entity kind"),
            ("GATEWAY_PII_POLICY", "email", "expected kind=action"),
            ("GATEWAY_PII_POLICY", "max_entity_len=0", "positive integer"),
            (
                "GATEWAY_PII_POLICY_FILE",
                "/nonexistent/policy.toml",
                "could not read",
            ),
            ("GATEWAY_DENIED_TERMS", "ok,[EMAIL]", "'['"),
        ];
        for (var, value, expected) in cases {
            let err = Policy::from_lookup(lookup(&[(var, value)])).unwrap_err();
            assert!(err.starts_with(var), "{err}");
            assert!(err.contains(expected), "{err}");
        }
        let bad = temp_file("bad.json", r#"{"actions": {"email": "mask"}, "colour": 1}"#);
        let err = Policy::from_lookup(lookup(&[(
            "GATEWAY_PII_POLICY_FILE",
            bad.to_str().unwrap(),
        )]))
        .unwrap_err();
        assert!(
            err.starts_with("GATEWAY_PII_POLICY_FILE") && err.contains("invalid JSON"),
            "{err}"
        );
        let _ = std::fs::remove_file(bad);
        let long = "x".repeat(200);
        assert!(Policy::from_lookup(lookup(&[("GATEWAY_DENIED_TERMS", &long)])).is_err());
    }

    #[test]
    fn max_entity_len_drops_longer_entities() {
        let mut p = Policy::mask_all();
        p.set_max_entity_len(Some(16));
        let f = Filter::new(&p);
        assert_eq!(
            f.apply("a@example.com and very.long.name@example.com").text,
            "[EMAIL] and very.long.name@example.com"
        );
    }

    #[test]
    fn many_terms_compile() {
        let mut p = Policy::default();
        let terms: Vec<String> = (0..1000)
            .map(|i| format!("term{i}-{}", "z".repeat(100)))
            .collect();
        p.add_denied_terms(&terms).unwrap();
        let f = Filter::new(&p);
        assert_eq!(
            f.apply(&format!("say {} now", terms[999])).blocked,
            Some(EntityKind::Denied)
        );
    }
}
