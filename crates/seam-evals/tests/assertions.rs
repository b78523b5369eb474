//! Assertions as a suite author sees them: parsed from YAML-as-JSON, graded against fixed
//! outputs, combined per test. Model-graded ones run against a fake judge with canned replies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::collections::VecDeque;
use std::sync::Mutex;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use seam_evals::assertions::{SUPPORTED, grade, grade_all, parse};
use seam_evals::{Context, EvalError, Grade, Judge, Output, Tokens};
use serde_json::{Map, Value, json};

fn text(s: &str) -> Output {
    Output {
        text: s.to_owned(),
        finish_reason: Some("stop".to_owned()),
        latency_ms: 120.0,
        ..Output::default()
    }
}

fn no_vars() -> Map<String, Value> {
    Map::new()
}

async fn check_with(assertion: &Value, out: &Output, ctx: &Context<'_>) -> Grade {
    let a = parse(assertion, "tests[0].assert[0]").unwrap_or_else(|e| panic!("{assertion}: {e}"));
    grade(&a, out, ctx)
        .await
        .unwrap_or_else(|e| panic!("{assertion}: {e}"))
}

async fn check(assertion: &Value, out: &Output) -> Grade {
    let vars = no_vars();
    let ctx = Context {
        vars: &vars,
        prompt: "the prompt",
        judge: None,
        test: None,
    };
    check_with(assertion, out, &ctx).await
}

fn parse_err(assertion: Value) -> (String, String) {
    match parse(&assertion, "tests[2].assert[1]") {
        Err(EvalError::Suite { path, message }) => (path, message),
        other => panic!("{assertion}: expected a suite error, got {other:?}"),
    }
}

