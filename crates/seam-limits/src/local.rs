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

/// A sliding window of weighted entries, one bucket per millisecond in which something was
/// counted, oldest first. Entries count while `now - at < WINDOW_MS`. Memory is bounded by the
/// window's 60,000 milliseconds, not by the traffic: a scope admitting 10,000 requests a second
/// holds at most 60,000 buckets, where a log of entries would hold 600,000.
#[derive(Default)]
pub(crate) struct Window {
    buckets: VecDeque<Bucket>,
    count: u64,
    sum: u64,
}

#[derive(Clone, Copy)]
struct Bucket {
    at: u64,
    count: u64,
    weight: u64,
}

impl Window {
    pub(crate) fn expire(&mut self, now: u64) {
        while let Some(b) = self.buckets.front() {
            if b.at + WINDOW_MS > now {
                break;
            }
            self.count -= b.count;
            self.sum = self.sum.saturating_sub(b.weight);
            self.buckets.pop_front();
        }
    }

    pub(crate) fn len(&self) -> usize {
        usize::try_from(self.count).unwrap_or(usize::MAX)
    }

    pub(crate) fn sum(&self) -> u64 {
        self.sum
    }

    pub(crate) fn add(&mut self, at: u64, weight: u64) {
        self.count += 1;
        self.sum += weight;
        match self.buckets.back_mut() {
            Some(b) if b.at == at => {
                b.count += 1;
                b.weight += weight;
                return;
            }
            Some(b) if b.at > at => {}
            _ => {
                self.buckets.push_back(Bucket {
                    at,
                    count: 1,
                    weight,
                });
                return;
            }
        }
        // Admissions can reach the lock slightly out of the order of their clocks: keep the
        // buckets sorted, so that expiry and `reweigh` find them.
        let i = self.buckets.partition_point(|b| b.at < at);
        match self.buckets.get_mut(i) {
            Some(b) if b.at == at => {
                b.count += 1;
                b.weight += weight;
            }
            _ => self.buckets.insert(
                i,
                Bucket {
                    at,
                    count: 1,
                    weight,
                },
            ),
        }
    }

    /// Replaces the weight `from` of an entry added at `at` with `to` (a reservation
    /// reconciled); nothing if it already left.
    pub(crate) fn reweigh(&mut self, at: u64, from: u64, to: u64) {
        let i = self.buckets.partition_point(|b| b.at < at);
        if let Some(b) = self.buckets.get_mut(i)
            && b.at == at
        {
            let from = from.min(b.weight);
            b.weight = b.weight - from + to;
            self.sum = self.sum.saturating_sub(from) + to;
        }
    }

    /// How long until fewer than `limit` entries remain, leaving room for one more.
    pub(crate) fn wait_count(&self, limit: usize, now: u64) -> u64 {
        let excess = self.count.saturating_sub(limit as u64);
        let mut passed = 0;
        for b in &self.buckets {
            passed += b.count;
            if passed > excess {
                return (b.at + WINDOW_MS).saturating_sub(now).max(1);
            }
        }
        1
    }

    /// How long until entries weighing at least `need` have left.
    pub(crate) fn wait_weight(&self, need: u64, now: u64) -> u64 {
        let mut freed = 0;
        for b in &self.buckets {
            freed += b.weight;
            if freed >= need {
                return (b.at + WINDOW_MS).saturating_sub(now).max(1);
            }
        }
        WINDOW_MS
    }

    fn is_empty(&self) -> bool {
        self.buckets.is_empty()
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
                && st.requests.len() >= rpm as usize
            {
                return Step::Denied(Denied::Requests {
                    scope: scope.id.clone(),
                    limit: rpm,
                    retry_after_ms: st.requests.wait_count(rpm as usize, now),
                });
            }
            if let Some(tpm) = rule.tpm {
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
                st.requests.add(now, 1);
            }
            if rule.tpm.is_some() {
                st.tokens.add(now, ask.tokens);
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
                st.tokens.reweigh(a.at_ms, a.ask.tokens, used.tokens);
            }
            if h.concurrency {
                st.in_flight.remove(&id);
            }
            if let Some((label, _)) = &h.budget
                && let Some(spend) = st.budgets.get_mut(label)
                // Only the settlement that removes the reservation charges: settling twice
                // counts once, as in Redis.
                && let Some(r) = spend.reserved.remove(&id)
            {
                spend.reserved_sum -= r;
                spend.spent += used.microusd;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window's memory follows the milliseconds it covers, not the requests counted in them.
    #[test]
    fn a_window_keeps_one_bucket_per_millisecond() {
        let mut w = Window::default();
        for i in 0..100_000u64 {
            w.add(1_000 + i % 10, 2);
        }
        assert_eq!(w.buckets.len(), 10);
        assert_eq!((w.len(), w.sum()), (100_000, 200_000));
        // Half the entries leave with the first five milliseconds (1,000 to 1,004).
        w.expire(1_004 + WINDOW_MS);
        assert_eq!((w.len(), w.sum()), (50_000, 100_000));
    }

    #[test]
    fn waits_reweighs_and_late_arrivals_are_exact() {
        let mut w = Window::default();
        w.add(100, 5);
        w.add(300, 7);
        w.add(300, 1);
        // A clock read before the previous admission's: it goes where it belongs.
        w.add(200, 3);
        assert_eq!(
            w.buckets.iter().map(|b| b.at).collect::<Vec<_>>(),
            [100, 200, 300]
        );
        let now = 1_000;
        // Four entries and a limit of four: one more fits once the oldest has left.
        assert_eq!(w.wait_count(4, now), 100 + WINDOW_MS - now);
        // A limit of three: two must leave, the second at 200 + 60 s.
        assert_eq!(w.wait_count(3, now), 200 + WINDOW_MS - now);
        // A limit of two: both entries at 300 count.
        assert_eq!(w.wait_count(2, now), 300 + WINDOW_MS - now);
        assert_eq!(w.wait_weight(8, now), 200 + WINDOW_MS - now);
        // A reservation of 7 at 300 that used 2.
        w.reweigh(300, 7, 2);
        assert_eq!(w.sum(), 5 + 3 + 2 + 1);
        // An entry that already left is not reweighed.
        w.expire(150 + WINDOW_MS);
        w.reweigh(100, 5, 50);
        assert_eq!((w.len(), w.sum()), (3, 6));
    }
}
