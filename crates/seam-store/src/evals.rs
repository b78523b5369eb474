//! Eval and red-team reports kept for the console (migration 12): the JSON `seam eval -o` or
//! `seam redteam -o` wrote, uploaded by an admin, with its counts in columns so a list reads no
//! report. Reports are test data (suites' questions and the answers to them), not traffic: they
//! are kept in clear. At most [`MAX_RUNS`] are kept; storing one more drops the oldest.

use crate::db::{Conn, Val};
use crate::{StoreConfig, StoreError};

/// Runs kept; the oldest beyond it are deleted as new ones arrive.
pub const MAX_RUNS: i64 = 1_000;

/// One uploaded run, without its report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalRun {
    pub id: String,
    /// The uploader's name for it, or the report's description.
    pub name: String,
    /// `eval` or `redteam`.
    pub kind: String,
    pub uploaded_ms: i64,
    /// Cases (or probes) that passed, of `total`.
    pub passed: u64,
    pub total: u64,
    /// Who uploaded it (the console session's name).
    pub uploaded_by: Option<String>,
}

/// Eval runs over one connection. Synchronous: call it from blocking code.
pub struct EvalStore {
    conn: Conn,
}

impl std::fmt::Debug for EvalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalStore")
            .field("postgres", &self.conn.is_postgres())
            .finish()
    }
}

const COLUMNS: &str = "id, name, kind, uploaded_ms, passed, total, uploaded_by";

fn count(v: Option<i64>) -> u64 {
    v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

fn run_from(r: &dyn crate::db::RowRead) -> Result<EvalRun, StoreError> {
    Ok(EvalRun {
        id: r.text(0)?.unwrap_or_default(),
        name: r.text(1)?.unwrap_or_default(),
        kind: r.text(2)?.unwrap_or_default(),
        uploaded_ms: r.int(3)?.unwrap_or_default(),
        passed: count(r.int(4)?),
        total: count(r.int(5)?),
        uploaded_by: r.text(6)?,
    })
}

impl EvalStore {
    /// Connects and applies pending migrations. Only `cfg.backend` is used.
    pub fn open(cfg: &StoreConfig) -> Result<EvalStore, StoreError> {
        Ok(EvalStore {
            conn: Conn::open_migrated(&cfg.backend)?,
        })
    }

    /// Keeps `run` with its `report` (JSON text), and drops the oldest runs beyond
    /// [`MAX_RUNS`].
    pub fn put(&mut self, run: &EvalRun, report: &str) -> Result<(), StoreError> {
        let int = |n: u64| Val::Int(i64::try_from(n).unwrap_or(i64::MAX));
        self.conn.in_tx(true, |c| {
            c.exec(
                &format!(
                    "INSERT INTO eval_runs ({COLUMNS}, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ),
                &[
                    Val::Text(run.id.clone()),
                    Val::Text(run.name.clone()),
                    Val::Text(run.kind.clone()),
                    Val::Int(run.uploaded_ms),
                    int(run.passed),
                    int(run.total),
                    Val::opt_text(run.uploaded_by.as_deref()),
                    Val::Text(report.to_owned()),
                ],
            )?;
            c.exec(
                "DELETE FROM eval_runs WHERE id NOT IN
                 (SELECT id FROM eval_runs ORDER BY uploaded_ms DESC, id DESC LIMIT $1)",
                &[Val::Int(MAX_RUNS)],
            )?;
            Ok(())
        })
    }

    /// The runs, newest first, at most `limit`.
    pub fn list(&mut self, limit: u64) -> Result<Vec<EvalRun>, StoreError> {
        self.conn.query(
            &format!("SELECT {COLUMNS} FROM eval_runs ORDER BY uploaded_ms DESC, id DESC LIMIT $1"),
            &[Val::Int(i64::try_from(limit).unwrap_or(MAX_RUNS))],
            run_from,
        )
    }

    /// One run and its report.
    pub fn get(&mut self, id: &str) -> Result<Option<(EvalRun, String)>, StoreError> {
        self.conn.query_opt(
            &format!("SELECT {COLUMNS}, report FROM eval_runs WHERE id = $1"),
            &[Val::Text(id.to_owned())],
            |r| Ok((run_from(r)?, r.text(7)?.unwrap_or_default())),
        )
    }
}
