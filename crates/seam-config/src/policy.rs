//! `[policies.NAME]`: what happens to personal data, secrets, injection attempts and long
//! contexts before a request reaches a model (`input`), and to personal data in its answer
//! (`output`).
//!
//! Entity names are checked by `seam-policy` when it compiles a policy, since the detectors live
//! there; this module checks the shape, the actions allowed at each stage, and the numbers.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{ConfigError, Resolver, Secret};

/// The policy every alias uses unless it names another, and the one direct addressing uses. When
/// the config does not declare it, it does nothing.
pub const DEFAULT_POLICY: &str = "default";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Leave the value as it is.
    Allow,
    /// Refuse the request: 422 `policy_violation`, naming entity types, never values.
    Block,
    /// Replace with `<ENTITY>`.
    Redact,
    /// Keep the last four characters, star the rest.
    Mask,
    /// A keyed HMAC: the same value gives the same output, and it cannot be brute-forced without
    /// the key.
    Hash,
    /// Replace with `[ENTITY_N]` and restore the value in the answer.
    Tokenize,
    /// Leave the value, but send the request only to `trust = "private"` targets.
    RoutePrivate,
}

impl Action {
    pub const INPUT_NAMES: &'static str =
        "allow, block, redact, mask, hash, tokenize, route_private";
    pub const OUTPUT_NAMES: &'static str = "allow, redact, mask, hash";

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "allow" => Action::Allow,
            "block" => Action::Block,
            "redact" => Action::Redact,
            "mask" => Action::Mask,
            "hash" => Action::Hash,
            "tokenize" => Action::Tokenize,
            "route_private" => Action::RoutePrivate,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Block => "block",
            Action::Redact => "redact",
            Action::Mask => "mask",
            Action::Hash => "hash",
            Action::Tokenize => "tokenize",
            Action::RoutePrivate => "route_private",
        }
    }

    /// Whether the action can apply to a model's answer: refusing or re-routing an answer that is
    /// already produced, or minting tokens nobody restores, makes no sense there.
    pub fn fits_output(self) -> bool {
        matches!(
            self,
            Action::Allow | Action::Redact | Action::Mask | Action::Hash
        )
    }
}

/// Which entities a class rule covers.
#[derive(Clone, Debug, PartialEq)]
pub enum Entities {
    All,
    Only(Vec<String>),
}

/// `pii = { ... }` or `secrets = { ... }`: one action for a class of entities.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassRule {
    pub action: Action,
    pub entities: Entities,
    /// Findings scoring below this are ignored.
    pub min_score: f32,
}

/// `[...entities] NAME = "action"` or `NAME = { action = "...", min_score = 0.7 }`.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityRule {
    pub action: Action,
    pub min_score: Option<f32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectionAction {
    /// Record the score and let the request through.
    Flag,
    /// Refuse with 422 `policy_violation`.
    Block,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InjectionRule {
    pub action: InjectionAction,
    /// 0..=1: the score at which the action applies.
    pub threshold: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// 400 `context_length_exceeded`.
    Reject,
    /// Drop the oldest turns that are not system messages until the rest fits.
    Truncate,
}

/// One stage's detection rules.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StageConfig {
    pub pii: Option<ClassRule>,
    pub secrets: Option<ClassRule>,
    /// Per-entity overrides, by entity name.
    pub entities: BTreeMap<String, EntityRule>,
    /// Values never acted on, compared after trimming, case-sensitively.
    pub allow: Vec<String>,
    /// Regexes (whole-value matches) for values never acted on.
    pub allow_patterns: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct InputConfig {
    pub rules: StageConfig,
    pub injection: Option<InjectionRule>,
    pub max_input_tokens: Option<u32>,
    pub on_overflow: Option<Overflow>,
}

/// What happens to a request's `user` field (and `safety_identifier`, its successor): an end
/// user's identifier, which a vendor needs only to tell users apart, never in clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UserField {
    /// Forward it as sent.
    Keep,
    /// Apply the input rules to it like message text.
    Scan,
    /// Replace it with the policy's keyed hash (`<USER:…>`): stable per key, so a vendor can
    /// still tell users apart.
    Hash,
    /// Remove it.
    Drop,
}

