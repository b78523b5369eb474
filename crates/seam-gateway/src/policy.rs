//! The policy stages around the router: the input stage rewrites (or refuses) a request before any
//! target sees it; the output stage restores tokens and scans the answer, whole or streamed.
//!
//! `seam-policy` works on texts; this module knows where the texts are: every string a request
//! carries to a vendor and every string an answer brings back is text, structure or `user`
//! (`fields.rs` says which, field by field; `walk.rs` for JSON Seam does not model). It turns
//! decisions into errors, placement constraints, a response header and metrics. No value ever
//! leaves it except towards the client it came from.

mod fields;
pub(crate) mod injection;
mod input;
mod output;
pub(crate) mod walk;

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use seam_config::{Config, UserField};
use seam_policy::actions::Hasher;
use seam_policy::context::Counter;
use seam_policy::{Policy, Record, Scanner, Vault};
use seam_router::Placement;
use seam_types::chat::ChatRequest;
use seam_types::embeddings::EmbeddingsRequest;
use seam_types::{ApiError, ErrorCode};

#[cfg(test)]
use input::prepare;
pub(crate) use input::{
    finds_in_text, narrow_private, prepare_embeddings, prepare_tagged, tag_chat,
};
pub use output::{OutputSeen, Remask};

/// A compiled policy with what the gateway adds to it: the rule for `user` and the key that
/// hashes it (the policy's `hash_key`, else the process key, as for the `hash` action).
pub(crate) struct Governed {
    pub(crate) policy: Arc<Policy>,
    user: UserField,
    hasher: Hasher,
}

impl Deref for Governed {
    type Target = Policy;

    fn deref(&self) -> &Policy {
        &self.policy
    }
}

impl Governed {
    /// Whether the request's `user` changes: `scan` only when there are input rules to scan with.
    fn acts_on_user(&self) -> bool {
        match self.user {
            UserField::Keep => false,
            UserField::Scan => self.policy.scans_input(),
            UserField::Hash | UserField::Drop => true,
        }
    }

    /// Whether the policy does nothing at all: the request is forwarded untouched.
    pub(crate) fn inert(&self) -> bool {
        self.policy.is_inert() && !self.acts_on_user()
    }

    /// `<USER:1f2e3d4c5b6a7980>`: the `hash` action's keyed digest of an end user's identifier.
    fn hash_user(&self, value: &str) -> String {
        self.hasher.hash("USER", value)
    }
}

/// Every policy of a config, compiled, and which alias uses which.
pub(crate) struct Policies {
    by_alias: HashMap<String, Arc<Governed>>,
    /// `default`: direct addressing (`PROVIDER/MODEL`) and aliases that name no policy.
    default: Arc<Governed>,
    /// Every policy by name, for API keys that name one.
    by_name: HashMap<String, Arc<Governed>>,
    /// (route policy, key policy) → the route's tightened by the key's, built on first use.
    tightened: std::sync::RwLock<HashMap<(String, String), Arc<Governed>>>,
    /// The named-entity model, when a policy covers names, places or addresses.
    pub(crate) ner: Option<crate::ner::Ner>,
}

/// The key `hash` uses when a policy names no `hash_key`: drawn once per process, so hashes stay
/// stable across reloads but not across restarts (set `hash_key` for that).
fn process_key() -> &'static [u8] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        // A failing system RNG leaves a fixed key; hashes are then as weak as unkeyed ones,
        // which the log says.
        if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut k).is_err() {
            tracing::error!("no system randomness: policy hashes use a fixed key");
        }
        k
    })
}

impl Policies {
    pub(crate) fn new(cfg: &Config) -> Result<Self, String> {
        let needs_scanner = cfg.policies.values().any(|p| !p.is_empty());
        let scanner = Arc::new(if needs_scanner {
            Scanner::all()
        } else {
            Scanner::new(Vec::new())
        });
        let compiled = Self::compile(cfg, &scanner)?;
        // The model is loaded only when a policy that lets it read covers its entities.
        let wanted = cfg
            .policies
            .values()
            .any(|p| p.ner && compiled.get(&p.name).is_some_and(|g| g.wants_names()));
        let any_names = compiled.values().any(|g| g.wants_names());
        let ner = if wanted {
            Some(crate::ner::load(&cfg.ner)?)
        } else if any_names {
            Some(crate::ner::Ner::Off)
        } else {
            None
        };
        let compiled = match ner.as_ref().and_then(crate::ner::Ner::tagger) {
            Some(tagger) => Self::compile(cfg, &Arc::new(Scanner::all().with_tagger(tagger)))?,
            None => compiled,
        };
        Self::assemble(cfg, compiled, ner)
    }

