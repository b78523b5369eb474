//! Glob aliases (`[models."claude-*"]`) and `{model}` targets: which alias serves a name, what
//! the upstream is asked for, and the bound on remembered names.

use std::path::PathBuf;

use seam_config::Resolver;
use seam_router::Placement;
use seam_types::chat::ChatRequest;
use serde_json::json;

use super::*;
use crate::routes::{MAX_GLOB_NAME, MAX_MATCHED_NAMES};

fn gateway(toml: &str) -> Gateway {
    let r = Resolver {
        env: &|_| None,
        base_dir: PathBuf::from("."),
    };
    let cfg = seam_config::from_toml(toml, &r).unwrap();
    Gateway::new(&cfg, &Arc::new(Registry::new())).unwrap()
}

fn chat(model: &str) -> ChatRequest {
    serde_json::from_value(json!({
        "model": model,
        "messages": [{"role": "user", "content": "hello"}]
    }))
    .unwrap()
}

const AGENTS: &str = r#"
[providers.vendor]
kind = "echo"
[providers.local]
kind = "echo"
[models."claude-*"]
targets = [{ provider = "vendor", model = "{model}" }]
[models."claude-haiku-*"]
targets = [{ provider = "local", model = "qwen3-8b" }]
[models.claude-pinned]
targets = [{ provider = "local", model = "pinned" }]
[models."gpt-*"]
targets = [{ provider = "vendor", model = "openai.{model}" }, { provider = "local", model = "qwen3-32b" }]
"#;

/// (requested, route that answers, model the upstream is asked for)
async fn answers(g: &Gateway, model: &str) -> (String, String) {
    let out = g
        .chat(&chat(model), &Placement::default(), None)
        .await
        .unwrap();
    (out.route, out.value.model)
}

#[tokio::test]
async fn a_glob_alias_passes_the_requested_name_to_its_target() {
    let g = gateway(AGENTS);
    for (asked, route, upstream) in [
        (
            "claude-sonnet-4-5-20250929",
            "vendor/claude-sonnet-4-5-20250929",
            "claude-sonnet-4-5-20250929",
        ),
        (
            "claude-opus-4-1",
            "vendor/claude-opus-4-1",
            "claude-opus-4-1",
        ),
        // `{model}` inside a longer name: a vendor's prefix.
        (
            "gpt-5-codex",
            "vendor/openai.gpt-5-codex",
            "openai.gpt-5-codex",
        ),
    ] {
        let (r, m) = answers(&g, asked).await;
        assert_eq!((r.as_str(), m.as_str()), (route, upstream), "{asked}");
    }
    let route = g.resolve("gpt-5").unwrap();
    assert_eq!(
        route.name, "gpt-*",
        "policies and contracts are the alias's"
    );
    let labels: Vec<&str> = route.targets.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["vendor/openai.gpt-5", "local/qwen3-32b"]);
}

#[tokio::test]
async fn an_exact_alias_beats_a_glob_and_the_longest_literal_wins() {
    let g = gateway(AGENTS);
    for (asked, alias, route) in [
        ("claude-pinned", "claude-pinned", "local/pinned"),
        ("claude-haiku-4-5", "claude-haiku-*", "local/qwen3-8b"),
        ("claude-haiku-", "claude-haiku-*", "local/qwen3-8b"),
        ("claude-3-haiku", "claude-*", "vendor/claude-3-haiku"),
    ] {
        assert_eq!(g.alias_of(asked), Some(alias), "{asked}");
        assert!(g.is_alias(asked));
        assert_eq!(answers(&g, asked).await.0, route, "{asked}");
    }
    for asked in ["claude", "gpt", "vendor/claude-x", "local/x", "nope"] {
        assert_eq!(g.alias_of(asked), None, "{asked}");
    }
    assert_eq!(
        g.aliases(),
        ["claude-*", "claude-haiku-*", "claude-pinned", "gpt-*"]
    );
}

#[test]
fn globs_that_tie_on_literal_text_go_by_fewer_stars_then_by_name() {
    let g = gateway(
        r#"
[providers.e]
kind = "echo"
[models."*ab*"]
targets = [{ provider = "e", model = "m" }]
[models."ab*"]
targets = [{ provider = "e", model = "m" }]
[models."*-4"]
targets = [{ provider = "e", model = "m" }]
[models."x-*"]
targets = [{ provider = "e", model = "m" }]
"#,
    );
    assert_eq!(g.alias_of("abc"), Some("ab*"));
    assert_eq!(g.alias_of("cabc"), Some("*ab*"));
    assert_eq!(g.alias_of("x-4"), Some("*-4"), "sorts before x-*");
    assert_eq!(g.alias_of("x-5"), Some("x-*"));
}

