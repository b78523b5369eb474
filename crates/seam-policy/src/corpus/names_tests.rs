#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::sync::LazyLock;

use super::*;
use crate::Finding;

static NAMES: LazyLock<Vec<NameSample>> = LazyLock::new(|| generate_names(NAMES_SEED));

#[test]
fn names_generation_is_deterministic() {
    let again = generate_names(NAMES_SEED);
    assert_eq!(again, *NAMES);
    let other = generate_names(NAMES_SEED + 1);
    assert_eq!(other.len(), NAMES.len());
    assert!(
        other
            .iter()
            .zip(NAMES.iter())
            .any(|(a, b)| a.text != b.text)
    );
}

#[test]
fn names_corpus_has_about_1400_samples() {
    assert!((1300..=1500).contains(&NAMES.len()), "{}", NAMES.len());
}

#[test]
fn names_labels_are_on_char_boundaries_sorted_and_disjoint() {
    for s in NAMES.iter() {
        let mut end = 0;
        for l in &s.labels {
            assert!(l.start < l.end, "empty label in {:?}", s.text);
            assert!(l.start >= end, "overlapping labels in {:?}", s.text);
            assert!(s.text.is_char_boundary(l.start) && s.text.is_char_boundary(l.end));
            assert!(NAME_ENTITIES.contains(&l.entity));
            let v = &s.text[l.start..l.end];
            assert_eq!(v.trim(), v, "label with surrounding space in {:?}", s.text);
            end = l.end;
        }
    }
}

#[test]
fn every_language_has_every_form() {
    let langs = name_languages();
    assert_eq!(langs, ["en", "de", "fr", "es", "it", "nl", "pt"]);
    for lang in &langs {
        for form in NAME_FORMS {
            let n = NAMES
                .iter()
                .filter(|s| s.lang == *lang && s.form == *form)
                .count();
            assert!(n >= 12, "{lang}/{form}: {n}");
        }
        let neg = NAMES
            .iter()
            .filter(|s| s.lang == *lang && s.negative)
            .count();
        assert!(neg >= 30, "{lang}: {neg} negatives");
    }
}

#[test]
fn negatives_are_at_least_15_percent_and_unlabelled() {
    let neg: Vec<_> = NAMES.iter().filter(|s| s.negative).collect();
    assert!(
        neg.len() * 100 >= NAMES.len() * 15,
        "{} of {}",
        neg.len(),
        NAMES.len()
    );
    for s in &neg {
        assert!(s.labels.is_empty(), "{:?}", s.text);
        assert_eq!(s.form, NEGATIVE_FORM);
    }
    for s in NAMES.iter().filter(|s| !s.negative) {
        assert!(!s.labels.is_empty(), "{:?}", s.text);
        assert!(NAME_FORMS.contains(&s.form));
    }
}

#[test]
fn forms_are_written_as_named() {
    for s in NAMES.iter() {
        let values = || s.labels.iter().map(|l| &s.text[l.start..l.end]);
        let persons = || {
            s.labels
                .iter()
                .filter(|l| l.entity == "PERSON")
                .map(|l| &s.text[l.start..l.end])
        };
        match s.form {
            "lowercase" => assert_eq!(s.text, s.text.to_lowercase()),
            "uppercase" => assert!(persons().all(|v| v == v.to_uppercase()), "{:?}", s.text),
            "last_first" => assert!(persons().all(|v| v.contains(", ")), "{:?}", s.text),
            "non_ascii" => assert!(persons().any(|v| !v.is_ascii()), "{:?}", s.text),
            "first_only" => assert!(persons().all(|v| !v.contains(',')), "{:?}", s.text),
            "place" => assert!(s.labels.iter().all(|l| l.entity == "LOCATION")),
            "address" => assert!(s.labels.iter().any(|l| l.entity == "STREET_ADDRESS")),
            "mixed" => {
                let kinds: std::collections::HashSet<_> =
                    s.labels.iter().map(|l| l.entity).collect();
                assert!(kinds.len() >= 2, "{:?}", s.text);
            }
            _ => {}
        }
        // Titles and articles stay outside the labels.
        for v in values() {
            for t in [
                "Dr.", "Mrs", "Herr ", "Frau ", "Mme ", "Sr. ", "Sig.", "Dhr.", "the ",
            ] {
                assert!(!v.starts_with(t), "{v:?} in {:?}", s.text);
            }
        }
    }
}

