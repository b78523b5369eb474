use std::sync::LazyLock;

use super::checksum as ck;
use super::*;
use crate::Scanner;
use crate::detectors::secrets::SECRET_ENTITIES;
use crate::normalize::Normalized;

/// The default policy threshold (see `detectors`).
const THRESHOLD: f32 = 0.5;

static CORPUS: LazyLock<Vec<Sample>> = LazyLock::new(generate);
static REPORT: LazyLock<Report> = LazyLock::new(|| evaluate(&Scanner::all(), &CORPUS, THRESHOLD));

fn count(kind: Kind) -> usize {
    CORPUS.iter().filter(|s| s.kind == kind).count()
}

#[test]
fn generation_is_deterministic() {
    let again = generate();
    assert_eq!(again.len(), CORPUS.len());
    assert!(
        again
            .iter()
            .zip(CORPUS.iter())
            .all(|(a, b)| a.text == b.text && a.labels == b.labels)
    );
    let other = generate_with_seed(SEED + 1);
    assert!(
        other
            .iter()
            .zip(CORPUS.iter())
            .any(|(a, b)| a.text != b.text)
    );
}

#[test]
fn every_entity_is_covered() {
    for entity in PII_ENTITIES.iter().chain(SECRET_ENTITIES) {
        let n = CORPUS
            .iter()
            .flat_map(|s| &s.labels)
            .filter(|l| l.entity == *entity)
            .count();
        assert!(n >= 50, "{entity}: {n} labels");
    }
    assert!(count(Kind::HardNegative) >= 300);
    assert!(count(Kind::Benign) >= 1000);
    assert!(count(Kind::Injection) >= 200);
}

#[test]
fn labels_are_well_formed() {
    for s in CORPUS.iter() {
        // Entity samples hold labels; negatives hold none; an injection may hold a URL.
        match s.kind {
            Kind::Entity => assert!(!s.labels.is_empty(), "{:?}", s.text),
            Kind::HardNegative | Kind::Benign => assert!(s.labels.is_empty(), "{:?}", s.text),
            Kind::Injection => {}
        }
        for l in &s.labels {
            assert!(l.start < l.end && l.end <= s.text.len(), "{:?}", s.text);
            assert!(s.text.is_char_boundary(l.start) && s.text.is_char_boundary(l.end));
            // Labels start and end on the value, never on an inserted invisible character.
            let v = &s.text[l.start..l.end];
            let (first, last) = (v.chars().next(), v.chars().last());
            assert!(
                first.is_some_and(|c| !crate::normalize::is_invisible(c)),
                "{v:?}"
            );
            assert!(
                last.is_some_and(|c| !crate::normalize::is_invisible(c)),
                "{v:?}"
            );
        }
    }
    let texts: std::collections::HashSet<_> = CORPUS
        .iter()
        .filter(|s| s.kind == Kind::Benign)
        .map(|s| s.text.as_str())
        .collect();
    assert_eq!(
        texts.len(),
        count(Kind::Benign),
        "benign prompts are distinct"
    );
}

/// Every labelled checksum value, read back through normalisation, passes the corpus's own check.
#[test]
fn generated_values_carry_valid_check_digits() {
    for s in CORPUS.iter() {
        for l in &s.labels {
            let norm = Normalized::new(&s.text[l.start..l.end]);
            let v: String = norm
                .text()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            let d: Vec<u8> = v
                .bytes()
                .filter(u8::is_ascii_digit)
                .map(|b| b - b'0')
                .collect();
            let ok = match l.entity {
                "CREDIT_CARD" | "CA_SIN" => ck::luhn_valid(&d),
                "IBAN_CODE" => ck::iban_valid(&v),
                "UK_NHS" => ck::nhs_valid(&d),
                "IN_AADHAAR" => ck::verhoeff_valid(&d),
                "AU_TFN" => ck::tfn_valid(&d),
                "DE_TAX_ID" => d.len() == 11 && ck::iso7064_11_10(&d[..10]) == d[10],
                "IT_FISCAL_CODE" => {
                    ck::fiscal_code_char(&v[..15]) == v.chars().last().unwrap_or(' ')
                }
                "SG_NRIC" => {
                    let p = v.chars().next().unwrap_or(' ');
                    ck::nric_letter(p, &d) == v.chars().last().unwrap_or(' ')
                }
                "ES_NIF" => {
                    let n: u32 = match v.chars().next() {
                        Some('Y') => 10_000_000,
                        Some('Z') => 20_000_000,
                        _ => 0,
                    } + v[..v.len() - 1]
                        .trim_start_matches(['X', 'Y', 'Z'])
                        .parse::<u32>()
                        .unwrap();
                    ck::nif_letter(n) == v.chars().last().unwrap_or(' ')
                }
                _ => true,
            };
            assert!(ok, "{} {:?}", l.entity, &s.text[l.start..l.end]);
        }
    }
}

