#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
use serde_json::json;

use super::*;

const SUPPORT: &str = "---
description: Answers a support ticket.
model: support
params: { temperature: 0.2 }
system: You are {{ company }}'s support agent. Answer in {{ language }}.
vars:
  type: object
  required: [company, ticket]
  properties:
    company: { type: string }
    ticket: { type: string, maxLength: 50 }
    language: { type: string, default: English }
---
Ticket: {{ ticket }}
";

#[test]
fn a_prompt_renders_with_its_variables_and_defaults() {
    let p = Prompt::parse("support-answer", SUPPORT).unwrap();
    assert_eq!(p.model.as_deref(), Some("support"));
    assert_eq!(p.params.get("temperature"), Some(&json!(0.2)));
    assert_eq!(p.variables(), ["company", "language", "ticket"]);
    let r = p
        .render(&json!({"company": "Acme", "ticket": "My order is late"}))
        .unwrap();
    assert_eq!(
        r.system.as_deref(),
        Some("You are Acme's support agent. Answer in English.")
    );
    assert_eq!(r.user, "Ticket: My order is late");
}

#[test]
fn a_missing_or_invalid_variable_is_named_and_its_value_never_repeated() {
    let p = Prompt::parse("support-answer", SUPPORT).unwrap();
    let e = p.render(&json!({"company": "Acme"})).unwrap_err();
    assert_eq!(e.var, "ticket");
    let secret = "x".repeat(60);
    let e = p
        .render(&json!({"company": "Acme", "ticket": secret}))
        .unwrap_err();
    assert_eq!(e.var, "ticket");
    assert!(!e.to_string().contains(&secret), "{e}");
    let e = p.render(&json!(["not", "an", "object"])).unwrap_err();
    assert_eq!(e.var, "");
    // Without a schema, a variable the template uses must still be given.
    let bare = Prompt::parse("bare", "Hello {{ name }}").unwrap();
    assert_eq!(bare.render(&Value::Null).unwrap_err().var, "name");
    assert_eq!(
        bare.render(&json!({"name": "Ada"})).unwrap().user,
        "Hello Ada"
    );
}

#[test]
fn the_version_is_the_content_hash() {
    let a = Prompt::parse("p", SUPPORT).unwrap();
    let c = Prompt::parse("q", SUPPORT).unwrap();
    assert_eq!(a.version.len(), 12);
    assert_eq!(a.version, c.version, "the name is not content");
    assert_eq!(a.version, version_of(SUPPORT));
    let edited = Prompt::parse("p", &SUPPORT.replace("Ticket:", "Issue:")).unwrap();
    assert_ne!(a.version, edited.version);
}

#[test]
fn bad_files_are_refused_with_a_reason() {
    for (name, source, want) in [
        ("Bad Name", "hi", "not a prompt name"),
        ("p", "---\nmodel: a\nHello", "no closing"),
        ("p", "---\nmodle: a\n---\nHello", "unknown field"),
        (
            "p",
            "---\nvars: { type: 12 }\n---\nHello",
            "vars: not a valid JSON Schema",
        ),
        (
            "p",
            "---\nparams: [1]\n---\nHello",
            "`params` must be a mapping",
        ),
        ("p", "---\nparams: { model: x }\n---\nHello", "params.model"),
        ("p", "Hello {{ name ", "template"),
    ] {
        let e = Prompt::parse(name, source).unwrap_err();
        assert!(e.contains(want), "{name:?} {source:?}: {e}");
    }
}

#[test]
fn a_folder_loads_every_prompt_and_names_each_bad_file() {
    let dir = std::env::temp_dir().join(format!("seam-prompts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("support-answer.prompt"), SUPPORT).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a prompt").unwrap();
    let r = Registry::load(&dir).unwrap();
    assert_eq!(r.len(), 1);
    assert!(r.get("support-answer").is_some());
    std::fs::write(dir.join("broken.prompt"), "---\nmodel: a\n").unwrap();
    let errors = Registry::load(&dir).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("broken.prompt"), "{errors:?}");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(Registry::load(&dir).unwrap().is_empty());
}

#[test]
fn a_reference_is_a_name_with_a_version_or_a_tag() {
    let v = |s: &str| Some(Ref::Version(s.to_owned()));
    let t = |s: &str| Some(Ref::Tag(s.to_owned()));
    for (input, name, want) in [
        ("support", "support", None),
        ("support@3f2a1b4c5d6e", "support", v("3f2a1b4c5d6e")),
        ("support@000000000000", "support", v("000000000000")),
        ("support@prod", "support", t("prod")),
        ("support@v1.2_rc-3", "support", t("v1.2_rc-3")),
        ("support@3f2a1b4c5d6", "support", t("3f2a1b4c5d6")), // 11 hex digits: a tag
        ("support@3f2a1b4c5d6e0", "support", t("3f2a1b4c5d6e0")), // 13
        ("support@3f2a1b4c5d6g", "support", t("3f2a1b4c5d6g")), // not hex
        ("a_b-1@0", "a_b-1", t("0")),
    ] {
        assert_eq!(parse_ref(input), Ok((name.to_owned(), want)), "{input}");
    }
    let long = format!("p@{}", "a".repeat(64));
    assert!(parse_ref(&long).is_ok());
    for bad in [
        "",
        "@prod",
        "Support@prod",
        "support@",
        "support@Prod",
        "support@3F2A1B4C5D6E", // versions are lower-case
        "support@-x",
        "support@.x",
        "support@a@b",
        "support@a b",
        "support@a/b",
        &format!("p@{}", "a".repeat(65)),
    ] {
        assert!(parse_ref(bad).is_err(), "{bad:?} was accepted");
    }
    assert!(
        parse_ref("support@Prod")
            .unwrap_err()
            .contains("neither a version")
    );
    assert_eq!(Ref::parse("prod").unwrap().as_str(), "prod");
}
