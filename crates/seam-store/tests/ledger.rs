//! The spend ledger on both backends (harness: tests/common).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

#[macro_use]
mod common;

use common::{Env, Kind, cfg};
use seam_store::*;

fn charge(scope: &str, period: &str, microusd: u64) -> Charge {
    Charge {
        scope: scope.into(),
        period: period.into(),
        microusd,
    }
}

impl Env {
    fn ledger(&self) -> Ledger {
        Ledger::open(&cfg(self.backend.clone(), None)).unwrap()
    }
}

fn increments_add_up_per_scope_and_period(e: &mut Env) {
    let mut l = e.ledger();
    assert_eq!(l.spent("key:a", "d:2026-11-29").unwrap(), 0);
    l.add(&[
        charge("key:a", "d:2026-11-29", 1_500),
        charge("key:a", "m:2026-11", 1_500),
        charge("team:x", "d:2026-11-29", 1_500),
    ])
    .unwrap();
    l.add(&[charge("key:a", "d:2026-11-29", 250)]).unwrap();
    assert_eq!(l.spent("key:a", "d:2026-11-29").unwrap(), 1_750);
    assert_eq!(l.spent("key:a", "m:2026-11").unwrap(), 1_500);
    assert_eq!(l.spent("key:a", "d:2026-11-30").unwrap(), 0);
    assert_eq!(
        l.period("d:2026-11-29", 10).unwrap(),
        vec![("key:a".into(), 1_750), ("team:x".into(), 1_500)]
    );
}

/// Two replicas adding at once never lose an increment.
fn replicas_add_without_losing_increments(e: &mut Env) {
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let mut l = e.ledger();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    l.add(&[charge("org", "m:2026-11", 7)]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(e.ledger().spent("org", "m:2026-11").unwrap(), 700);
}

fn run(kind: Kind, body: fn(&mut Env)) {
    if let Some(mut e) = common::env(kind, "ledger.db") {
        body(&mut e);
    }
}

on_both_backends!(
    increments_add_up_per_scope_and_period,
    replicas_add_without_losing_increments,
);