#[test]
fn a_catch_all_serves_every_name_even_provider_model() {
    let g = gateway(
        r#"
[providers.e]
kind = "echo"
[models."*"]
targets = [{ provider = "e", model = "{model}" }]
[models.chat]
targets = [{ provider = "e", model = "fixed" }]
"#,
    );
    assert_eq!(g.alias_of("chat"), Some("chat"));
    assert_eq!(g.alias_of("anything"), Some("*"));
    assert_eq!(g.alias_of(""), Some("*"));
    assert_eq!(g.alias_of("e/direct"), Some("*"));
    assert_eq!(
        g.resolve("e/direct").unwrap().targets[0].label,
        "e/e/direct"
    );
    let long = "m".repeat(MAX_GLOB_NAME + 1);
    assert_eq!(g.alias_of(&long), None, "too long for any glob");
    assert!(g.resolve(&long).is_err());
}

#[test]
fn an_exact_alias_may_name_its_own_name_upstream() {
    let g = gateway(
        r#"
[providers.e]
kind = "echo"
[models.claude-sonnet-4-5]
targets = [{ provider = "e", model = "{model}" }, { provider = "e", model = "us.{model}-v1" }]
"#,
    );
    let route = g.resolve("claude-sonnet-4-5").unwrap();
    let labels: Vec<&str> = route.targets.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["e/claude-sonnet-4-5", "e/us.claude-sonnet-4-5-v1"]);
    assert_eq!(route.targets[0].metric_model, "claude-sonnet-4-5");
}

#[test]
fn routes_per_name_are_remembered_and_bounded() {
    let g = gateway(AGENTS);
    let first = g.resolve("claude-a").unwrap();
    assert!(Arc::ptr_eq(&first, &g.resolve("claude-a").unwrap()));
    // A glob with no `{model}` target serves every name with one route.
    assert!(Arc::ptr_eq(
        &g.resolve("claude-haiku-1").unwrap(),
        &g.resolve("claude-haiku-2").unwrap()
    ));
    for i in 0..MAX_MATCHED_NAMES + 10 {
        let name = format!("claude-n{i}");
        assert_eq!(g.resolve(&name).unwrap().targets[0].model, name);
    }
    assert_eq!(g.table.matched_len(), MAX_MATCHED_NAMES);
    // The oldest was forgotten, and is built again on demand.
    let again = g.resolve("claude-a").unwrap();
    assert!(!Arc::ptr_eq(&first, &again));
    assert_eq!(again.targets[0].label, "vendor/claude-a");
    // Metrics keep the configured text, never the client's name.
    assert_eq!(again.targets[0].metric_model, "{model}");
}

#[test]
fn a_name_a_glob_matched_is_recorded_as_the_clients_string() {
    let g = gateway(AGENTS);
    assert_eq!(g.model_for_record("claude-pinned"), "claude-pinned");
    assert_eq!(g.model_for_record("claude-sonnet-4-5"), "claude-sonnet-4-5");
    let recorded = g.model_for_record("claude-jane.doe@example.com");
    assert!(!recorded.contains("jane.doe"), "{recorded}");
}

/// The reference: every glob that matches (by a naive recursive matcher), the most specific
/// by (literal characters, fewer stars, name).
fn naive(globs: &[String], name: &str) -> Option<String> {
    fn matches(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => (0..=s.len()).any(|i| matches(rest, &s[i..])),
            Some((c, rest)) => s.first() == Some(c) && matches(rest, &s[1..]),
        }
    }
    let name: Vec<char> = name.chars().collect();
    globs
        .iter()
        .filter(|g| matches(&g.chars().collect::<Vec<_>>(), &name))
        .min_by_key(|g| {
            let stars = g.matches('*').count();
            (
                std::cmp::Reverse(g.chars().count() - stars),
                stars,
                (*g).clone(),
            )
        })
        .cloned()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
    #[test]
    fn alias_of_agrees_with_a_naive_matcher(
        globs in proptest::collection::btree_set("[ab*é]{0,5}\\*[ab*é]{0,3}", 1..6),
        names in proptest::collection::vec("[abé]{0,8}", 1..12),
    ) {
        let globs: Vec<String> = globs.into_iter().collect();
        let mut toml = String::from("[providers.e]\nkind = \"echo\"\n");
        for g in &globs {
            toml.push_str(&format!(
                "[models.\"{g}\"]\ntargets = [{{ provider = \"e\", model = \"{{model}}\" }}]\n"
            ));
        }
        let gw = gateway(&toml);
        for name in &names {
            let want = naive(&globs, name);
            proptest::prop_assert_eq!(gw.alias_of(name), want.as_deref(), "{}", name);
            if let Some(alias) = want {
                let route = gw.resolve(name).unwrap();
                proptest::prop_assert_eq!(&route.name, &alias);
                proptest::prop_assert_eq!(&route.targets[0].model, name);
            }
        }
    }
}
