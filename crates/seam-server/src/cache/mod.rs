//! The exact response cache: a repeated request, byte for byte the same question to the same
//! route config within the same scope, is answered from what the first one received.
//!
//! Opt-in per alias (`[models.NAME] cache`) or per key (`[keys.NAME] cache`, `seam keys create
//! --cache-ttl`). [`Rules`] (built per config, swapped by a reload) decide whether a request is
//! cached and derive its [`key`]: the scope (`key:ID`, `team:NAME` or `org`), a fingerprint of the
//! route's answer-relevant config (targets, strategy, placement, contract, policy, providers, and
//! the caller's own key policy), and the canonical request. [`Cache`] holds entries in this process ([`local`], bounded by bytes,
//! LRU) or in Redis with `storage.redis_url` (`SET … PX ttl` under `seam:cache:`). The prompt is
//! never stored or logged: the key is a hash. The handler stores only what a client received in
//! full: no errors, no stream that failed or was cut, no answer the output policy touched or the
//! input policy tokenized, nothing over `cache.max_entry_bytes`.
//!
//! A rule with `mode = "semantic"` adds [`semantic`]: after an exact miss, a question close in
//! meaning within the same partition (scope, fingerprint and the rest of the request) is
//! answered from an in-process index of embeddings.

pub mod key;
mod local;
pub mod semantic;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use metrics::{counter, describe_counter};
use ring::digest;
use seam_config::{CacheConfig, CacheRule, CacheScope, Config, Placement};
use seam_gateway::{OutputSeen, Remask};
use seam_types::chat::ChatRequest;

use crate::auth::Caller;
use crate::shared::Redis;
use seam_limits::GuardError;

/// `x-seam-cache`: `hit`, `semantic-hit` or `miss`; absent when caching is off for the request.
pub const HEADER: &str = "x-seam-cache";
pub const REQUESTS: &str = "seam_cache_requests_total";
pub const STORES: &str = "seam_cache_stores_total";

const REDIS_PREFIX: &str = "seam:cache:";
/// Bookkeeping per in-process entry and per stream event, counted against `max_bytes`.
const ENTRY_OVERHEAD: usize = 160;
const EVENT_OVERHEAD: usize = 16;

pub fn describe() {
    describe_counter!(
        REQUESTS,
        "Chat requests the cache applied to, by result (hit, semantic_hit, miss; coalesced: a miss that waited for an identical request in flight and then hit) and alias."
    );
    describe_counter!(STORES, "Answers stored in the exact cache, by alias.");
    describe_counter!(
        semantic::STORES,
        "Answers stored in the semantic cache's index, by alias."
    );
    metrics::describe_histogram!(
        semantic::EMBED_SECONDS,
        metrics::Unit::Seconds,
        "Time to embed a request's last user message for a semantic cache lookup, by embedder."
    );
}

/// What a client received, as it is replayed.
#[derive(Clone, Debug)]
pub enum Answer {
    /// The JSON body of a completion.
    Unary(Bytes),
    /// Every SSE event before `data: [DONE]`, framed as sent (`data: …\n\n`).
    Stream(Arc<[Bytes]>),
}

#[derive(Clone, Debug)]
pub struct Stored {
    /// `provider/model` of the target that answered first (`x-seam-route` of a hit).
    pub route: Arc<str>,
    pub answer: Answer,
}

impl Stored {
    pub(crate) fn payload_bytes(&self) -> usize {
        self.route.len()
            + match &self.answer {
                Answer::Unary(b) => b.len(),
                Answer::Stream(events) => events.iter().map(Bytes::len).sum(),
            }
    }
}

/// Whether an answer may be stored: the input policy minted no tokens for it (the answer
/// carries restored values) and the output stage found nothing in it. For a stream, ask again
/// once it has ended.
pub fn cacheable(remask: Option<&Remask>, output: &OutputSeen) -> bool {
    remask.is_none() && !output.any()
}