/// (assertion, output, pass): each deterministic type, its negation, case folding and unicode.
#[tokio::test]
async fn deterministic_table() {
    let cases: Vec<(Value, &str, bool)> = vec![
        // equals: strings exactly; a mapping or list compares as JSON.
        (json!({"type": "equals", "value": "Paris"}), "Paris", true),
        (json!({"type": "equals", "value": "Paris"}), "Paris.", false),
        (json!({"type": "equals", "value": "Paris"}), "paris", false),
        (
            json!({"type": "not-equals", "value": "Paris"}),
            "Lyon",
            true,
        ),
        (json!({"type": "equals", "value": 42}), "42", true),
        (
            json!({"type": "equals", "value": {"a": 1, "b": [1, 2]}}),
            " {\"b\": [1, 2], \"a\": 1}\n",
            true,
        ),
        (
            json!({"type": "equals", "value": {"a": 1}}),
            "{\"a\": 2}",
            false,
        ),
        (
            json!({"type": "equals", "value": [1, 2]}),
            "not json",
            false,
        ),
        // contains / icontains, with unicode.
        (
            json!({"type": "contains", "value": "world"}),
            "hello world",
            true,
        ),
        (
            json!({"type": "contains", "value": "World"}),
            "hello world",
            false,
        ),
        (
            json!({"type": "icontains", "value": "WORLD"}),
            "hello world",
            true,
        ),
        (
            json!({"type": "icontains", "value": "ÉCOLE"}),
            "une école",
            true,
        ),
        (
            json!({"type": "contains", "value": "日本"}),
            "日本語です",
            true,
        ),
        (json!({"type": "contains", "value": 0}), "score: 0", true),
        (
            json!({"type": "not-contains", "value": "error"}),
            "all good",
            true,
        ),
        (
            json!({"type": "not-contains", "value": "error"}),
            "an error",
            false,
        ),
        (
            json!({"type": "not-icontains", "value": "ERROR"}),
            "an error",
            false,
        ),
        // contains-any / contains-all, as lists and comma-separated strings.
        (
            json!({"type": "contains-any", "value": ["cat", "dog"]}),
            "a dog",
            true,
        ),
        (
            json!({"type": "contains-any", "value": ["cat", "dog"]}),
            "a bird",
            false,
        ),
        (
            json!({"type": "contains-any", "value": "cat, dog"}),
            "a dog",
            true,
        ),
        (
            json!({"type": "icontains-any", "value": ["CAT", "DOG"]}),
            "a Dog",
            true,
        ),
        (
            json!({"type": "not-contains-any", "value": ["cat", "dog"]}),
            "a bird",
            true,
        ),
        (
            json!({"type": "contains-all", "value": ["cat", "dog"]}),
            "cat and dog",
            true,
        ),
        (
            json!({"type": "contains-all", "value": ["cat", "dog"]}),
            "cat only",
            false,
        ),
        (
            json!({"type": "contains-all", "value": "\"1,000\", in stock"}),
            "1,000 units in stock",
            true,
        ),
        (
            json!({"type": "icontains-all", "value": "CAT,DOG"}),
            "Cat and dOg",
            true,
        ),
        (
            json!({"type": "icontains-all", "value": ["straße", "ÜBER"]}),
            "STRASSE über",
            false,
        ),
        (
            json!({"type": "not-contains-all", "value": ["cat", "dog"]}),
            "cat only",
            true,
        ),
        // starts-with, regex.
        (
            json!({"type": "starts-with", "value": "Yes"}),
            "Yes, indeed",
            true,
        ),
        (
            json!({"type": "starts-with", "value": "Yes"}),
            " Yes",
            false,
        ),
        (
            json!({"type": "not-starts-with", "value": "Sorry"}),
            "Sure",
            true,
        ),
        (json!({"type": "regex", "value": "\\d{4}"}), "in 2024", true),
        (
            json!({"type": "regex", "value": "^\\d{4}$"}),
            "in 2024",
            false,
        ),
        (
            json!({"type": "regex", "value": "(?i)^hello"}),
            "HELLO there",
            true,
        ),
        (
            json!({"type": "not-regex", "value": "\\bTODO\\b"}),
            "done",
            true,
        ),
        // is-json: the whole output.
        (json!({"type": "is-json"}), "{\"a\": 1}", true),
        (json!({"type": "is-json"}), "  [1, 2]\n", true),
        (json!({"type": "is-json"}), "{\"a\": 1,}", false),
        (
            json!({"type": "is-json"}),
            "```json\n{\"a\": 1}\n```",
            false,
        ),
        (json!({"type": "not-is-json"}), "plain text", true),
        (json!({"type": "is-json", "value": ""}), "{}", true),
        // contains-json: anywhere in the text.
        (
            json!({"type": "contains-json"}),
            "Here:\n```json\n{\"a\": 1}\n```",
            true,
        ),
        (json!({"type": "contains-json"}), "no braces at all", false),
        (json!({"type": "contains-json"}), "{broken: json}", false),
        (json!({"type": "not-contains-json"}), "prose only", true),
        // finish-reason, ignoring case.
        (json!({"type": "finish-reason", "value": "stop"}), "x", true),
        (json!({"type": "finish-reason", "value": "STOP"}), "x", true),
        (
            json!({"type": "finish-reason", "value": "length"}),
            "x",
            false,
        ),
        (
            json!({"type": "not-finish-reason", "value": "length"}),
            "x",
            true,
        ),
        // levenshtein: distance <= threshold (default 5).
        (
            json!({"type": "levenshtein", "value": "sitting", "threshold": 3}),
            "kitten",
            true,
        ),
        (
            json!({"type": "levenshtein", "value": "sitting", "threshold": 2}),
            "kitten",
            false,
        ),
        (
            json!({"type": "levenshtein", "value": "hello world"}),
            "hello, world!",
            true,
        ),
        (
            json!({"type": "levenshtein", "value": "hello world"}),
            "goodbye moon",
            false,
        ),
        (
            json!({"type": "not-levenshtein", "value": "sitting", "threshold": 2}),
            "kitten",
            true,
        ),
        (
            json!({"type": "levenshtein", "value": "café", "threshold": 1}),
            "cafe",
            true,
        ),
        // word-count: exact, or {min, max} inclusive.
        (
            json!({"type": "word-count", "value": 3}),
            "one two  three\n",
            true,
        ),
        (json!({"type": "word-count", "value": 3}), "one two", false),
        (
            json!({"type": "word-count", "value": {"min": 2, "max": 4}}),
            "one two",
            true,
        ),
        (
            json!({"type": "word-count", "value": {"min": 2, "max": 4}}),
            "one two three four five",
            false,
        ),
        (
            json!({"type": "word-count", "value": {"min": 2}}),
            "one",
            false,
        ),
        (json!({"type": "word-count", "value": {"max": 2}}), "", true),
        (
            json!({"type": "not-word-count", "value": {"max": 2}}),
            "one two three",
            true,
        ),
        // latency and cost against the output's metadata.
        (json!({"type": "latency", "threshold": 500}), "x", true),
        (json!({"type": "latency", "threshold": 100}), "x", false),
        (json!({"type": "not-latency", "threshold": 100}), "x", true),
        // rouge-n (default 0.75) and bleu (default 0.5).
        (
            json!({"type": "rouge-n", "value": "the cat sat on the mat"}),
            "The cat sat on the mat.",
            true,
        ),
        (
            json!({"type": "rouge-n", "value": "the cat sat on the mat"}),
            "a dog barked",
            false,
        ),
        (
            json!({"type": "rouge-n", "value": "the cat sat on the mat", "threshold": 0.5}),
            "the cat is on",
            true,
        ),
        (
            json!({"type": "not-rouge-n", "value": "the cat sat on the mat"}),
            "a dog barked",
            true,
        ),
        (
            json!({"type": "bleu", "value": "hello world"}),
            "Hello, world!",
            true,
        ),
        (
            json!({"type": "bleu", "value": ["a dog", "hello world"]}),
            "hello world",
            true,
        ),
        (
            json!({"type": "bleu", "value": "the quick brown fox"}),
            "a slow green turtle",
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (assertion, output, want) in &cases {
        let g = check(assertion, &text(output)).await;
        if g.pass != *want {
            failures.push(format!(
                "{assertion} on {output:?}: pass {} ({})",
                g.pass, g.reason
            ));
        }
        if !g.pass && g.reason.is_empty() {
            failures.push(format!(
                "{assertion} on {output:?}: failed without a reason"
            ));
        }
        if !(0.0..=1.0).contains(&g.score) {
            failures.push(format!(
                "{assertion} on {output:?}: score {} out of range",
                g.score
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn not_inverts_pass_and_score() {
    let out = text("the cat sat");
    let plain = check(
        &json!({"type": "rouge-n", "value": "the cat sat on the mat"}),
        &out,
    )
    .await;
    let negated = check(
        &json!({"type": "not-rouge-n", "value": "the cat sat on the mat"}),
        &out,
    )
    .await;
    assert!((plain.score - 0.5).abs() < 1e-9, "{plain:?}");
    assert!(!plain.pass);
    assert!((negated.score - 0.5).abs() < 1e-9);
    assert!(negated.pass);
    // The reason states the fact; the grade's assertion names the negated type.
    assert_eq!(
        negated.labelled_reason(),
        "not-rouge-n: ROUGE-1 recall 0.50 < threshold 0.75"
    );

    let g = check(&json!({"type": "not-contains", "value": "cat"}), &out).await;
    assert_eq!((g.pass, g.score), (false, 0.0));
    assert_eq!(g.reason, "output contains \"cat\"");
    assert_eq!(g.labelled_reason(), "not-contains: output contains \"cat\"");
}

#[tokio::test]
async fn reasons_say_what_failed() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"type": "contains-all", "value": ["cat", "dog", "emu"]}),
            "cat",
            "output is missing \"dog\", \"emu\"",
        ),
        (
            json!({"type": "icontains-any", "value": ["x", "y"]}),
            "z",
            "output contains none of \"x\", \"y\" (ignoring case)",
        ),
        (
            json!({"type": "is-json"}),
            "{\"a\": 1,}",
            "output is not valid JSON",
        ),
        (
            json!({"type": "word-count", "value": {"min": 2, "max": 4}}),
            "one",
            "output has 1 words, but wanted between 2 and 4",
        ),
        (
            json!({"type": "finish-reason", "value": "length"}),
            "x",
            "finish reason is \"stop\", not \"length\"",
        ),
        (
            json!({"type": "latency", "threshold": 100}),
            "x",
            "latency 120 ms > threshold 100 ms",
        ),
        (
            json!({"type": "bleu", "value": "the quick brown fox"}),
            "a slow green turtle",
            "BLEU 0.00 < threshold 0.5",
        ),
        (
            json!({"type": "rouge-n", "value": "a b"}),
            "c",
            "ROUGE-1 recall 0.00 < threshold 0.75",
        ),
    ];
    for (assertion, output, want) in cases {
        let g = check(&assertion, &text(output)).await;
        assert!(!g.pass, "{assertion}");
        assert!(
            g.reason.contains(want),
            "{assertion}: {:?} lacks {want:?}",
            g.reason
        );
    }
}

#[tokio::test]
async fn schema_failures_name_the_path() {
    let schema = json!({
        "type": "object",
        "required": ["latitude", "longitude"],
        "properties": {
            "latitude": {"type": "number", "minimum": -90, "maximum": 90},
            "longitude": {"type": "number", "minimum": -180, "maximum": 180},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    });
    let is_json = json!({"type": "is-json", "value": schema});
    let good = check(&is_json, &text("{\"latitude\": 48.8, \"longitude\": 2.3}")).await;
    assert!(good.pass, "{}", good.reason);

    let g = check(&is_json, &text("{\"latitude\": 100, \"longitude\": 2.3}")).await;
    assert!(!g.pass);
    assert!(g.reason.contains("at /latitude"), "{}", g.reason);
    assert!(g.reason.contains("100"), "{}", g.reason);

    let g = check(
        &is_json,
        &text("{\"latitude\": 1, \"longitude\": 2, \"tags\": [\"a\", 3]}"),
    )
    .await;
    assert!(g.reason.contains("at /tags/1"), "{}", g.reason);

    let g = check(&is_json, &text("{\"latitude\": 1}")).await;
    assert!(
        g.reason.contains("at /:") && g.reason.contains("longitude"),
        "{}",
        g.reason
    );

    // contains-json passes when any JSON in the text is valid.
    let contains = json!({"type": "contains-json", "value": schema});
    let g = check(
        &contains,
        &text("First {\"latitude\": 500} then {\"latitude\": 1, \"longitude\": 2}"),
    )
    .await;
    assert!(g.pass, "{}", g.reason);
    let g = check(
        &contains,
        &text("Only ```json\n{\"latitude\": 500, \"longitude\": 0}\n```"),
    )
    .await;
    assert!(!g.pass);
    assert!(g.reason.contains("at /latitude"), "{}", g.reason);

    // A schema given as a JSON string works too.
    let g = check(
        &json!({"type": "is-json", "value": "{\"type\": \"array\"}"}),
        &text("{}"),
    )
    .await;
    assert!(!g.pass);
}

fn tool_call(name: &str, arguments: &str) -> Value {
    json!({"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}})
}

fn with_calls(calls: Vec<Value>) -> Output {
    Output {
        tool_calls: calls,
        finish_reason: Some("tool_calls".to_owned()),
        ..Output::default()
    }
}

#[tokio::test]
async fn openai_tool_calls() {
    let tools = json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer", "maximum": 7}},
                "required": ["city"],
            },
        },
    }]);
    let with_tools = json!({"type": "is-valid-openai-tools-call", "value": tools});
    let bare = json!({"type": "is-valid-openai-tools-call"});
    let cases: Vec<(&Value, Output, bool, &str)> = vec![
        (
            &bare,
            with_calls(vec![tool_call("get_weather", "{\"city\": \"Paris\"}")]),
            true,
            "get_weather",
        ),
        (&bare, text("no tools"), false, "no tool calls"),
        (
            &bare,
            with_calls(vec![tool_call("get_weather", "{city: Paris")]),
            false,
            "arguments are not valid JSON",
        ),
        (
            &bare,
            with_calls(vec![
                json!({"type": "function", "function": {"arguments": "{}"}}),
            ]),
            false,
            "no function name",
        ),
        (
            &with_tools,
            with_calls(vec![tool_call(
                "get_weather",
                "{\"city\": \"Paris\", \"days\": 3}",
            )]),
            true,
            "get_weather",
        ),
        (
            &with_tools,
            with_calls(vec![tool_call("book_flight", "{}")]),
            false,
            "not among the declared tools: get_weather",
        ),
        (
            &with_tools,
            with_calls(vec![tool_call("get_weather", "{\"days\": 3}")]),
            false,
            "at /: \"city\" is a required property",
        ),
        (
            &with_tools,
            with_calls(vec![tool_call(
                "get_weather",
                "{\"city\": \"Oslo\", \"days\": 30}",
            )]),
            false,
            "at /days",
        ),
        (
            &with_tools,
            with_calls(vec![
                tool_call("get_weather", "{\"city\": \"Paris\"}"),
                tool_call("get_weather", "[oops"),
            ]),
            false,
            "tool call 1 (get_weather): arguments are not valid JSON",
        ),
    ];
    for (assertion, out, want, reason) in cases {
        let g = check(assertion, &out).await;
        assert_eq!(g.pass, want, "{:?}: {}", out.tool_calls, g.reason);
        assert!(g.reason.contains(reason), "{:?} lacks {reason:?}", g.reason);
    }
    // Declared tools by name only.
    let names = json!({"type": "is-valid-openai-tools-call", "value": ["lookup"]});
    assert!(
        check(&names, &with_calls(vec![tool_call("lookup", "{}")]))
            .await
            .pass
    );
}

