//! Rollout state shared by replicas (migration 9).
//!
//! - `rollout_state`: one row per rollout — its `run` (starting a rollout again begins a new run,
//!   so tallies of an aborted run never mix with the next), `stage` (index into its steps) and
//!   `status`. Decisions change it with a compare-and-set on the run and stage they were made on,
//!   so two deciders can never both advance.
//! - `rollout_moments` / `rollout_buckets`: the additive tallies of `seam_rollouts::Delta`, per
//!   (rollout, run, stage, variant); every replica adds its deltas with `ON CONFLICT … DO UPDATE
//!   SET n = n + excluded.n`, so none overwrites another.
//! - `rollout_lease`: who decides now; a replica takes the lease when it is free or expired and
//!   keeps it by renewing.

use seam_rollouts::Delta;
use seam_rollouts::tally::{BucketRow, MomentRow};

use crate::db::{Conn, RowRead, Val};
use crate::{StoreConfig, StoreError, now_ms};

/// One rollout's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutRow {
    pub name: String,
    pub run: i64,
    pub stage: usize,
    /// `running`, `paused`, `promoted`, `rolled_back`, `aborted`.
    pub status: String,
    pub stage_started_ms: i64,
    pub updated_ms: i64,
    /// Why it last changed (a decision's reason, an operator's command).
    pub reason: Option<String>,
}

/// Rollout state and tallies over one connection. Synchronous: run it on a thread of its own.
pub struct RolloutStore {
    conn: Conn,
}

impl std::fmt::Debug for RolloutStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RolloutStore")
            .field("postgres", &self.conn.is_postgres())
            .finish()
    }
}

const COLUMNS: &str = "name, run, stage, status, stage_started_ms, updated_ms, reason";

fn read_row(r: &dyn RowRead) -> Result<RolloutRow, StoreError> {
    Ok(RolloutRow {
        name: r.text(0)?.unwrap_or_default(),
        run: r.int(1)?.unwrap_or_default(),
        stage: usize::try_from(r.int(2)?.unwrap_or_default()).unwrap_or(0),
        status: r.text(3)?.unwrap_or_default(),
        stage_started_ms: r.int(4)?.unwrap_or_default(),
        updated_ms: r.int(5)?.unwrap_or_default(),
        reason: r.text(6)?,
    })
}

