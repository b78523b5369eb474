//! Nunjucks-style templates (`{{ var }}`, filters, `{% if %}`), rendered with minijinja, whose
//! Jinja2 semantics cover what promptfoo suites use. Undefined variables render as empty, as in
//! Nunjucks; `dump` is JSON (Nunjucks' name for it), alongside Jinja's `tojson`. Nothing is
//! HTML-escaped: prompts are text.

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior, Value};

use crate::EvalError;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        e.set_undefined_behavior(UndefinedBehavior::Lenient);
        e.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        // promptfoo's `load`: a JSON string parsed into a value.
        e.add_filter("load", |s: String| -> Result<Value, minijinja::Error> {
            serde_json::from_str::<serde_json::Value>(&s)
                .map(|v| Value::from(minijinja::value::Serde(v)))
                .map_err(|err| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, err.to_string())
                })
        });
        e.add_filter("dump", |v: Value| -> Result<String, minijinja::Error> {
            serde_json::to_string(&v).map_err(|err| {
                minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, err.to_string())
            })
        });
        e
    })
}

/// Renders `source` with `vars`; `path` names it in errors.
pub fn render(
    source: &str,
    vars: &serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Result<String, EvalError> {
    if !source.contains("{{") && !source.contains("{%") {
        return Ok(source.to_owned());
    }
    env()
        .render_str(source, Value::from(minijinja::value::Serde(vars)))
        .map_err(|e| EvalError::suite(path, format!("template: {e}")))
}

/// Checks that `source` compiles (a syntax error names `path`), without rendering it.
///
/// # Errors
/// [`EvalError::Suite`] at `path` with minijinja's message.
pub fn check(source: &str, path: &str) -> Result<(), EvalError> {
    if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
        return Ok(());
    }
    env()
        .template_from_str(source)
        .map(drop)
        .map_err(|e| EvalError::suite(path, format!("template: {e}")))
}

/// Whether `source` reads the `env` global, which promptfoo fills with the process environment
/// and Seam does not (secrets never reach a prompt): a suite that relies on it is refused unless
/// a var named `env` exists.
pub fn reads_env(source: &str) -> bool {
    reads(source, "env")
}

/// Whether `source` reads promptfoo's `_conversation` (the earlier turns of a multi-turn run),
/// which Seam does not provide: refused unless a var of that name exists.
pub fn reads_conversation(source: &str) -> bool {
    reads(source, "_conversation")
}

fn reads(source: &str, name: &str) -> bool {
    (source.contains("{{") || source.contains("{%"))
        && env()
            .template_from_str(source)
            .is_ok_and(|t| t.undeclared_variables(false).contains(name))
}

/// Passes of nested-variable resolution, as promptfoo makes (a chain deeper than this keeps
/// its last `{{name}}` for the template to render, empty when unknown).
const NESTING: usize = 5;