#[tokio::test]
async fn metadata_that_is_unknown_fails_even_when_negated() {
    let cached = Output {
        cached: true,
        latency_ms: 0.0,
        ..text("x")
    };
    for ty in ["latency", "not-latency"] {
        let g = check(&json!({"type": ty, "threshold": 1000}), &cached).await;
        assert!(!g.pass, "{ty}");
        assert_eq!(g.reason, "latency is not known for a cached response");
    }
    for ty in ["cost", "not-cost"] {
        let g = check(&json!({"type": ty, "threshold": 0.01}), &text("x")).await;
        assert!(!g.pass, "{ty}");
        assert!(g.reason.contains("cost is not known"), "{}", g.reason);
    }
    let no_reason = Output {
        finish_reason: None,
        ..text("x")
    };
    let g = check(
        &json!({"type": "not-finish-reason", "value": "stop"}),
        &no_reason,
    )
    .await;
    assert!(!g.pass);

    let priced = Output {
        cost_usd: Some(0.002),
        ..text("x")
    };
    assert!(
        check(&json!({"type": "cost", "threshold": 0.01}), &priced)
            .await
            .pass
    );
    assert!(
        !check(&json!({"type": "cost", "threshold": 0.001}), &priced)
            .await
            .pass
    );
}

#[tokio::test]
async fn rouge_and_bleu_scores() {
    let reference = "the quick brown fox jumps over the lazy dog";
    for ty in ["rouge-n", "bleu"] {
        let same = check(&json!({"type": ty, "value": reference}), &text(reference)).await;
        assert!((same.score - 1.0).abs() < 1e-9, "{ty}: {}", same.score);
        let disjoint = check(
            &json!({"type": ty, "value": reference}),
            &text("completely unrelated words here"),
        )
        .await;
        assert_eq!(disjoint.score, 0.0, "{ty}");
    }
}

