use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seam_config::Trust;
use tokio::sync::Notify;

use super::*;
use crate::testing::target;
use crate::{Plan, Strategy};

/// A fake upstream error: an HTTP status with an optional `retry-after`, or a timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fake {
    Status(u16, Option<u64>),
    Timeout(&'static str),
}

fn classify(e: &Fake) -> Verdict {
    match e {
        Fake::Status(s, ra) => Verdict {
            retryable: matches!(s, 408 | 429) || *s >= 500,
            unhealthy: *s >= 500,
            status: *s,
            retry_after: ra.map(Duration::from_secs),
            code: if *s >= 500 {
                "upstream_5xx"
            } else {
                "upstream_4xx"
            },
            summary: format!("returned {s}"),
        },
        Fake::Timeout(what) => Verdict {
            retryable: true,
            unhealthy: true,
            status: 504,
            retry_after: None,
            code: "timeout",
            summary: format!("timed out waiting for the {what}"),
        },
    }
}

fn route(strategy: Strategy, targets: Vec<Target>, plan: Plan) -> Route {
    Route {
        name: "alias".into(),
        strategy,
        targets,
        plan,
        placement: Placement::default(),
    }
}

fn plan(max_attempts: u32) -> Plan {
    Plan {
        max_attempts,
        ..Plan::default()
    }
}

type Answers = Vec<Result<&'static str, Fake>>;

/// Scripted answers per target label; a target with no script left answers "ok".
#[derive(Clone, Default)]
struct Script(
    Arc<Mutex<HashMap<String, Answers>>>,
    Arc<Mutex<Vec<String>>>,
);

impl Script {
    fn on(self, label: &str, answers: Vec<Result<&'static str, Fake>>) -> Self {
        self.0.lock().unwrap().insert(label.into(), answers);
        self
    }

    fn next(&self, label: &str) -> Result<&'static str, Fake> {
        self.1.lock().unwrap().push(label.into());
        let mut m = self.0.lock().unwrap();
        match m.get_mut(label) {
            Some(v) if !v.is_empty() => v.remove(0),
            _ => Ok("ok"),
        }
    }

    fn calls(&self) -> Vec<String> {
        self.1.lock().unwrap().clone()
    }
}

async fn go(
    r: &Route,
    s: &Script,
    constraints: &Placement,
) -> Result<Success<&'static str>, Failure<Fake>> {
    run(r, constraints, Mode::Unary, classify, Fake::Timeout, |t| {
        let s = s.clone();
        async move { s.next(&t.label) }
    })
    .await
}

fn vendor(label: &str) -> Target {
    target(label, Trust::Vendor, 1, 0, 16)
}

#[tokio::test(start_paused = true)]
async fn fallback_moves_on_at_once_and_explains_why() {
    let r = route(
        Strategy::Fallback,
        vec![vendor("local/qwen"), vendor("openai/gpt")],
        plan(3),
    );
    let s = Script::default().on("local/qwen", vec![Err(Fake::Status(503, None))]);
    let start = Instant::now();
    let ok = go(&r, &s, &Placement::default()).await.unwrap();
    assert_eq!(ok.target, 1);
    assert_eq!(ok.attempts.len(), 2);
    assert_eq!(ok.attempts[0].status, 503);
    assert_eq!(ok.attempts[0].code, Some("upstream_5xx"));
    assert_eq!(ok.reason, "fallback: local/qwen returned 503");
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no backoff between different targets"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_error_is_returned_without_further_attempts() {
    let r = route(
        Strategy::Fallback,
        vec![vendor("a/m"), vendor("b/m")],
        plan(3),
    );
    let s = Script::default().on("a/m", vec![Err(Fake::Status(400, None))]);
    let f = go(&r, &s, &Placement::default()).await.err().unwrap();
    assert!(matches!(
        f.kind,
        FailureKind::Upstream {
            error: Fake::Status(400, None),
            target: 0
        }
    ));
    assert_eq!(s.calls(), ["a/m"]);
}

