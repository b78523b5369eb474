//! Rollouts at run time: which variant serves a request, what each variant's requests did, and
//! the decisions — shared by every replica on one store.
//!
//! - **Assignment** ([`Rollouts::for_alias`], [`Rollouts::for_prompt`], [`Runtime::assign`]) is a
//!   map lookup, a read of the rollout's state and a hash of the sticky value
//!   (`seam_rollouts::bucket`): the same subject (or key) lands on the same side on every replica,
//!   and stays on the candidate as its share grows.
//! - **Candidates.** A candidate's targets are served through a synthetic alias, `rollout:NAME`,
//!   made from the subject alias's config with the candidate's targets (policy, contract,
//!   timeouts and placement are the alias's); its prompt through the prompt resolution.
//! - **Observations.** The request's [`crate::audit::Draft`] carries its [`Assignment`], so every
//!   exit path that finishes the record also counts the request in its variant's tally (held by
//!   the type, as the record is). Cache hits are not counted: they would flatter one side.
//! - **Decisions.** One thread per process flushes the tallies to the store every second
//!   (additive rows), reads every rollout's state back (another replica's decision lands here
//!   within a second), and — for the rollouts whose lease it holds — decides with
//!   `seam_rollouts::decide` on the whole run's tallies, moves the state by compare-and-set and
//!   writes a `rollout_decision` audit record with the evidence.
//! - **Shadow.** A sampled copy of the post-policy request goes to the candidate in the
//!   background (bounded: past [`SHADOW_IN_FLIGHT`] copies at once, one is dropped and counted);
//!   its answer is recorded (kind `shadow`) and never returned.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use seam_config::{Config, Rollout, RolloutSubject, Sticky};
use seam_rollouts::{Decision, Mode, Observation, State, Status, Tally, Variant};
use seam_store::{AuditRecord, Payload, RecordKind, RolloutRow, RolloutStore};

/// `x-seam-variant`: `rollout:variant` when a rollout served the request.
pub const HEADER: &str = "x-seam-variant";
/// The synthetic alias a candidate's targets are served under.
pub const ALIAS_PREFIX: &str = "rollout:";
/// How often tallies are flushed, states read and decisions made.
const TICK: Duration = Duration::from_secs(1);
/// How long a decider's lease lasts without renewal.
const LEASE_MS: i64 = 5_000;
/// Shadow copies in flight at once, per process.
pub const SHADOW_IN_FLIGHT: usize = 64;

/// Where a rollout is, as this replica last read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub run: i64,
    pub stage: usize,
    pub status: Phase,
}

/// A rollout's status, with the operator's abort beside the statistics' outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Running,
    Paused,
    Promoted,
    RolledBack,
    Aborted,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Paused => "paused",
            Phase::Promoted => "promoted",
            Phase::RolledBack => "rolled_back",
            Phase::Aborted => "aborted",
        }
    }

    fn parse(s: &str) -> Phase {
        match s {
            "running" => Phase::Running,
            "paused" => Phase::Paused,
            "promoted" => Phase::Promoted,
            "rolled_back" => Phase::RolledBack,
            _ => Phase::Aborted,
        }
    }

    /// Whether the rollout still splits traffic and counts it.
    pub fn is_live(self) -> bool {
        matches!(self, Phase::Running | Phase::Paused)
    }
}

/// One configured rollout at run time.
pub struct Runtime {
    pub cfg: Rollout,
    /// `None` until the state was first read from the store: until then nothing is assigned.
    state: RwLock<Option<Snapshot>>,
    /// Observations not yet flushed, by (run, stage, variant).
    pending: Mutex<HashMap<(i64, usize, Variant), Tally>>,
    /// The last decision's one-line summary and evidence (for `status`).
    last: Mutex<Option<seam_rollouts::Outcome>>,
}

/// A request's side of a rollout.
#[derive(Clone)]
pub struct Assignment {
    pub rollout: Arc<Runtime>,
    pub variant: Variant,
    pub run: i64,
    pub stage: usize,
    /// Counted in the tallies (false once promoted: the comparison is over).
    pub counted: bool,
}

impl Assignment {
    /// `rollout:variant`, for the record and `x-seam-variant`.
    pub fn label(&self) -> String {
        format!("{}:{}", self.rollout.cfg.name, self.variant.as_str())
    }

    /// Whether the candidate's requests go to other targets (its synthetic alias).
    pub fn reroutes(&self) -> bool {
        self.variant == Variant::Candidate && !self.rollout.cfg.candidate.targets.is_empty()
    }

    /// The candidate's prompt, when it has one and this request is the candidate's.
    pub fn prompt(&self) -> Option<&str> {
        (self.variant == Variant::Candidate)
            .then_some(self.rollout.cfg.candidate.prompt.as_deref())
            .flatten()
    }

