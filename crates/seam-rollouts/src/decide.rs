//! The decision: a pure function of the spec, the state and the merged tallies.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::check::{Bound, Check, Kind, Op};
use crate::cs;
use crate::tally::Tally;

/// How the candidate meets traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// No split: a sample of requests is also sent to the candidate, whose answers are recorded
    /// and never returned. The same checks decide promote or roll back.
    Shadow,
    /// The candidate's share climbs through `steps`; the last step, 100 %, is the promotion.
    Canary,
    /// A fixed split (one step), then promote or roll back.
    Ab,
}

impl Mode {
    pub const NAMES: &'static str = "shadow, canary, ab";

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "shadow" => Some(Mode::Shadow),
            "canary" => Some(Mode::Canary),
            "ab" => Some(Mode::Ab),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Shadow => "shadow",
            Mode::Canary => "canary",
            Mode::Ab => "ab",
        }
    }
}

/// What a rollout decides with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub mode: Mode,
    /// The candidate's share of traffic per stage, in percent: canary climbs to 100, ab has one
    /// step, shadow none.
    pub steps: Vec<f64>,
    /// Candidate samples a stage needs before it may advance (or promote).
    pub min_samples_per_step: u64,
    /// Must never be shown worse; a violation rolls back at once.
    pub guards: Vec<Check>,
    /// As guards, and must also be *shown* within their bound before promotion.
    pub goals: Vec<Check>,
    /// The chance, over the rollout's whole life, of rolling back a candidate that is in fact
    /// within every bound (and of promoting one whose goals are not met).
    pub alpha: f64,
}

impl Spec {
    pub const DEFAULT_ALPHA: f64 = 0.05;

    /// The candidate's share at `stage` in basis points (0 for shadow, whose traffic is not
    /// split).
    pub fn share_bp(&self, stage: usize) -> u32 {
        match self.mode {
            Mode::Shadow => 0,
            _ => crate::basis_points(self.steps.get(stage).copied().unwrap_or(0.0)),
        }
    }

    /// The stage that ends in promotion: a canary's last step below 100 (reaching 100 *is* the
    /// promotion), an ab's only step, shadow's only (implicit) stage.
    pub fn final_stage(&self) -> usize {
        match self.mode {
            Mode::Shadow => 0,
            Mode::Ab => self.steps.len().saturating_sub(1),
            Mode::Canary => {
                let below = self.steps.iter().filter(|&&s| s < 100.0).count();
                below.saturating_sub(1)
            }
        }
    }
}

/// Where a rollout is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    /// Held by an operator: never advances, still rolls back on a violation.
    Paused,
    Promoted,
    RolledBack,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Index into `Spec::steps`.
    pub stage: usize,
    pub status: Status,
}

/// What to do now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Hold {
        reason: String,
    },
    Advance {
        to_stage: usize,
    },
    Promote,
    /// `check` is the canonical text of the check shown violated, `reason` its evidence.
    Rollback {
        check: String,
        reason: String,
    },
}

/// Guard or goal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Guard,
    Goal,
}

/// What the evidence says about one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// The interval lies wholly beyond the bound: roll back.
    Violated,
    /// Not shown violated, but a looser interval (level [`SUSPECT_ALPHA`]) is: do not give
    /// the candidate more traffic yet.
    Suspect,
    /// The interval lies wholly within the bound.
    Shown,
    /// Neither yet.
    Open,
}

impl Finding {
    fn as_str(self) -> &'static str {
        match self {
            Finding::Violated => "violated",
            Finding::Suspect => "looks worse, not shown",
            Finding::Shown => "shown within bound",
            Finding::Open => "open",
        }
    }
}