impl UserField {
    pub const NAMES: &'static str = "hash, scan, keep, drop";

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "keep" => UserField::Keep,
            "scan" => UserField::Scan,
            "hash" => UserField::Hash,
            "drop" => UserField::Drop,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UserField::Keep => "keep",
            UserField::Scan => "scan",
            UserField::Hash => "hash",
            UserField::Drop => "drop",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PolicyConfig {
    pub name: String,
    pub input: InputConfig,
    pub output: StageConfig,
    /// The HMAC key of `hash`. Without one, each start of Seam draws a random key, so hashes are
    /// stable within a process but not across restarts.
    pub hash_key: Option<Secret>,
    /// `user = "…"`, when set; see [`PolicyConfig::user_field`] for the default.
    pub user: Option<UserField>,
    /// Whether the named-entity model reads this policy's texts (when it is installed); with
    /// `false`, names, places and addresses are found by rules alone.
    pub ner: bool,
    /// The most bytes of a request the model reads; beyond them, rules alone.
    pub ner_max_bytes: usize,
}

/// `ner_max_bytes` when a policy does not set it: about a thousand tokens of text.
pub const DEFAULT_NER_MAX_BYTES: usize = 4096;

impl PolicyConfig {
    /// A policy that does nothing: the built-in `default` when the config does not declare one.
    pub fn empty(name: &str) -> Self {
        PolicyConfig {
            name: name.to_owned(),
            input: InputConfig::default(),
            output: StageConfig::default(),
            hash_key: None,
            user: None,
            ner: true,
            ner_max_bytes: DEFAULT_NER_MAX_BYTES,
        }
    }

    /// What the policy does to `user`: as configured, else `hash` when the policy acts on
    /// inputs (has input entity rules) and `keep` when it does not, so a policy without input
    /// rules forwards the request untouched.
    pub fn user_field(&self) -> UserField {
        self.user
            .unwrap_or(if self.input.rules == StageConfig::default() {
                UserField::Keep
            } else {
                UserField::Hash
            })
    }