#[tokio::test]
async fn assert_set_with_threshold() {
    let set = |threshold: Option<f64>| {
        let mut v = json!({
            "type": "assert-set",
            "weight": 2,
            "metric": "quality",
            "assert": [
                {"type": "contains", "value": "hello"},
                {"type": "contains", "value": "world"},
                {"type": "not-contains", "value": "error"},
                {"type": "is-json"},
            ],
        });
        if let Some(t) = threshold {
            v["threshold"] = json!(t);
        }
        v
    };
    let out = text("hello there");
    // 2 of 4 pass (contains hello, not-contains error).
    let g = check(&set(Some(0.5)), &out).await;
    assert!(g.pass, "{}", g.reason);
    assert!((g.score - 0.5).abs() < 1e-9);
    assert_eq!(g.components.len(), 4);
    assert_eq!(g.named_scores.get("quality"), Some(&0.5));
    let g = check(&set(Some(0.75)), &out).await;
    assert!(!g.pass);
    assert!(
        g.reason.contains("aggregate score 0.50 < threshold 0.75"),
        "{}",
        g.reason
    );
    // Without a threshold every member must pass.
    let g = check(&set(None), &out).await;
    assert!(!g.pass);
    assert!(g.reason.contains("\"world\""), "{}", g.reason);
}

#[tokio::test]
async fn grade_all_weights_metrics_and_threshold() {
    let asserts: Vec<_> = [
        json!({"type": "contains", "value": "Paris", "weight": 3, "metric": "accuracy"}),
        json!({"type": "contains", "value": "France", "metric": "accuracy"}),
        json!({"type": "word-count", "value": {"max": 3}, "metric": "brevity"}),
        json!({"type": "latency", "threshold": 1, "weight": 0, "metric": "speed"}),
    ]
    .iter()
    .enumerate()
    .map(|(i, v)| parse(v, &format!("tests[0].assert[{i}]")).unwrap())
    .collect();
    let vars = no_vars();
    let ctx = Context {
        vars: &vars,
        prompt: "",
        judge: None,
        test: None,
    };
    let out = text("It is Paris");

    let g = grade_all(&asserts, None, &out, &ctx).await.unwrap();
    // Weighted: (3·1 + 1·0 + 1·1) / 5; the weight-0 latency failure doesn't count toward the score
    // but, as in promptfoo, still fails the test.
    assert!((g.score - 0.8).abs() < 1e-9, "{}", g.score);
    assert!(!g.pass);
    assert!(
        g.reason.contains("\"France\"") && g.reason.contains("latency"),
        "{}",
        g.reason
    );
    assert_eq!(g.components.len(), 4);
    assert!((g.named_scores["accuracy"] - 0.75).abs() < 1e-9);
    assert_eq!(g.named_scores["brevity"], 1.0);
    assert_eq!(g.named_scores["speed"], 0.0);

    let g = grade_all(&asserts, Some(0.8), &out, &ctx).await.unwrap();
    assert!(g.pass, "{}", g.reason);
    let g = grade_all(&asserts, Some(0.9), &out, &ctx).await.unwrap();
    assert!(!g.pass);
    assert_eq!(g.reason, "aggregate score 0.80 < threshold 0.9");

    let g = grade_all(&[], None, &out, &ctx).await.unwrap();
    assert!(g.pass);
    assert_eq!(g.score, 1.0);
}

