//! The structured-PII detectors through `Scanner::all()`: what a policy sees after normalisation,
//! context and overlap resolution, at the default threshold.

use std::sync::LazyLock;

use proptest::prelude::*;
use seam_policy::{Finding, Scanner};

const THRESHOLD: f32 = 0.5;

/// Built once: compiling every detector per proptest case would dominate the run.
static SCANNER: LazyLock<Scanner> = LazyLock::new(Scanner::all);

fn found(scanner: &Scanner, text: &str) -> Vec<(&'static str, String)> {
    scanner
        .scan(text)
        .into_iter()
        .filter(|f| f.score >= THRESHOLD)
        .map(|f| (f.entity, text[f.start..f.end].to_string()))
        .collect()
}

/// One example per entity, including the ones that only count after a context word, so a context
/// word that another detector also claims (and so never boosts) shows up here.
#[test]
fn every_entity_is_found_in_context() {
    let s = &*SCANNER;
    let cases: &[(&str, &str, &str)] = &[
        (
            "call me on +44 20 7946 0958 tonight",
            "PHONE_NUMBER",
            "+44 20 7946 0958",
        ),
        ("phone: 030 12345678", "PHONE_NUMBER", "030 12345678"),
        (
            "card 4111 1111 1111 1111 exp 12/29",
            "CREDIT_CARD",
            "4111 1111 1111 1111",
        ),
        ("my SIN is 130 692 544", "CA_SIN", "130 692 544"),
        (
            "IBAN: DE89 3704 0044 0532 0130 00",
            "IBAN_CODE",
            "DE89 3704 0044 0532 0130 00",
        ),
        ("SSN 536-90-6789", "US_SSN", "536-90-6789"),
        ("ssn: 536906789", "US_SSN", "536906789"),
        ("ITIN 912-70-1234", "US_ITIN", "912-70-1234"),
        ("passport no. A12345678", "US_PASSPORT", "A12345678"),
        ("driver's license D1234567", "US_DRIVER_LICENSE", "D1234567"),
        ("server at 192.168.10.20", "IP_ADDRESS", "192.168.10.20"),
        (
            "iface 00:1A:2B:3C:4D:5E up",
            "MAC_ADDRESS",
            "00:1A:2B:3C:4D:5E",
        ),
        (
            "see https://example.org/path",
            "URL",
            "https://example.org/path",
        ),
        ("visit our website example.com today", "URL", "example.com"),
        (
            "btc 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "CRYPTO",
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        ),
        ("Date of Birth: 12/03/1985", "DATE_OF_BIRTH", "12/03/1985"),
        // `nascita` holds the CA_SIN word `nas`; it still supports the date.
        ("Data di nascita: 12/03/1985", "DATE_OF_BIRTH", "12/03/1985"),
        (
            "Date de naissance : March 12, 1985",
            "DATE_OF_BIRTH",
            "March 12, 1985",
        ),
        ("NHS 943 476 5919", "UK_NHS", "943 476 5919"),
        ("NHS number 9434765919", "UK_NHS", "9434765919"),
        ("NI number AB123456C", "UK_NINO", "AB123456C"),
        ("DNI 12345678Z", "ES_NIF", "12345678Z"),
        (
            "codice fiscale RSSMRA85T10A562S",
            "IT_FISCAL_CODE",
            "RSSMRA85T10A562S",
        ),
        ("Steuer-ID 86095742719", "DE_TAX_ID", "86095742719"),
        ("Aadhaar 2341 2341 2346", "IN_AADHAAR", "2341 2341 2346"),
        ("aadhaar no 234123412346", "IN_AADHAAR", "234123412346"),
        ("PAN ABCPE1234F", "IN_PAN", "ABCPE1234F"),
        ("TFN 123 456 782", "AU_TFN", "123 456 782"),
        ("tax file number 123456782", "AU_TFN", "123456782"),
        ("NRIC S1234567D", "SG_NRIC", "S1234567D"),
    ];
    for (text, entity, value) in cases {
        let got = found(s, text);
        assert_eq!(got, [(*entity, value.to_string())], "text {text:?}");
    }
    let expected: Vec<&str> = cases.iter().map(|c| c.1).collect();
    let entities = s.entities();
    for e in expected {
        assert!(entities.contains(&e), "{e} not registered");
    }
}

