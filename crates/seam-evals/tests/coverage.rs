//! promptfoo's keys as the loader meets them: every refused key is an error naming its path and
//! saying what to do instead, and the keys this crate implements do what promptfoo does (prompt
//! globs, YAML chat prompts, a provider's own `prompts`, test options, `file://` vars).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use seam_evals::suite::Suite;

/// A directory of files for one test.
fn dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seam-coverage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    for (f, text) in files {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn parse(yaml: &str, d: &Path) -> Suite {
    Suite::parse(yaml, d).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn refused_keys_are_errors_naming_their_path_and_reason() {
    let d = dir(
        "refused",
        &[("p.py", "def f(): pass"), ("v.js", "module.exports = 1")],
    );
    for (yaml, expected) in [
        (
            "providers: [seam:chat]\ntests: [{vars: {a: 1}, options: {transformVars: '{a: 2}'}}]\n",
            "tests[0].options.transformVars: is not supported",
        ),
        (
            "providers: [seam:chat]\ndefaultTest: {assert: [{type: contains, value: x, contextTransform: output}]}\n",
            "defaultTest.assert[0].contextTransform: is not supported",
        ),
        (
            "providers: [seam:chat]\ntests: [{assert: [{type: assert-set, assert: [{type: contains, value: x, contextTransform: c}]}]}]\n",
            "tests[0].assert[0].assert[0].contextTransform: is not supported",
        ),
        (
            "providers: [seam:chat]\nscenarios: [{config: [{vars: {a: 1}}], tests: [{options: {prefix: x}}]}]\n",
            "scenarios[0].tests[0].options.prefix: is not supported",
        ),
        (
            "providers: [{id: seam:chat, delay: 100}]\n",
            "providers[0].delay: is not supported: seam eval has no per-provider delay",
        ),
        (
            "targets: [{id: seam:chat, delay: 5}]\n",
            "targets[0].delay: is not supported",
        ),
        (
            "providers: [{seam:chat: {config: {temperature: 0}}}]\n",
            "providers[0].seam:chat: is not supported: write {id: ID, config: …} instead",
        ),
        (
            "providers: [seam:chat]\nevaluateOptions: {delay: 5}\n",
            "evaluateOptions.delay: is not supported",
        ),
        (
            "providers: [seam:chat]\noutputPath: out.json\n",
            "outputPath: is not supported: seam eval writes its own report formats: pass -o FILE",
        ),
        (
            "providers: [seam:chat]\nnunjucksFilters: {up: up.js}\n",
            "nunjucksFilters: is not supported",
        ),
        (
            "providers: [seam:chat]\nprompts: [{raw: x, label: y, function: f}]\n",
            "prompts[0].function: is not supported",
        ),
        (
            "providers: [seam:chat]\ntests: [{assert: [{type: ruby, value: 'x'}]}]\n",
            "tests[0].assert[0].type: `ruby` is not supported: runs code in a form",
        ),
        (
            "providers: [seam:chat]\ntests: [{assert: [{type: assert-set, assert: [{type: not-is-sql}]}]}]\n",
            "tests[0].assert[0].assert[0].type: `not-is-sql` is not supported",
        ),
        (
            "providers: [seam:chat]\ntests: {path: gen.js}\n",
            "tests.path: is not supported: seam eval runs no test generators",
        ),
        (
            "providers: [seam:chat]\ntests: [{vars: {a: 1}, provider: openai:chat:x}]\n",
            "tests[0].provider: is not supported: list the provider under `providers`",
        ),
        (
            "providers: [seam:chat]\ndefaultTest: {description: d}\n",
            "defaultTest.description: is not a key promptfoo's config schema has here",
        ),
        (
            "providers: [seam:chat]\ntests: [{assert: [{type: assert-set, assert: [{type: assert-set, assert: []}]}]}]\n",
            "tests[0].assert[0].assert[0].assert: is not a key",
        ),
        (
            "providers: [seam:chat]\nprompts: [file://p.py]\n",
            "prompts[0]: `file://p.py`: a Python prompt needs its function named",
        ),
        (
            "providers: [seam:chat]\nprompts: ['file://v.js:make']\n",
            "prompts[0]: `file://v.js:make` is a prompt function",
        ),
        (
            "providers: [seam:chat]\ntests: [{vars: {v: file://v.js}}]\n",
            "tests[0].vars.v: `file://v.js` is code that computes the var",
        ),
        (
            "providers: [seam:chat]\nprompts: [file://none/*.txt]\n",
            "prompts[0]: `file://none/*.txt` matches no file",
        ),
        (
            "providers: [{id: seam:chat, prompts: [nope]}]\nprompts: [{raw: hi, label: greet}]\n",
            "providers[0].prompts[0]: `nope` is the label of no prompt (the prompts' labels: greet)",
        ),
        (
            "providers: [openai:realtime:gpt-4o]\n",
            "providers[0]: `openai:realtime:gpt-4o`",
        ),
        (
            "providers: [openai:image:dall-e-3]\n",
            "providers[0]: `openai:image:dall-e-3`",
        ),
        (
            "providers: [seam:chat]\ntests: ['huggingface://datasets/x']\n",
            "tests[0]: `huggingface://datasets/x`: seam eval reads tests inline or from file://",
        ),
        (
            "providers: [seam:chat]\ntests: ['file://gen.py:make']\n",
            "tests[0]: `file://gen.py:make` generates tests with code",
        ),
        (
            "providers: [seam:chat]\ntests: [{options: {rubricPrompt: 3}}]\n",
            "tests[0].options.rubricPrompt: rubricPrompt must be a string or a list of chat messages",
        ),
    ] {
        let e = Suite::parse(yaml, &d).unwrap_err().to_string();
        assert!(
            e.starts_with(expected),
            "{yaml:?}:\n  got  {e}\n  want {expected}…"
        );
    }
}

#[test]
fn ignored_keys_load() {
    let s = parse(
        "description: d\ntags: {team: a}\nsharing: false\nwriteLatestResults: true\nmetadata: {x: 1}\n\
         providers: [seam:chat]\nevaluateOptions: {showProgressBar: false, cache: false}\n\
         tests: [{vars: {a: 1}, metadata: {k: v}, options: {disableConversationVar: true}}]\n",
        Path::new("."),
    );
    assert_eq!(s.tests.len(), 1);
    assert_eq!(s.cache, Some(false));
    // An empty `config:` (YAML null) is no config, as in promptfoo.
    let s = parse(
        "providers: [{id: seam:chat, config: null}]\n",
        Path::new("."),
    );
    assert!(s.providers[0].params.is_empty());
}

#[test]
fn prompt_globs_yaml_chat_and_the_map_form() {
    let d = dir(
        "prompts",
        &[
            ("prompts/b.txt", "B {{q}}\n"),
            ("prompts/a.txt", "A {{q}}\n"),
            ("prompts/skip.md", "no"),
            (
                "chat.yaml",
                "- role: system\n  content: Be brief.\n- role: user\n  content: \"{{q}}\"\n",
            ),
        ],
    );
    let s = parse(
        "prompts: [file://prompts/*.txt, file://chat.yaml]\nproviders: [seam:chat]\n",
        &d,
    );
    let labels: Vec<&str> = s.prompts.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "file://prompts/a.txt",
            "file://prompts/b.txt",
            "file://chat.yaml"
        ]
    );
    assert_eq!(s.prompts[0].template, "A {{q}}");
    // promptfoo turns a YAML prompt into JSON: a list of messages is a chat.
    let chat: serde_json::Value = serde_json::from_str(&s.prompts[2].template).unwrap();
    assert_eq!(chat[1]["content"], "{{q}}");
    assert!(s.prompts[2].chat);
    // The map form: {id: label}.
    let s = parse(
        "prompts: {file://prompts/a.txt: first}\nproviders: [seam:chat]\n",
        &d,
    );
    assert_eq!(s.prompts[0].label, "first");
}