/// One request's place in the cache.
#[derive(Clone, Debug)]
pub struct Plan {
    key: key::Key,
    ttl: Duration,
    /// The metric label: the alias, or `direct` for `PROVIDER/MODEL` (client-chosen, unbounded).
    alias: String,
    /// With a semantic rule, when the request may be answered semantically.
    semantic: Option<semantic::Ask>,
}

/// The cache rules of one config, with the fingerprints that keep entries from surviving a
/// change to what answers.
pub struct Rules {
    aliases: HashMap<String, (Option<CacheRule>, [u8; 32])>,
    /// Direct addressing: per provider, with the default policy.
    providers: HashMap<String, [u8; 32]>,
    /// Every policy, for a key's own policy laid over its routes' (it changes what is answered).
    policies: HashMap<String, [u8; 32]>,
}

impl Rules {
    pub fn new(cfg: &Config) -> Self {
        let policy = |name: &str| format!("{:?}", cfg.policies.get(name));
        let provider = |name: &str| format!("{:?}", cfg.providers.get(name));
        let aliases = cfg
            .models
            .iter()
            .map(|(alias, m)| {
                let mut text = format!(
                    "alias {alias:?} {:?} {:?} {:?} {:?} {}",
                    m.strategy,
                    m.targets,
                    m.placement,
                    m.output_schema,
                    policy(&m.policy)
                );
                for t in &m.targets {
                    text.push_str(&provider(&t.provider));
                }
                (alias.clone(), (m.cache.clone(), sha256(text.as_bytes())))
            })
            .collect();
        let default_policy = policy(seam_config::DEFAULT_POLICY);
        let providers = cfg
            .providers
            .keys()
            .map(|p| {
                let text = format!("direct {} {default_policy}", provider(p));
                (p.clone(), sha256(text.as_bytes()))
            })
            .collect();
        let policies = cfg
            .policies
            .iter()
            .map(|(name, p)| (name.clone(), sha256(format!("policy {p:?}").as_bytes())))
            .collect();
        Rules {
            aliases,
            providers,
            policies,
        }
    }

    /// Where `req` lives in the cache, or `None` when no rule applies to it (or its route is
    /// unknown, which the gateway will report).
    pub fn plan(
        &self,
        req: &ChatRequest,
        caller: Option<&Caller>,
        alias: Option<&str>,
        placement: &Placement,
    ) -> Option<Plan> {
        let key_rule = caller.and_then(|c| c.cache.as_ref());
        let (fingerprint, rule, alias) = if let Some(alias) = alias {
            let (rule, fp) = self.aliases.get(alias)?;
            (
                fp,
                CacheRule::combine(key_rule, rule.as_ref())?,
                alias.to_owned(),
            )
        } else {
            let rule = key_rule?.clone();
            let (provider, _) = req.model.split_once('/')?;
            (self.providers.get(provider)?, rule, "direct".to_owned())
        };
        // A key's policy tightens its routes': the same question may get another answer (or a
        // refusal) under it, so it is part of what the entry depends on.
        let with_policy;
        let fingerprint = match caller.and_then(|c| c.policy.as_deref()) {
            None => fingerprint,
            Some(name) => {
                let mut both = [0u8; 64];
                both[..32].copy_from_slice(fingerprint);
                both[32..].copy_from_slice(self.policies.get(name)?);
                with_policy = sha256(&both);
                &with_policy
            }
        };
        // The placement the request is held to (alias ∩ key ∩ header): an answer produced under
        // one must never serve a request held to another, or a cache hit would bypass residency.
        let with_placement;
        let fingerprint = if placement.is_unconstrained() {
            fingerprint
        } else {
            let mut text = fingerprint.to_vec();
            text.extend_from_slice(b"placement ");
            text.extend_from_slice(placement.to_string().as_bytes());
            with_placement = sha256(&text);
            &with_placement
        };
        let scope = scope(
            rule.scope,
            caller.map(|c| c.key_id.as_str()),
            caller.and_then(|c| c.team.as_deref()),
        );
        let semantic = rule
            .semantic
            .as_ref()
            .and_then(|s| semantic::ask(req, &scope, fingerprint, s));
        Some(Plan {
            key: key::derive(req, &scope, fingerprint)?,
            ttl: rule.ttl,
            alias,
            semantic,
        })
    }
}