/// promptfoo's variable resolution before a prompt is rendered: one trailing newline is cut from
/// every string value, then a string value's `{{name}}` (a bare name, optional spaces) is
/// replaced by the string value of var `name`, in up to five passes, so a var may refer to
/// another (`topic: "{{subject}} in {{year}}"`). References to vars that are not strings, or
/// unknown, stay as written (the template does not render a var's value again).
pub fn resolve_vars(
    vars: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut out: serde_json::Map<String, serde_json::Value> = vars
        .iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => {
                    serde_json::Value::String(s.strip_suffix('\n').unwrap_or(s).to_owned())
                }
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    let keys: Vec<String> = out.keys().cloned().collect();
    for _ in 0..NESTING {
        let mut changed = false;
        for k in &keys {
            let Some(serde_json::Value::String(s)) = out.get(k) else {
                continue;
            };
            let next = substitute(s, &out);
            if next != *s {
                out.insert(k.clone(), serde_json::Value::String(next));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    out
}

/// `s` with each `{{ name }}` whose var is a string replaced by it.
fn substitute(s: &str, vars: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let replaced = after.find("}}").and_then(|end| {
            let name = after[..end].trim();
            let simple =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            match vars.get(name) {
                Some(serde_json::Value::String(v)) if simple => Some((v.as_str(), end + 2)),
                _ => None,
            }
        });
        match replaced {
            Some((v, used)) => {
                out.push_str(v);
                rest = &after[used..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Renders a prompt as promptfoo does: vars resolved first ([`resolve_vars`]); a template that
/// is a JSON list or mapping before rendering (a chat prompt from a .json or .yaml file) has
/// each of its strings rendered, so a var holding quotes or newlines cannot break the JSON;
/// any other template is rendered as text (and may only become JSON once rendered).
///
/// # Errors
/// [`EvalError::Suite`] at `path` when the template does not render.
pub fn render_prompt(
    source: &str,
    vars: &serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Result<String, EvalError> {
    let vars = resolve_vars(vars);
    let t = source.trim_start();
    if (t.starts_with('[') || t.starts_with('{'))
        && let Ok(v @ (serde_json::Value::Array(_) | serde_json::Value::Object(_))) =
            serde_json::from_str::<serde_json::Value>(source)
    {
        let rendered = render_value(&v, &vars, path)?;
        return serde_json::to_string_pretty(&rendered)
            .map_err(|e| EvalError::suite(path, format!("template: {e}")));
    }
    render(source, &vars, path)
}

/// The chat messages a rendered prompt holds, decided after rendering as promptfoo's chat
/// providers do: text starting with `- role:` is a YAML list of messages; text that parses as
/// JSON is the messages; text that only looks like JSON (`[…]`, `{…}`) but does not parse is an
/// error; anything else is `None`, one user message.
///
/// # Errors
/// [`EvalError::Suite`] at `path` for messages that cannot be read.
pub fn chat_messages(
    rendered: &str,
    path: &str,
) -> Result<Option<Vec<serde_json::Value>>, EvalError> {
    let t = rendered.trim();
    let parsed: serde_json::Value = if t.starts_with("- role:") {
        serde_norway::from_str(t).map_err(|e| {
            EvalError::suite(
                path,
                format!("the rendered prompt is not a valid YAML chat ({e})"),
            )
        })?
    } else {
        match serde_json::from_str(t) {
            Ok(v) => v,
            Err(e) => {
                let looks = (t.starts_with('[') && t.ends_with(']'))
                    || (t.starts_with('{') && t.ends_with('}'));
                if looks {
                    return Err(EvalError::suite(
                        path,
                        format!("the rendered chat prompt is not valid JSON ({e})"),
                    ));
                }
                return Ok(None);
            }
        }
    };
    let messages = match parsed {
        serde_json::Value::Array(items)
            if items
                .iter()
                .all(|m| m.get("role").and_then(serde_json::Value::as_str).is_some()) =>
        {
            items
        }
        _ => {
            return Err(EvalError::suite(
                path,
                "the rendered prompt is JSON but not a list of chat messages with `role` and `content` (promptfoo would send it as the messages, and the endpoint reject it)",
            ));
        }
    };
    Ok(Some(messages))
}

/// Renders every string inside `v` (assertion values may hold `{{vars}}` anywhere).
pub fn render_value(
    v: &serde_json::Value,
    vars: &serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Result<serde_json::Value, EvalError> {
    Ok(match v {
        serde_json::Value::String(s) => serde_json::Value::String(render(s, vars, path)?),
        serde_json::Value::Array(a) => serde_json::Value::Array(
            a.iter()
                .map(|x| render_value(x, vars, path))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(o) => serde_json::Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), render_value(x, vars, path)?)))
                .collect::<Result<_, EvalError>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn vars(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn renders_like_nunjucks() {
        let v = vars(json!({"name": "Ada", "items": ["a", "b"], "n": 3, "html": "<b>&"}));
        assert_eq!(render("Hi {{name}}!", &v, "p").unwrap(), "Hi Ada!");
        assert_eq!(render("Hi {{ missing }}.", &v, "p").unwrap(), "Hi .");
        assert_eq!(
            render("{{ items | dump }}", &v, "p").unwrap(),
            r#"["a","b"]"#
        );
        assert_eq!(render("{{ html }}", &v, "p").unwrap(), "<b>&");
        assert_eq!(
            render(
                "{% for i in items %}{{i}}{% endfor %}{% if n > 2 %}!{% endif %}",
                &v,
                "p"
            )
            .unwrap(),
            "ab!"
        );
        assert_eq!(render("no template", &v, "p").unwrap(), "no template");
        let err = render("{{ unclosed", &v, "prompts[0]").unwrap_err();
        assert!(
            err.to_string().starts_with("prompts[0]: template:"),
            "{err}"
        );
    }

    #[test]
    fn nested_vars_resolve_like_promptfoo() {
        let v = vars(json!({
            "subject": "owls",
            "topic": "{{ subject }} at night\n",
            "question": "Tell me about {{topic}}.",
            "n": 3,
            "uses_n": "{{n}} and {{missing}}",
        }));
        let r = resolve_vars(&v);
        assert_eq!(r["topic"], "owls at night");
        assert_eq!(r["question"], "Tell me about owls at night.");
        // Not strings, or unknown: left for the template.
        assert_eq!(r["uses_n"], "{{n}} and {{missing}}");
        // What stays is sent as written: a var's value is not rendered again.
        assert_eq!(
            render_prompt("Q: {{question}} {{uses_n}}", &v, "p").unwrap(),
            "Q: Tell me about owls at night. {{n}} and {{missing}}"
        );
        // A cycle stops after five passes instead of looping.
        let c = resolve_vars(&vars(json!({"a": "{{b}}", "b": "{{a}}"})));
        assert!(c["a"].as_str().unwrap().contains("{{"));
    }

    #[test]
    fn chat_is_decided_after_rendering() {
        let v = vars(json!({"q": "say \"hi\"\nplease", "turns": ["a", "b"]}));
        // A JSON template: strings rendered inside, quotes stay JSON-safe.
        let json_tpl = r#"[{"role": "user", "content": "{{q}}"}]"#;
        let r = render_prompt(json_tpl, &v, "p").unwrap();
        let m = chat_messages(&r, "p").unwrap().unwrap();
        assert_eq!(m[0]["content"], "say \"hi\"\nplease");
        // Only JSON once rendered.
        let loop_tpl = r#"[{% for t in turns %}{"role": "user", "content": "{{t}}"}{% if not loop.last %},{% endif %}{% endfor %}]"#;
        let r = render_prompt(loop_tpl, &v, "p").unwrap();
        assert_eq!(chat_messages(&r, "p").unwrap().unwrap().len(), 2);
        // YAML chat, plain text, and text that only looks like JSON.
        let yaml = chat_messages("- role: user\n  content: hi\n", "p")
            .unwrap()
            .unwrap();
        assert_eq!(yaml[0]["content"], "hi");
        assert_eq!(chat_messages("Hello [world]", "p").unwrap(), None);
        let e = chat_messages("[not json]", "prompt x").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("prompt x: the rendered chat prompt is not valid JSON")
        );
        assert!(chat_messages(r#"{"question": "x"}"#, "p").is_err());
    }

    #[test]
    fn syntax_errors_are_found_without_rendering() {
        assert!(check("{{ fine }} {% if x %}y{% endif %}", "p").is_ok());
        let e = check("{% if x %}never closed", "prompts[1]").unwrap_err();
        assert!(e.to_string().starts_with("prompts[1]: template:"), "{e}");
    }

    #[test]
    fn promptfoos_filters_and_globals() {
        let v = vars(json!({"j": "{\"a\": [1, 2]}"}));
        assert_eq!(render("{{ (j | load).a[1] }}", &v, "p").unwrap(), "2");
        assert!(reads_env("key: {{ env.API_KEY }}"));
        assert!(!reads_env("{{ environment }}"));
        assert!(reads_conversation(
            "{% for t in _conversation %}{{ t.input }}{% endfor %}"
        ));
    }
}