/// Issue 12: a national id that breaks only an issuance rule counts after its entity's context
/// word, whichever detectors see the same digits, and not without it.
#[test]
fn unissued_ids_count_only_after_their_word() {
    let s = &*SCANNER;
    let cases: &[(&str, &str, &str)] = &[
        ("SSN 914-27-6083", "US_SSN", "914-27-6083"),
        ("ssn 914 27 6083", "US_SSN", "914 27 6083"),
        (
            "social security number 000-12-3456",
            "US_SSN",
            "000-12-3456",
        ),
        ("ITIN 912-34-5678", "US_ITIN", "912-34-5678"),
        ("Aadhaar 1234 1234 1234", "IN_AADHAAR", "1234 1234 1234"),
        ("Steuer-ID 12345678903", "DE_TAX_ID", "12345678903"),
        ("my SIN is 012 345 674", "CA_SIN", "012 345 674"),
        ("NI number DA123456C", "UK_NINO", "DA123456C"),
        ("PAN ABCDE1234F", "IN_PAN", "ABCDE1234F"),
    ];
    for (text, entity, value) in cases {
        assert_eq!(
            found(s, text),
            [(*entity, value.to_string())],
            "text {text:?}"
        );
        let (_, bare) = text.split_at(text.len() - value.len());
        assert_eq!(found(s, bare), [], "without context: {bare:?}");
        let other = format!("ref {bare}");
        assert_eq!(found(s, &other), [], "without context: {other:?}");
    }
}

/// Fullwidth digits and zero-width characters are folded away before detection; offsets still
/// cover exactly the original value.
#[test]
fn obfuscated_values_map_back_to_the_original() {
    let s = &*SCANNER;
    let cases: &[(&str, &str, &str)] = &[
        (
            "pay ４１１１ １１１１ １１１１ １１１１ now",
            "CREDIT_CARD",
            "４１１１ １１１１ １１１１ １１１１",
        ),
        (
            "pay 4111\u{200b}1111\u{200b}1111\u{200b}1111.",
            "CREDIT_CARD",
            "4111\u{200b}1111\u{200b}1111\u{200b}1111",
        ),
        (
            "IBAN ＧＢ８２ＷＥＳＴ１２３４５６９８７６５４３２",
            "IBAN_CODE",
            "ＧＢ８２ＷＥＳＴ１２３４５６９８７６５４３２",
        ),
        ("SSN 536\u{2060}-90-6789", "US_SSN", "536\u{2060}-90-6789"),
        (
            "Aadhaar ２３４１ ２３４１ ２３４６",
            "IN_AADHAAR",
            "２３４１ ２３４１ ２３４６",
        ),
    ];
    for (text, entity, value) in cases {
        let got = found(s, text);
        assert_eq!(got, [(*entity, value.to_string())], "text {text:?}");
    }
}

/// Values written in an escape something downstream decodes (percent-encoding, HTML character
/// references, JSON/JavaScript escapes) are found like their plain form, and the finding covers
/// exactly the value as written, escapes included (issue 13).
#[test]
fn encoded_values_are_found_as_written() {
    let s = &*SCANNER;
    let cases: &[(&str, &str, &str)] = &[
        // Percent-encoding.
        (
            "card=4111%201111%201111%201111&exp=12",
            "CREDIT_CARD",
            "4111%201111%201111%201111",
        ),
        (
            "pay %34%31%31%31%20%31%31%31%31%20%31%31%31%31%20%31%31%31%31 now",
            "CREDIT_CARD",
            "%34%31%31%31%20%31%31%31%31%20%31%31%31%31%20%31%31%31%31",
        ),
        (
            "card=4111+1111+1111+1111&exp=12",
            "CREDIT_CARD",
            "4111+1111+1111+1111",
        ),
        (
            "tel=%2B44%2020%207946%200958",
            "PHONE_NUMBER",
            "%2B44%2020%207946%200958",
        ),
        ("q=SSN%3A%20536-90-6789", "US_SSN", "536-90-6789"),
        ("q=SSN%20536%2D90%2D6789", "US_SSN", "536%2D90%2D6789"),
        // HTML character references.
        (
            "<td>&#52;111 1111 1111 1111</td>",
            "CREDIT_CARD",
            "&#52;111 1111 1111 1111",
        ),
        (
            "<p>ada&commat;example&period;com</p>",
            "EMAIL_ADDRESS",
            "ada&commat;example&period;com",
        ),
        (
            "<a>ada&#x40;example&#46;com</a>",
            "EMAIL_ADDRESS",
            "ada&#x40;example&#46;com",
        ),
        (
            "SSN&nbsp;536&#45;90&#45;6789",
            "US_SSN",
            "536&#45;90&#45;6789",
        ),
        (
            "call&nbsp;+44&nbsp;20&nbsp;7946&nbsp;0958",
            "PHONE_NUMBER",
            "+44&nbsp;20&nbsp;7946&nbsp;0958",
        ),
        // JSON and JavaScript escapes.
        (
            r#"{"card": "\u0034111 1111 1111 1111"}"#,
            "CREDIT_CARD",
            r"\u0034111 1111 1111 1111",
        ),
        (
            r#"{"to": "ada\u0040example.com"}"#,
            "EMAIL_ADDRESS",
            r"ada\u0040example.com",
        ),
        (
            r#"{"to": "ada\x40example\u{2e}com"}"#,
            "EMAIL_ADDRESS",
            r"ada\x40example\u{2e}com",
        ),
        (
            r#"{"ssn": "SSN\u0020536\u002d90\u002d6789"}"#,
            "US_SSN",
            r"536\u002d90\u002d6789",
        ),
        (
            r#"{"to": "ada\uFF20example.com"}"#,
            "EMAIL_ADDRESS",
            r"ada\uFF20example.com",
        ),
        // One level of nesting: a URL inside a query parameter, HTML escaped twice.
        (
            "next=%2Fmail%3Fto%3Dada%2540example.com",
            "EMAIL_ADDRESS",
            "ada%2540example.com",
        ),
        (
            "ada&amp;#64;example.com",
            "EMAIL_ADDRESS",
            "ada&amp;#64;example.com",
        ),
        // A zero-width space percent-encoded inside the value is dropped like a literal one.
        (
            "to=ada%E2%80%8B%40example.com",
            "EMAIL_ADDRESS",
            "ada%E2%80%8B%40example.com",
        ),
    ];
    for (text, entity, value) in cases {
        let got = found(s, text);
        assert_eq!(got, [(*entity, value.to_string())], "text {text:?}");
    }
}