/// The scope string of the key: which callers share an entry. Without a caller (no keys
/// configured) there is one anonymous key.
fn scope(scope: CacheScope, key_id: Option<&str>, team: Option<&str>) -> String {
    match (scope, team) {
        (CacheScope::Org, _) => "org".to_owned(),
        (CacheScope::Team, Some(t)) => format!("team:{t}"),
        _ => format!("key:{}", key_id.unwrap_or_default()),
    }
}

/// A stored key's cache rule (`seam keys create --cache-ttl`).
pub fn stored_rule(scope: &seam_store::KeyScope) -> Option<CacheRule> {
    let ttl = scope.cache_ttl_s.filter(|t| *t > 0)?;
    Some(CacheRule {
        ttl: Duration::from_secs(ttl.min(seam_config::cache::MAX_TTL_S)),
        scope: match scope.cache_scope {
            None | Some(seam_store::CacheScope::Key) => CacheScope::Key,
            Some(seam_store::CacheScope::Team) => CacheScope::Team,
            Some(seam_store::CacheScope::Org) => CacheScope::Org,
        },
        // Stored keys have no semantic rule (`--cache-ttl` is exact only).
        semantic: None,
    })
}

/// Where entries live: this process, or Redis. Opened once; `[cache]` changes need a restart.
pub struct Cache {
    store: Store,
    max_entry_bytes: usize,
    /// Misses being answered now, by key: identical requests that arrive meanwhile wait for the
    /// first instead of all going upstream (per replica).
    flights: Arc<std::sync::Mutex<HashMap<key::Key, tokio::sync::watch::Receiver<()>>>>,
    /// The semantic index: in this process, also with Redis (per replica).
    semantic: semantic::Index,
}

/// How long an identical request waits for the first one's answer before asking upstream itself.
const FOLLOW_WAIT: Duration = Duration::from_secs(30);

/// The first of identical concurrent misses: the others wait until it is dropped (its answer
/// stored, or not storable, or failed).
pub struct Lead {
    key: key::Key,
    flights: Arc<std::sync::Mutex<HashMap<key::Key, tokio::sync::watch::Receiver<()>>>>,
    // Dropping it (after the entry is removed) wakes every follower.
    _done: tokio::sync::watch::Sender<()>,
}

impl Drop for Lead {
    fn drop(&mut self) {
        let mut m = match self.flights.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.remove(&self.key);
    }
}

/// What a miss does: answer it (and lead the identical requests behind it), or wait for the one
/// already being answered.
pub enum Flight {
    Lead(Lead),
    Follow(tokio::sync::watch::Receiver<()>),
}

enum Store {
    Local(local::Lru),
    Redis(Arc<Redis>),
}

impl Cache {
    pub fn new(cfg: &CacheConfig, redis: Option<Arc<Redis>>) -> Self {
        Cache {
            store: match redis {
                Some(r) => Store::Redis(r),
                None => Store::Local(local::Lru::new(cfg.max_bytes)),
            },
            max_entry_bytes: cfg.max_entry_bytes,
            flights: Arc::new(std::sync::Mutex::new(HashMap::new())),
            semantic: semantic::Index::new(cfg.semantic_max_bytes, semantic::PER_PARTITION),
        }
    }

