//! What a target can do, for the exit report: a small bundled table by provider kind and model
//! family (`tools`, `json_schema`, `vision`, `prompt_caching`, `streaming`), overridable per
//! target from a TOML file (`seam report exit --capabilities FILE`).
//!
//! The table is deliberately coarse: a family either documents a feature on its vendor API or
//! it does not; a model the table does not know (most self-hosted ones) is `unknown` for all
//! but streaming, which the report shows as "check", never as a yes.

use std::collections::BTreeMap;

use serde::Serialize;

/// The features the audit record's `features` column names, in report order.
pub const FEATURES: [&str; 5] = [
    "tools",
    "json_schema",
    "vision",
    "prompt_caching",
    "streaming",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Support {
    Yes,
    No,
    Unknown,
}

/// One row of the bundled table: provider kinds, a model prefix, and the five features in
/// [`FEATURES`] order.
struct Row {
    kinds: &'static [&'static str],
    /// Matched against the model name, lower-cased, after any `vendor.` prefix (Bedrock's
    /// `anthropic.claude-…`).
    prefixes: &'static [&'static str],
    features: [Support; 5],
}

use Support::{No, Unknown, Yes};

const OPENAI_LIKE: &[&str] = &["openai", "azure"];

/// Sources: each vendor's API reference for function calling, structured outputs
/// (`response_format: json_schema`), image input, prompt caching and streaming.
const TABLE: &[Row] = &[
    Row {
        kinds: OPENAI_LIKE,
        prefixes: &["gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4"],
        features: [Yes, Yes, Yes, Yes, Yes],
    },
    Row {
        kinds: OPENAI_LIKE,
        prefixes: &["gpt-4-turbo", "gpt-4"],
        features: [Yes, No, Yes, No, Yes],
    },
    Row {
        kinds: OPENAI_LIKE,
        prefixes: &["gpt-3.5"],
        features: [Yes, No, No, No, Yes],
    },
    Row {
        kinds: &["anthropic", "bedrock"],
        prefixes: &["claude"],
        // No `response_format: json_schema` on the Messages API: structured output goes
        // through a forced tool call, which a client written for OpenAI does not do.
        features: [Yes, No, Yes, Yes, Yes],
    },
    Row {
        kinds: &["gemini"],
        prefixes: &["gemini"],
        features: [Yes, Yes, Yes, Yes, Yes],
    },
    Row {
        kinds: &["bedrock"],
        prefixes: &["amazon.nova", "nova"],
        features: [Yes, No, Yes, Yes, Yes],
    },
    Row {
        kinds: &["bedrock"],
        prefixes: &["meta.llama", "mistral"],
        features: [Yes, No, No, No, Yes],
    },
];

/// A target's features, and where the answer came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Capabilities {
    /// By feature name ([`FEATURES`]).
    pub features: BTreeMap<String, Support>,
    /// `bundled`, `override` or `unknown`.
    pub source: &'static str,
}

impl Capabilities {
    pub fn get(&self, feature: &str) -> Support {
        self.features.get(feature).copied().unwrap_or(Unknown)
    }
}

/// Per-target overrides: `provider/model` (a trailing `*` matches a prefix) → feature → yes/no.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    pub targets: Vec<(String, BTreeMap<String, bool>)>,
}

