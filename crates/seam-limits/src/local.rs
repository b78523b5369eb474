//! Counters in this process: one lock over every scope's state, held for a few microseconds.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use crate::{Admitted, Ask, Denied, Scope, Step, Used, WINDOW_MS};

/// Scopes tracked at most; beyond it, scopes idle for a minute are forgotten (their windows are
/// empty, and their spend is in the ledger).
const MAX_SCOPES: usize = 100_000;

/// A request id as a 64-bit hash (SipHash with fixed keys: the same in every process).
pub(crate) fn id_hash(request: &str) -> u64 {
    let mut h = DefaultHasher::new();
    request.hash(&mut h);
    h.finish()
}

/// A sliding log of weighted entries, oldest first. Entries count while `now - at < WINDOW_MS`.
#[derive(Default)]
pub(crate) struct Window {
    log: VecDeque<(u64, u64)>,
    weights: HashMap<u64, u64>,
    sum: u64,
}

impl Window {
    pub(crate) fn expire(&mut self, now: u64) {
        while let Some(&(at, id)) = self.log.front() {
            if at + WINDOW_MS > now {
                break;
            }
            self.log.pop_front();
            if let Some(w) = self.weights.remove(&id) {
                self.sum = self.sum.saturating_sub(w);
            }
        }
    }

    pub(crate) fn contains(&self, id: u64) -> bool {
        self.weights.contains_key(&id)
    }

    pub(crate) fn len(&self) -> usize {
        self.log.len()
    }

    pub(crate) fn sum(&self) -> u64 {
        self.sum
    }

    pub(crate) fn add(&mut self, at: u64, id: u64, weight: u64) {
        if self.weights.insert(id, weight).is_none() {
            self.log.push_back((at, id));
            self.sum += weight;
        }
    }

    /// Replaces an entry's weight (a reservation reconciled); nothing if it already left.
    pub(crate) fn reweigh(&mut self, id: u64, weight: u64) {
        if let Some(w) = self.weights.get_mut(&id) {
            self.sum = self.sum - *w + weight;
            *w = weight;
        }
    }

    /// How long until fewer than `limit` entries remain, leaving room for one more.
    pub(crate) fn wait_count(&self, limit: usize, now: u64) -> u64 {
        let excess = self.log.len().saturating_sub(limit);
        self.log
            .get(excess)
            .map_or(1, |(at, _)| (at + WINDOW_MS).saturating_sub(now).max(1))
    }

    /// How long until entries weighing at least `need` have left.
    pub(crate) fn wait_weight(&self, need: u64, now: u64) -> u64 {
        let mut freed = 0;
        for (at, id) in &self.log {
            freed += self.weights.get(id).copied().unwrap_or(0);
            if freed >= need {
                return (at + WINDOW_MS).saturating_sub(now).max(1);
            }
        }
        WINDOW_MS
    }

    fn is_empty(&self) -> bool {
        self.log.is_empty()
    }
}

#[derive(Default)]
struct Spend {
    spent: u64,
    reserved: HashMap<u64, u64>,
    reserved_sum: u64,
}

#[derive(Default)]
struct State {
    requests: Window,
    tokens: Window,
    in_flight: HashSet<u64>,
    /// Period label → spend in it.
    budgets: HashMap<String, Spend>,
    last_ms: u64,
}

impl State {
    fn idle(&self, now: u64) -> bool {
        self.in_flight.is_empty()
            && self.budgets.values().all(|b| b.reserved.is_empty())
            && now.saturating_sub(self.last_ms) >= WINDOW_MS
            && self.requests.is_empty()
            && self.tokens.is_empty()
    }
}

#[derive(Default)]
pub(crate) struct Local {
    scopes: Mutex<HashMap<String, State>>,
}