/// The evidence on one check: the comparison, its estimate and its confidence-sequence interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub role: Role,
    pub check: Check,
    /// `true`: candidate / control; `false`: candidate − control.
    pub ratio: bool,
    /// Infinite (a ratio over a control at 0) is written as `null` in JSON.
    #[serde(with = "unbounded")]
    pub estimate: f64,
    /// Anytime-valid; an infinite end is written as `null` in JSON.
    #[serde(with = "unbounded_pair")]
    pub interval: [f64; 2],
    /// The bound the interval is held to.
    pub bound: f64,
    pub candidate_n: u64,
    pub control_n: u64,
    pub finding: Finding,
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            Role::Guard => "guard",
            Role::Goal => "goal",
        };
        let (op, _) = self.check.effective();
        let op = if op == Op::Le { "<=" } else { ">=" };
        let num = |x: f64| -> String {
            if x.is_infinite() {
                if x > 0.0 { "inf".into() } else { "-inf".into() }
            } else if self.ratio {
                format!("{x:.3}x")
            } else {
                format!("{x:+.4}")
            }
        };
        write!(
            f,
            "{role} {}: candidate {} control {} in [{}, {}], bound {op} {} (n {} vs {}): {}",
            self.check,
            if self.ratio { "/" } else { "-" },
            num(self.estimate),
            num(self.interval[0]),
            num(self.interval[1]),
            num(self.bound),
            self.candidate_n,
            self.control_n,
            self.finding.as_str(),
        )
    }
}

/// JSON has no infinity: an infinite value is `null`, and `null` reads back as +∞.
mod unbounded {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        x.is_finite().then_some(*x).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

/// As `unbounded`, for an interval: `null` is −∞ as its low end, +∞ as its high end.
mod unbounded_pair {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(x: &[f64; 2], s: S) -> Result<S::Ok, S::Error> {
        x.map(|v| v.is_finite().then_some(v)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f64; 2], D::Error> {
        let [lo, hi] = <[Option<f64>; 2]>::deserialize(d)?;
        Ok([lo.unwrap_or(f64::NEG_INFINITY), hi.unwrap_or(f64::INFINITY)])
    }
}

/// A decision and the evidence behind it, one entry per guard then goal: the audit record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub decision: Decision,
    pub evidence: Vec<Evidence>,
}

/// The level of the looser interval that holds a stage (never rolls back): a candidate that
/// merely looks worse gets no more traffic until the evidence clears or convicts it.
pub const SUSPECT_ALPHA: f64 = 0.5;

/// Decides a rollout. `control` and `candidate` are each variant's tallies over the whole rollout
/// (every stage, every replica); `candidate_samples_this_stage` counts the candidate's requests
/// at the current stage (its stage tally's [`Tally::requests`]; for shadow, the shadowed requests).
///
/// Rolls back at once when any guard or goal is shown violated (whatever the stage, paused or
/// not); otherwise holds until the stage has `min_samples_per_step` candidate samples and no check
/// looks worse; then advances, or at the final stage promotes once every goal is shown.
pub fn decide(
    spec: &Spec,
    state: &State,
    control: &Tally,
    candidate: &Tally,
    candidate_samples_this_stage: u64,
) -> Outcome {
    let checks = spec.guards.len() + spec.goals.len();
    // Each check gets α / checks; each arm's one-sided bound half of that (a union bound).
    let side = spec.alpha / (2 * checks.max(1)) as f64;
    let roles = spec
        .guards
        .iter()
        .map(|c| (Role::Guard, c))
        .chain(spec.goals.iter().map(|c| (Role::Goal, c)));
    let evidence: Vec<Evidence> = roles
        .map(|(role, check)| evaluate(role, check, control, candidate, side))
        .collect();
    let decision = decision(spec, state, &evidence, candidate_samples_this_stage);
    Outcome { decision, evidence }
}

fn decision(spec: &Spec, state: &State, evidence: &[Evidence], samples: u64) -> Decision {
    let hold = |reason: String| Decision::Hold { reason };
    match state.status {
        Status::Promoted => return hold("promoted".into()),
        Status::RolledBack => return hold("rolled back".into()),
        Status::Running | Status::Paused => {}
    }
    if let Some(e) = evidence.iter().find(|e| e.finding == Finding::Violated) {
        return Decision::Rollback {
            check: e.check.to_string(),
            reason: e.to_string(),
        };
    }
    if state.status == Status::Paused {
        return hold("paused".into());
    }
    if samples < spec.min_samples_per_step {
        return hold(format!(
            "stage {} ({}%): {samples} of {} candidate samples",
            state.stage,
            spec.steps.get(state.stage).copied().unwrap_or(0.0),
            spec.min_samples_per_step
        ));
    }
    if let Some(e) = evidence.iter().find(|e| e.finding == Finding::Suspect) {
        return hold(e.to_string());
    }
    if state.stage < spec.final_stage() {
        return Decision::Advance {
            to_stage: state.stage + 1,
        };
    }
    match evidence
        .iter()
        .find(|e| e.role == Role::Goal && e.finding != Finding::Shown)
    {
        Some(e) => hold(format!("goal not yet shown: {e}")),
        None => Decision::Promote,
    }
}

/// One arm's data on one metric.
enum Arm {
    Mean { n: u64, sum: f64 },
    Quantile { buckets: Vec<(u32, u64)>, p: f64 },
}

impl Arm {
    fn of(tally: &Tally, check: &Check) -> Arm {
        let key = check.metric.tally_key();
        match check.metric.kind() {
            Kind::Mean => {
                let m = tally.moments(&key);
                Arm::Mean { n: m.n, sum: m.sum }
            }
            Kind::Quantile(q) => Arm::Quantile {
                buckets: tally.histogram(&key).collect(),
                p: q.level(),
            },
        }
    }