impl Overrides {
    /// Reads `[targets."PROVIDER/MODEL"] tools = true …`; errors name their TOML path.
    pub fn parse(text: &str) -> Result<Overrides, String> {
        let root: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("capabilities: {}", e.message()))?;
        let mut out = Overrides::default();
        for (k, v) in &root {
            if k != "targets" {
                return Err(format!(
                    "{k}: unknown key (expected [targets.\"PROVIDER/MODEL\"])"
                ));
            }
            let toml::Value::Table(t) = v else {
                return Err("targets: must be a table".into());
            };
            for (target, feats) in t {
                let path = format!("targets.\"{target}\"");
                if !target.contains('/') {
                    return Err(format!("{path}: must be PROVIDER/MODEL"));
                }
                let toml::Value::Table(feats) = feats else {
                    return Err(format!("{path}: must be a table of feature = true|false"));
                };
                let mut m = BTreeMap::new();
                for (f, b) in feats {
                    if !FEATURES.contains(&f.as_str()) {
                        return Err(format!(
                            "{path}.{f}: unknown feature (one of {})",
                            FEATURES.join(", ")
                        ));
                    }
                    let Some(b) = b.as_bool() else {
                        return Err(format!("{path}.{f}: must be true or false"));
                    };
                    m.insert(f.clone(), b);
                }
                out.targets.push((target.clone(), m));
            }
        }
        Ok(out)
    }

    fn find(&self, target: &str) -> Option<&BTreeMap<String, bool>> {
        self.targets.iter().find_map(|(pat, m)| {
            let hit = match pat.strip_suffix('*') {
                Some(prefix) => target.starts_with(prefix),
                None => target == pat,
            };
            hit.then_some(m)
        })
    }
}

/// The features of `provider/model` of provider kind `kind`: the override if one matches, else
/// the bundled row, else unknown (streaming: yes, every kind streams).
pub fn of(kind: &str, provider: &str, model: &str, overrides: &Overrides) -> Capabilities {
    let lower = model.to_ascii_lowercase();
    let family = match kind {
        "bedrock" => lower.split_once('.').map_or(lower.as_str(), |(_, m)| m),
        _ => lower.as_str(),
    };
    let row = TABLE.iter().find(|r| {
        r.kinds.contains(&kind)
            && r.prefixes
                .iter()
                .any(|p| family.starts_with(p) || lower.starts_with(p))
    });
    let (mut features, mut source): (BTreeMap<String, Support>, &'static str) = match row {
        Some(r) => (
            FEATURES
                .iter()
                .zip(r.features)
                .map(|(f, s)| ((*f).to_owned(), s))
                .collect(),
            "bundled",
        ),
        None => (
            FEATURES
                .iter()
                .map(|f| {
                    let s = if *f == "streaming" { Yes } else { Unknown };
                    ((*f).to_owned(), s)
                })
                .collect(),
            "unknown",
        ),
    };
    if let Some(o) = overrides.find(&format!("{provider}/{model}")) {
        for (f, b) in o {
            features.insert(f.clone(), if *b { Yes } else { No });
        }
        source = "override";
    }
    Capabilities { features, source }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn families_resolve_and_overrides_win() {
        let none = Overrides::default();
        let c = of("anthropic", "anthropic", "claude-sonnet-4-5", &none);
        assert_eq!(c.get("tools"), Yes);
        assert_eq!(c.get("json_schema"), No);
        assert_eq!(c.source, "bundled");
        let c = of("bedrock", "aws", "anthropic.claude-3-5-sonnet", &none);
        assert_eq!(c.get("prompt_caching"), Yes);
        let c = of("openai", "local", "qwen2.5-7b-instruct", &none);
        assert_eq!(c.get("tools"), Unknown);
        assert_eq!(c.get("streaming"), Yes);
        let o =
            Overrides::parse("[targets.\"local/qwen*\"]\ntools = true\nvision = false\n").unwrap();
        let c = of("openai", "local", "qwen2.5-7b-instruct", &o);
        assert_eq!(
            (c.get("tools"), c.get("vision"), c.source),
            (Yes, No, "override")
        );
    }

    #[test]
    fn override_errors_name_their_path() {
        let e = Overrides::parse("[targets.\"local/q\"]\ntool = true\n").unwrap_err();
        assert!(
            e.starts_with("targets.\"local/q\".tool: unknown feature"),
            "{e}"
        );
        let e = Overrides::parse("[targets.\"local/q\"]\ntools = 1\n").unwrap_err();
        assert!(
            e.starts_with("targets.\"local/q\".tools: must be true or false"),
            "{e}"
        );
        let e = Overrides::parse("[other]\n").unwrap_err();
        assert!(e.starts_with("other: unknown key"), "{e}");
    }
}