    /// After a miss: lead the answer for `plan`, or follow the request already leading it.
    pub fn join(&self, plan: &Plan) -> Flight {
        let mut m = match self.flights.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if let Some(rx) = m.get(&plan.key) {
            return Flight::Follow(rx.clone());
        }
        let (tx, rx) = tokio::sync::watch::channel(());
        m.insert(plan.key, rx);
        Flight::Lead(Lead {
            key: plan.key,
            flights: Arc::clone(&self.flights),
            _done: tx,
        })
    }

    /// Waits (up to [`FOLLOW_WAIT`]) for the leading request, then looks again. A hit counts as
    /// `coalesced` (the first lookup already counted the miss); no hit, and the caller asks
    /// upstream itself.
    pub async fn follow(
        &self,
        plan: &Plan,
        mut done: tokio::sync::watch::Receiver<()>,
    ) -> Option<Stored> {
        // `changed` returns as soon as the leader's sender is dropped, even if that was earlier.
        let _ = tokio::time::timeout(FOLLOW_WAIT, done.changed()).await;
        let found = self.lookup(plan).await;
        if found.is_some() {
            counter!(REQUESTS, "result" => "coalesced", "alias" => plan.alias.clone()).increment(1);
        }
        found
    }

    async fn lookup(&self, plan: &Plan) -> Option<Stored> {
        match &self.store {
            Store::Local(lru) => lru.get(&plan.key, Instant::now()),
            Store::Redis(r) => redis_get(r, &plan.key).await,
        }
    }

    /// The most an answer may weigh to be stored.
    pub fn max_entry_bytes(&self) -> usize {
        self.max_entry_bytes
    }

    /// The entry for `plan`, counting the hit or miss (a miss of a semantic plan is counted by
    /// the semantic lookup that follows).
    pub async fn get(&self, plan: &Plan) -> Option<Stored> {
        let found = self.lookup(plan).await;
        let result = if found.is_some() { "hit" } else { "miss" };
        if found.is_some() || !plan.is_semantic() {
            counter!(REQUESTS, "result" => result, "alias" => plan.alias.clone()).increment(1);
        }
        found
    }