    /// Whether the policy can change or refuse anything (an empty one costs nothing per request).
    pub fn is_empty(&self) -> bool {
        self.input == InputConfig::default() && self.output == StageConfig::default()
    }
}

// ---- raw -----------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct RawPolicy {
    #[serde(default)]
    pub input: RawInput,
    #[serde(default)]
    pub output: RawStage,
    pub hash_key: Option<String>,
    pub user: Option<String>,
    pub ner: Option<bool>,
    pub ner_max_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawInput {
    #[serde(flatten)]
    pub stage: RawStage,
    pub injection: Option<RawInjection>,
    pub max_input_tokens: Option<u64>,
    pub on_overflow: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawStage {
    pub pii: Option<RawClass>,
    pub secrets: Option<RawClass>,
    #[serde(default)]
    pub entities: BTreeMap<String, RawEntity>,
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub allow_patterns: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawClass {
    pub action: Option<String>,
    pub entities: Option<RawEntityList>,
    pub min_score: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawEntityList {
    /// `"all"`.
    Word(String),
    List(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawEntity {
    Action(String),
    Rule {
        action: String,
        min_score: Option<f64>,
    },
}

#[derive(Debug, Default, Deserialize)]
pub struct RawInjection {
    pub action: Option<String>,
    pub threshold: Option<f64>,
}

// ---- validation ----------------------------------------------------------------------------

pub(crate) fn policy(
    name: &str,
    raw: RawPolicy,
    r: &Resolver<'_>,
    errors: &mut Vec<ConfigError>,
) -> PolicyConfig {
    let path = format!("policies.{name}");
    if name.is_empty() || name.contains('/') {
        errors.push(ConfigError::new(
            path.clone(),
            "policy names must be non-empty and contain no '/'",
        ));
    }
    let input_path = format!("{path}.input");
    let rules = stage(&input_path, raw.input.stage, true, errors);
    let injection = raw
        .input
        .injection
        .map(|i| injection(&format!("{input_path}.injection"), i, errors));
    let max_input_tokens = match raw.input.max_input_tokens {
        Some(n) if !(16..=10_000_000).contains(&n) => {
            errors.push(ConfigError::new(
                format!("{input_path}.max_input_tokens"),
                "must be between 16 and 10000000",
            ));
            None
        }
        n => n.map(|n| n as u32),
    };
    let on_overflow = match raw.input.on_overflow.as_deref() {
        None => None,
        Some("reject") => Some(Overflow::Reject),
        Some("truncate") => Some(Overflow::Truncate),
        Some(other) => {
            errors.push(ConfigError::new(
                format!("{input_path}.on_overflow"),
                format!("unknown value \"{other}\"; expected reject or truncate"),
            ));
            None
        }
    };
    if on_overflow.is_some() && max_input_tokens.is_none() && raw.input.max_input_tokens.is_none() {
        errors.push(ConfigError::new(
            format!("{input_path}.on_overflow"),
            "needs max_input_tokens",
        ));
    }
    let output = stage(&format!("{path}.output"), raw.output, false, errors);
    let hash_key = raw.hash_key.and_then(|v| {
        if !(v.starts_with("env:") || v.starts_with("file:")) {
            errors.push(ConfigError::new(
                format!("{path}.hash_key"),
                "must be a reference (env:NAME or file:PATH), not the key itself",
            ));
            return None;
        }
        r.secret(&format!("{path}.hash_key"), &v)
            .map_err(|e| errors.push(e))
            .ok()
    });
    let user = raw.user.and_then(|u| {
        let parsed = UserField::parse(&u);
        if parsed.is_none() {
            errors.push(ConfigError::new(
                format!("{path}.user"),
                format!(
                    "unknown value \"{}\"; expected one of {}",
                    u.chars().take(40).collect::<String>(),
                    UserField::NAMES
                ),
            ));
        }
        parsed
    });
    let ner_max_bytes = match raw.ner_max_bytes {
        None => DEFAULT_NER_MAX_BYTES,
        Some(n) if n <= 16 * 1024 * 1024 => n as usize,
        Some(_) => {
            errors.push(ConfigError::new(
                format!("{path}.ner_max_bytes"),
                "must be at most 16777216",
            ));
            DEFAULT_NER_MAX_BYTES
        }
    };
    PolicyConfig {
        name: name.to_owned(),
        ner: raw.ner.unwrap_or(true),
        ner_max_bytes,
        input: InputConfig {
            rules,
            injection,
            max_input_tokens,
            on_overflow,
        },
        output,
        hash_key,
        user,
    }
}

fn action(path: &str, s: &str, input: bool, errors: &mut Vec<ConfigError>) -> Option<Action> {
    let names = if input {
        Action::INPUT_NAMES
    } else {
        Action::OUTPUT_NAMES
    };
    match Action::parse(s) {
        Some(a) if input || a.fits_output() => Some(a),
        Some(a) => {
            errors.push(ConfigError::new(
                path,
                format!(
                    "\"{}\" cannot apply to a model's answer; expected one of {names}",
                    a.as_str()
                ),
            ));
            None
        }
        None => {
            errors.push(ConfigError::new(
                path,
                format!("unknown action \"{s}\"; expected one of {names}"),
            ));
            None
        }
    }
}

fn score(path: &str, v: Option<f64>, errors: &mut Vec<ConfigError>) -> Option<f32> {
    match v {
        Some(s) if !(0.0..=1.0).contains(&s) => {
            errors.push(ConfigError::new(path, "must be between 0 and 1"));
            None
        }
        s => s.map(|s| s as f32),
    }
}

/// The threshold a class rule uses when it names none.
pub const DEFAULT_MIN_SCORE: f32 = 0.5;

fn stage(path: &str, raw: RawStage, input: bool, errors: &mut Vec<ConfigError>) -> StageConfig {
    let mut class = |field: &str, c: Option<RawClass>| -> Option<ClassRule> {
        let c = c?;
        let p = format!("{path}.{field}");
        let Some(a) = c.action.as_deref() else {
            errors.push(ConfigError::new(format!("{p}.action"), "is required"));
            return None;
        };
        let action = action(&format!("{p}.action"), a, input, errors)?;
        let entities = match c.entities {
            None => Entities::All,
            Some(RawEntityList::Word(w)) if w == "all" => Entities::All,
            Some(RawEntityList::Word(w)) => {
                errors.push(ConfigError::new(
                    format!("{p}.entities"),
                    format!("expected \"all\" or a list of entity names, got \"{w}\""),
                ));
                Entities::All
            }
            Some(RawEntityList::List(l)) => Entities::Only(l),
        };
        let min_score =
            score(&format!("{p}.min_score"), c.min_score, errors).unwrap_or(DEFAULT_MIN_SCORE);
        Some(ClassRule {
            action,
            entities,
            min_score,
        })
    };
    let pii = class("pii", raw.pii);
    let secrets = class("secrets", raw.secrets);
    let mut entities = BTreeMap::new();
    for (name, e) in raw.entities {
        let p = format!("{path}.entities.{name}");
        let (a, s) = match e {
            RawEntity::Action(a) => (a, None),
            RawEntity::Rule { action, min_score } => (action, min_score),
        };
        let action = action(&p, &a, input, errors);
        let min_score = score(&format!("{p}.min_score"), s, errors);
        if let Some(action) = action {
            entities.insert(name, EntityRule { action, min_score });
        }
    }
    let mut allow = Vec::new();
    for v in raw.allow {
        let v = v.trim().to_owned();
        if !v.is_empty() {
            allow.push(v);
        }
    }
    for (i, p) in raw.allow_patterns.iter().enumerate() {
        if let Err(e) = regex::Regex::new(p) {
            let first = e.to_string();
            let first = first.lines().last().unwrap_or("invalid regex").trim();
            errors.push(ConfigError::new(
                format!("{path}.allow_patterns[{i}]"),
                format!("not a valid regex: {first}"),
            ));
        }
    }
    StageConfig {
        pii,
        secrets,
        entities,
        allow,
        allow_patterns: raw.allow_patterns,
    }
}

fn injection(path: &str, raw: RawInjection, errors: &mut Vec<ConfigError>) -> InjectionRule {
    let action = match raw.action.as_deref() {
        None | Some("flag") => InjectionAction::Flag,
        Some("block") => InjectionAction::Block,
        Some(other) => {
            errors.push(ConfigError::new(
                format!("{path}.action"),
                format!("unknown action \"{other}\"; expected flag or block"),
            ));
            InjectionAction::Flag
        }
    };
    let threshold = score(&format!("{path}.threshold"), raw.threshold, errors).unwrap_or(0.8);
    InjectionRule { action, threshold }
}