/// Ten percent-encoded email addresses as they reach Seam in the wild; issue 13 found 8 of 10
/// such cases passed through.
#[test]
fn percent_encoded_emails_are_found() {
    let s = &*SCANNER;
    let cases: &[(&str, &str)] = &[
        (
            "GET https://api.example.org/v1/users?email=ada%40example.com&page=2",
            "ada%40example.com",
        ),
        (
            "send it to mailto:ada.lovelace%40example.com please",
            "ada.lovelace%40example.com",
        ),
        (
            "mailto%3Acarol.jones%40example.net",
            "carol.jones%40example.net",
        ),
        ("login=Ada%40Example.COM;", "Ada%40Example.COM"),
        (
            "user: bob%2esmith%40example%2eorg",
            "bob%2esmith%40example%2eorg",
        ),
        (
            "%61%64%61%40%65%78%61%6d%70%6c%65%2e%63%6f%6d",
            "%61%64%61%40%65%78%61%6d%70%6c%65%2e%63%6f%6d",
        ),
        (
            "reply-to=ada%2Btag%40example.co.uk&x=1",
            "ada%2Btag%40example.co.uk",
        ),
        (
            "redirect=https%3A%2F%2Fapp.example.org%2Fcb%3Fe%3Ddan%2540example.io",
            "dan%2540example.io",
        ),
        (
            "form: name=Ada+Lovelace&email=ada_l%40example.com&ok=1",
            "ada_l%40example.com",
        ),
        ("contact: %22ada%40example.com%22", "ada%40example.com"),
    ];
    for (text, value) in cases {
        let got: Vec<_> = found(s, text)
            .into_iter()
            .filter(|(e, _)| *e == "EMAIL_ADDRESS")
            .collect();
        assert_eq!(got, [("EMAIL_ADDRESS", value.to_string())], "text {text:?}");
    }
}

/// Escapes around values that are not personal data leave them alone, and an escape that does
/// not decode to text is not an escape.
#[test]
fn encoded_non_values_stay_quiet() {
    let s = &*SCANNER;
    let texts = [
        "search?q=hello%20world&amp;lang=en&amp;page=2",
        "AT&amp;T &lt;b&gt;bold&lt;/b&gt; 100%25 done, 50% off",
        r#"{"msg": "line\nnext \"quoted\" C:\\temp \u00e9t\u00e9"}"#,
        "printf(\"%d items, %s\", n, s); a & b; x \\d+ y; c++ 1+1",
        "%00%01%FF%C3%41 &#0; &#xD800; \\uD800 \\x80",
    ];
    for text in texts {
        assert_eq!(found(s, text), [], "text {text:?}");
    }
}

#[test]
fn hard_negatives_stay_quiet() {
    let s = &*SCANNER;
    let texts = [
        "uuid 550e8400-e29b-41d4-a716-446655440000 and 123e4567-e89b-12d3-a456-426614174000",
        "order #4412983 shipped 2024-03-15T10:32:11Z, total $1,234.56 (v2.10.4, 1.0.0-rc.1)",
        "card 4111 1111 1111 1112 is invalid; so is 1234567812345678",
        "ts=1700000000000 id=98765432101234567890 count=123456789012 pid=4242",
        "let port = 8080; let mask = 0xffffffff; arr[415] = 555 * 2671;",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "ISBN 978-3-16-148410-0, DOI 10.1000/182, lat 51.5074, lon -0.1278",
    ];
    for text in texts {
        assert_eq!(found(s, text), [], "text {text:?}");
    }
}

