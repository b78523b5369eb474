//! The one increment of the spend ledger, shared by the crate that sums spend (`seam-limits`)
//! and the one that stores it (`seam-store`), so neither depends on the other.

/// One increment: `microusd` more spent by `scope` in `period` (`d:2026-11-29`, `m:2026-11`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    pub scope: String,
    pub period: String,
    pub microusd: u64,
}