impl Local {
    pub(crate) fn admit(&self, scopes: &[&Scope], ask: &Ask, now: u64) -> Step {
        let id = id_hash(&ask.request);
        let mut map = match self.scopes.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if map.len() >= MAX_SCOPES {
            map.retain(|_, s| !s.idle(now));
        }
        // Check every scope before counting in any.
        for (index, scope) in scopes.iter().enumerate() {
            let st = map.entry(scope.id.clone()).or_default();
            st.requests.expire(now);
            st.tokens.expire(now);
            let rule = &scope.rule;
            if let Some(rpm) = rule.rpm
                && !st.requests.contains(id)
                && st.requests.len() >= rpm as usize
            {
                return Step::Denied(Denied::Requests {
                    scope: scope.id.clone(),
                    limit: rpm,
                    retry_after_ms: st.requests.wait_count(rpm as usize, now),
                });
            }
            if let Some(tpm) = rule.tpm
                && !st.tokens.contains(id)
            {
                if ask.tokens > tpm {
                    return Step::Denied(Denied::Tokens {
                        scope: scope.id.clone(),
                        limit: tpm,
                        asked: ask.tokens,
                        retry_after_ms: None,
                    });
                }
                if st.tokens.sum() + ask.tokens > tpm {
                    return Step::Denied(Denied::Tokens {
                        scope: scope.id.clone(),
                        limit: tpm,
                        asked: ask.tokens,
                        retry_after_ms: Some(
                            st.tokens
                                .wait_weight(st.tokens.sum() + ask.tokens - tpm, now),
                        ),
                    });
                }
            }
            if let Some(max) = rule.concurrency
                && !st.in_flight.contains(&id)
                && st.in_flight.len() >= max as usize
            {
                return Step::Denied(Denied::Concurrency {
                    scope: scope.id.clone(),
                    limit: max,
                });
            }
            if let Some(b) = rule.budget {
                let label = b.period.label(now);
                // Earlier periods are done with once nothing is reserved in them.
                st.budgets
                    .retain(|l, s| *l == label || !s.reserved.is_empty());
                let Some(spend) = st.budgets.get(&label) else {
                    return Step::Seed { index, label };
                };
                let committed = spend.spent + spend.reserved_sum;
                if !spend.reserved.contains_key(&id) && committed + ask.microusd > b.microusd {
                    return Step::Denied(Denied::Budget {
                        scope: scope.id.clone(),
                        limit: b.microusd,
                        committed,
                        asked: ask.microusd,
                        period: b.period,
                        resets_at_ms: b.period.end_ms(now),
                    });
                }
            }
        }
        for scope in scopes {
            let st = map.entry(scope.id.clone()).or_default();
            st.last_ms = now;
            let rule = &scope.rule;
            if rule.rpm.is_some() {
                st.requests.add(now, id, 1);
            }
            if rule.tpm.is_some() {
                st.tokens.add(now, id, ask.tokens);
            }
            if rule.concurrency.is_some() {
                st.in_flight.insert(id);
            }
            if let Some(b) = rule.budget
                && let Some(spend) = st.budgets.get_mut(&b.period.label(now))
                && spend.reserved.insert(id, ask.microusd).is_none()
            {
                spend.reserved_sum += ask.microusd;
            }
        }
        Step::Admitted
    }

    /// Loads a budget counter, unless another request loaded it first.
    pub(crate) fn seed(&self, scope: &str, label: &str, spent: u64) {
        let mut map = match self.scopes.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.entry(scope.to_owned())
            .or_default()
            .budgets
            .entry(label.to_owned())
            .or_insert(Spend {
                spent,
                ..Spend::default()
            });
    }

    pub(crate) fn settle(&self, a: &Admitted, used: Used, now: u64) {
        let id = id_hash(&a.request);
        let mut map = match self.scopes.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        for h in &a.held {
            let Some(st) = map.get_mut(&h.id) else {
                continue;
            };
            st.last_ms = st.last_ms.max(now);
            if h.tpm {
                st.tokens.reweigh(id, used.tokens);
            }
            if h.concurrency {
                st.in_flight.remove(&id);
            }
            if let Some((label, _)) = &h.budget
                && let Some(spend) = st.budgets.get_mut(label)
            {
                if let Some(r) = spend.reserved.remove(&id) {
                    spend.reserved_sum -= r;
                }
                spend.spent += used.microusd;
            }
        }
    }
}