#[test]
fn unknown_types_are_errors_listing_supported_ones() {
    let (path, message) = parse_err(json!({"type": "contians", "value": "x"}));
    assert_eq!(path, "tests[2].assert[1].type");
    assert!(
        message.contains("unknown assertion type `contians`"),
        "{message}"
    );
    for ty in SUPPORTED {
        assert!(message.contains(ty), "{message} lacks {ty}");
    }
    let (_, message) = parse_err(json!({"type": "not-ruby", "value": "x"}));
    assert!(message.contains("`not-ruby`"), "{message}");
}

#[test]
fn malformed_assertions_are_errors_at_their_path() {
    let p = "tests[2].assert[1]";
    let cases: Vec<(Value, String, &str)> = vec![
        (json!("contains"), p.to_owned(), "must be a mapping"),
        (json!({"value": "x"}), format!("{p}.type"), "needs a `type`"),
        (
            json!({"type": "contains", "value": "x", "transform": 3}),
            format!("{p}.transform"),
            "`transform` must be JavaScript code",
        ),
        (
            json!({"type": "contains"}),
            format!("{p}.value"),
            "needs a string `value`",
        ),
        (
            json!({"type": "contains-any", "value": []}),
            format!("{p}.value"),
            "needs a list",
        ),
        (
            json!({"type": "regex", "value": "(unclosed"}),
            format!("{p}.value"),
            "invalid regular expression",
        ),
        (
            json!({"type": "is-json", "value": {"type": 12}}),
            format!("{p}.value"),
            "invalid JSON Schema",
        ),
        (
            json!({"type": "is-json", "value": 3}),
            format!("{p}.value"),
            "must be a JSON Schema",
        ),
        (
            json!({"type": "word-count", "value": {"min": 5, "max": 2}}),
            format!("{p}.value"),
            "min (5) is above its max (2)",
        ),
        (
            json!({"type": "word-count", "value": {"least": 5}}),
            format!("{p}.value.least"),
            "only `min` and `max`",
        ),
        (
            json!({"type": "word-count", "value": -1}),
            format!("{p}.value"),
            "whole number",
        ),
        (
            json!({"type": "latency"}),
            format!("{p}.threshold"),
            "needs a `threshold`",
        ),
        (
            json!({"type": "cost", "threshold": "cheap"}),
            format!("{p}.threshold"),
            "must be a number",
        ),
        (
            json!({"type": "contains", "value": "x", "weight": -1}),
            format!("{p}.weight"),
            "0 or more",
        ),
        (
            json!({"type": "contains", "value": "x", "metric": 3}),
            format!("{p}.metric"),
            "non-empty string",
        ),
        (
            json!({"type": "contains", "value": "x", "rubricPrompt": "grade"}),
            format!("{p}.rubricPrompt"),
            "not model-graded",
        ),
        (
            json!({"type": "contains", "value": "x", "provider": "openai:gpt-4o"}),
            format!("{p}.provider"),
            "does not use a judge",
        ),
        (
            json!({"type": "llm-rubric", "value": "x", "rubricPrompt": [{"role": "user"}]}),
            format!("{p}.rubricPrompt[0]"),
            "`role` and `content`",
        ),
        (
            json!({"type": "assert-set"}),
            format!("{p}.assert"),
            "needs an `assert` list",
        ),
        (
            json!({"type": "not-assert-set", "assert": [{"type": "is-json"}]}),
            format!("{p}.type"),
            "cannot be negated",
        ),
        (
            json!({"type": "contains", "value": "x", "assert": []}),
            format!("{p}.assert"),
            "only assert-set",
        ),
        (
            json!({"type": "assert-set", "assert": [{"type": "is-json"}, {"type": "regex"}]}),
            format!("{p}.assert[1].value"),
            "needs a string `value`",
        ),
        (
            json!({"type": "is-valid-openai-tools-call", "value": [{"function": {"name": "f", "parameters": {"type": 1}}}]}),
            format!("{p}.value[0].parameters"),
            "invalid JSON Schema",
        ),
        (
            json!({"type": "factuality"}),
            format!("{p}.value"),
            "needs a string `value`",
        ),
    ];
    for (assertion, want_path, want_message) in cases {
        let (path, message) = parse_err(assertion.clone());
        assert_eq!(path, want_path, "{assertion}: {message}");
        assert!(
            message.contains(want_message),
            "{assertion}: {message:?} lacks {want_message:?}"
        );
    }
}

#[test]
fn parse_keeps_the_fields() {
    let a = parse(
        &json!({
            "type": "not-llm-rubric",
            "value": "is polite",
            "threshold": 0.8,
            "weight": 2,
            "metric": "tone",
            "provider": "openai:gpt-4o-mini",
            "rubricPrompt": "Grade {{output}} by {{rubric}}",
            "description": "ignored",
        }),
        "t",
    )
    .unwrap();
    assert_eq!(a.kind, "llm-rubric");
    assert!(a.negate);
    assert_eq!(a.value, Some(json!("is polite")));
    assert_eq!((a.threshold, a.weight), (Some(0.8), Some(2.0)));
    assert_eq!(a.metric.as_deref(), Some("tone"));
    assert_eq!(a.provider, Some(json!("openai:gpt-4o-mini")));
    assert!(a.rubric_prompt.is_some());

    // Defaults; a null field counts as absent; templated patterns wait for rendering.
    let a = parse(
        &json!({"type": "contains", "value": "x", "threshold": null}),
        "t",
    )
    .unwrap();
    // An unset weight stays unset (reports show only what the suite set) and scores as 1.
    assert_eq!((a.weight, a.threshold, a.negate), (None, None, false));
    assert_eq!(a.score_weight(), 1.0);
    assert!(parse(&json!({"type": "regex", "value": "{{pattern}}"}), "t").is_ok());
}