/// Where entities overlap, what a policy sees: a secret wins over the URL around it, whatever
/// context raised the URL's score; an IP address inside a URL is part of the URL.
#[test]
fn overlapping_entities_resolve_to_the_one_that_matters() {
    let s = &*SCANNER;
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "url: https://deploy:s3cretPassw0rd@db.example.org/app",
            &[("SECRET_URL_CREDENTIALS", "s3cretPassw0rd")],
        ),
        (
            "DATABASE_URL=https://app:Xy7kLq9Pz2@files.example.org/in",
            &[("SECRET_URL_CREDENTIALS", "Xy7kLq9Pz2")],
        ),
        (
            "link: https://example.org/q?x=1&password=Zq81mXo4Lw&host=db",
            &[("SECRET_CONNECTION_STRING", "Zq81mXo4Lw")],
        ),
        (
            "ip address http://10.0.0.7:8080/admin",
            &[("URL", "http://10.0.0.7:8080/admin")],
        ),
        (
            "host=10.0.0.5 port=5432 user=app password=Zq81mXo4Lw",
            &[
                ("IP_ADDRESS", "10.0.0.5"),
                ("SECRET_CONNECTION_STRING", "Zq81mXo4Lw"),
            ],
        ),
    ];
    for (text, expect) in cases {
        let want: Vec<(&str, String)> = expect.iter().map(|(e, v)| (*e, v.to_string())).collect();
        assert_eq!(found(s, text), want, "text {text:?}");
    }
}

fn check_invariants(text: &str, found: &[Finding]) -> Result<(), TestCaseError> {
    let mut last_end = 0;
    for f in found {
        prop_assert!(
            f.start < f.end && f.end <= text.len(),
            "{f:?} out of bounds"
        );
        prop_assert!(
            text.is_char_boundary(f.start) && text.is_char_boundary(f.end),
            "{f:?}"
        );
        prop_assert!(f.start >= last_end, "{f:?} overlaps the previous finding");
        prop_assert!((0.0..=1.0).contains(&f.score));
        last_end = f.end;
    }
    Ok(())
}

/// Pieces that exercise the detectors' edges: digits and separators, letters around numbers,
/// context words, fullwidth and invisible characters, multi-byte text.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,20}",
        "[ .:/()+-]{1,3}",
        "[A-Za-z]{1,6}",
        "[0-9a-fA-F:]{1,12}",
        Just("4111 1111 1111 1111".to_string()),
        Just("+44 (0)20 ".to_string()),
        Just("SSN ".to_string()),
        Just("born ".to_string()),
        Just("phone: ".to_string()),
        Just("aadhaar ".to_string()),
        Just("PAN ".to_string()),
        Just("NI number ".to_string()),
        Just("Steuer-ID ".to_string()),
        Just("GB82 WEST ".to_string()),
        Just("bc1q".to_string()),
        Just("https://".to_string()),
        Just("\u{200b}".to_string()),
        Just("１２３".to_string()),
        Just("é東\u{1F600}".to_string()),
    ]
}

/// Pieces of escapes and what they decode to, so that escapes meet digits, each other and
/// multi-byte text at every position.
fn escape_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,6}",
        "[%&#;x+ .@-]{1,3}",
        "%[0-9a-fA-F]{0,2}",
        "&#x?[0-9a-fA-F]{0,3};?",
        "\\\\[uxn\\\\/]?[0-9a-fA-F{}]{0,4}",
        Just("%25".to_string()),
        Just("%E2%80%8B".to_string()),
        Just("%EF%BC%94".to_string()),
        Just("&amp;".to_string()),
        Just("&commat;".to_string()),
        Just("\\uD83D\\uDE00".to_string()),
        Just("ada".to_string()),
        Just("example.com".to_string()),
        Just("é東\u{1F600}".to_string()),
        Just("\u{200b}".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn scanning_arbitrary_text_is_safe(text in "\\PC{0,200}") {
        let found = SCANNER.scan(&text);
        check_invariants(&text, &found)?;
    }

    /// Arbitrary text made of escapes, parts of escapes and what they decode to: no panic,
    /// offsets on character boundaries of the text as written.
    #[test]
    fn scanning_escape_soup_is_safe(parts in prop::collection::vec(escape_fragment(), 0..40)) {
        let text = parts.concat();
        let found = SCANNER.scan(&text);
        check_invariants(&text, &found)?;
    }

    #[test]
    fn scanning_number_soup_is_safe(parts in prop::collection::vec(fragment(), 0..40)) {
        let text = parts.concat();
        let found = SCANNER.scan(&text);
        check_invariants(&text, &found)?;
    }
}