    /// Counts one request in its variant's tally.
    pub fn observe(&self, o: &Observation) {
        if !self.counted {
            return;
        }
        self.rollout.observe(self.run, self.stage, self.variant, o);
        metrics::counter!(
            "seam_rollout_requests_total",
            "rollout" => self.rollout.cfg.name.clone(),
            "variant" => self.variant.as_str(),
            "outcome" => if o.error { "error" } else { "ok" },
        )
        .increment(1);
        metrics::histogram!(
            "seam_rollout_latency_seconds",
            "rollout" => self.rollout.cfg.name.clone(),
            "variant" => self.variant.as_str(),
        )
        .record(o.latency_ms / 1000.0);
    }
}

impl Runtime {
    fn new(cfg: Rollout) -> Runtime {
        Runtime {
            cfg,
            state: RwLock::new(None),
            pending: Mutex::new(HashMap::new()),
            last: Mutex::new(None),
        }
    }

    pub fn snapshot(&self) -> Option<Snapshot> {
        match self.state.read() {
            Ok(s) => *s,
            Err(p) => *p.into_inner(),
        }
    }

    fn set_snapshot(&self, s: Snapshot) {
        match self.state.write() {
            Ok(mut g) => *g = Some(s),
            Err(p) => *p.into_inner() = Some(s),
        }
    }

    /// The side `sticky` (or, without one, `request_id`) is on now; `None` when the rollout
    /// does not split this request (not started, rolled back, aborted, or a shadow rollout,
    /// whose primary is the control as it always was).
    pub fn assign(self: &Arc<Self>, sticky: Option<&[u8]>, request_id: &str) -> Option<Assignment> {
        let s = self.snapshot()?;
        let variant = match s.status {
            Phase::Promoted => Variant::Candidate,
            Phase::Running | Phase::Paused => match self.cfg.spec.mode {
                Mode::Shadow => Variant::Control,
                Mode::Canary | Mode::Ab => {
                    let key = sticky.unwrap_or(request_id.as_bytes());
                    let b = seam_rollouts::bucket(&self.cfg.name, key);
                    Variant::assign(b, self.cfg.spec.share_bp(s.stage))
                }
            },
            Phase::RolledBack | Phase::Aborted => return None,
        };
        Some(Assignment {
            rollout: Arc::clone(self),
            variant,
            run: s.run,
            stage: s.stage,
            counted: s.status.is_live(),
        })
    }

    /// The sticky value of a request, as the rollout's `sticky` says.
    pub fn sticky<'a>(
        &self,
        subject: Option<&'a str>,
        key_id: Option<&'a str>,
    ) -> Option<&'a [u8]> {
        match self.cfg.sticky {
            Sticky::Subject => subject.or(key_id).map(str::as_bytes),
            Sticky::Key => key_id.map(str::as_bytes),
            Sticky::Request => None,
        }
    }

    /// Whether a request's copy goes to a shadow candidate (by request id, so replicas agree).
    pub fn shadows(&self, request_id: &str) -> bool {
        self.cfg.spec.mode == Mode::Shadow
            && self.snapshot().is_some_and(|s| s.status.is_live())
            && seam_rollouts::bucket(&self.cfg.name, request_id.as_bytes())
                < seam_rollouts::basis_points(self.cfg.sample * 100.0)
    }

    fn observe(&self, run: i64, stage: usize, variant: Variant, o: &Observation) {
        if let Ok(mut p) = self.pending.lock() {
            p.entry((run, stage, variant)).or_default().observe(o);
        }
    }

    /// A task metric (`feedback:NAME`, `eval:NAME`) for a request this rollout served, counted
    /// in the run and stage the rollout is at now.
    pub fn score(
        &self,
        variant: Variant,
        metric: &str,
        value: f64,
    ) -> Result<(), seam_rollouts::ScoreError> {
        let Some(s) = self.snapshot().filter(|s| s.status.is_live()) else {
            return Ok(());
        };
        let mut t = Tally::default();
        t.score(metric, value)?;
        if let Ok(mut p) = self.pending.lock() {
            p.entry((s.run, s.stage, variant)).or_default().merge(&t);
        }
        Ok(())
    }

    fn restore(&self, run: i64, stage: usize, variant: Variant, tally: &Tally) {
        if let Ok(mut p) = self.pending.lock() {
            p.entry((run, stage, variant)).or_default().merge(tally);
        }
    }

    fn take_pending(&self) -> HashMap<(i64, usize, Variant), Tally> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    /// The last decision made here, if this replica decided.
    pub fn last_outcome(&self) -> Option<seam_rollouts::Outcome> {
        self.last.lock().ok()?.clone()
    }
}

/// The configured rollouts, by what they change.
#[derive(Default)]
struct Set {
    all: BTreeMap<String, Arc<Runtime>>,
    by_alias: HashMap<String, Arc<Runtime>>,
    by_prompt: HashMap<String, Arc<Runtime>>,
}

/// Every rollout of the current config, and the thread that keeps them in step with the store.
pub struct Rollouts {
    set: RwLock<Arc<Set>>,
    /// Shadow copies in flight.
    pub shadow_slots: Arc<tokio::sync::Semaphore>,
    /// Wakes the thread (a command changed a state).
    nudge: std::sync::mpsc::SyncSender<()>,
}

