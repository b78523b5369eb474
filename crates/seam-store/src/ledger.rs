//! The spend ledger: what each limit scope (`org`, `team:NAME`, `key:ID`, …) has spent per
//! calendar period (`d:2026-11-29`, `m:2026-11`, UTC), in millionths of a US dollar.
//!
//! It is the durable side of budgets. Live counters sit in process memory or in Redis and are
//! seeded from here when they are missing (a restart, an evicted or flushed Redis); each settled
//! request's cost is added here by a writer that batches increments. Additions are commutative
//! upserts, so replicas sharing one PostgreSQL database never overwrite each other.

use crate::db::{Conn, Val};
use crate::{StoreConfig, StoreError};

/// The ledger over one connection. Synchronous: call it from blocking code.
pub struct Ledger {
    conn: Conn,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("postgres", &self.conn.is_postgres())
            .finish()
    }
}

/// One increment: `microusd` more spent by `scope` in `period` (defined in seam-types, so
/// seam-limits sums the same type without depending on this crate).
pub use seam_types::Charge;

impl Ledger {
    /// Connects and applies pending migrations.
    pub fn open(cfg: &StoreConfig) -> Result<Ledger, StoreError> {
        Ok(Ledger {
            conn: Conn::open_migrated(&cfg.backend)?,
        })
    }

    /// Adds every charge in one transaction.
    pub fn add(&mut self, charges: &[Charge]) -> Result<(), StoreError> {
        if charges.is_empty() {
            return Ok(());
        }
        self.conn.in_tx(true, |c| {
            for ch in charges {
                c.exec(
                    "INSERT INTO spend_ledger (scope, period, microusd) VALUES ($1, $2, $3)
                     ON CONFLICT (scope, period)
                     DO UPDATE SET microusd = spend_ledger.microusd + excluded.microusd",
                    &[
                        Val::Text(ch.scope.clone()),
                        Val::Text(ch.period.clone()),
                        Val::Int(i64::try_from(ch.microusd).unwrap_or(i64::MAX)),
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// What `scope` has spent in `period` (0 when nothing was recorded).
    pub fn spent(&mut self, scope: &str, period: &str) -> Result<u64, StoreError> {
        let v = self
            .conn
            .query_opt(
                "SELECT microusd FROM spend_ledger WHERE scope = $1 AND period = $2",
                &[Val::Text(scope.to_owned()), Val::Text(period.to_owned())],
                |r| r.int(0),
            )?
            .flatten()
            .unwrap_or(0);
        Ok(u64::try_from(v).unwrap_or(0))
    }

    /// Every scope's spend in `period`, largest first, at most `limit` rows.
    pub fn period(&mut self, period: &str, limit: u32) -> Result<Vec<(String, u64)>, StoreError> {
        self.conn.query(
            "SELECT scope, microusd FROM spend_ledger WHERE period = $1
             ORDER BY microusd DESC, scope LIMIT $2",
            &[Val::Text(period.to_owned()), Val::Int(i64::from(limit))],
            |r| {
                Ok((
                    r.text(0)?.unwrap_or_default(),
                    u64::try_from(r.int(1)?.unwrap_or(0)).unwrap_or(0),
                ))
            },
        )
    }
}