fn int(v: usize) -> Val {
    Val::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn count(v: u64) -> Val {
    Val::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

impl RolloutStore {
    /// Connects and applies pending migrations. Only `cfg.backend` is used.
    pub fn open(cfg: &StoreConfig) -> Result<RolloutStore, StoreError> {
        Ok(RolloutStore {
            conn: Conn::open_migrated(&cfg.backend)?,
        })
    }

    /// Every rollout the store has a row for, by name.
    pub fn all(&mut self) -> Result<Vec<RolloutRow>, StoreError> {
        self.conn.query(
            &format!("SELECT {COLUMNS} FROM rollout_state ORDER BY name"),
            &[],
            read_row,
        )
    }

    pub fn get(&mut self, name: &str) -> Result<Option<RolloutRow>, StoreError> {
        self.conn.query_opt(
            &format!("SELECT {COLUMNS} FROM rollout_state WHERE name = $1"),
            &[Val::Text(name.to_owned())],
            read_row,
        )
    }

    /// Starts a rollout: a new run at stage 0, `running` (the first run is 1). A rollout that is
    /// running or paused is left as it is, unless `restart`.
    pub fn start(
        &mut self,
        name: &str,
        restart: bool,
        reason: &str,
    ) -> Result<RolloutRow, StoreError> {
        let now = now_ms();
        let name = name.to_owned();
        let reason = reason.to_owned();
        self.conn.in_tx(true, |c| {
            let current = c.query_opt(
                &format!("SELECT {COLUMNS} FROM rollout_state WHERE name = $1"),
                &[Val::Text(name.clone())],
                read_row,
            )?;
            if let Some(row) = &current
                && !restart
                && matches!(row.status.as_str(), "running" | "paused")
            {
                return Ok(row.clone());
            }
            let run = current.as_ref().map_or(1, |r| r.run + 1);
            c.exec(
                "INSERT INTO rollout_state (name, run, stage, status, stage_started_ms, updated_ms, reason)
                 VALUES ($1, $2, 0, 'running', $3, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET run = excluded.run, stage = 0,
                 status = 'running', stage_started_ms = excluded.stage_started_ms,
                 updated_ms = excluded.updated_ms, reason = excluded.reason",
                &[
                    Val::Text(name.clone()),
                    Val::Int(run),
                    Val::Int(now),
                    Val::Text(reason.clone()),
                ],
            )?;
            Ok(RolloutRow {
                name: name.clone(),
                run,
                stage: 0,
                status: "running".into(),
                stage_started_ms: now,
                updated_ms: now,
                reason: Some(reason.clone()),
            })
        })
    }

    /// Moves a rollout from (`run`, `stage`) to `to_stage` with `status`, only if it is still
    /// there (compare-and-set): false when another replica or an operator changed it first.
    pub fn transition(
        &mut self,
        name: &str,
        run: i64,
        stage: usize,
        to_stage: usize,
        status: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let n = self.conn.exec(
            "UPDATE rollout_state SET stage = $1, status = $2, updated_ms = $3, reason = $4,
             stage_started_ms = CASE WHEN stage = $1 THEN stage_started_ms ELSE $3 END
             WHERE name = $5 AND run = $6 AND stage = $7",
            &[
                int(to_stage),
                Val::Text(status.to_owned()),
                Val::Int(now),
                Val::Text(reason.to_owned()),
                Val::Text(name.to_owned()),
                Val::Int(run),
                int(stage),
            ],
        )?;
        Ok(n == 1)
    }

    /// Adds one replica's tallies for (`rollout`, `run`, `stage`, `variant`), in one
    /// transaction.
    pub fn add(
        &mut self,
        rollout: &str,
        run: i64,
        stage: usize,
        variant: &str,
        delta: &Delta,
    ) -> Result<(), StoreError> {
        if delta.moments.is_empty() && delta.buckets.is_empty() {
            return Ok(());
        }
        let key = [
            Val::Text(rollout.to_owned()),
            Val::Int(run),
            int(stage),
            Val::Text(variant.to_owned()),
        ];
        self.conn.in_tx(true, |c| {
            for m in &delta.moments {
                let mut params = key.to_vec();
                params.extend([
                    Val::Text(m.metric.clone()),
                    count(m.n),
                    Val::Real(m.sum),
                    Val::Real(m.sum_sq),
                ]);
                c.exec(
                    "INSERT INTO rollout_moments (rollout, run, stage, variant, metric, n, sum, sum_sq)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (rollout, run, stage, variant, metric) DO UPDATE SET
                     n = rollout_moments.n + excluded.n, sum = rollout_moments.sum + excluded.sum,
                     sum_sq = rollout_moments.sum_sq + excluded.sum_sq",
                    &params,
                )?;
            }
            for b in &delta.buckets {
                let mut params = key.to_vec();
                params.extend([
                    Val::Text(b.metric.clone()),
                    Val::Int(i64::from(b.bucket)),
                    count(b.count),
                ]);
                c.exec(
                    "INSERT INTO rollout_buckets (rollout, run, stage, variant, metric, bucket, count)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (rollout, run, stage, variant, metric, bucket) DO UPDATE SET
                     count = rollout_buckets.count + excluded.count",
                    &params,
                )?;
            }
            Ok(())
        })
    }

    /// A run's tallies: `(stage, variant, delta)` for every stage and variant with any.
    pub fn tallies(
        &mut self,
        rollout: &str,
        run: i64,
    ) -> Result<Vec<(usize, String, Delta)>, StoreError> {
        let key = [Val::Text(rollout.to_owned()), Val::Int(run)];
        let moments = self.conn.query(
            "SELECT stage, variant, metric, n, sum, sum_sq FROM rollout_moments
             WHERE rollout = $1 AND run = $2 ORDER BY stage, variant, metric",
            &key,
            |r| {
                Ok((
                    usize::try_from(r.int(0)?.unwrap_or_default()).unwrap_or(0),
                    r.text(1)?.unwrap_or_default(),
                    MomentRow {
                        metric: r.text(2)?.unwrap_or_default(),
                        n: u64::try_from(r.int(3)?.unwrap_or_default()).unwrap_or(0),
                        sum: r.real(4)?.unwrap_or_default(),
                        sum_sq: r.real(5)?.unwrap_or_default(),
                    },
                ))
            },
        )?;
        let buckets = self.conn.query(
            "SELECT stage, variant, metric, bucket, count FROM rollout_buckets
             WHERE rollout = $1 AND run = $2 ORDER BY stage, variant, metric, bucket",
            &key,
            |r| {
                Ok((
                    usize::try_from(r.int(0)?.unwrap_or_default()).unwrap_or(0),
                    r.text(1)?.unwrap_or_default(),
                    BucketRow {
                        metric: r.text(2)?.unwrap_or_default(),
                        bucket: u32::try_from(r.int(3)?.unwrap_or_default()).unwrap_or(0),
                        count: u64::try_from(r.int(4)?.unwrap_or_default()).unwrap_or(0),
                    },
                ))
            },
        )?;
        let mut out: std::collections::BTreeMap<(usize, String), Delta> =
            std::collections::BTreeMap::new();
        for (stage, variant, m) in moments {
            out.entry((stage, variant)).or_default().moments.push(m);
        }
        for (stage, variant, b) in buckets {
            out.entry((stage, variant)).or_default().buckets.push(b);
        }
        let out = out.into_iter().map(|((s, v), d)| (s, v, d)).collect();
        Ok(out)
    }

    /// Takes or renews the lease on deciding `name` for `ttl_ms`: true when `holder` has it now.
    pub fn lease(&mut self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        let n = self.conn.exec(
            "INSERT INTO rollout_lease (name, holder, until_ms) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms
             WHERE rollout_lease.holder = excluded.holder OR rollout_lease.until_ms < $4",
            &[
                Val::Text(name.to_owned()),
                Val::Text(holder.to_owned()),
                Val::Int(now + ttl_ms),
                Val::Int(now),
            ],
        )?;
        Ok(n == 1)
    }
}
