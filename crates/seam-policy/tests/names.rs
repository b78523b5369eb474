//! Names, places and addresses on the names corpus (seven languages, twelve forms, hard
//! negatives): the floors, by rules alone and with the named-entity model, and the model through
//! a policy (tokenize, restore across stream chunks). The model tests need `seam models fetch`
//! (SEAM_MODELS_DIR); without it they say so and pass, unless SEAM_REQUIRE_MODELS=1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::sync::{Arc, LazyLock};

use seam_config::{Action, ClassRule, Entities, PolicyConfig};
use seam_policy::corpus::{self, NameSample};
use seam_policy::{Escape, OutputFilter, Policy, Scanner, Tag, Tagger, Tagging, Vault};

struct Model(seam_ner::Model);

impl Tagger for Model {
    fn tag(&self, texts: &[&str]) -> Vec<Vec<Tag>> {
        self.0
            .tag(texts)
            .into_iter()
            .map(|v| {
                v.into_iter()
                    .map(|t| Tag {
                        label: t.label,
                        start: t.start,
                        end: t.end,
                        score: t.score,
                    })
                    .collect()
            })
            .collect()
    }
}

static MODEL: LazyLock<Option<Arc<dyn Tagger>>> = LazyLock::new(|| {
    let dir = seam_ner::default_dir().filter(|d| d.join("model_q4.onnx").is_file());
    let Some(dir) = dir else {
        assert!(
            std::env::var("SEAM_REQUIRE_MODELS").as_deref() != Ok("1"),
            "SEAM_REQUIRE_MODELS=1 but no model in {:?}",
            seam_ner::default_dir()
        );
        eprintln!("skipped: no model installed; run `seam models fetch` (or set SEAM_MODELS_DIR)");
        return None;
    };
    Some(Arc::new(Model(seam_ner::Model::load(&dir).unwrap())))
});

static CORPUS: LazyLock<Vec<NameSample>> =
    LazyLock::new(|| corpus::generate_names(corpus::NAMES_SEED));

#[test]
fn rules_alone_are_precise_and_find_most_names() {
    let scanner = Scanner::all();
    let r = corpus::evaluate_names(&CORPUS, &mut |t| scanner.scan(t), 0.5);
    let micro = r.micro();
    assert!(micro.precision() >= 0.98, "{r}");
    assert!(micro.f1() >= 0.80, "{r}");
    assert!(r.negatives_flagged_share() <= 0.01, "{r}");
}

#[test]
fn rules_and_model_meet_the_targets() {
    let Some(model) = MODEL.clone() else { return };
    let scanner = Scanner::all().with_tagger(model);
    let r = corpus::evaluate_names(
        &CORPUS,
        &mut |t| scanner.scan_tagged(t, Tagging::Inline(usize::MAX)),
        0.5,
    );
    // Measured 0.947 / 0.943 / 90.5 % / 3.6 % (BENCHMARKS.md); the floors leave a little room.
    assert!(r.micro().f1() >= 0.93, "{r}");
    assert!(r.non_english().f1() >= 0.90, "{r}");
    assert!(r.masked_share() >= 0.88, "{r}");
    assert!(r.negatives_flagged_share() <= 0.05, "{r}");
    for e in ["PERSON", "LOCATION", "STREET_ADDRESS"] {
        assert!(r.entity(e).f1() >= 0.90, "{e}: {r}");
    }
}

fn tokenize_names() -> PolicyConfig {
    let mut p = PolicyConfig::empty("names");
    p.input.rules.pii = Some(ClassRule {
        action: Action::Tokenize,
        entities: Entities::All,
        min_score: 0.5,
    });
    p
}

#[test]
fn the_model_finds_what_rules_cannot_and_tokens_come_back_in_any_chunking() {
    let Some(model) = MODEL.clone() else { return };
    let scanner = Arc::new(Scanner::all().with_tagger(model));
    let policy = Arc::new(Policy::compile(&tokenize_names(), scanner, b"k").unwrap());
    assert!(policy.input_model().is_some());
    // No title, greeting or gazetteer full name: the model's call.
    let text = "Ticket 7: Oluwaseun Adeyemi moved to 4 Rue Oberkampf in Lyon last week.";
    let mut vault = Vault::new();
    let mut records = Vec::new();
    let out = policy.input_text(text, "messages[0].content", &mut vault, &mut records);
    let sent = out.text.expect("rewritten");
    for value in ["Oluwaseun", "Adeyemi", "Oberkampf", "Lyon"] {
        assert!(!sent.contains(value), "{value} reached the vendor: {sent}");
    }
    let entities: Vec<&str> = records.iter().map(|r| r.entity).collect();
    assert!(entities.contains(&"PERSON"), "{records:?}");
    assert!(entities.contains(&"LOCATION"), "{records:?}");
    // The answer repeats the tokens, split at every byte boundary; the client gets the values.
    let vault = Arc::new(vault);
    let filter = OutputFilter::new(Arc::clone(&policy), vault).unwrap();
    for size in [1, 2, 3, 5, 8, 13] {
        let mut stream = filter.stream("choices[0].delta.content", Escape::None);
        let mut got = String::new();
        let mut recs = Vec::new();
        let bytes = sent.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let mut end = (at + size).min(bytes.len());
            while !sent.is_char_boundary(end) {
                end += 1;
            }
            got.push_str(&stream.push(&sent[at..end], &mut recs));
            at = end;
        }
        got.push_str(&stream.finish(&mut recs));
        assert_eq!(got, text, "chunks of {size}");
    }
}