#[test]
fn evaluator_counts_overlaps() {
    let samples = vec![
        fill(Kind::Entity, "mail a@b.io and c@d.io", &[]),
        Sample {
            kind: Kind::Entity,
            text: "mail a@b.io and c@d.io".into(),
            labels: vec![
                Label {
                    entity: "EMAIL_ADDRESS",
                    start: 5,
                    end: 11,
                },
                Label {
                    entity: "EMAIL_ADDRESS",
                    start: 0,
                    end: 4,
                },
            ],
        },
        fill(Kind::HardNegative, "user@localhost", &[]),
    ];
    let r = evaluate(&Scanner::all(), &samples, THRESHOLD);
    let e = r.entity("EMAIL_ADDRESS");
    // Sample 0: two unlabelled findings. Sample 1: one match, one miss, one stray finding.
    assert_eq!((e.tp, e.fp, e.fn_), (1, 3, 1));
    assert_eq!((r.hard_negatives, r.hard_negative_hits), (1, 0));
    assert_eq!(r.misses.len(), 4);
    assert!((e.precision() - 0.25).abs() < 1e-9 && (e.recall() - 0.5).abs() < 1e-9);
    assert!(r.to_string().contains("EMAIL_ADDRESS"));
}

/// The floor for secrets: precision ≥ 0.99 and recall ≥ 0.98 for every secret entity.
#[test]
fn secrets_meet_the_floor() {
    let r = &*REPORT;
    for entity in SECRET_ENTITIES {
        let s = r.entity(entity);
        assert!(s.tp > 0, "{entity} has no true positives\n{r}");
        assert!(
            s.precision() >= 0.99,
            "{entity} precision {:.4}\n{r}",
            s.precision()
        );
        assert!(s.recall() >= 0.98, "{entity} recall {:.4}\n{r}", s.recall());
    }
}

/// The floor for injection heuristics: at most 1% of ≥ 1,000 benign prompts flagged. The
/// detection floor is this corpus's regression guard (its attacks include paraphrases no pattern
/// anticipates, so it is not 100%).
#[test]
fn injection_meets_the_floor() {
    let r = &*REPORT;
    assert!(r.benign >= 1000);
    assert!(r.injection_fp_rate() <= 0.01, "{r}");
    assert!(r.injection_detection_rate() >= 0.9, "{r}");
}

/// The floor for structured PII: precision ≥ 0.99 and recall ≥ 0.98 for every
/// checksum-validated entity, F1 ≥ 0.97 over all structured entities, at most 0.1% of hard
/// negatives flagged.
#[test]
fn pii_meets_the_floor() {
    let r = &*REPORT;
    let mut short = Vec::new();
    for entity in CHECKSUM_ENTITIES {
        let s = r.entity(entity);
        if s.precision() < 0.99 || s.recall() < 0.98 {
            short.push(format!(
                "{entity}: p {:.4} r {:.4}",
                s.precision(),
                s.recall()
            ));
        }
    }
    let all = r.micro(PII_ENTITIES);
    if all.f1() < 0.97 {
        short.push(format!("structured F1 {:.4}", all.f1()));
    }
    if r.hard_negative_fp_rate() > 0.001 {
        short.push(format!("hard negatives {:.4}", r.hard_negative_fp_rate()));
    }
    assert!(short.is_empty(), "{short:?}\n{r}");
}