impl Rollouts {
    /// Starts the thread that flushes, reads and decides.
    pub fn open(
        cfg: &Config,
        store: seam_store::StoreConfig,
        auditor: Option<Arc<crate::audit::Auditor>>,
    ) -> Arc<Rollouts> {
        let (nudge, woken) = std::sync::mpsc::sync_channel(1);
        let me = Arc::new(Rollouts {
            set: RwLock::new(Arc::new(Set::default())),
            shadow_slots: Arc::new(tokio::sync::Semaphore::new(SHADOW_IN_FLIGHT)),
            nudge,
        });
        me.configure(cfg);
        let weak = Arc::downgrade(&me);
        let holder = format!("replica-{}", uuid::Uuid::now_v7());
        let spawned = std::thread::Builder::new()
            .name("seam-rollouts".into())
            .spawn(move || run(&weak, &store, auditor.as_deref(), &holder, &woken));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "the rollout thread did not start: rollouts stay idle");
        }
        me
    }

    /// Takes the rollouts of a (re)loaded config; one whose config is unchanged keeps its
    /// runtime (state and unflushed tallies).
    pub fn configure(&self, cfg: &Config) {
        let old = self.current();
        let mut set = Set::default();
        for r in cfg.rollouts.values() {
            let rt = match old.all.get(&r.name) {
                Some(rt) if rt.cfg == *r => Arc::clone(rt),
                Some(rt) => {
                    let fresh = Runtime::new(r.clone());
                    if let Some(s) = rt.snapshot() {
                        fresh.set_snapshot(s);
                    }
                    *fresh
                        .pending
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = rt.take_pending();
                    Arc::new(fresh)
                }
                None => Arc::new(Runtime::new(r.clone())),
            };
            match &r.subject {
                RolloutSubject::Alias(a) => set.by_alias.insert(a.clone(), Arc::clone(&rt)),
                RolloutSubject::Prompt(p) => set.by_prompt.insert(p.clone(), Arc::clone(&rt)),
            };
            set.all.insert(r.name.clone(), rt);
        }
        match self.set.write() {
            Ok(mut g) => *g = Arc::new(set),
            Err(p) => *p.into_inner() = Arc::new(set),
        }
        self.wake();
    }

    fn current(&self) -> Arc<Set> {
        match self.set.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// The rollout on an alias, if any.
    pub fn for_alias(&self, alias: &str) -> Option<Arc<Runtime>> {
        let set = self.current();
        if set.by_alias.is_empty() {
            return None;
        }
        set.by_alias.get(alias).cloned()
    }

    /// The rollout on a prompt, if any.
    pub fn for_prompt(&self, prompt: &str) -> Option<Arc<Runtime>> {
        let set = self.current();
        if set.by_prompt.is_empty() {
            return None;
        }
        set.by_prompt.get(prompt).cloned()
    }

    /// A rollout by name.
    pub fn get(&self, name: &str) -> Option<Arc<Runtime>> {
        self.current().all.get(name).cloned()
    }

    /// Every rollout, by name.
    pub fn all(&self) -> Vec<Arc<Runtime>> {
        self.current().all.values().cloned().collect()
    }

    /// Makes the thread run a tick now.
    pub fn wake(&self) {
        let _ = self.nudge.try_send(());
    }
}

/// The synthetic aliases (`rollout:NAME`) a config's candidates are served under, each the
/// subject alias's config with the candidate's targets. A prompt rollout's alias is its prompt's
/// `model`.
pub fn with_candidate_aliases(cfg: &Config, prompts: &seam_prompts::Registry) -> Config {
    let mut out = cfg.clone();
    for r in cfg.rollouts.values() {
        if r.candidate.targets.is_empty() {
            continue;
        }
        let alias = match &r.subject {
            RolloutSubject::Alias(a) => Some(a.clone()),
            RolloutSubject::Prompt(p) => prompts.get(p).and_then(|p| p.model.clone()),
        };
        let Some(base) = alias.and_then(|a| cfg.models.get(&a)) else {
            continue;
        };
        let mut model = base.clone();
        model.targets = r.candidate.targets.clone();
        out.models
            .insert(format!("{ALIAS_PREFIX}{}", r.name), model);
    }
    out
}

