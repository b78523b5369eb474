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
}
