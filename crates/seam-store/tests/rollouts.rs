//! Rollout state, tallies and the decider's lease on both backends (harness: tests/common).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

#[macro_use]
mod common;

use common::{Env, Kind, cfg};
use seam_rollouts::{Observation, Tally};
use seam_store::*;

impl Env {
    fn rollouts(&self) -> RolloutStore {
        RolloutStore::open(&cfg(self.backend.clone(), None)).unwrap()
    }
}

fn obs(error: bool, latency_ms: f64) -> Observation {
    Observation {
        error,
        latency_ms,
        ttft_ms: None,
        cost_usd: Some(0.001),
        output_tokens: Some(10),
        policy_violation: false,
        contract_violation: false,
    }
}

fn runs_stages_and_compare_and_set(e: &mut Env) {
    let mut s = e.rollouts();
    assert!(s.get("v4").unwrap().is_none());
    let r = s.start("v4", false, "config").unwrap();
    assert_eq!((r.run, r.stage, r.status.as_str()), (1, 0, "running"));
    // Starting a running rollout again changes nothing; a restart is a new run.
    assert_eq!(s.start("v4", false, "again").unwrap().run, 1);
    assert!(s.transition("v4", 1, 0, 1, "running", "advance").unwrap());
    // A second decider acting on the same (run, stage) loses.
    assert!(
        !e.rollouts()
            .transition("v4", 1, 0, 1, "running", "advance")
            .unwrap()
    );
    let r = s.get("v4").unwrap().unwrap();
    assert_eq!((r.stage, r.reason.as_deref()), (1, Some("advance")));
    assert!(
        s.transition("v4", 1, 1, 1, "rolled_back", "error_rate")
            .unwrap()
    );
    let r = s.start("v4", false, "operator").unwrap();
    assert_eq!((r.run, r.stage, r.status.as_str()), (2, 0, "running"));
    assert_eq!(s.all().unwrap().len(), 1);
}

fn tallies_add_across_replicas(e: &mut Env) {
    let (mut a, mut b) = (e.rollouts(), e.rollouts());
    let (mut ta, mut tb) = (Tally::default(), Tally::default());
    for i in 0..100 {
        ta.observe(&obs(i % 10 == 0, 100.0 + f64::from(i)));
        tb.observe(&obs(false, 50.0));
    }
    ta.score("feedback:resolved", 1.0).unwrap();
    a.add("v4", 1, 0, "candidate", &ta.to_delta()).unwrap();
    b.add("v4", 1, 0, "candidate", &tb.to_delta()).unwrap();
    b.add("v4", 1, 0, "control", &tb.to_delta()).unwrap();
    b.add("v4", 2, 0, "control", &tb.to_delta()).unwrap();
    let rows = a.tallies("v4", 1).unwrap();
    assert_eq!(
        rows.iter()
            .map(|(s, v, _)| (*s, v.as_str()))
            .collect::<Vec<_>>(),
        [(0, "candidate"), (0, "control")]
    );
    let merged = Tally::from_delta(&rows[0].2);
    let mut expected = ta.clone();
    expected.merge(&tb);
    assert_eq!(merged.requests(), 200);
    assert_eq!(merged.moments("error").sum, 10.0);
    assert_eq!(merged.moments("feedback:resolved").n, 1);
    assert_eq!(
        merged.histogram("latency_ms").collect::<Vec<_>>(),
        expected.histogram("latency_ms").collect::<Vec<_>>()
    );
    // Another run's rows stay apart.
    assert_eq!(a.tallies("v4", 2).unwrap().len(), 1);
}

fn one_decider_at_a_time(e: &mut Env) {
    let (mut a, mut b) = (e.rollouts(), e.rollouts());
    assert!(a.lease("v4", "replica-a", 60_000).unwrap());
    assert!(a.lease("v4", "replica-a", 60_000).unwrap(), "renewal");
    assert!(!b.lease("v4", "replica-b", 60_000).unwrap());
    // An expired lease passes on.
    assert!(a.lease("v5", "replica-a", -1).unwrap());
    assert!(b.lease("v5", "replica-b", 60_000).unwrap());
    assert!(!a.lease("v5", "replica-a", 60_000).unwrap());
}

fn run(kind: Kind, body: fn(&mut Env)) {
    if let Some(mut e) = common::env(kind, "rollouts.db") {
        body(&mut e);
    }
}

on_both_backends!(
    runs_stages_and_compare_and_set,
    tallies_add_across_replicas,
    one_decider_at_a_time,
);
