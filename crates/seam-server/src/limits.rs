//! Limits and budgets at the edge: which scopes a request counts against, what it reserves, and
//! the 429 it gets when a scope is full. The counting itself is `seam-limits` (in process, or in
//! Redis when `storage.redis_url` is set, so every replica sees the same counters).
//!
//! Scopes, widest first: `org` (`[limits.org]`), `team:NAME` (`[limits.team.NAME]`, for keys
//! with that team), `key:ID` (the key's own limits) and `subject:KEY:HASH` (`[limits.subject]`,
//! per data subject of each key; the subject is hashed, so personal data never names a counter).
//! Subjects name counters only through a hash keyed by the audit master key (see `subject_id`).
//! A request reserves its prompt estimate (one token per four bytes) plus `max_tokens` (or
//! `limits.default_max_tokens`) × `n` against tokens per minute, and the most that could cost on
//! the alias's priciest target against budgets; it settles with the usage and cost reported.

use std::sync::{Arc, RwLock};

use seam_config::{BudgetPeriod, Config, LimitRule, LimitsConfig};
use seam_limits::{
    Ask, Budget, Denied, Limiter, OpenSpendStore, Period, Rule, Scope, SpendStore, Ticket, Used,
};
use seam_types::{ApiError, ErrorCode};

use crate::auth::Caller;

/// Rejections by code and scope kind.
pub const REJECTIONS: &str = "seam_limit_rejections_total";
/// Failures to reach the shared counters or the ledger.
pub const LIMIT_ERRORS: &str = "seam_limit_errors_total";

pub struct Limits {
    limiter: Arc<Limiter>,
    cfg: RwLock<Arc<LimitsConfig>>,
    /// Keys the hash that names a subject's counters: derived from `audit.master_key`, which
    /// every replica shares, so the same subject meets the same counters everywhere, and nobody
    /// holding only Redis can test guessed subjects. Without a master key: plain SHA-256.
    subject_key: Option<ring::hmac::Key>,
}

/// Domain separation: this key is for limit counters only.
const SUBJECT_KEY_LABEL: &[u8] = b"seam limits: subject counter names v1";

pub fn rule(r: &LimitRule) -> Rule {
    Rule {
        rpm: r.rpm,
        tpm: r.tpm,
        concurrency: r.max_concurrency,
        budget: r.budget.map(|(usd, p)| budget(usd, p)),
    }
}

fn budget(usd: f64, p: BudgetPeriod) -> Budget {
    Budget {
        microusd: micro(usd),
        period: match p {
            BudgetPeriod::Day => Period::Day,
            BudgetPeriod::Month => Period::Month,
        },
    }
}

/// USD as whole millionths (counters are integers).
pub fn micro(usd: f64) -> u64 {
    if usd.is_finite() && usd > 0.0 {
        (usd * 1_000_000.0).round() as u64
    } else {
        0
    }
}

/// seam-store's spend ledger as the `SpendStore` seam-limits writes to and seeds from (the
/// adapter lives here so seam-limits does not depend on seam-store).
struct StoreLedger(seam_store::Ledger);

impl SpendStore for StoreLedger {
    fn add(&mut self, charges: &[seam_limits::Charge]) -> Result<(), String> {
        self.0.add(charges).map_err(|e| e.to_string())
    }

    fn spent(&mut self, scope: &str, period: &str) -> Result<u64, String> {
        self.0.spent(scope, period).map_err(|e| e.to_string())
    }
}

/// Opens a connection to the spend ledger in `store` (the audit store), once per connection
/// seam-limits needs: one for its writer, one for its reads, again after either fails.
fn spend_store(store: seam_store::StoreConfig) -> OpenSpendStore {
    Arc::new(move || {
        let ledger = seam_store::Ledger::open(&store).map_err(|e| e.to_string())?;
        Ok(Box::new(StoreLedger(ledger)) as Box<dyn SpendStore>)
    })
}