#[test]
fn ner_false_keeps_a_policy_on_rules() {
    let Some(model) = MODEL.clone() else { return };
    let scanner = Arc::new(Scanner::all().with_tagger(model));
    let mut cfg = tokenize_names();
    cfg.ner = false;
    let policy = Policy::compile(&cfg, scanner, b"k").unwrap();
    assert!(policy.input_model().is_none());
    assert!(policy.wants_names());
}

#[test]
fn a_name_inside_an_email_address_is_the_email_address() {
    let Some(model) = MODEL.clone() else { return };
    let scanner = Scanner::all().with_tagger(model);
    let text = "customer 7: Ada Lovelace, email ada.lovelace@example.com, card 4111 1111 1111 1111";
    let found: Vec<(&str, &str)> = scanner
        .scan_tagged(text, Tagging::Inline(usize::MAX))
        .iter()
        .filter(|f| f.score >= 0.5)
        .map(|f| (f.entity, &text[f.start..f.end]))
        .collect();
    assert_eq!(
        found,
        [
            ("PERSON", "Ada Lovelace"),
            ("EMAIL_ADDRESS", "ada.lovelace@example.com"),
            ("CREDIT_CARD", "4111 1111 1111 1111"),
        ]
    );
}

#[test]
fn lower_case_chat_names_after_a_preposition_or_verb_count_by_rules() {
    let scanner = Scanner::all();
    let person = |text: &str| -> Vec<String> {
        scanner
            .scan(text)
            .iter()
            .filter(|f| f.entity == "PERSON" && f.score >= 0.5)
            .map(|f| text[f.start..f.end].to_owned())
            .collect()
    };
    assert_eq!(person("kannst du das an detlef schicken"), ["detlef"]);
    assert_eq!(person("tell john i'm late"), ["john"]);
    // A given name that is also a word, with nothing around it that addresses a person.
    assert!(person("server at 192.168.10.20").is_empty());
    assert!(person("Server at 192.168.10.20").is_empty());
}

#[test]
fn in_a_long_text_the_model_reads_only_around_what_the_rules_left_open() {
    let filler =
        "the quarterly numbers were reviewed and the team agreed on next steps. ".repeat(30);
    let text = format!("{filler}Then Oluwaseun Adeyemi asked for the report. {filler}");
    let scanner = Scanner::all();
    let windows = scanner.model_windows(&Scanner::model_input(&text));
    let read: usize = windows.iter().map(|w| w.len()).sum();
    assert!(!windows.is_empty() && read < text.len() / 10, "{windows:?}");
    let name = text.find("Oluwaseun").unwrap();
    assert!(windows.iter().any(|w| w.start < name && name + 17 < w.end));
    let Some(model) = MODEL.clone() else { return };
    let scanner = Scanner::all().with_tagger(model);
    let found: Vec<&str> = scanner
        .scan_tagged(&text, Tagging::Inline(usize::MAX))
        .iter()
        .filter(|f| f.entity == "PERSON" && f.score >= 0.5)
        .map(|f| &text[f.start..f.end])
        .collect();
    assert_eq!(found, ["Oluwaseun Adeyemi"]);
}

#[test]
fn an_identifier_with_a_name_in_it_is_not_a_person() {
    let Some(model) = MODEL.clone() else { return };
    let scanner = Scanner::all().with_tagger(model);
    let people = |text: &str| -> Vec<String> {
        scanner
            .scan_tagged(text, Tagging::Inline(usize::MAX))
            .iter()
            .filter(|f| f.entity == "PERSON" && f.score >= 0.5)
            .map(|f| text[f.start..f.end].to_owned())
            .collect()
    };
    assert!(people("2 orders match orders of agent-ada: #41 shipped").is_empty());
    assert_eq!(people("tell jean-pierre i'm late"), ["jean-pierre"]);
}
