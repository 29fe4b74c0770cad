use super::*;

fn all() -> PiiScanner {
    PiiScanner::new(&PiiConfig::default())
}

/// Each text holds exactly this one finding (or none).
#[test]
fn each_kind_hits_and_near_misses() {
    use PiiKind::*;
    let table: &[(&str, Option<(PiiKind, &str)>)] = &[
        // Emails.
        (
            "write to jane.doe+tag@mail.example.co.uk today",
            Some((Email, "jane.doe+tag@mail.example.co.uk")),
        ),
        (
            "end of sentence: bob@example.com.",
            Some((Email, "bob@example.com")),
        ),
        (
            "(alice_1@sub-domain.org)",
            Some((Email, "alice_1@sub-domain.org")),
        ),
        ("a handle @someone and a@b", None),
        ("user@localhost is local", None),
        ("x@example.c0m", None),
        ("npm i @scope/pkg@1.2.3", None),
        // Phones.
        (
            "call +44 20 7946 0958 now",
            Some((Phone, "+44 20 7946 0958")),
        ),
        (
            "call +1 (555) 234-5678.",
            Some((Phone, "+1 (555) 234-5678")),
        ),
        ("+442079460958", Some((Phone, "+442079460958"))),
        (
            "+44 (0) 20 7946 0958",
            Some((Phone, "+44 (0) 20 7946 0958")),
        ),
        ("office (555) 234-5678", Some((Phone, "(555) 234-5678"))),
        ("555-234-5678", Some((Phone, "555-234-5678"))),
        ("555.234.5678", Some((Phone, "555.234.5678"))),
        ("1-800-555-0199", Some((Phone, "1-800-555-0199"))),
        ("ring 020 7946 0958", Some((Phone, "020 7946 0958"))),
        ("tél 01 23 45 67 89", Some((Phone, "01 23 45 67 89"))),
        ("(020) 7946 0958", Some((Phone, "(020) 7946 0958"))),
        ("on 2024-01-15 at 10:30", None),
        ("date 01.02.2024", None),
        ("version 1.22.333.4444", None),
        ("price $1,234,567.89", None),
        ("1234567890 rows", None),
        ("ip 192.168.100.200", None),
        ("+5 points", None),
        ("room 12 555-234-5678", Some((Phone, "555-234-5678"))),
        ("ref 7731 555-234-5678", Some((Phone, "555-234-5678"))),
        ("score +12.5%", None),
        // Cards.
        (
            "card 4111 1111 1111 1111 exp",
            Some((Card, "4111 1111 1111 1111")),
        ),
        ("4111-1111-1111-1111", Some((Card, "4111-1111-1111-1111"))),
        ("4111111111111111", Some((Card, "4111111111111111"))),
        ("amex 3782 822463 10005", Some((Card, "3782 822463 10005"))),
        ("5555555555554444.", Some((Card, "5555555555554444"))),
        ("card 4111 1111 1111 1112", None),
        ("4111 1111 1111 11112", None),
        ("id 1111111111111117", None),
        ("4111 1111 1111 1111 1111 1111", None),
        // IBANs.
        (
            "IBAN GB82 WEST 1234 5698 7654 32.",
            Some((Iban, "GB82 WEST 1234 5698 7654 32")),
        ),
        (
            "DE89370400440532013000",
            Some((Iban, "DE89370400440532013000")),
        ),
        (
            "NL91 ABNA 0417 1643 00",
            Some((Iban, "NL91 ABNA 0417 1643 00")),
        ),
        ("GB82 WEST 1234 5698 7654 33", None),
        ("GB82WEST1234569876543", None),
        ("XX82WEST12345698765432", None),
        // National ids.
        ("ssn 123-45-6789", Some((NationalId, "123-45-6789"))),
        ("ssn 123 45 6789", Some((NationalId, "123 45 6789"))),
        ("ssn 000-45-6789", None),
        ("ssn 666-45-6789", None),
        ("ssn 923-45-6789", None),
        ("ssn 123-00-6789", None),
        ("ssn 123-45-0000", None),
        ("nino AB123456C", Some((NationalId, "AB123456C"))),
        ("nino AB 12 34 56 C", Some((NationalId, "AB 12 34 56 C"))),
        ("nino GB123456C", None),
        ("nino AB123456E", None),
        ("dni 12345678Z", Some((NationalId, "12345678Z"))),
        ("dni 12345678-Z", Some((NationalId, "12345678-Z"))),
        ("dni 12345678A", None),
        ("nie X1234567L", Some((NationalId, "X1234567L"))),
        ("nie X1234567A", None),
        ("aadhaar 1345 6789 0124", None),
    ];
    let scanner = all();
    for (text, want) in table {
        let found = scanner.find(text);
        let got: Vec<(PiiKind, &str)> = found
            .iter()
            .map(|f| (f.kind, &text[f.range.clone()]))
            .collect();
        assert_eq!(got, want.iter().copied().collect::<Vec<_>>(), "{text}");
    }
}