    fn n(&self) -> u64 {
        match self {
            Arm::Mean { n, .. } => *n,
            Arm::Quantile { buckets, .. } => buckets.iter().map(|&(_, c)| c).sum(),
        }
    }

    fn estimate(&self) -> f64 {
        match self {
            Arm::Mean { n: 0, .. } => 0.0,
            Arm::Mean { n, sum } => sum / *n as f64,
            Arm::Quantile { buckets, p } => cs::quantile_estimate(buckets, *p),
        }
    }

    /// Anytime-valid, wrong with probability at most `alpha`.
    fn lower(&self, alpha: f64) -> f64 {
        match self {
            Arm::Mean { n, sum } => cs::lower(*n, *sum, alpha),
            Arm::Quantile { buckets, p } => cs::quantile_below(buckets, *p, alpha),
        }
    }

    fn upper(&self, alpha: f64) -> f64 {
        match self {
            Arm::Mean { n, sum } => cs::upper(*n, *sum, alpha),
            Arm::Quantile { buckets, p } => cs::quantile_above(buckets, *p, alpha),
        }
    }
}

/// Candidate against control: their ratio or their difference.
fn against(ratio_scale: bool, candidate: f64, control: f64) -> f64 {
    if ratio_scale {
        ratio(candidate, control)
    } else {
        candidate - control
    }
}

/// `a / b` for nonnegative values, with `x / 0 = ∞` for x > 0 and `0 / 0 = 1` (both nothing).
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else if a > 0.0 {
        f64::INFINITY
    } else {
        1.0
    }
}