/// Who and what a rejection is counted under: ids and configured names only.
#[derive(Clone, Copy)]
pub struct Labels<'a> {
    pub caller: Option<&'a Caller>,
    /// An alias, or `direct`/`none`: never a string the client chose freely.
    pub model: &'a str,
}

impl<'a> Labels<'a> {
    pub fn new(live: &'a crate::Live, caller: Option<&'a Caller>, model: Option<&'a str>) -> Self {
        let model = match model {
            Some(m) => live.gateway.alias_of(m).unwrap_or("direct"),
            None => "none",
        };
        Labels { caller, model }
    }
}

/// What a request may use, before it runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Estimate {
    pub prompt_tokens: u64,
    /// The most the answer may use: `max_tokens` × `n`, or the default.
    pub completion_tokens: u64,
}

impl Limits {
    pub fn open(cfg: &Config, redis: Option<&Arc<crate::shared::Redis>>) -> Result<Self, String> {
        let ledger = seam_limits::LedgerSink::new(spend_store(crate::audit::store_config(cfg)))?;
        let limiter = match redis {
            Some(r) => {
                let r_guard = Arc::clone(&r.guard);
                let r = Arc::clone(r);
                let connect: seam_limits::Connect = Arc::new(move || {
                    let r = Arc::clone(&r);
                    Box::pin(async move { r.conn().await })
                });
                let on_error = match cfg.limits.on_error {
                    seam_config::limits::OnError::Open => seam_limits::OnError::Open,
                    seam_config::limits::OnError::Closed => seam_limits::OnError::Closed,
                };
                Limiter::redis(connect, Arc::clone(&r_guard), Some(ledger), on_error)
            }
            None => Limiter::local(Some(ledger)),
        };
        let subject_key = cfg.audit.master_key.as_ref().map(|k| {
            let derive = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k.0);
            let tag = ring::hmac::sign(&derive, SUBJECT_KEY_LABEL);
            ring::hmac::Key::new(ring::hmac::HMAC_SHA256, tag.as_ref())
        });
        Ok(Limits {
            limiter,
            cfg: RwLock::new(Arc::new(cfg.limits.clone())),
            subject_key,
        })
    }

    /// Whether requests depend on reaching Redis (shared counters with `on_error = "closed"`).
    pub fn needs_redis(&self) -> bool {
        self.limiter.fails_closed()
    }

    /// After a reload: new org, team and subject limits apply to the next request.
    pub fn set_config(&self, cfg: &LimitsConfig) {
        if let Ok(mut c) = self.cfg.write() {
            *c = Arc::new(cfg.clone());
        }
    }

    fn config(&self) -> Arc<LimitsConfig> {
        match self.cfg.read() {
            Ok(c) => Arc::clone(&c),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// The scopes a request counts against, widest first.
    pub fn scopes(&self, caller: Option<&Caller>, subject: Option<&str>) -> Vec<Scope> {
        let cfg = self.config();
        let mut out = Vec::new();
        // Ids are formatted only for scopes that limit something: most requests have none.
        let mut push = |r: Rule, id: &dyn Fn() -> String| {
            if !r.is_empty() {
                out.push(Scope { id: id(), rule: r });
            }
        };
        push(rule(&cfg.org), &|| "org".into());
        if let Some(c) = caller {
            if let Some(team) = &c.team
                && let Some(r) = cfg.teams.get(team)
            {
                push(rule(r), &|| format!("team:{team}"));
            }
            push(c.limits, &|| format!("key:{}", c.key_id));
        }
        if let Some(s) = subject
            && !cfg.subject.is_empty()
        {
            let owner = caller.map_or("anonymous", |c| c.key_id.as_str());
            push(rule(&cfg.subject), &|| {
                format!("subject:{owner}:{}", self.subject_id(s))
            });
        }
        out
    }

    /// 64 bits of HMAC-SHA256 (or SHA-256 without a master key) of the subject, in hex.
    fn subject_id(&self, subject: &str) -> String {
        let digest: Vec<u8> = match &self.subject_key {
            Some(k) => ring::hmac::sign(k, subject.as_bytes()).as_ref().to_vec(),
            None => ring::digest::digest(&ring::digest::SHA256, subject.as_bytes())
                .as_ref()
                .to_vec(),
        };
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// Output tokens reserved when the request sets no limit.
    pub fn default_max_tokens(&self) -> u64 {
        u64::from(self.config().default_max_tokens)
    }

    /// Counts a request in every scope, or refuses it with the error the client gets.
    /// `estimate` runs only when some scope limits tokens or spend.
    pub async fn admit(
        &self,
        request: &str,
        scopes: &[Scope],
        labels: Labels<'_>,
        estimate: impl FnOnce() -> (u64, u64),
    ) -> Result<Ticket, ApiError> {
        let needs = scopes
            .iter()
            .any(|s| s.rule.tpm.is_some() || s.rule.budget.is_some());
        let (tokens, microusd) = if needs { estimate() } else { (0, 0) };
        let ask = Ask {
            request: request.to_owned(),
            tokens,
            microusd,
        };
        self.limiter.admit(scopes, ask).await.map_err(|d| {
            let e = refusal(&d);
            let kind = d.scope().split(':').next().unwrap_or("none").to_owned();
            metrics::counter!(
                REJECTIONS,
                "code" => e.code.to_string(),
                "scope" => kind,
                "key" => labels.caller.map_or("none", |c| c.key_id.as_str()).to_owned(),
                "team" => labels.caller.and_then(|c| c.team.as_deref()).unwrap_or("").to_owned(),
                "model" => labels.model.to_owned(),
            )
            .increment(1);
            e
        })
    }
}

/// Bytes of prompt counted for a non-text part (an image): about 765 tokens, what a
/// high-detail 512×512 tile costs.
const PART_BYTES: usize = 3_060;

/// Tokens a chat request may use (prompt estimate plus its output cap) and the most that could
/// cost on the priciest target of its route, in millionths of a USD.
pub fn chat_estimate(
    live: &crate::Live,
    req: &seam_types::chat::ChatRequest,
    default_max: u64,
) -> (u64, u64) {
    use seam_types::chat::Content;
    let prompt: u64 = req
        .messages
        .iter()
        .map(|m| {
            let bytes = match &m.content {
                None => 0,
                Some(Content::Text(t)) => t.len(),
                Some(Content::Parts(parts)) => parts
                    .iter()
                    .map(|p| p.text.as_ref().map_or(PART_BYTES, String::len))
                    .sum(),
            };
            (bytes as u64).div_ceil(4) + 4
        })
        .sum();
    let per_choice = req
        .max_completion_tokens
        .or(req.max_tokens)
        .map_or(default_max, u64::from);
    let completion = per_choice * u64::from(req.n.unwrap_or(1).max(1));
    (
        prompt + completion,
        worst_cost(live, &req.model, prompt, completion),
    )
}

/// Tokens an embeddings request uses (its input estimate) and their worst-case cost.
pub fn embeddings_estimate(
    live: &crate::Live,
    req: &seam_types::embeddings::EmbeddingsRequest,
) -> (u64, u64) {
    let bytes = serde_json::to_vec(&req.input).map_or(0, |v| v.len());
    let prompt = (bytes as u64).div_ceil(4);
    (prompt, worst_cost(live, &req.model, prompt, 0))
}

/// The most `prompt` and `completion` tokens cost on any target `model` may route to.
fn worst_cost(live: &crate::Live, model: &str, prompt: u64, completion: u64) -> u64 {
    let Ok(route) = live.gateway.resolve(model) else {
        return 0;
    };
    let usage = seam_types::chat::Usage::new(prompt, completion);
    route
        .targets
        .iter()
        .filter_map(|t| live.prices.cost(&t.label, &usage))
        .map(micro)
        .max()
        .unwrap_or(0)
}

/// Settles a ticket with what the request used (cost in USD as reported or priced), without
/// holding the response back for a Redis round trip.
pub fn settle(ticket: Ticket, tokens: u64, cost_usd: Option<f64>) {
    ticket.settle_soon(Used {
        tokens,
        microusd: cost_usd.map_or(0, micro),
    });
}

fn usd(micro: u64) -> String {
    format!("{:.4}", micro as f64 / 1_000_000.0)
}

/// The scope as the client may read it: kind and name, never a subject.
fn describe(scope: &str) -> String {
    match scope.split_once(':') {
        Some(("key", id)) => format!("the key {id}"),
        Some(("team", name)) => format!("the team {name}"),
        Some(("subject", _)) => "this subject".into(),
        _ => "the gateway".into(),
    }
}

/// The 429 (or 503) for a refusal, with `retry-after`.
pub fn refusal(d: &Denied) -> ApiError {
    let (code, message, retry_ms) = match d {
        Denied::Requests {
            scope,
            limit,
            retry_after_ms,
        } => (
            ErrorCode::RateLimited,
            format!("{} is over its {limit} requests per minute", describe(scope)),
            Some(*retry_after_ms),
        ),
        Denied::Concurrency { scope, limit } => (
            ErrorCode::RateLimited,
            format!("{} already has {limit} requests in flight", describe(scope)),
            Some(1_000),
        ),
        Denied::Tokens {
            scope,
            limit,
            asked,
            retry_after_ms,
        } => (
            ErrorCode::TokensLimited,
            match retry_after_ms {
                Some(_) => format!(
                    "{} is over its {limit} tokens per minute (this request reserves {asked}: its prompt estimate plus max_tokens)",
                    describe(scope)
                ),
                None => format!(
                    "this request reserves {asked} tokens (its prompt estimate plus max_tokens), more than the {limit} tokens per minute of {}; lower max_tokens or shorten the prompt",
                    describe(scope)
                ),
            },
            *retry_after_ms,
        ),
        Denied::Budget {
            scope,
            limit,
            committed,
            asked,
            period,
            resets_at_ms,
        } => {
            let per = match period {
                Period::Day => "today (UTC)",
                Period::Month => "this month (UTC)",
            };
            (
                ErrorCode::BudgetExceeded,
                format!(
                    "{} has spent or reserved ${} of its ${} budget {per}, and this request may cost up to ${}",
                    describe(scope),
                    usd(*committed),
                    usd(*limit),
                    usd(*asked)
                ),
                Some(resets_at_ms.saturating_sub(seam_limits::now_ms())),
            )
        }
        Denied::Unavailable { .. } => (
            ErrorCode::LimitsUnavailable,
            "Limits could not be checked (the shared counters are unreachable), and limits.on_error is closed".into(),
            Some(1_000),
        ),
    };
    let mut e = ApiError::new(code, message);
    e.retry_after = retry_ms.map(seam_limits::retry_secs);
    e
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits(master_key: Option<&str>) -> Limits {
        let key = master_key.map(str::to_owned);
        let env = move |k: &str| (k == "SEAM_TEST_MASTER_KEY").then(|| key.clone()).flatten();
        let audit = if master_key.is_some() {
            "[audit]\nmaster_key = \"env:SEAM_TEST_MASTER_KEY\"\n"
        } else {
            ""
        };
        let toml = format!(
            "[storage]\nurl = \"sqlite:///nonexistent/never-written.db\"\n{audit}[providers.echo]\nkind = \"echo\"\n[limits.subject]\nrpm = 5\n"
        );
        let r = seam_config::Resolver {
            env: &env,
            base_dir: std::env::temp_dir(),
        };
        let cfg = seam_config::from_toml(&toml, &r).unwrap();
        Limits::open(&cfg, None).unwrap()
    }

    #[test]
    fn subjects_name_counters_by_a_keyed_hash_only() {
        let a = limits(Some("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="));
        let b = limits(Some("QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="));
        let plain = limits(None);
        let id = |l: &Limits| l.scopes(None, Some("ada@example.com"))[0].id.clone();
        assert!(id(&a).starts_with("subject:anonymous:") && !id(&a).contains("ada"));
        // Stable for one key (every replica shares it), different under another key, and the
        // unkeyed form is plain SHA-256.
        assert_eq!(
            id(&a),
            id(&limits(Some(
                "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
            )))
        );
        assert_ne!(id(&a), id(&b));
        assert_ne!(id(&a), id(&plain));
        assert_eq!(id(&plain).len(), "subject:anonymous:".len() + 16);
        // No subject limit configured: no subject scope at all.
        assert!(plain.scopes(None, None).is_empty());
    }

    #[test]
    fn refusals_name_the_scope_and_never_a_subject() {
        let e = refusal(&Denied::Requests {
            scope: "subject:key_1:abcd".into(),
            limit: 5,
            retry_after_ms: 1_500,
        });
        assert_eq!(e.status, 429);
        assert_eq!(e.code, "rate_limited");
        assert_eq!(e.retry_after, Some(2));
        assert!(e.message.contains("this subject"), "{}", e.message);
        assert!(!e.message.contains("abcd"));
        let e = refusal(&Denied::Budget {
            scope: "team:search".into(),
            limit: 1_000_000,
            committed: 990_000,
            asked: 20_000,
            period: Period::Day,
            resets_at_ms: seam_limits::now_ms() + 3_600_000,
        });
        assert_eq!(e.code, "budget_exceeded");
        assert!(e.message.contains("the team search"), "{}", e.message);
        assert!(
            e.message.contains("$0.9900 of its $1.0000"),
            "{}",
            e.message
        );
        assert!((3_599..=3_600).contains(&e.retry_after.unwrap()));
    }

    /// seam-limits' ledger through the adapter: a budget's spend reaches seam-store's
    /// `spend_ledger` and a fresh limiter (a restart) is seeded from it.
    #[tokio::test]
    async fn budgets_survive_a_restart_through_seam_stores_ledger() {
        let dir = std::env::temp_dir().join(format!(
            "seam-server-ledger-{}-{}",
            std::process::id(),
            seam_limits::now_ms()
        ));
        let store = seam_store::StoreConfig {
            backend: seam_store::BackendConfig::Sqlite {
                path: dir.join("ledger.db"),
            },
            master_key: None,
            retention: Vec::new(),
        };
        std::fs::create_dir_all(&dir).unwrap();
        let scopes = [Scope {
            id: "key:a".into(),
            rule: Rule {
                budget: Some(Budget {
                    microusd: 1_000_000,
                    period: Period::Month,
                }),
                ..Rule::default()
            },
        }];
        let ask = |id: &str, microusd| Ask {
            request: id.into(),
            tokens: 0,
            microusd,
        };
        let now = seam_limits::now_ms();
        {
            let l = Limiter::local(Some(
                seam_limits::LedgerSink::new(spend_store(store.clone())).unwrap(),
            ));
            let t = l.admit_at(&scopes, ask("a", 700_000), now).await.unwrap();
            t.settle_at(
                Used {
                    tokens: 0,
                    microusd: 650_000,
                },
                now,
            )
            .await;
        }
        // The writer flushes within a second of the last charge.
        let label = Period::Month.label(now);
        let mut seen = 0;
        for _ in 0..100 {
            let mut ledger = seam_store::Ledger::open(&store).unwrap();
            seen = ledger.spent("key:a", &label).unwrap();
            if seen == 650_000 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(seen, 650_000);
        let l = Limiter::local(Some(
            seam_limits::LedgerSink::new(spend_store(store.clone())).unwrap(),
        ));
        let refused = l.admit_at(&scopes, ask("b", 400_000), now).await.err();
        assert!(
            matches!(
                refused,
                Some(Denied::Budget {
                    committed: 650_000,
                    ..
                })
            ),
            "{refused:?}"
        );
        let fits = l.admit_at(&scopes, ask("c", 350_000), now).await;
        assert!(fits.is_ok());
        // Settled at its reservation, written by the writer's last flush before it ends; the
        // directory is left to the system's temp cleanup rather than raced with that write.
        drop((fits, l));
    }
}