#[tokio::test(start_paused = true)]
async fn a_single_target_is_retried_with_backoff_up_to_max_attempts() {
    let r = route(Strategy::Fallback, vec![vendor("a/m")], plan(3));
    let s = Script::default().on(
        "a/m",
        vec![Err(Fake::Status(502, None)), Err(Fake::Status(503, None))],
    );
    let ok = go(&r, &s, &Placement::default()).await.unwrap();
    assert_eq!(ok.attempts.len(), 3);
    assert_eq!(ok.reason, "fallback: a/m returned 502, a/m returned 503");

    let s = Script::default().on("a/m", vec![Err(Fake::Status(500, None)); 5]);
    let f = go(&r, &s, &Placement::default()).await.err().unwrap();
    assert_eq!(f.attempts.len(), 3);
    assert_eq!(s.calls().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_up_to_the_cap() {
    let r = route(Strategy::Fallback, vec![vendor("a/m")], plan(2));
    let s = Script::default().on("a/m", vec![Err(Fake::Status(429, Some(2)))]);
    let start = Instant::now();
    let ok = go(&r, &s, &Placement::default()).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(ok.attempts.len(), 2);

    // Beyond the 5 s cap: not waited for; the 429 goes back to the client at once.
    let s = Script::default().on("a/m", vec![Err(Fake::Status(429, Some(30)))]);
    let start = Instant::now();
    let f = go(&r, &s, &Placement::default()).await.err().unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert!(matches!(
        f.kind,
        FailureKind::Upstream {
            error: Fake::Status(429, Some(30)),
            ..
        }
    ));
    assert_eq!(f.attempts.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn slow_targets_time_out_and_the_next_answers() {
    let r = route(
        Strategy::Fallback,
        vec![vendor("slow/m"), vendor("fast/m")],
        plan(3),
    );
    let out = run(
        &r,
        &Placement::default(),
        Mode::Unary,
        classify,
        Fake::Timeout,
        |t| async move {
            if t.label == "slow/m" {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Ok::<_, Fake>("ok")
        },
    )
    .await
    .unwrap();
    assert_eq!(out.target, 1);
    assert_eq!(out.attempts[0].status, 504);
    assert_eq!(
        out.reason,
        "fallback: slow/m timed out waiting for the response"
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_every_attempt_and_round() {
    let mut p = plan(10);
    p.deadline = Duration::from_secs(3);
    let r = route(Strategy::Fallback, vec![vendor("slow/m")], p);
    let start = Instant::now();
    let f = run(
        &r,
        &Placement::default(),
        Mode::Unary,
        classify,
        Fake::Timeout,
        |_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<&str, Fake>("late")
        },
    )
    .await
    .err()
    .unwrap();
    assert!(start.elapsed() <= Duration::from_secs(3));
    assert!(matches!(
        f.kind,
        FailureKind::Upstream {
            error: Fake::Timeout("response"),
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn open_breakers_are_skipped_and_all_open_fails_fast() {
    let r = route(
        Strategy::Fallback,
        vec![vendor("a/m"), vendor("b/m")],
        plan(2),
    );
    // Five 503s in a row open a/m's breaker (the default trips at 5 consecutive failures).
    let s = Script::default().on("a/m", vec![Err(Fake::Status(503, None)); 5]);
    for _ in 0..5 {
        go(&r, &s, &Placement::default()).await.unwrap();
    }
    assert_eq!(
        r.targets[0].health.breaker.state(Instant::now().into_std()),
        crate::State::Open
    );
    let before = s.calls().len();
    let ok = go(&r, &s, &Placement::default()).await.unwrap();
    assert_eq!(s.calls().len(), before + 1, "a/m was not called");
    assert_eq!(ok.reason, "fallback: a/m circuit open");
    assert!(ok.attempts.iter().all(|a| a.label == "b/m"));

    let solo = route(Strategy::Fallback, vec![vendor("c/m")], plan(5));
    let s = Script::default().on("c/m", vec![Err(Fake::Status(500, None)); 5]);
    let _ = go(&solo, &s, &Placement::default()).await;
    let f = go(&solo, &s, &Placement::default()).await.err().unwrap();
    assert!(
        matches!(f.kind, FailureKind::NoHealthyTarget { .. }),
        "{:?}",
        f.kind
    );
    assert!(f.attempts.is_empty());
}

#[tokio::test(start_paused = true)]
async fn placement_is_never_violated() {
    let mut eu = target("eu/m", Trust::Private, 1, 0, 4);
    eu.region = Some("eu".into());
    let mut us = target("us/m", Trust::Vendor, 1, 0, 4);
    us.region = Some("us".into());
    let r = route(Strategy::Fallback, vec![us, eu], plan(3));
    let s = Script::default().on("eu/m", vec![Err(Fake::Status(500, None)); 3]);
    let private = Placement {
        trust: Some(vec![Trust::Private]),
        regions: None,
    };
    let f = go(&r, &s, &private).await.err().unwrap();
    assert!(s.calls().iter().all(|c| c == "eu/m"), "{:?}", s.calls());
    assert_eq!(f.attempts.len(), 3);
    assert!(
        f.reason.ends_with("; placement trust=private"),
        "{}",
        f.reason
    );

    let nowhere = Placement {
        trust: None,
        regions: Some(vec!["apac".into()]),
    };
    let f = go(&r, &s, &nowhere).await.err().unwrap();
    assert!(matches!(f.kind, FailureKind::NoEligibleTarget));
    assert_eq!(
        f.reason,
        "fallback: no target satisfies the placement constraints; placement region=apac"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_placement_narrows_the_route_and_never_widens_it() {
    let mut eu = target("eu/m", Trust::Private, 1, 0, 4);
    eu.region = Some("eu".into());
    let mut us = target("us/m", Trust::Vendor, 1, 0, 4);
    us.region = Some("us".into());
    let mut r = route(Strategy::Fallback, vec![us, eu], plan(3));
    r.placement = Placement {
        trust: Some(vec![Trust::Private]),
        regions: None,
    };
    let s = Script::default();
    // Asking for vendor targets on a private-only route leaves nothing: it is not a way out.
    let vendor = Placement {
        trust: Some(vec![Trust::Vendor]),
        regions: None,
    };
    let f = go(&r, &s, &vendor).await.err().unwrap();
    assert!(matches!(f.kind, FailureKind::NoEligibleTarget));
    assert!(s.calls().is_empty(), "{:?}", s.calls());
    assert!(f.reason.ends_with("; placement trust="), "{}", f.reason);

    let eu_only = Placement {
        trust: None,
        regions: Some(vec!["eu".into()]),
    };
    let ok = go(&r, &s, &eu_only).await.unwrap();
    assert_eq!(ok.target, 1);
    assert_eq!(
        ok.reason,
        "fallback: first eligible target; placement trust=private;region=eu"
    );
}

#[tokio::test(start_paused = true)]
async fn full_targets_are_skipped_then_queued_for_then_shed() {
    let mut a = vendor("a/m");
    a.limiter = Arc::new(crate::Limiter::new(1, 1, Duration::from_millis(500)));
    let r = route(Strategy::Fallback, vec![a, vendor("b/m")], plan(3));
    let held = r.targets[0].limiter.try_acquire().unwrap();
    let s = Script::default();
    let ok = go(&r, &s, &Placement::default()).await.unwrap();
    assert_eq!(ok.target, 1);
    assert_eq!(ok.reason, "fallback: a/m at capacity (1/1)");

    // Alone and full: wait in the queue; a released slot serves the waiter.
    let solo = route(
        Strategy::Fallback,
        vec![Target {
            ..vendor_sharing(&r.targets[0])
        }],
        plan(3),
    );
    let releaser = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
    });
    let ok = go(&solo, &s, &Placement::default()).await.unwrap();
    assert_eq!(ok.attempts.len(), 1);
    releaser.await.unwrap();
    drop(ok); // its permit is the only slot

    // Full with nobody releasing: the queue times out → overloaded.
    let _held = solo.targets[0].limiter.try_acquire().unwrap();
    let f = go(&solo, &s, &Placement::default()).await.err().unwrap();
    assert!(
        matches!(f.kind, FailureKind::Overloaded(Overload::QueueTimeout)),
        "{:?}",
        f.kind
    );
}

/// A probe the breaker grants to a request that then finds no free slot is handed back: the next
/// request to find a slot probes at once, not after another `open_for`.
#[tokio::test(start_paused = true)]
async fn a_probe_that_finds_no_slot_is_handed_back() {
    let mut a = vendor("a/m");
    a.limiter = Arc::new(crate::Limiter::new(1, 1, Duration::from_millis(500)));
    let r = route(Strategy::Fallback, vec![a, vendor("b/m")], plan(2));
    let s = Script::default().on("a/m", vec![Err(Fake::Status(503, None)); 5]);
    for _ in 0..5 {
        go(&r, &s, &Placement::default()).await.unwrap();
    }
    let breaker = &r.targets[0].health.breaker;
    let now = || Instant::now().into_std();
    assert_eq!(breaker.state(now()), crate::State::Open);
    tokio::time::advance(breaker.config().open_for).await;
    // a/m's wait is over but its one slot is taken: this request goes to b/m.
    let held = r.targets[0].limiter.try_acquire().unwrap();
    let ok = go(&r, &s, &Placement::default()).await.unwrap();
    assert_eq!(ok.target, 1);
    assert_eq!(ok.reason, "fallback: a/m at capacity (1/1)");
    drop(held);
    // The slot is free again: the next request is a/m's probe, and its success closes it.
    let ok = go(&r, &s, &Placement::default()).await.unwrap();
    assert_eq!(ok.target, 0, "{}", ok.reason);
    assert_eq!(breaker.state(now()), crate::State::Closed);
}

/// A request that waited in the queue for a slot while the target's breaker opened is not sent.
#[tokio::test(start_paused = true)]
async fn a_request_queued_while_the_breaker_opens_is_not_sent() {
    let mut a = vendor("a/m");
    a.limiter = Arc::new(crate::Limiter::new(1, 1, Duration::from_millis(500)));
    let solo = route(Strategy::Fallback, vec![a], plan(3));
    let held = solo.targets[0].limiter.try_acquire().unwrap();
    let health = Arc::clone(&solo.targets[0].health);
    let opener = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..5 {
            health
                .breaker
                .record(false, false, Instant::now().into_std());
        }
        drop(held);
    });
    let s = Script::default();
    let f = go(&solo, &s, &Placement::default()).await.err().unwrap();
    opener.await.unwrap();
    assert!(s.calls().is_empty(), "sent through an open breaker");
    assert!(f.attempts.is_empty());
    assert!(
        matches!(f.kind, FailureKind::NoHealthyTarget { .. }),
        "{:?}",
        f.kind
    );
}

fn vendor_sharing(t: &Target) -> Target {
    let mut v = vendor(&t.label);
    v.limiter = t.limiter.clone();
    v
}

/// The burst test: a private target capped at 2, six requests in flight at once —
/// exactly the four that do not fit go to the vendor.
#[tokio::test(start_paused = true)]
async fn burst_sends_exactly_the_overflow_to_the_vendor() {
    let r = Arc::new(route(
        Strategy::Burst,
        vec![
            target("vendor/m", Trust::Vendor, 1, 0, 100),
            target("local/m", Trust::Private, 1, 0, 2),
        ],
        plan(1),
    ));
    let release = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let r = r.clone();
        let release = release.clone();
        tasks.push(tokio::spawn(async move {
            let r = &*r;
            let out = run(
                r,
                &Placement::default(),
                Mode::Unary,
                classify,
                Fake::Timeout,
                |t| {
                    let release = release.clone();
                    async move {
                        release.notified().await;
                        Ok::<_, Fake>(t.label.clone())
                    }
                },
            )
            .await
            .unwrap();
            (out.value, out.reason)
        }));
        tokio::task::yield_now().await; // each request starts (and takes its slot) in turn
    }
    assert_eq!(r.targets[1].limiter.in_flight(), 2);
    assert_eq!(r.targets[0].limiter.in_flight(), 4);
    release.notify_waiters();
    let mut by_target: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        let (label, reason) = t.await.unwrap();
        if label == "vendor/m" {
            assert_eq!(reason, "burst: local/m at capacity (2/2)");
        }
        *by_target.entry(label).or_default() += 1;
    }
    assert_eq!(by_target["local/m"], 2);
    assert_eq!(by_target["vendor/m"], 4);
}