/// A judge with canned replies, in order, that records what it was asked. Embeddings come from a
/// table; unknown texts embed as `[0, 0, 1]`.
struct FakeJudge {
    replies: Mutex<VecDeque<String>>,
    asked: Mutex<Vec<Vec<Value>>>,
    embeddings: Vec<(&'static str, Vec<f32>)>,
    providers: Mutex<Vec<Option<Value>>>,
}

impl FakeJudge {
    fn new(replies: &[&str]) -> FakeJudge {
        FakeJudge {
            replies: Mutex::new(replies.iter().map(|r| (*r).to_owned()).collect()),
            asked: Mutex::new(Vec::new()),
            embeddings: Vec::new(),
            providers: Mutex::new(Vec::new()),
        }
    }

    fn with_embeddings(mut self, table: Vec<(&'static str, Vec<f32>)>) -> FakeJudge {
        self.embeddings = table;
        self
    }

    /// Every message's content of every call, joined.
    fn prompt_text(&self) -> String {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Judge for FakeJudge {
    fn complete<'a>(
        &'a self,
        provider: Option<&'a Value>,
        messages: Vec<Value>,
    ) -> BoxFuture<'a, Result<(String, Option<Tokens>), EvalError>> {
        self.asked.lock().unwrap().push(messages);
        self.providers.lock().unwrap().push(provider.cloned());
        let reply = self.replies.lock().unwrap().pop_front();
        async move {
            let reply =
                reply.ok_or_else(|| EvalError::Provider("no canned reply left".to_owned()))?;
            Ok((
                reply,
                Some(Tokens {
                    prompt: 100,
                    completion: 20,
                    total: 120,
                }),
            ))
        }
        .boxed()
    }

    fn embed<'a>(
        &'a self,
        _provider: Option<&'a Value>,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Vec<f32>, EvalError>> {
        let v = self
            .embeddings
            .iter()
            .find(|(t, _)| *t == text)
            .map_or_else(|| vec![0.0, 0.0, 1.0], |(_, v)| v.clone());
        async move { Ok(v) }.boxed()
    }
}

async fn judged(
    judge: &FakeJudge,
    assertion: Value,
    output: &str,
    vars: Map<String, Value>,
) -> Grade {
    let ctx = Context {
        vars: &vars,
        prompt: "What is the capital of France?",
        judge: Some(judge),
        test: None,
    };
    check_with(&assertion, &text(output), &ctx).await
}

#[tokio::test]
async fn llm_rubric_asks_with_output_and_rubric_and_reads_fenced_json() {
    let judge = FakeJudge::new(&[
        "Here is my verdict:\n```json\n{\"pass\": false, \"score\": 0.2, \"reason\": \"It apologizes twice.\"}\n```",
    ]);
    let g = judged(
        &judge,
        json!({"type": "llm-rubric", "value": "Is not apologetic", "provider": "openai:gpt-4o-mini"}),
        "Sorry, so sorry: Paris.",
        no_vars(),
    )
    .await;
    assert!(!g.pass);
    assert!((g.score - 0.2).abs() < 1e-9);
    assert_eq!(g.reason, "It apologizes twice.");
    assert_eq!(
        g.judge_tokens,
        Some(Tokens {
            prompt: 100,
            completion: 20,
            total: 120
        })
    );
    let prompt = judge.prompt_text();
    assert!(prompt.contains("Sorry, so sorry: Paris."), "{prompt}");
    assert!(prompt.contains("Is not apologetic"), "{prompt}");
    assert_eq!(
        judge.providers.lock().unwrap()[0],
        Some(json!("openai:gpt-4o-mini"))
    );
}

#[tokio::test]
async fn llm_rubric_pass_score_and_threshold() {
    let cases: Vec<(&str, Option<f64>, bool, f64)> = vec![
        (
            "{\"pass\": true, \"score\": 0.9, \"reason\": \"good\"}",
            None,
            true,
            0.9,
        ),
        (
            "{\"pass\": true, \"score\": 0.6, \"reason\": \"ok\"}",
            Some(0.8),
            false,
            0.6,
        ),
        (
            "{\"pass\": true, \"score\": 0.8, \"reason\": \"ok\"}",
            Some(0.8),
            true,
            0.8,
        ),
        // promptfoo: a missing `pass` is a pass; a missing score follows `pass`.
        ("{\"score\": 0.0, \"reason\": \"meh\"}", None, true, 0.0),
        ("{\"pass\": false, \"reason\": \"bad\"}", None, false, 0.0),
        ("{\"pass\": \"true\", \"score\": \"0.7\"}", None, true, 0.7),
    ];
    for (reply, threshold, want_pass, want_score) in cases {
        let judge = FakeJudge::new(&[reply]);
        let mut a = json!({"type": "llm-rubric", "value": "is correct"});
        if let Some(t) = threshold {
            a["threshold"] = json!(t);
        }
        let g = judged(&judge, a, "Paris", no_vars()).await;
        assert_eq!(g.pass, want_pass, "{reply}: {}", g.reason);
        assert!((g.score - want_score).abs() < 1e-9, "{reply}: {}", g.score);
    }
}

#[tokio::test]
async fn unreadable_judge_replies_fail_even_when_negated() {
    for ty in ["llm-rubric", "not-llm-rubric"] {
        let judge = FakeJudge::new(&["I think it is fine."]);
        let g = judged(
            &judge,
            json!({"type": ty, "value": "is fine"}),
            "x",
            no_vars(),
        )
        .await;
        assert!(!g.pass, "{ty}");
        assert!(g.reason.contains("no JSON verdict"), "{}", g.reason);
        assert!(g.judge_tokens.is_some());
    }
    let judge = FakeJudge::new(&["{\"pass\": true, \"score\": 0.9}"]);
    let g = judged(
        &judge,
        json!({"type": "not-llm-rubric", "value": "is rude"}),
        "x",
        no_vars(),
    )
    .await;
    assert!(!g.pass);
    assert!((g.score - 0.1).abs() < 1e-9);
}

#[tokio::test]
async fn factuality_categories() {
    let cases = [
        ("{\"category\": \"A\", \"reason\": \"A subset.\"}", true),
        ("{\"category\": \"B\", \"reason\": \"A superset.\"}", true),
        ("{\"category\": \"C\", \"reason\": \"Same.\"}", true),
        ("{\"category\": \"D\", \"reason\": \"Says Lyon.\"}", false),
        ("{\"category\": \"E\", \"reason\": \"Style only.\"}", true),
        ("The submission contradicts the expert.\n(D)", false),
    ];
    for (reply, want) in cases {
        let judge = FakeJudge::new(&[reply]);
        let g = judged(
            &judge,
            json!({"type": "factuality", "value": "The capital of France is Paris"}),
            "It is Lyon.",
            no_vars(),
        )
        .await;
        assert_eq!(g.pass, want, "{reply}: {}", g.reason);
        let prompt = judge.prompt_text();
        assert!(
            prompt.contains("It is Lyon.") && prompt.contains("The capital of France is Paris"),
            "{prompt}"
        );
        assert!(
            prompt.contains("What is the capital of France?"),
            "the question is in the prompt"
        );
    }
    let judge = FakeJudge::new(&["{\"category\": \"D\", \"reason\": \"Says Lyon.\"}"]);
    let g = judged(
        &judge,
        json!({"type": "factuality", "value": "Paris"}),
        "Lyon",
        no_vars(),
    )
    .await;
    assert_eq!(
        g.reason,
        "(D) output is in disagreement with the reference: Says Lyon."
    );
}

#[tokio::test]
async fn closed_qa_reads_the_final_y_or_n() {
    let cases = [
        ("The answer names the city.\nY", true),
        ("It does not address the customer.\nN", false),
    ];
    for (reply, want) in cases {
        let judge = FakeJudge::new(&[reply]);
        let g = judged(
            &judge,
            json!({"type": "model-graded-closedqa", "value": "Names a city"}),
            "Paris",
            no_vars(),
        )
        .await;
        assert_eq!(g.pass, want, "{}", g.reason);
        assert!(judge.prompt_text().contains("Names a city"));
    }
    let judge = FakeJudge::new(&["I cannot decide."]);
    let g = judged(
        &judge,
        json!({"type": "not-model-graded-closedqa", "value": "x"}),
        "y",
        no_vars(),
    )
    .await;
    assert!(!g.pass);
    assert!(g.reason.contains("neither Y nor N"), "{}", g.reason);
}

#[tokio::test]
async fn rubric_prompt_overrides_the_prompt() {
    let judge = FakeJudge::new(&["{\"pass\": true, \"score\": 1, \"reason\": \"ok\"}"]);
    let custom = json!([
        {"role": "system", "content": "Grade in German."},
        {"role": "user", "content": "Ausgabe: {{ output }}\nKriterium: {{rubric}}\nStadt: {{city}}"},
    ]);
    let mut vars = Map::new();
    vars.insert("city".to_owned(), json!("Paris"));
    let g = judged(
        &judge,
        json!({"type": "llm-rubric", "value": "höflich", "rubricPrompt": custom}),
        "Bonjour",
        vars,
    )
    .await;
    assert!(g.pass);
    let asked = judge.asked.lock().unwrap();
    assert_eq!(
        asked[0][0],
        json!({"role": "system", "content": "Grade in German."})
    );
    assert_eq!(
        asked[0][1]["content"],
        "Ausgabe: Bonjour\nKriterium: höflich\nStadt: Paris"
    );
}

#[tokio::test]
async fn model_graded_types_need_a_judge() {
    let vars = no_vars();
    let ctx = Context {
        vars: &vars,
        prompt: "q",
        judge: None,
        test: None,
    };
    for ty in [
        "llm-rubric",
        "factuality",
        "model-graded-closedqa",
        "answer-relevance",
        "context-faithfulness",
        "similar",
    ] {
        let a = parse(&json!({"type": ty, "value": "x"}), "t").unwrap();
        match grade(&a, &text("x"), &ctx).await {
            Err(EvalError::Suite { path, message }) => {
                assert_eq!(path, ty);
                assert!(
                    message.contains("needs a judge: set defaultTest.options.provider or --judge"),
                    "{message}"
                );
            }
            other => panic!("{ty}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn similar_uses_embeddings() {
    let table = vec![
        ("Paris is the capital.", vec![1.0, 0.0, 0.0]),
        ("The capital is Paris.", vec![0.9, 0.1, 0.0]),
        ("Bananas are yellow.", vec![0.0, 1.0, 0.0]),
    ];
    let judge = FakeJudge::new(&[]).with_embeddings(table);
    let g = judged(
        &judge,
        json!({"type": "similar", "value": "The capital is Paris."}),
        "Paris is the capital.",
        no_vars(),
    )
    .await;
    assert!(g.pass, "{}", g.reason);
    assert!(g.score > 0.99);
    let g = judged(
        &judge,
        json!({"type": "similar", "value": "Bananas are yellow."}),
        "Paris is the capital.",
        no_vars(),
    )
    .await;
    assert!(!g.pass);
    assert_eq!(g.score, 0.0);
    // A list passes when any one is similar enough.
    let any = json!({"type": "similar", "value": ["Bananas are yellow.", "The capital is Paris."], "threshold": 0.95});
    assert!(
        judged(&judge, any, "Paris is the capital.", no_vars())
            .await
            .pass
    );
    let not = json!({"type": "not-similar", "value": "Bananas are yellow."});
    assert!(
        judged(&judge, not, "Paris is the capital.", no_vars())
            .await
            .pass
    );
}

#[tokio::test]
async fn answer_relevance_compares_generated_questions_with_the_query() {
    let table = vec![
        ("What is the capital of France?", vec![1.0, 0.0, 0.0]),
        ("Which city is France's capital?", vec![1.0, 0.0, 0.0]),
        ("Where is the French government?", vec![0.8, 0.6, 0.0]),
        ("What colour are bananas?", vec![0.0, 1.0, 0.0]),
    ];
    let relevant = "{\"questions\": [\"Which city is France's capital?\", \"Where is the French government?\"]}";
    let judge = FakeJudge::new(&[relevant]).with_embeddings(table.clone());
    let g = judged(
        &judge,
        json!({"type": "answer-relevance"}),
        "Paris.",
        no_vars(),
    )
    .await;
    assert!(g.pass, "{}", g.reason);
    assert!((g.score - 0.9).abs() < 1e-6, "{}", g.score);
    assert!(judge.prompt_text().contains("Paris."));

    let off =
        "{\"questions\": [\"What colour are bananas?\", \"Which city is France's capital?\"]}";
    let judge = FakeJudge::new(&[off]).with_embeddings(table);
    let mut vars = Map::new();
    vars.insert("query".to_owned(), json!("What is the capital of France?"));
    let g = judged(
        &judge,
        json!({"type": "answer-relevance"}),
        "Yellow, and Paris.",
        vars,
    )
    .await;
    assert!(!g.pass);
    assert!((g.score - 0.5).abs() < 1e-6);
    assert!(
        g.reason.contains("answer relevance 0.50 < threshold 0.7"),
        "{}",
        g.reason
    );
}

#[tokio::test]
async fn context_faithfulness_counts_supported_statements() {
    let mut vars = Map::new();
    vars.insert("query".to_owned(), json!("What are our values?"));
    vars.insert(
        "context".to_owned(),
        json!([
            "Innovation: we embrace new ideas.",
            "Integrity: we act with honesty."
        ]),
    );
    let reply = "{\"statements\": [
        {\"statement\": \"Innovation is a value.\", \"supported\": true},
        {\"statement\": \"Integrity is a value.\", \"supported\": true},
        {\"statement\": \"Innovation means new ideas.\", \"supported\": true},
        {\"statement\": \"Founded in 1990.\", \"supported\": false, \"reason\": \"not in context\"}
    ]}";
    let judge = FakeJudge::new(&[reply]);
    let g = judged(
        &judge,
        json!({"type": "context-faithfulness"}),
        "Innovation and integrity; founded 1990.",
        vars.clone(),
    )
    .await;
    assert!(g.pass, "{}", g.reason);
    assert!((g.score - 0.75).abs() < 1e-9);
    assert!(
        g.reason.contains("3 of 4 statements") && g.reason.contains("Founded in 1990."),
        "{}",
        g.reason
    );
    let prompt = judge.prompt_text();
    assert!(
        prompt.contains("Integrity: we act with honesty.")
            && prompt.contains("What are our values?"),
        "{prompt}"
    );

    let judge = FakeJudge::new(&[reply]);
    let strict = json!({"type": "context-faithfulness", "threshold": 0.9});
    assert!(!judged(&judge, strict, "x", vars).await.pass);

    let judge = FakeJudge::new(&[reply]);
    let vars = no_vars();
    let ctx = Context {
        vars: &vars,
        prompt: "q",
        judge: Some(&judge),
        test: None,
    };
    let a = parse(&json!({"type": "context-faithfulness"}), "t").unwrap();
    match grade(&a, &text("x"), &ctx).await {
        Err(EvalError::Suite { message, .. }) => {
            assert!(message.contains("`context` variable"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn grade_all_sums_judge_tokens_and_propagates_judge_errors() {
    let judge = FakeJudge::new(&["{\"pass\": true, \"score\": 1}", "{\"category\": \"A\"}"]);
    let vars = no_vars();
    let ctx = Context {
        vars: &vars,
        prompt: "q",
        judge: Some(&judge),
        test: None,
    };
    let asserts = [
        parse(&json!({"type": "llm-rubric", "value": "x"}), "a").unwrap(),
        parse(&json!({"type": "factuality", "value": "y"}), "b").unwrap(),
    ];
    let g = grade_all(&asserts, None, &text("z"), &ctx).await.unwrap();
    assert!(g.pass, "{}", g.reason);
    assert_eq!(
        g.judge_tokens,
        Some(Tokens {
            prompt: 200,
            completion: 40,
            total: 240
        })
    );

    // No reply left: the judge call fails and stops the evaluation.
    let err = grade_all(&asserts, None, &text("z"), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err, EvalError::Provider("no canned reply left".to_owned()));
}