/// Checks what the config alone cannot: a prompt rollout's prompt and its candidate's prompt are
/// files (a tag or an old version is resolved per request), and a prompt rollout with candidate
/// targets has a prompt with a `model` to take the alias's settings from.
pub fn check_prompts(cfg: &Config, prompts: &seam_prompts::Registry) -> Result<(), String> {
    let mut errors = Vec::new();
    for r in cfg.rollouts.values() {
        let RolloutSubject::Prompt(p) = &r.subject else {
            continue;
        };
        match prompts.get(p) {
            None => errors.push(format!("rollouts.{}.prompt: no prompt file prompts/{p}.prompt", r.name)),
            Some(found) if found.model.is_none() && !r.candidate.targets.is_empty() => errors.push(format!(
                "rollouts.{}.candidate.targets: prompt {p} names no model whose settings the candidate's targets would take",
                r.name
            )),
            Some(_) => {}
        }
        if let Some(c) = &r.candidate.prompt {
            let name = c.split_once('@').map_or(c.as_str(), |(n, _)| n);
            if prompts.get(name).is_none() {
                errors.push(format!(
                    "rollouts.{}.candidate.prompt: no prompt file prompts/{name}.prompt",
                    r.name
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// The thread: every tick (or when woken), flush, read, decide; ends with the server.
fn run(
    rollouts: &std::sync::Weak<Rollouts>,
    store: &seam_store::StoreConfig,
    auditor: Option<&crate::audit::Auditor>,
    holder: &str,
    woken: &std::sync::mpsc::Receiver<()>,
) {
    let mut conn: Option<RolloutStore> = None;
    loop {
        match woken.recv_timeout(TICK) {
            Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
        let Some(r) = rollouts.upgrade() else { return };
        let set = r.current();
        drop(r);
        if set.all.is_empty() {
            continue;
        }
        if conn.is_none() {
            match RolloutStore::open(store) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "rollout store unavailable; retrying");
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        if let Err(e) = tick(c, &set, auditor, holder) {
            tracing::warn!(error = %e, "rollout tick failed; reconnecting");
            conn = None;
        }
    }
}

fn tick(
    c: &mut RolloutStore,
    set: &Set,
    auditor: Option<&crate::audit::Auditor>,
    holder: &str,
) -> Result<(), seam_store::StoreError> {
    for rt in set.all.values() {
        let mut failed = None;
        for ((run, stage, variant), tally) in rt.take_pending() {
            // What could not be flushed waits for the next tick: nothing counted is lost to a
            // failed write.
            if failed.is_none()
                && let Err(e) = c.add(
                    &rt.cfg.name,
                    run,
                    stage,
                    variant.as_str(),
                    &tally.to_delta(),
                )
            {
                failed = Some(e);
            }
            if failed.is_some() {
                rt.restore(run, stage, variant, &tally);
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
    }
    let rows: HashMap<String, RolloutRow> =
        c.all()?.into_iter().map(|r| (r.name.clone(), r)).collect();
    for rt in set.all.values() {
        let name = &rt.cfg.name;
        let row = match rows.get(name) {
            Some(r) => r.clone(),
            None => {
                let r = c.start(name, false, "started: first seen in the config")?;
                record(auditor, rt, &r, "start", vec![]);
                r
            }
        };
        rt.set_snapshot(snapshot(&row));
        if Phase::parse(&row.status).is_live() && c.lease(name, holder, LEASE_MS)? {
            decide(c, rt, &row, auditor)?;
        }
    }
    Ok(())
}

fn snapshot(row: &RolloutRow) -> Snapshot {
    Snapshot {
        run: row.run,
        stage: row.stage,
        status: Phase::parse(&row.status),
    }
}

/// One decision on the run's tallies; the state moves only if no one moved it meanwhile.
fn decide(
    c: &mut RolloutStore,
    rt: &Runtime,
    row: &RolloutRow,
    auditor: Option<&crate::audit::Auditor>,
) -> Result<(), seam_store::StoreError> {
    let (mut control, mut candidate) = (Tally::default(), Tally::default());
    let mut this_stage = 0;
    for (stage, variant, delta) in c.tallies(&row.name, row.run)? {
        let t = Tally::from_delta(&delta);
        match variant.as_str() {
            "candidate" => {
                if stage == row.stage {
                    this_stage += t.requests();
                }
                candidate.merge(&t);
            }
            "control" => control.merge(&t),
            _ => {}
        }
    }
    let phase = Phase::parse(&row.status);
    let state = State {
        stage: row.stage,
        status: if phase == Phase::Paused {
            Status::Paused
        } else {
            Status::Running
        },
    };
    let outcome = seam_rollouts::decide(&rt.cfg.spec, &state, &control, &candidate, this_stage);
    let (to_stage, status, what, reason) = match &outcome.decision {
        Decision::Hold { .. } => {
            if let Ok(mut l) = rt.last.lock() {
                *l = Some(outcome);
            }
            return Ok(());
        }
        Decision::Advance { to_stage } => (
            *to_stage,
            "running",
            "advance",
            format!(
                "advanced to {}%",
                rt.cfg.spec.steps.get(*to_stage).copied().unwrap_or(0.0)
            ),
        ),
        Decision::Promote => (
            row.stage,
            "promoted",
            "promote",
            "promoted: every guard held and every goal was shown".to_owned(),
        ),
        Decision::Rollback { check, reason } => (
            row.stage,
            "rolled_back",
            "rollback",
            format!("rolled back on {check}: {reason}"),
        ),
    };
    if c.transition(
        &row.name,
        row.run,
        row.stage,
        to_stage,
        status,
        reason.as_str(),
    )? {
        tracing::info!(rollout = %row.name, decision = what, %reason, "rollout decision");
        let moved = RolloutRow {
            stage: to_stage,
            status: status.to_owned(),
            reason: Some(reason.clone()),
            ..row.clone()
        };
        rt.set_snapshot(snapshot(&moved));
        let evidence = outcome.evidence.iter().map(ToString::to_string).collect();
        record(auditor, rt, &moved, what, evidence);
        metrics::counter!("seam_rollout_decisions_total", "rollout" => row.name.clone(), "decision" => what)
            .increment(1);
    }
    if let Ok(mut l) = rt.last.lock() {
        *l = Some(outcome);
    }
    Ok(())
}

/// A `rollout_decision` record: the rollout's name as its model, what happened and the evidence
/// (one line per check) as tags. Evidence is counts and rates, never request text.
pub fn record(
    auditor: Option<&crate::audit::Auditor>,
    rt: &Runtime,
    row: &RolloutRow,
    what: &str,
    evidence: Vec<String>,
) {
    if let Some(auditor) = auditor {
        auditor.submit_detached(decision_record(&rt.cfg.name, row, what, evidence));
    }
}

/// The record of a decision or command on `row` (also written by `seam rollout`).
pub fn decision_record(
    name: &str,
    row: &RolloutRow,
    what: &str,
    evidence: Vec<String>,
) -> AuditRecord {
    let mut tags = vec![
        format!("decision={what}"),
        format!("run={}", row.run),
        format!("stage={}", row.stage),
        format!("status={}", row.status),
    ];
    if let Some(r) = &row.reason {
        tags.push(format!("reason={r}"));
    }
    tags.extend(evidence);
    AuditRecord {
        tags,
        model: Some(name.to_owned()),
        trace_id: crate::audit::current_trace_id(),
        ..AuditRecord::event(
            format!("rollout_{}", uuid::Uuid::now_v7().simple()),
            RecordKind::RolloutDecision,
            "rollout",
            crate::audit::now_ms(),
        )
    }
}

/// A shadow copy to send once the primary's request is known, as it went upstream.
pub struct Shadow {
    pub rollout: Arc<Runtime>,
    pub live: Arc<crate::Live>,
    pub auditor: Option<Arc<crate::audit::Auditor>>,
    pub slots: Arc<tokio::sync::Semaphore>,
    pub request_id: String,
    pub subject: Option<String>,
    pub key_id: Option<String>,
    /// The primary's alias: the record's model and retention class.
    pub alias: Option<String>,
    pub placement: seam_config::Placement,
    pub key_policy: Option<String>,
    /// The primary's trace: the copy's upstream call is a span of it too.
    pub trace: Option<seam_providers::trace::Trace>,
}

impl Shadow {
    /// Sends `sent` (the primary's post-policy request) to the candidate in the background, as a
    /// unary request: nothing waits for it, its failure fails nothing, and past
    /// [`SHADOW_IN_FLIGHT`] copies in flight it is dropped and counted.
    pub fn send(self, sent: &seam_types::chat::ChatRequest) {
        let name = self.rollout.cfg.name.clone();
        let Some(s) = self.rollout.snapshot().filter(|s| s.status.is_live()) else {
            return;
        };
        let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
            metrics::counter!("seam_rollout_shadow_dropped_total", "rollout" => name).increment(1);
            return;
        };
        let mut copy = sent.clone();
        copy.model = format!("{ALIAS_PREFIX}{name}");
        copy.stream = None;
        copy.stream_options = None;
        copy.native = None;
        tokio::spawn(async move {
            let _permit = permit;
            let start = std::time::Instant::now();
            let call = self
                .live
                .gateway
                .chat(&copy, &self.placement, self.key_policy.as_deref());
            // A spawned task starts with no trace: the copy carries the primary's.
            let answer = match self.trace.clone() {
                Some(t) => seam_providers::trace::CURRENT.scope(t, call).await,
                None => call.await,
            };
            self.settle(&copy, answer, start, s);
        });
    }

    /// The shadow call's observation (the candidate's side) and its record (kind `shadow`).
    fn settle(
        self,
        sent: &seam_types::chat::ChatRequest,
        answer: Result<
            seam_gateway::Outcome<seam_types::chat::ChatCompletion>,
            seam_gateway::Failure,
        >,
        start: std::time::Instant,
        s: Snapshot,
    ) {
        let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
        let class = self.live.classes.of(self.alias.as_deref());
        let keep = class.keeps_payloads();
        let (status, code, route, attempts, usage, response) = match &answer {
            Ok(out) => {
                let priced = out.value.usage.as_ref().map(|u| {
                    let expected = seam_gateway::usage::Expected::chat(sent);
                    self.live.prices.price(
                        &out.route,
                        u,
                        crate::pricing::Source::Reported(&expected),
                        &self.request_id,
                    )
                });
                let response = keep
                    .then(|| serde_json::to_value(&out.value).ok())
                    .flatten();
                (
                    200,
                    None,
                    Some(out.route.clone()),
                    crate::audit::attempts(&out.attempts),
                    priced,
                    response,
                )
            }
            Err(f) => (
                f.error.status,
                Some(f.error.code.to_string()),
                None,
                crate::audit::attempts(&f.attempts),
                None,
                None,
            ),
        };
        let cost = usage.as_ref().and_then(|p| p.cost_usd);
        let code_is = |c: &str| code.as_deref() == Some(c);
        let o = Observation {
            error: status >= 500,
            latency_ms,
            ttft_ms: None,
            cost_usd: cost,
            output_tokens: usage.as_ref().map(|p| p.completion_tokens),
            policy_violation: code_is("policy_violation"),
            contract_violation: code_is("contract_violation"),
        };
        self.rollout.observe(s.run, s.stage, Variant::Candidate, &o);
        let name = self.rollout.cfg.name.clone();
        metrics::counter!("seam_rollout_requests_total", "rollout" => name.clone(), "variant" => "shadow", "outcome" => if o.error { "error" } else { "ok" })
            .increment(1);
        if let Some(c) = cost {
            metrics::counter!("seam_rollout_shadow_cost_usd_total", "rollout" => name.clone())
                .increment((c * 1e6) as u64);
        }
        let Some(auditor) = &self.auditor else { return };
        let rec = AuditRecord {
            key_id: self.key_id.clone(),
            subject: self.subject.clone(),
            tags: vec![format!("shadow_of={}", self.request_id)],
            model: self.alias.clone(),
            route,
            status,
            error_code: code,
            attempts,
            usage: usage.as_ref().map(|p| seam_store::UsageRecord {
                prompt_tokens: p.prompt_tokens,
                completion_tokens: p.completion_tokens,
                cached_tokens: p.cached_tokens,
                estimated: p.estimated,
                bounded: !p.anomalies.is_empty(),
            }),
            cost_usd: cost,
            latency_ms,
            placement: (!self.placement.is_unconstrained()).then(|| self.placement.to_string()),
            variant: Some(format!("{name}:shadow")),
            trace_id: self
                .trace
                .as_ref()
                .map(seam_providers::trace::Trace::trace_id_hex),
            class: crate::audit::class(class),
            payload: Payload {
                client_request: None,
                upstream_request: keep.then(|| serde_json::to_value(sent).ok()).flatten(),
                response,
            },
            ..AuditRecord::event(
                format!("{}:shadow", self.request_id),
                RecordKind::Shadow,
                "shadow",
                crate::audit::now_ms(),
            )
        };
        auditor.submit_detached(rec);
    }
}

/// What an operator may do to a rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// A new run at the first stage (after a promotion, a rollback or an abort), or resume a
    /// paused one.
    Start,
    /// Hold at the current stage: no advance, no promotion; a violation still rolls back.
    Pause,
    /// End it now as promoted: the candidate serves everything.
    Promote,
    /// End it now: the control serves everything.
    Abort,
}

impl Command {
    pub const NAMES: &'static str = "start, pause, promote, abort";

    pub fn parse(s: &str) -> Option<Command> {
        Some(match s {
            "start" | "resume" => Command::Start,
            "pause" => Command::Pause,
            "promote" => Command::Promote,
            "abort" => Command::Abort,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Pause => "pause",
            Command::Promote => "promote",
            Command::Abort => "abort",
        }
    }
}

/// Applies an operator's command to the store (the servers follow within a tick); the record
/// of it is the caller's (`record`). Synchronous: call it from a thread of its own.
pub fn apply_command(
    c: &mut RolloutStore,
    name: &str,
    cmd: Command,
    who: &str,
) -> Result<RolloutRow, String> {
    let row = c.get(name).map_err(|e| e.to_string())?;
    let reason = format!("{} by {who}", cmd.as_str());
    let live = row
        .as_ref()
        .is_some_and(|r| Phase::parse(&r.status).is_live());
    let to = match (cmd, &row) {
        (Command::Start, Some(r)) if r.status == "paused" => "running",
        (Command::Start, Some(r)) if r.status == "running" => {
            return Err(format!(
                "rollout {name} is already running (run {}, stage {})",
                r.run, r.stage
            ));
        }
        (Command::Start, _) => {
            return c.start(name, true, &reason).map_err(|e| e.to_string());
        }
        (_, None) => return Err(format!("rollout {name} has not started")),
        (_, Some(r)) if !live => {
            return Err(format!(
                "rollout {name} has ended ({}); `start` begins a new run",
                r.status
            ));
        }
        (Command::Pause, _) => "paused",
        (Command::Promote, _) => "promoted",
        (Command::Abort, _) => "aborted",
    };
    let Some(r) = row else {
        return Err(format!("rollout {name} has not started"));
    };
    if !c
        .transition(name, r.run, r.stage, r.stage, to, &reason)
        .map_err(|e| e.to_string())?
    {
        return Err(format!("rollout {name} changed meanwhile; look again"));
    }
    c.get(name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("rollout {name} vanished"))
}

/// A rollout as `seam rollout status` and `GET /admin/rollouts` show it: its config, its state,
/// each variant's counts and the decision the evidence supports now.
pub fn status(c: &mut RolloutStore, cfg: &Rollout) -> Result<serde_json::Value, String> {
    use serde_json::json;
    let Some(row) = c.get(&cfg.name).map_err(|e| e.to_string())? else {
        return Ok(
            json!({"name": cfg.name, "mode": cfg.spec.mode.as_str(), "status": "not_started"}),
        );
    };
    let (mut control, mut candidate) = (Tally::default(), Tally::default());
    let mut this_stage = 0;
    for (stage, variant, delta) in c.tallies(&cfg.name, row.run).map_err(|e| e.to_string())? {
        let t = Tally::from_delta(&delta);
        if variant == "candidate" {
            if stage == row.stage {
                this_stage += t.requests();
            }
            candidate.merge(&t);
        } else if variant == "control" {
            control.merge(&t);
        }
    }
    let state = State {
        stage: row.stage,
        status: if row.status == "paused" {
            Status::Paused
        } else {
            Status::Running
        },
    };
    let outcome = seam_rollouts::decide(&cfg.spec, &state, &control, &candidate, this_stage);
    let subject = match &cfg.subject {
        RolloutSubject::Alias(a) => json!({"alias": a}),
        RolloutSubject::Prompt(p) => json!({"prompt": p}),
    };
    Ok(json!({
        "name": cfg.name,
        "subject": subject,
        "mode": cfg.spec.mode.as_str(),
        "run": row.run,
        "stage": row.stage,
        "share_percent": f64::from(cfg.spec.share_bp(row.stage)) / 100.0,
        "steps": cfg.spec.steps,
        "status": row.status,
        "reason": row.reason,
        "updated": seam_store::rfc3339(row.updated_ms),
        "stage_started": seam_store::rfc3339(row.stage_started_ms),
        "samples": {
            "control": control.requests(),
            "candidate": candidate.requests(),
            "candidate_this_stage": this_stage,
            "min_per_stage": cfg.spec.min_samples_per_step,
        },
        "now": if Phase::parse(&row.status).is_live() { serde_json::to_value(&outcome.decision).unwrap_or_default() } else { json!(null) },
        "evidence": outcome.evidence.iter().map(ToString::to_string).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    fn config(extra: &str) -> Config {
        let toml = format!(
            "[audit]\nenabled = false\n[providers.echo]\nkind = \"echo\"\n\
             [providers.other]\nkind = \"echo\"\n\
             [policies.strict.input]\nentities = {{ EMAIL_ADDRESS = \"redact\" }}\n\
             [models.chat]\npolicy = \"strict\"\ntargets = [{{ provider = \"echo\", model = \"m\" }}]\n{extra}"
        );
        let r = seam_config::Resolver {
            env: &|_| None,
            base_dir: ".".into(),
        };
        seam_config::from_toml(&toml, &r).unwrap_or_else(|e| panic!("{e:?}"))
    }

    const CANARY: &str = "[rollouts.v2]\nalias = \"chat\"\nmode = \"canary\"\n\
        candidate = { targets = [{ provider = \"other\", model = \"n\" }] }\nsteps = [10, 100]\n";

    fn runtime(cfg: &Config) -> Arc<Runtime> {
        Arc::new(Runtime::new(cfg.rollouts["v2"].clone()))
    }

    fn snapshot(stage: usize, status: Phase) -> Snapshot {
        Snapshot {
            run: 1,
            stage,
            status,
        }
    }

    #[test]
    fn a_candidate_alias_is_the_alias_with_the_candidates_targets() {
        let cfg = with_candidate_aliases(&config(CANARY), &seam_prompts::Registry::default());
        let (alias, candidate) = (&cfg.models["chat"], &cfg.models["rollout:v2"]);
        assert_eq!(candidate.targets, cfg.rollouts["v2"].candidate.targets);
        assert_ne!(candidate.targets, alias.targets);
        assert_eq!(candidate.policy, alias.policy);
    }

    #[test]
    fn assignment_follows_the_state() {
        let rt = runtime(&config(CANARY));
        assert!(
            rt.assign(Some(b"u"), "r").is_none(),
            "not read yet: unassigned"
        );
        rt.set_snapshot(snapshot(0, Phase::Running));
        let sides: Vec<Variant> = (0..2_000)
            .map(|i| {
                let s = format!("user-{i}");
                rt.assign(Some(s.as_bytes()), "r").unwrap().variant
            })
            .collect();
        let share = sides.iter().filter(|v| **v == Variant::Candidate).count();
        assert!((120..=280).contains(&share), "10 % of 2,000: {share}");
        // Sticky: the same subject, the same side, whatever the request.
        let a = rt.assign(Some(b"user-7"), "r1").unwrap().variant;
        assert!((0..20).all(|i| {
            rt.assign(Some(b"user-7"), &format!("r{i}"))
                .unwrap()
                .variant
                == a
        }));
        rt.set_snapshot(snapshot(0, Phase::Promoted));
        let promoted = rt.assign(Some(b"u"), "r").unwrap();
        assert_eq!(
            (promoted.variant, promoted.counted),
            (Variant::Candidate, false)
        );
        assert!(promoted.reroutes());
        for ended in [Phase::RolledBack, Phase::Aborted] {
            rt.set_snapshot(snapshot(0, ended));
            assert!(rt.assign(Some(b"u"), "r").is_none());
        }
    }

    #[test]
    fn a_shadow_primary_is_the_control_and_copies_are_sampled() {
        let cfg = config(
            "[rollouts.v2]\nalias = \"chat\"\nmode = \"shadow\"\nsample = 0.25\n\
             candidate = { targets = [{ provider = \"other\", model = \"n\" }] }\n",
        );
        let rt = runtime(&cfg);
        rt.set_snapshot(snapshot(0, Phase::Running));
        assert_eq!(rt.assign(None, "r").unwrap().variant, Variant::Control);
        let copied = (0..4_000)
            .filter(|i| rt.shadows(&format!("req-{i}")))
            .count();
        assert!((850..=1_150).contains(&copied), "25 % of 4,000: {copied}");
        rt.set_snapshot(snapshot(0, Phase::Paused));
        assert!((0..100).any(|i| rt.shadows(&format!("req-{i}"))));
        rt.set_snapshot(snapshot(0, Phase::Aborted));
        assert!(!(0..100).any(|i| rt.shadows(&format!("req-{i}"))));
    }

    #[test]
    fn observations_and_scores_wait_for_the_flush_by_run_stage_and_side() {
        let rt = runtime(&config(CANARY));
        rt.set_snapshot(snapshot(0, Phase::Running));
        let a = rt.assign(Some(b"user-1"), "r").unwrap();
        a.observe(&Observation {
            error: true,
            latency_ms: 12.0,
            ttft_ms: None,
            cost_usd: None,
            output_tokens: Some(3),
            policy_violation: false,
            contract_violation: false,
        });
        rt.score(a.variant, "feedback:resolved", 1.0).unwrap();
        assert!(rt.score(a.variant, "feedback:resolved", 3.0).is_err());
        let pending = rt.take_pending();
        let t = &pending[&(1, 0, a.variant)];
        assert_eq!((t.requests(), t.moments("error").sum), (1, 1.0));
        assert_eq!(t.moments("feedback:resolved").n, 1);
        assert!(rt.take_pending().is_empty());
    }

    #[test]
    fn a_prompt_rollout_names_prompt_files() {
        let cfg = config(
            "[rollouts.w]\nprompt = \"greet\"\nmode = \"ab\"\n\
             candidate = { prompt = \"greet-v2@prod\" }\n",
        );
        let mut files = seam_prompts::Registry::default();
        let e = check_prompts(&cfg, &files).unwrap_err();
        assert_eq!(
            e,
            "rollouts.w.prompt: no prompt file prompts/greet.prompt\n\
             rollouts.w.candidate.prompt: no prompt file prompts/greet-v2.prompt"
        );
        let dir =
            std::env::temp_dir().join(format!("seam-rollout-prompts-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("greet.prompt"), "Hello {{ name }}").unwrap();
        std::fs::write(dir.join("greet-v2.prompt"), "Hi {{ name }}").unwrap();
        files = seam_prompts::Registry::load(&dir).unwrap();
        check_prompts(&cfg, &files).unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn commands_follow_the_state_machine() {
        let dir = std::env::temp_dir().join(format!("seam-rollout-cmd-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = seam_store::StoreConfig {
            backend: seam_store::BackendConfig::Sqlite {
                path: dir.join("s.db"),
            },
            master_key: None,
            retention: Vec::new(),
        };
        let mut c = RolloutStore::open(&store).unwrap();
        let run = |c: &mut RolloutStore, cmd| apply_command(c, "v2", cmd, "a test");
        assert!(
            run(&mut c, Command::Pause)
                .unwrap_err()
                .contains("has not started")
        );
        assert_eq!(run(&mut c, Command::Start).unwrap().status, "running");
        assert!(
            run(&mut c, Command::Start)
                .unwrap_err()
                .contains("already running")
        );
        assert_eq!(run(&mut c, Command::Pause).unwrap().status, "paused");
        assert_eq!(run(&mut c, Command::Start).unwrap().status, "running");
        let promoted = run(&mut c, Command::Promote).unwrap();
        assert_eq!((promoted.status.as_str(), promoted.run), ("promoted", 1));
        assert!(
            run(&mut c, Command::Abort)
                .unwrap_err()
                .contains("has ended")
        );
        let again = run(&mut c, Command::Start).unwrap();
        assert_eq!(
            (again.status.as_str(), again.run, again.stage),
            ("running", 2, 0)
        );
        assert_eq!(Command::parse("resume"), Some(Command::Start));
        assert_eq!(Command::parse("dance"), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