#[test]
fn names_come_from_other_cultures_and_places_vary_in_each_language() {
    use super::names_data::{FOREIGN, LOCALES};
    use std::collections::HashSet;
    let tokens = |v: &str| -> Vec<String> {
        v.split([' ', ',', '-'])
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    // A name word counts as foreign only when no local list has it too ("Le", "Berg").
    let local: HashSet<String> = LOCALES
        .iter()
        .flat_map(|l| l.local.f.iter().chain(l.local.m).chain(l.local.s))
        .flat_map(|n| tokens(n))
        .collect();
    let foreign: HashSet<String> = FOREIGN
        .iter()
        .flat_map(|c| c.f.iter().chain(c.m).chain(c.s))
        .flat_map(|n| tokens(n))
        .filter(|t| !local.contains(t))
        .collect();
    for lang in name_languages() {
        let in_lang = || NAMES.iter().filter(|s| s.lang == lang);
        let persons: Vec<&str> = in_lang()
            .flat_map(|s| {
                s.labels
                    .iter()
                    .filter(|l| l.entity == "PERSON")
                    .map(|l| &s.text[l.start..l.end])
            })
            .collect();
        let other = persons
            .iter()
            .filter(|v| tokens(v).iter().any(|t| foreign.contains(t)))
            .count();
        assert!(
            other * 100 >= persons.len() * 30,
            "{lang}: {other} of {}",
            persons.len()
        );
        for entity in ["LOCATION", "STREET_ADDRESS", "PERSON"] {
            let distinct: HashSet<&str> = in_lang()
                .flat_map(|s| {
                    s.labels
                        .iter()
                        .filter(|l| l.entity == entity)
                        .map(|l| &s.text[l.start..l.end])
                })
                .collect();
            assert!(distinct.len() >= 20, "{lang} {entity}: {}", distinct.len());
        }
    }
    // Countries, regions and cities, each in the sentence's language.
    for loc in LOCALES {
        let labelled: HashSet<&str> = NAMES
            .iter()
            .filter(|s| s.lang == loc.lang)
            .flat_map(|s| s.labels.iter().map(|l| &s.text[l.start..l.end]))
            .collect();
        let name = |p: &&str| p.rsplit('|').next().unwrap_or(p).to_string();
        for (what, list) in [
            ("countries", loc.countries),
            ("regions", loc.regions),
            ("cities", loc.cities),
        ] {
            let used = list.iter().filter(|p| labelled.contains(name(p).as_str()));
            assert!(used.count() >= 4, "{} {what}", loc.lang);
        }
    }
    // Greetings open with several of each language's salutations.
    for lang in name_languages() {
        let openers: HashSet<&str> = NAMES
            .iter()
            .filter(|s| s.lang == lang && s.form == "greeting")
            .filter_map(|s| s.text.split([' ', ',']).next())
            .collect();
        assert!(openers.len() >= 3, "{lang}: {openers:?}");
    }
}

fn finding(entity: &'static str, start: usize, end: usize, score: f32) -> Finding {
    Finding {
        entity,
        start,
        end,
        score,
        detector: "fake",
    }
}

fn sample(text: &str, labels: &[(&'static str, usize, usize)], negative: bool) -> NameSample {
    NameSample {
        text: text.to_string(),
        labels: labels
            .iter()
            .map(|&(entity, start, end)| Label { entity, start, end })
            .collect(),
        lang: if negative { "de" } else { "en" },
        form: if negative { NEGATIVE_FORM } else { "mixed" },
        negative,
    }
}

#[test]
fn evaluator_counts_overlaps_bytes_and_negatives() {
    // "Ada Lovelace lives at 12 Elm Road, London."
    //  0   4        13    19 22         34 36    42
    let text = "Ada Lovelace lives at 12 Elm Road, London.";
    let samples = vec![
        sample(
            text,
            &[
                ("PERSON", 0, 12),
                ("STREET_ADDRESS", 22, 33),
                ("LOCATION", 35, 41),
            ],
            false,
        ),
        sample("Schick es am Montag.", &[], true),
        sample("Fasse den Bericht zusammen.", &[], true),
    ];
    let mut scan = |t: &str| -> Vec<Finding> {
        match t {
            // The surname alone: found by overlap. The address masked as a place: a miss and a
            // false positive, yet its bytes count as masked. A low-scored finding is dropped, and
            // an entity outside the three is ignored.
            _ if t == text => vec![
                finding("PERSON", 4, 12, 0.9),
                finding("LOCATION", 22, 28, 0.8),
                finding("LOCATION", 35, 41, 0.3),
                finding("EMAIL_ADDRESS", 0, 41, 1.0),
            ],
            "Schick es am Montag." => vec![finding("PERSON", 13, 19, 0.7)],
            _ => Vec::new(),
        }
    };
    let r = evaluate_names(&samples, &mut scan, 0.5);
    let person = r.entity("PERSON");
    assert_eq!((person.tp, person.fp, person.fn_), (1, 1, 0));
    let street = r.entity("STREET_ADDRESS");
    assert_eq!((street.tp, street.fp, street.fn_), (0, 0, 1));
    let loc = r.entity("LOCATION");
    assert_eq!((loc.tp, loc.fp, loc.fn_), (0, 1, 1));
    let m = r.micro();
    assert_eq!((m.tp, m.fp, m.fn_), (1, 2, 2));
    // Labelled: 12 + 11 + 6 = 29 bytes; masked: 8 of the name, 6 of the street.
    assert_eq!((r.labelled_bytes, r.masked_bytes), (29, 14));
    assert_eq!((r.negatives, r.negatives_flagged), (2, 1));
    assert!((r.negatives_flagged_share() - 0.5).abs() < 1e-9);
    // English holds the labels; the German negatives hold one false positive.
    let de = r.language("de").unwrap().micro();
    assert_eq!((de.tp, de.fp, de.fn_), (0, 1, 0));
    assert_eq!(r.non_english().f1(), 0.0);
    let en = r.language("en").unwrap().micro();
    assert_eq!((en.tp, en.fp, en.fn_), (1, 1, 2));
    let mixed = r.form("mixed").unwrap();
    assert_eq!(
        (mixed.labels, mixed.found, mixed.false_positives),
        (3, 1, 1)
    );
    assert!((mixed.recall() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(r.form(NEGATIVE_FORM).unwrap().false_positives, 1);
    assert_eq!(r.misses.iter().filter(|m| m.false_positive).count(), 2);
    assert_eq!(r.misses.iter().filter(|m| !m.false_positive).count(), 2);
    let shown = r.to_string();
    assert!(shown.contains("| PERSON | 1 | 1 | 0 |"), "{shown}");
    assert!(
        shown.contains("| negatives flagged | 50.00% (1 of 2) |"),
        "{shown}"
    );
    assert!(
        shown.contains("| negative | 2 | 0 | 0 | – | 1 |"),
        "{shown}"
    );
    assert!(
        shown.contains("| mixed | 1 | 3 | 1 | 0.3333 | 1 |"),
        "{shown}"
    );
}

#[test]
fn a_perfect_scan_scores_one_and_flags_nothing() {
    let samples = &NAMES[..];
    let mut scan = |t: &str| -> Vec<Finding> {
        samples
            .iter()
            .find(|s| s.text == t)
            .map(|s| {
                s.labels
                    .iter()
                    .map(|l| finding(l.entity, l.start, l.end, 1.0))
                    .collect()
            })
            .unwrap_or_default()
    };
    let r = evaluate_names(samples, &mut scan, 0.5);
    assert_eq!(r.micro().f1(), 1.0);
    assert_eq!(r.non_english().f1(), 1.0);
    assert_eq!(r.masked_share(), 1.0);
    assert_eq!(r.negatives_flagged, 0);
    assert!(r.misses.is_empty());
    assert!(r.forms.iter().all(|f| f.recall() == 1.0));
}
