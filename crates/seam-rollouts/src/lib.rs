//! Rollouts that decide themselves: canary, A/B and shadow comparisons of a candidate (new
//! targets, a new prompt version) against the control, advanced or rolled back by evidence.
//!
//! This crate is the pure core: no IO, no clock, no randomness. [`assign`] puts a request on a
//! variant by a stable hash of its sticky value; [`tally`] counts what each variant did in
//! additive rows that replicas flush to a shared store; [`decide()`] reads the summed tallies and
//! says hold, advance, promote or roll back, with the [`Evidence`] for an audit record. Because
//! the decision is a pure function of `(spec, state, tallies)`, any replica may take it.
//!
//! # The statistics
//!
//! A rollout is looked at after every flush, for as long as it runs. Fixed-sample tests
//! (t-tests, a normal approximation on a rate) would then roll back a perfectly good candidate
//! far more often than their nominal 5 %, because each look is another chance for noise to
//! cross the line. So every interval here is a *confidence sequence*: valid simultaneously at
//! all sample sizes, so looking as often as one likes costs nothing (Howard, Ramdas, McAuliffe &
//! Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 2021;
//! Waudby-Smith & Ramdas, "Estimating means of bounded random variables by betting", JRSS B 2023).
//!
//! - **Means of values in 0..=1** (error, violation rates, feedback, evaluator scores): per
//!   arm, one-sided bounds from a mixture of Bernoulli likelihood ratios against log-odds shifts of
//!   the tested mean ([`cs`]; Robbins' method of mixtures), a nonnegative supermartingale for any values in 0..=1 (by
//!   convexity), bounded by Ville's inequality. It is exact for rates, never leans on a normal
//!   approximation, and copes with a control arm with no errors at all; it reads only `n` and
//!   `sum`, so it is computed from merged tallies, not from the order of the observations (which
//!   betting or predictable-plug-in empirical-Bernstein sequences would need, and which replicas
//!   sharing counters do not have).
//! - **Quantiles** (latency, time to first token; cost and output tokens at the median): the
//!   same bounds on the indicators "value below q", read off a 5 %-step histogram, give anytime
//!   bounds on each arm's quantile (as in Howard & Ramdas, "Sequential estimation of quantiles
//!   with applications to A/B-testing and best-arm identification", Bernoulli 2022).
//! - **Comparisons**: the difference is bounded by `[L_cand − U_ctrl, U_cand − L_ctrl]`, the
//!   ratio by `[L_cand / U_ctrl, U_cand / L_ctrl]`. With each one-sided bound at α / (2 · checks),
//!   a union bound makes the chance of ever rolling back a candidate that meets every bound at
//!   most α (and likewise of promoting one that misses a goal), whatever the traffic split and
//!   however it changes between stages.
//!
//! # The rules
//!
//! - **Roll back at once** when any guard or goal is shown violated: its interval lies wholly
//!   beyond the bound. No minimum sample count: the interval already accounts for it.
//! - **Hold** a stage until it has `min_samples_per_step` candidate samples *and* no check looks
//!   worse at the looser level [`SUSPECT_ALPHA`]. This costs a good candidate little time and
//!   keeps a bad one at its small share while the evidence against it builds: a candidate with
//!   5 % errors against 0.5 % is stopped at its 1 % stage, not at 5 %.
//! - **Advance** otherwise. Goals need not be shown before intermediate stages (1 % of traffic
//!   rarely carries enough feedback to prove a 2-point margin), only never shown violated.
//! - **Promote** from the final stage (a canary's last step below 100, the ab split, shadow)
//!   once every goal is *shown* within its bound (non-inferiority: the lower end of the interval
//!   clears the margin). Guards need only not be violated: a bare `error_rate` (a margin of 0)
//!   could never be shown. A goal whose metric has no data holds the promotion.
//! - A bare goal (`eval:quality`, a margin of 0) asks to show the candidate at least as good,
//!   which an identical candidate never is: give goals a margin.
//!
//! # Limits
//!
//! Each variant's tallies are pooled over the whole rollout, and the intervals assume each
//! variant's mean does not drift. Under drift they cover each variant's average over *its own*
//! samples, and the candidate's samples lean to later stages (its share grows), so an incident
//! that hits both variants during a late stage weighs more on the candidate. Comparing within a
//! stage (both variants then sample the same hours) would remove that bias at some cost in
//! evidence; tallies are already kept per stage, so a decision can move to it without a change
//! of rows. The intervals are also conservative (a union bound over arms and checks): in the
//! simulations no identical candidate of 500 was rolled back at α = 0.05.
//!
//! Shadow mode compares the candidate's recorded answers with the served ones on the sampled
//! requests, with the same checks; the statistics do not need the pairs (they compare the arms),
//! so shadow tallies are fed like any other.

pub mod assign;
pub mod check;
pub mod cs;
pub mod decide;
pub mod tally;

pub use assign::{BUCKETS, Variant, basis_points, bucket};
pub use check::{Bound, Check, Metric, Op, Quantile};
pub use decide::{
    Decision, Evidence, Finding, Mode, Outcome, Role, SUSPECT_ALPHA, Spec, State, Status, decide,
};
pub use tally::{Delta, Moments, Observation, ScoreError, Tally};