fn evaluate(role: Role, check: &Check, control: &Tally, candidate: &Tally, side: f64) -> Evidence {
    let (c, k) = (Arm::of(candidate, check), Arm::of(control, check));
    let (op, bound) = check.effective();
    let (is_ratio, bound) = match bound {
        Bound::Diff(d) => (false, d),
        Bound::Ratio(r) => (true, r),
    };
    let (ce, ke) = (c.estimate(), k.estimate());
    let estimate = if is_ratio { ratio(ce, ke) } else { ce - ke };
    let interval = [
        against(is_ratio, c.lower(side), k.upper(side)),
        against(is_ratio, c.upper(side), k.lower(side)),
    ];
    // Worse means above the bound for `<=`, below it for `>=`. Violated when even the end most
    // favourable to the candidate is worse; shown when even the least favourable is not.
    let worse = |x: f64| if op == Op::Le { x > bound } else { x < bound };
    let (favourable, unfavourable) = match op {
        Op::Le => (interval[0], interval[1]),
        Op::Ge => (interval[1], interval[0]),
    };
    let finding = if worse(favourable) {
        Finding::Violated
    } else if !worse(unfavourable) {
        Finding::Shown
    } else {
        // The looser bound, on the favourable side only, and only when nothing is decided.
        let a = SUSPECT_ALPHA;
        let loose = match op {
            Op::Le => against(is_ratio, c.lower(a), k.upper(a)),
            Op::Ge => against(is_ratio, c.upper(a), k.lower(a)),
        };
        if worse(loose) {
            Finding::Suspect
        } else {
            Finding::Open
        }
    };
    Evidence {
        role,
        check: check.clone(),
        ratio: is_ratio,
        estimate,
        interval,
        bound,
        candidate_n: c.n(),
        control_n: k.n(),
        finding,
    }
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
    use crate::tally::Observation;

    /// `requests` requests of which `errors` failed, all 100 ms, and `resolved` of `feedback`
    /// feedback values positive.
    fn tally(requests: u64, errors: u64, feedback: u64, resolved: u64) -> Tally {
        let mut t = Tally::default();
        for i in 0..requests {
            t.observe(&Observation {
                error: i < errors,
                latency_ms: 100.0,
                ..Observation::default()
            });
        }
        for i in 0..feedback {
            t.score("feedback:resolved", if i < resolved { 1.0 } else { 0.0 })
                .unwrap();
        }
        t
    }

    fn spec(mode: Mode, steps: &[f64]) -> Spec {
        let checks = |c: &[&str]| c.iter().map(|t| Check::parse(t).unwrap()).collect();
        Spec {
            mode,
            steps: steps.to_vec(),
            min_samples_per_step: 200,
            guards: checks(&["error_rate", "latency_p95 <= 1.2x"]),
            goals: checks(&["feedback:resolved >= -0.05"]),
            alpha: 0.05,
        }
    }

    fn canary() -> Spec {
        spec(Mode::Canary, &[1.0, 5.0, 25.0, 50.0, 100.0])
    }

    fn running(stage: usize) -> State {
        State {
            stage,
            status: Status::Running,
        }
    }

    #[test]
    fn stages_and_shares() {
        let c = canary();
        assert_eq!(c.final_stage(), 3);
        assert_eq!(c.share_bp(0), 100);
        assert_eq!(c.share_bp(3), 5_000);
        assert_eq!(spec(Mode::Ab, &[50.0]).final_stage(), 0);
        let shadow = spec(Mode::Shadow, &[]);
        assert_eq!((shadow.final_stage(), shadow.share_bp(0)), (0, 0));
    }

    #[test]
    fn a_shown_violation_rolls_back_at_once_even_when_paused() {
        let (ctrl, cand) = (tally(20_000, 100, 0, 0), tally(150, 30, 0, 0));
        for status in [Status::Running, Status::Paused] {
            let state = State { stage: 0, status };
            let out = decide(&canary(), &state, &ctrl, &cand, 150);
            let Decision::Rollback { check, reason } = &out.decision else {
                panic!("{:?}", out.decision);
            };
            assert_eq!(check, "error_rate");
            assert!(
                reason.starts_with("guard error_rate: candidate - control +0.1950 in ["),
                "{reason}"
            );
            assert!(reason.ends_with("(n 150 vs 20000): violated"), "{reason}");
        }
        let done = State {
            stage: 0,
            status: Status::RolledBack,
        };
        let out = decide(&canary(), &done, &ctrl, &cand, 150);
        assert_eq!(
            out.decision,
            Decision::Hold {
                reason: "rolled back".into()
            }
        );
    }

    #[test]
    fn a_stage_holds_for_its_samples_then_advances() {
        let (ctrl, cand) = (tally(20_000, 200, 6_000, 4_800), tally(300, 3, 90, 72));
        let out = decide(&canary(), &running(0), &ctrl, &cand, 120);
        let Decision::Hold { reason } = &out.decision else {
            panic!("{:?}", out.decision);
        };
        assert_eq!(reason, "stage 0 (1%): 120 of 200 candidate samples");
        let out = decide(&canary(), &running(0), &ctrl, &cand, 300);
        assert_eq!(out.decision, Decision::Advance { to_stage: 1 });
        let paused = State {
            stage: 0,
            status: Status::Paused,
        };
        let out = decide(&canary(), &paused, &ctrl, &cand, 300);
        assert_eq!(
            out.decision,
            Decision::Hold {
                reason: "paused".into()
            }
        );
    }

    #[test]
    fn a_candidate_that_looks_worse_is_held_not_rolled_back() {
        // 4 % errors in 200 against 1 %: suspicious, not yet shown at α.
        let (ctrl, cand) = (tally(20_000, 200, 0, 0), tally(200, 8, 0, 0));
        let out = decide(&canary(), &running(0), &ctrl, &cand, 200);
        assert_eq!(
            out.evidence[0].finding,
            Finding::Suspect,
            "{}",
            out.evidence[0]
        );
        let Decision::Hold { reason } = &out.decision else {
            panic!("{:?}", out.decision);
        };
        assert!(reason.ends_with("looks worse, not shown"), "{reason}");
    }

    #[test]
    fn a_control_without_errors_is_no_problem() {
        let ctrl = tally(20_000, 0, 6_000, 4_800);
        let out = decide(&canary(), &running(0), &ctrl, &tally(300, 0, 90, 72), 300);
        assert_eq!(out.decision, Decision::Advance { to_stage: 1 });
        let out = decide(&canary(), &running(0), &ctrl, &tally(300, 6, 90, 72), 300);
        assert!(
            matches!(out.decision, Decision::Rollback { .. }),
            "{:?}",
            out.decision
        );
    }

    #[test]
    fn the_final_stage_promotes_only_once_goals_are_shown() {
        let ctrl = tally(20_000, 200, 6_000, 4_800);
        let few = tally(400, 4, 120, 96);
        let out = decide(&canary(), &running(3), &ctrl, &few, 400);
        let Decision::Hold { reason } = &out.decision else {
            panic!("{:?}", out.decision);
        };
        assert!(
            reason.starts_with("goal not yet shown: goal feedback:resolved"),
            "{reason}"
        );
        let many = tally(20_000, 200, 6_000, 4_800);
        let out = decide(&canary(), &running(3), &ctrl, &many, 10_000);
        assert_eq!(out.decision, Decision::Promote, "{}", out.evidence[2]);
        // ab and shadow promote from their only stage.
        for s in [spec(Mode::Ab, &[50.0]), spec(Mode::Shadow, &[])] {
            assert_eq!(
                decide(&s, &running(0), &ctrl, &many, 10_000).decision,
                Decision::Promote
            );
        }
        // A goal without any data never promotes.
        let silent = tally(20_000, 200, 0, 0);
        let out = decide(&canary(), &running(3), &ctrl, &silent, 10_000);
        assert!(matches!(out.decision, Decision::Hold { .. }));
        assert_eq!(out.evidence[2].candidate_n, 0);
    }

    #[test]
    fn evidence_reads_as_a_line_and_serialises() {
        let (ctrl, cand) = (tally(20_000, 200, 6_000, 4_800), tally(300, 3, 90, 72));
        let out = decide(&canary(), &running(0), &ctrl, &cand, 300);
        let lines: Vec<String> = out.evidence.iter().map(ToString::to_string).collect();
        assert!(
            lines[1].starts_with("guard latency_p95 <= 1.2x: candidate / control 1.000x in ["),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].contains("], bound <= 1.200x (n 300 vs 20000): "),
            "{}",
            lines[1]
        );
        assert!(
            lines[2]
                .starts_with("goal feedback:resolved >= -0.05: candidate - control +0.0000 in [-"),
            "{}",
            lines[2]
        );
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["decision"]["decision"], "advance");
        assert_eq!(json["decision"]["to_stage"], 1);
        assert_eq!(json["evidence"][1]["check"], "latency_p95 <= 1.2x");
        assert_eq!(json["evidence"][0]["role"], "guard");
        let back: Outcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, out);
        // A ratio over a control with no errors has no upper end: null in JSON, and back.
        let mut e = out.evidence[1].clone();
        e.interval[1] = f64::INFINITY;
        let json = serde_json::to_value(&e).unwrap();
        assert!(json["interval"][1].is_null());
        assert_eq!(serde_json::from_value::<Evidence>(json).unwrap(), e);
    }
}