#[test]
fn aadhaar_needs_its_verhoeff_digit() {
    let scanner = all();
    let base = "2345 6789 012";
    let valid: Vec<String> = (0..10)
        .map(|d| format!("{base}{d}"))
        .filter(|n| !scanner.find(n).is_empty())
        .collect();
    assert_eq!(valid.len(), 1, "exactly one check digit: {valid:?}");
    assert_eq!(scanner.find(&valid[0])[0].kind, PiiKind::NationalId);
}

#[test]
fn masks_replace_each_finding() {
    let text = "Mail jane@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111, \
                IBAN DE89370400440532013000, SSN 123-45-6789.";
    assert_eq!(
        all().mask(text),
        "Mail [email] or call [phone]; card [card], IBAN [iban], SSN [national_id]."
    );
    assert!(matches!(
        all().mask("nothing to see, 2024-01-15"),
        Cow::Borrowed(_)
    ));
}

#[test]
fn only_configured_kinds_are_found() {
    let cards_only = PiiScanner::new(&PiiConfig {
        kinds: vec![PiiKind::Card],
        ..PiiConfig::default()
    });
    let text = "jane@example.com 4111 1111 1111 1111 +44 20 7946 0958";
    let found = cards_only.find(text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, PiiKind::Card);
    assert!(!cards_only.may_contain(br#"{"content":"jane@example.com"}"#));
}

/// Whatever `find` finds in a string, the prefilter sees in its JSON.
#[test]
fn the_prefilter_never_misses_a_finding() {
    let scanner = all();
    for text in [
        "jane@example.com",
        "+44 20 7946 0958",
        "tél 01 23 45 67 89",
        "(555) 234-5678",
        "4111 1111 1111 1111",
        "GB82 WEST 1234 5698 7654 32",
        "NL91 ABNA 0417 1643 00",
        "AB 12 34 56 C",
        "123-45-6789",
        "X1234567L",
        "+33 1 23 45 67 89",
    ] {
        assert!(!scanner.find(text).is_empty(), "{text}");
        let json = format!(r#"{{"messages":[{{"role":"user","content":"see \"{text}\"\n"}}]}}"#);
        assert!(scanner.may_contain(json.as_bytes()), "{text}");
    }
}

#[test]
fn non_ascii_text_around_findings() {
    let text = "Ünïcode — écrivez à jürgen@example.de → ☎ +49 30 1234567 ✓";
    let got: Vec<&str> = all()
        .find(text)
        .iter()
        .map(|f| &text[f.range.clone()])
        .collect();
    assert_eq!(got, ["jürgen@example.de", "+49 30 1234567"]);
}

#[test]
fn config_reads_from_toml() {
    let config: PiiConfig =
        toml::from_str("action = \"block\"\nkinds = [\"email\", \"national_id\"]\nanswers = false")
            .unwrap();
    assert_eq!(config.action, PiiAction::Block);
    assert_eq!(config.kinds, [PiiKind::Email, PiiKind::NationalId]);
    assert!(!config.answers);
    assert_eq!(
        toml::from_str::<PiiConfig>("").unwrap(),
        PiiConfig::default()
    );
    assert!(toml::from_str::<PiiConfig>("actions = \"mask\"").is_err());
}
