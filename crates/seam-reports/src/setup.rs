//! What the config says about the paths in use: each alias's targets with their provider's kind
//! and trust, its policy's stages, the keys' policies, and the audit trail's settings. The
//! matrix and exit reports read these facts; nothing here reads traffic.

use std::collections::BTreeSet;

use seam_config::{Config, Trust};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    pub provider: String,
    pub model: String,
    /// The provider's kind (`openai`, `anthropic`, …).
    pub kind: String,
    /// The provider's `trust`: a private target keeps the data with the team.
    pub private: bool,
}

impl Target {
    /// `provider/model`, as routes and the audit record name it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alias {
    pub name: String,
    pub targets: Vec<Target>,
    /// Its policy acts on input (PII, secrets, entities, injection or a token cap).
    pub input_policy: bool,
    /// Its policy acts on output, or the alias validates an output schema.
    pub output_policy: bool,
}

impl Alias {
    /// Distinct vendor providers (not private) among its targets.
    pub fn vendors(&self) -> BTreeSet<&str> {
        self.targets
            .iter()
            .filter(|t| !t.private)
            .map(|t| t.provider.as_str())
            .collect()
    }

    pub fn has_private(&self) -> bool {
        self.targets.iter().any(|t| t.private)
    }

    /// A second provider to move to: another vendor, or a private target.
    pub fn has_alternative(&self) -> bool {
        self.targets
            .iter()
            .map(|t| t.provider.as_str())
            .collect::<BTreeSet<_>>()
            .len()
            >= 2
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setup {
    pub aliases: Vec<Alias>,
    /// Config keys, and how many of them name a policy of their own.
    pub keys: usize,
    pub keys_with_policy: usize,
    pub audit_enabled: bool,
    /// `sync` or `async`.
    pub durability: String,
    /// Provider name → (kind, private).
    pub providers: Vec<(String, String, bool)>,
}

fn stage_active(s: &seam_config::StageConfig) -> bool {
    s.pii.is_some() || s.secrets.is_some() || !s.entities.is_empty()
}

impl Setup {
    pub fn from_config(cfg: &Config) -> Setup {
        let provider = |name: &str| cfg.providers.get(name);
        let aliases = cfg
            .models
            .values()
            .map(|m| {
                let policy = cfg.policies.get(&m.policy);
                Alias {
                    name: m.alias.clone(),
                    targets: m
                        .targets
                        .iter()
                        .map(|t| {
                            let p = provider(&t.provider);
                            Target {
                                provider: t.provider.clone(),
                                model: t.model.clone(),
                                kind: p.map_or("unknown", |p| p.kind.as_str()).to_owned(),
                                private: p.is_some_and(|p| p.trust == Trust::Private),
                            }
                        })
                        .collect(),
                    input_policy: policy.is_some_and(|p| {
                        stage_active(&p.input.rules)
                            || p.input.injection.is_some()
                            || p.input.max_input_tokens.is_some()
                    }),
                    output_policy: policy.is_some_and(|p| stage_active(&p.output))
                        || m.output_schema.is_some(),
                }
            })
            .collect();
        Setup {
            aliases,
            keys: cfg.keys.len(),
            keys_with_policy: cfg.keys.iter().filter(|k| k.policy.is_some()).count(),
            audit_enabled: cfg.audit.enabled,
            durability: match cfg.audit.durability {
                seam_config::Durability::Sync => "sync",
                seam_config::Durability::Async => "async",
            }
            .to_owned(),
            providers: cfg
                .providers
                .values()
                .map(|p| {
                    (
                        p.name.clone(),
                        p.kind.as_str().to_owned(),
                        p.trust == Trust::Private,
                    )
                })
                .collect(),
        }
    }

    pub fn alias(&self, name: &str) -> Option<&Alias> {
        self.aliases.iter().find(|a| a.name == name)
    }

    /// The alias a record belongs to: its `model` when that is an alias, else the first alias
    /// with a target that is its `route`.
    pub fn alias_of(&self, model: Option<&str>, route: Option<&str>) -> Option<&Alias> {
        model.and_then(|m| self.alias(m)).or_else(|| {
            let r = route?;
            self.aliases
                .iter()
                .find(|a| a.targets.iter().any(|t| t.id() == r))
        })
    }

    /// Whether a provider is private (`trust = "private"`).
    pub fn is_private(&self, provider: &str) -> bool {
        self.providers.iter().any(|(n, _, p)| n == provider && *p)
    }
}