    fn compile(
        cfg: &Config,
        scanner: &Arc<Scanner>,
    ) -> Result<HashMap<String, Arc<Governed>>, String> {
        let mut compiled = HashMap::new();
        let mut errors = Vec::new();
        for (name, p) in &cfg.policies {
            match Policy::compile(p, Arc::clone(scanner), process_key()) {
                Ok(compiled_policy) => {
                    let key = p
                        .hash_key
                        .as_ref()
                        .map_or(process_key(), |k| k.expose().as_bytes());
                    let governed = Governed {
                        policy: Arc::new(compiled_policy),
                        user: p.user_field(),
                        hasher: Hasher::new(key),
                    };
                    compiled.insert(name.clone(), Arc::new(governed));
                }
                Err(e) => errors.extend(e.into_iter().map(|e| e.to_string())),
            }
        }
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        Ok(compiled)
    }

    fn assemble(
        cfg: &Config,
        compiled: HashMap<String, Arc<Governed>>,
        ner: Option<crate::ner::Ner>,
    ) -> Result<Self, String> {
        let default = compiled
            .get(seam_config::DEFAULT_POLICY)
            .cloned()
            .ok_or("the default policy is missing")?;
        let by_alias: HashMap<String, Arc<Governed>> = cfg
            .models
            .iter()
            .filter_map(|(alias, m)| Some((alias.clone(), compiled.get(&m.policy)?.clone())))
            .collect();
        // Tokenizer tables take a moment to load: load the ones limits will need now, off the
        // request path.
        let mut warm: Vec<String> = cfg
            .models
            .iter()
            .filter(|(alias, _)| {
                by_alias
                    .get(*alias)
                    .is_some_and(|p| p.max_input_tokens().is_some())
            })
            .filter_map(|(_, m)| m.targets.first().map(|t| t.model.clone()))
            .filter(|model| Counter::has_tokenizer(model))
            .collect();
        warm.dedup();
        if !warm.is_empty() {
            std::thread::spawn(move || {
                for model in warm {
                    Counter::for_model(&model);
                }
            });
        }
        Ok(Policies {
            by_alias,
            default,
            by_name: compiled,
            tightened: std::sync::RwLock::new(HashMap::new()),
            ner,
        })
    }

    /// The policy of a route (an alias, or `PROVIDER/MODEL`).
    pub(crate) fn for_route(&self, name: &str) -> &Arc<Governed> {
        self.by_alias.get(name).unwrap_or(&self.default)
    }

    /// A policy by name (`None`: the default), tightened by the caller's key's policy: what a
    /// tool call on `/mcp` runs under. A name the config no longer has is refused.
    pub(crate) fn for_named(
        &self,
        name: Option<&str>,
        key_policy: Option<&str>,
    ) -> Result<Arc<Governed>, ApiError> {
        let base = match name {
            None => &self.default,
            Some(n) => self.by_name.get(n).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Internal,
                    format!(
                        "The policy `{}` is not in the config; refusing rather than serving without it",
                        n.chars().take(100).collect::<String>()
                    ),
                )
            })?,
        };
        self.tightened_over(base, key_policy)
    }

    /// The route's policy, tightened by the caller's key's policy when it names one. A key
    /// naming a policy the config no longer has is refused rather than served loosely.
    pub(crate) fn for_request(
        &self,
        route: &str,
        key_policy: Option<&str>,
    ) -> Result<Arc<Governed>, ApiError> {
        self.tightened_over(self.for_route(route), key_policy)
    }

    fn tightened_over(
        &self,
        base: &Arc<Governed>,
        key_policy: Option<&str>,
    ) -> Result<Arc<Governed>, ApiError> {
        let Some(name) = key_policy else {
            return Ok(Arc::clone(base));
        };
        let Some(key) = self.by_name.get(name) else {
            return Err(ApiError::new(
                ErrorCode::Internal,
                format!(
                    "The API key's policy `{}` is not in the config; refusing rather than serving without it",
                    name.chars().take(100).collect::<String>()
                ),
            ));
        };
        if Arc::ptr_eq(base, key) || key.inert() {
            return Ok(Arc::clone(base));
        }
        if base.inert() {
            return Ok(Arc::clone(key));
        }
        let pair = (base.name().to_owned(), name.to_owned());
        if let Ok(m) = self.tightened.read()
            && let Some(p) = m.get(&pair)
        {
            return Ok(Arc::clone(p));
        }
        // The stricter `user` rule wins (keep < scan < hash < drop); the route's key hashes.
        let p = Arc::new(Governed {
            policy: Arc::new(base.policy.tightened_by(&key.policy)),
            user: base.user.max(key.user),
            hasher: base.hasher.clone(),
        });
        if let Ok(mut m) = self.tightened.write() {
            m.insert(pair, Arc::clone(&p));
        }
        Ok(p)
    }
}

/// The entity name of an injection decision in [`PolicyReport::counts`].
pub const INJECTION_ENTITY: &str = "PROMPT_INJECTION";