    /// Stores an answer for `plan.ttl`, unless it is over `max_entry_bytes`. Failures are
    /// logged, never the client's problem.
    pub async fn put(&self, plan: &Plan, stored: Stored) {
        let size = stored.payload_bytes();
        if size > self.max_entry_bytes {
            return;
        }
        self.put_semantic(plan, &stored, semantic::weight(&stored));
        let kept = match &self.store {
            Store::Local(lru) => {
                let events = match &stored.answer {
                    Answer::Unary(_) => 0,
                    Answer::Stream(e) => e.len(),
                };
                let weight = size + ENTRY_OVERHEAD + events * EVENT_OVERHEAD;
                lru.put(plan.key, stored, weight, Instant::now() + plan.ttl);
                true
            }
            Store::Redis(r) => redis_put(r, &plan.key, &stored, plan.ttl).await,
        };
        if kept {
            counter!(STORES, "alias" => plan.alias.clone()).increment(1);
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

fn redis_key(key: &key::Key) -> String {
    let mut s = String::with_capacity(REDIS_PREFIX.len() + 64);
    s.push_str(REDIS_PREFIX);
    for b in key {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

async fn redis_get(r: &Redis, key: &key::Key) -> Option<Stored> {
    let lookup = async {
        let mut conn = r.conn().await?;
        redis::cmd("GET")
            .arg(redis_key(key))
            .query_async::<Option<Vec<u8>>>(&mut conn)
            .await
    };
    match r.guard.run(lookup).await {
        Ok(Some(bytes)) => decode(&bytes).or_else(|| {
            tracing::warn!("a cache entry in Redis could not be read; treated as a miss");
            None
        }),
        Ok(None) => None,
        // An open breaker was logged when it opened.
        Err(GuardError::Open) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cache lookup in Redis failed; treated as a miss");
            None
        }
    }
}

async fn redis_put(r: &Redis, key: &key::Key, stored: &Stored, ttl: Duration) -> bool {
    let value = encode(stored);
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    let write = async {
        let mut conn = r.conn().await?;
        redis::cmd("SET")
            .arg(redis_key(key))
            .arg(value)
            .arg("PX")
            .arg(ms)
            .query_async::<()>(&mut conn)
            .await
    };
    match r.guard.run(write).await {
        Ok(()) => true,
        Err(GuardError::Open) => false,
        Err(e) => {
            tracing::warn!(error = %e, "cache store in Redis failed");
            false
        }
    }
}

/// An entry as Redis holds it: a version byte, a kind byte (0 unary, 1 stream), the route
/// (u16 length), then the body, or each event with its u32 length.
fn encode(s: &Stored) -> Vec<u8> {
    let route = s.route.as_bytes();
    let route = &route[..route.len().min(usize::from(u16::MAX))];
    let mut out = Vec::with_capacity(s.payload_bytes() + 16);
    out.push(1);
    out.push(match s.answer {
        Answer::Unary(_) => 0,
        Answer::Stream(_) => 1,
    });
    out.extend_from_slice(&u16::try_from(route.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(route);
    match &s.answer {
        Answer::Unary(b) => out.extend_from_slice(b),
        Answer::Stream(events) => {
            for e in events.iter() {
                out.extend_from_slice(&u32::try_from(e.len()).unwrap_or(u32::MAX).to_be_bytes());
                out.extend_from_slice(e);
            }
        }
    }
    out
}

fn decode(bytes: &[u8]) -> Option<Stored> {
    let (&[1, kind], rest) = bytes.split_first_chunk::<2>()? else {
        return None;
    };
    let (len, rest) = rest.split_first_chunk::<2>()?;
    let (route, mut rest) = rest.split_at_checked(usize::from(u16::from_be_bytes(*len)))?;
    let route: Arc<str> = std::str::from_utf8(route).ok()?.into();
    let answer = match kind {
        0 => Answer::Unary(Bytes::copy_from_slice(rest)),
        1 => {
            let mut events = Vec::new();
            while !rest.is_empty() {
                let (len, tail) = rest.split_first_chunk::<4>()?;
                let n = usize::try_from(u32::from_be_bytes(*len)).ok()?;
                let (event, tail) = tail.split_at_checked(n)?;
                events.push(Bytes::copy_from_slice(event));
                rest = tail;
            }
            Answer::Stream(events.into())
        }
        _ => return None,
    };
    Some(Stored { route, answer })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn entries_round_trip_and_garbage_is_a_miss(
            route in "[a-z/]{0,20}",
            events in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
            stream in any::<bool>(),
            junk in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let answer = if stream {
                Answer::Stream(events.iter().map(|e| Bytes::from(e.clone())).collect::<Vec<_>>().into())
            } else {
                Answer::Unary(Bytes::from(events.concat()))
            };
            let s = Stored { route: route.as_str().into(), answer };
            let back = decode(&encode(&s)).unwrap();
            prop_assert_eq!(&*back.route, &*s.route);
            prop_assert_eq!(format!("{:?}", back.answer), format!("{:?}", s.answer));
            let _ = decode(&junk);
        }
    }

    #[test]
    fn scopes_name_the_key_the_team_or_everyone() {
        let table = [
            (CacheScope::Key, Some("k1"), Some("pay"), "key:k1"),
            (CacheScope::Team, Some("k1"), Some("pay"), "team:pay"),
            (CacheScope::Team, Some("k1"), None, "key:k1"),
            (CacheScope::Org, Some("k1"), Some("pay"), "org"),
            (CacheScope::Key, None, None, "key:"),
            (CacheScope::Team, None, None, "key:"),
            (CacheScope::Org, None, None, "org"),
        ];
        for (s, key, team, expect) in table {
            assert_eq!(scope(s, key, team), expect, "{s:?} {key:?} {team:?}");
        }
    }
}