#[test]
fn test_options_and_file_vars() {
    let d = dir(
        "options",
        &[
            ("ctx.txt", "  padded text \n\n"),
            ("data.yaml", "k: [1, 2]\n"),
            ("docs/one.txt", "one"),
            ("docs/two.txt", "two"),
        ],
    );
    let s = parse(
        r#"
providers: [seam:chat]
defaultTest:
  assert: [{type: not-contains, value: ERROR}]
  options:
    rubricPrompt: "Grade {{output}} against {{rubric}}"
tests:
  - vars: {ctx: file://ctx.txt, data: file://data.yaml, doc: file://docs/*.txt}
    assert: [{type: llm-rubric, value: polite, provider: seam:judge}]
  - vars: {list: [a, b]}
    options: {disableVarExpansion: true, disableDefaultAsserts: true}
"#,
        &d,
    );
    // The glob var runs the test once per file; file vars are read as promptfoo reads them.
    assert_eq!(s.tests.len(), 3);
    assert_eq!(s.tests[0].vars["ctx"], "padded text");
    assert_eq!(s.tests[0].vars["data"], r#"{"k":[1,2]}"#);
    assert_eq!(s.tests[0].vars["doc"], "one");
    assert_eq!(s.tests[1].vars["doc"], "two");
    // options.rubricPrompt reaches the model-graded assertion; the default assertion follows.
    let a = &s.tests[0].asserts;
    assert_eq!(a.len(), 2);
    assert_eq!(
        a[0].rubric_prompt.as_ref().unwrap(),
        "Grade {{output}} against {{rubric}}"
    );
    assert_eq!(
        s.tests[0].assert_paths,
        ["tests[0].assert[0]", "defaultTest.assert[0]"]
    );
    // disableVarExpansion keeps the list whole; disableDefaultAsserts drops the default.
    assert_eq!(s.tests[2].vars["list"], serde_json::json!(["a", "b"]));
    assert!(s.tests[2].asserts.is_empty());
}

#[test]
fn assertion_values_from_files() {
    let d = dir(
        "values",
        &[
            ("expected.txt", "  Paris \n"),
            ("schema.json", r#"{"type": "object", "required": ["city"]}"#),
            ("rubric.txt", "Grade {{output}}"),
            ("value.csv", "a,b"),
        ],
    );
    let s = parse(
        r#"
providers: [seam:chat]
tests:
  - assert:
      - {type: contains, value: file://expected.txt}
      - {type: is-json, value: file://schema.json}
      - type: assert-set
        assert: [{type: llm-rubric, value: polite, rubricPrompt: file://rubric.txt, provider: seam:judge}]
"#,
        &d,
    );
    let a = &s.tests[0].asserts;
    assert_eq!(a[0].value.as_ref().unwrap(), "Paris");
    assert_eq!(a[1].value.as_ref().unwrap()["required"][0], "city");
    assert_eq!(
        a[2].assert[0].rubric_prompt.as_ref().unwrap(),
        "Grade {{output}}"
    );
    let e = Suite::parse(
        "providers: [seam:chat]\ntests: [{assert: [{type: contains, value: file://value.csv}]}]\n",
        &d,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("tests[0].assert[0].value: `file://value.csv`: a .csv file"),
        "{e}"
    );
}

#[test]
fn only_lists_of_strings_expand() {
    let s = parse(
        "providers: [seam:chat]
tests:
  - vars:
      q: [a, b]
      turns: [{user: hi}, {assistant: hello}]
      n: [1, 2]
",
        Path::new("."),
    );
    // promptfoo expands a list whose first item is a string; chat turns and numbers stay whole.
    assert_eq!(s.tests.len(), 2);
    assert_eq!(s.tests[0].vars["turns"][1]["assistant"], "hello");
    assert_eq!(s.tests[1].vars["n"], serde_json::json!([1, 2]));
}

#[test]
fn a_providers_prompts_choose_what_it_runs() {
    let s = parse(
        r#"
prompts:
  - {raw: "Short: {{q}}", label: short}
  - {raw: "Long: {{q}}", label: "long:v2"}
providers:
  - {id: seam:a, prompts: [short]}
  - {id: seam:b, prompts: [long]}
  - seam:c
"#,
        Path::new("."),
    );
    let runs = |i: usize| -> Vec<&str> {
        s.prompts
            .iter()
            .filter(|p| s.providers[i].runs(p))
            .map(|p| p.label.as_str())
            .collect()
    };
    assert_eq!(runs(0), ["short"]);
    // promptfoo: `long` also names every prompt labelled `long:…`.
    assert_eq!(runs(1), ["long:v2"]);
    assert_eq!(runs(2), ["short", "long:v2"]);
}