/// What the input stage decided, for the `x-seam-policy` header and the audit trail.
#[derive(Clone, Debug, Default)]
pub struct PolicyReport {
    pub policy: String,
    pub records: Vec<Record>,
    /// The injection score, when the policy assesses injection: the highest of every text
    /// assessed.
    pub injection: Option<f32>,
    /// Which part gave that score: `heuristic` or `classifier`.
    pub injection_by: Option<&'static str>,
    /// Where the text with that score entered: `user_message`, `tool_result`, `tool_arguments`
    /// (of an earlier assistant turn), `mcp_arguments` or `mcp_result`.
    pub injection_in: Option<&'static str>,
    /// The score crossed the threshold of a `flag` rule.
    pub injection_flagged: bool,
    /// The score crossed the threshold of a `block` rule: the request or call was refused.
    pub injection_blocked: bool,
    /// Messages dropped to fit `max_input_tokens`.
    pub dropped_messages: usize,
    /// How names, places and addresses were looked for, when the policy covers them: `model`,
    /// `partial` (the model's byte budget ran out; the rest by rules), or `rules` (no model, or
    /// `ner = false`).
    pub ner: Option<&'static str>,
}

impl PolicyReport {
    /// (stage, entity type, action, count) of every decision, sorted; an injection over the
    /// threshold is `PROMPT_INJECTION` with `flag` or `block`, at `input` (or `output`: an MCP
    /// server's answer). For the audit trail, which adds [`PolicyReport::injection`] and
    /// [`PolicyReport::injection_by`] to that entry.
    pub fn counts(&self) -> Vec<(&'static str, &'static str, &'static str, usize)> {
        let mut v: Vec<_> = seam_policy::engine::summarize(&self.records)
            .into_iter()
            .map(|((stage, entity, action), n)| (stage.as_str(), entity, action, n))
            .collect();
        let action = if self.injection_blocked {
            Some("block")
        } else if self.injection_flagged {
            Some("flag")
        } else {
            None
        };
        if let Some(action) = action {
            let stage = if self.injection_in == Some("mcp_result") {
                "output"
            } else {
                "input"
            };
            v.push((stage, INJECTION_ENTITY, action, 1));
            v.sort_unstable();
        }
        v
    }

    /// `policy=NAME; input=ENTITY:action:count,…; output=…; injection=0.12[:flag];
    /// injection_by=heuristic; dropped_messages=2; ner=model`. Entity names, actions and counts
    /// only, never values.
    pub fn header(&self) -> String {
        let mut h = format!("policy={}", self.policy);
        let summary = seam_policy::engine::summarize(&self.records);
        for stage in [seam_policy::Stage::Input, seam_policy::Stage::Output] {
            let items: Vec<String> = summary
                .iter()
                .filter(|((s, _, _), _)| *s == stage)
                .map(|((_, e, a), n)| format!("{e}:{a}:{n}"))
                .collect();
            if !items.is_empty() {
                h.push_str(&format!("; {}={}", stage.as_str(), items.join(",")));
            }
        }
        if let Some(score) = self.injection {
            h.push_str(&format!("; injection={score:.2}"));
            if self.injection_flagged {
                h.push_str(":flag");
            }
            if let Some(by) = self.injection_by {
                h.push_str(&format!("; injection_by={by}"));
            }
        }
        if self.dropped_messages > 0 {
            h.push_str(&format!("; dropped_messages={}", self.dropped_messages));
        }
        if let Some(ner) = self.ner {
            h.push_str(&format!("; ner={ner}"));
        }
        h
    }
}

/// A request the input stage refused, and what it found (for the audit trail).
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) error: ApiError,
    pub(crate) report: Box<PolicyReport>,
}

impl Refusal {
    fn new(error: ApiError, report: PolicyReport) -> Box<Self> {
        Box::new(Refusal {
            error,
            report: Box::new(report),
        })
    }
}

/// A request after the input stage.
pub(crate) struct Prepared<'r> {
    pub(crate) request: Cow<'r, ChatRequest>,
    policy: Arc<Policy>,
    vault: Arc<Vault>,
    /// Only `trust = "private"` targets may see this request.
    private: bool,
    /// Whether the policy does anything (else no header is sent).
    active: bool,
    pub(crate) report: PolicyReport,
    pub(crate) output_seen: OutputSeen,
}

impl Prepared<'_> {
    /// The caller's placement, narrowed to private targets when the policy requires it.
    pub(crate) fn placement(&self, base: &Placement) -> Placement {
        narrow_private(base, self.private)
    }

    /// Whether the policy does anything (else no header is sent).
    pub(crate) fn active(&self) -> bool {
        self.active
    }
}

/// An embeddings request after the input stage.
pub(crate) struct PreparedEmbeddings<'r> {
    pub(crate) request: Cow<'r, EmbeddingsRequest>,
    /// Only `trust = "private"` targets may see this request.
    pub(crate) private: bool,
    pub(crate) report: PolicyReport,
    policy: Arc<Policy>,
    vault: Arc<Vault>,
    /// Whether the policy does anything (else no header is sent).
    pub(crate) active: bool,
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_injection;
