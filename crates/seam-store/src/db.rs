//! The one place that knows there are two databases. Everything above speaks `$n` placeholders,
//! [`Val`] parameters and [`RowRead`] rows; this module turns them into rusqlite or postgres calls.
//! Every column in PostgreSQL is `BIGINT`, `DOUBLE PRECISION`, `TEXT` or `BYTEA`, so a [`Val`]
//! always matches its column's type on both backends and reads back bit for bit (the chain hash
//! depends on that).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::schema;
use crate::{BackendConfig, StoreError};

/// How long a statement, and opening a store, waits out another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A parameter or column value, typed the same on both backends.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Val {
    pub(crate) fn opt_text(v: Option<&str>) -> Val {
        v.map_or(Val::Null, |s| Val::Text(s.to_owned()))
    }

    /// Non-finite floats become NULL and -0.0 becomes 0.0: SQLite stores NaN as NULL and an
    /// integral REAL as an integer, and what is hashed must be exactly what reads back.
    pub(crate) fn opt_real(v: Option<f64>) -> Val {
        match v {
            Some(x) if x.is_finite() => Val::Real(x + 0.0),
            _ => Val::Null,
        }
    }
}

/// Column access by index, the same for both backends' rows.
pub(crate) trait RowRead {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn real(&self, i: usize) -> Result<Option<f64>, StoreError>;
    fn text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError>;
}

impl RowRead for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(i)?)
    }
    fn real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.get(i)?)
    }
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(i)?)
    }
    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(i)?)
    }
}

impl RowRead for postgres::Row {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.try_get(i)?)
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Val::Null => ValueRef::Null,
            Val::Int(v) => ValueRef::Integer(*v),
            Val::Real(v) => ValueRef::Real(*v),
            Val::Text(v) => ValueRef::Text(v.as_bytes()),
            Val::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

impl postgres::types::ToSql for Val {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(postgres::types::IsNull::Yes),
            Val::Int(v) => v.to_sql_checked(ty, out),
            Val::Real(v) => v.to_sql_checked(ty, out),
            Val::Text(v) => v.to_sql_checked(ty, out),
            Val::Blob(v) => v.to_sql_checked(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        // Each variant checks the column's type itself, through its inner value's `to_sql_checked`.
        true
    }

    postgres::types::to_sql_checked!();
}

enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// One connection to either backend, counting the statements it runs (a test pins erasure to
/// a constant number of them).
pub(crate) struct Conn {
    db: Backend,
    pub(crate) statements: u64,
}

impl Conn {
    /// `busy`: how long a statement waits for another connection's lock before failing.
    fn open_sqlite(path: &Path, busy: Duration) -> Result<Conn, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::new(format!("cannot create the database folder: {e}")))?;
        }
        let c = rusqlite::Connection::open(path)?;
        c.busy_timeout(busy)?;
        // WAL lets the writer, the CLI and readers work at once; FULL makes a commit durable
        // against power loss, not only against a crash of this process.
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "FULL")?;
        c.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted and overwritten content is zeroed in its page (and freed pages wholly), so an
        // erased subject's wrapped key, or a purged payload, is not left in free space for a
        // forensic read. It costs appends nothing (they delete nothing but the head row's old
        // image); `Conn::scrub` then clears the WAL.
        c.pragma_update(None, "secure_delete", "ON")?;
        c.set_prepared_statement_cache_capacity(64);
        Ok(Conn {
            db: Backend::Sqlite(c),
            statements: 0,
        })
    }

    pub(crate) fn open_postgres(url: &str) -> Result<Conn, StoreError> {
        let client = postgres::Client::connect(url, postgres::NoTls)?;
        Ok(Conn {
            db: Backend::Postgres(Box::new(client)),
            statements: 0,
        })
    }

    /// Connects to the configured backend and applies pending migrations: what every store
    /// handle ([`crate::AuditLog`], [`crate::KeyStore`]) does first.
    pub(crate) fn open_migrated(backend: &BackendConfig) -> Result<Conn, StoreError> {
        match backend {
            BackendConfig::Sqlite { path } => Conn::open_sqlite_migrated(path, BUSY_TIMEOUT),
            BackendConfig::Postgres { url } => {
                let mut conn = Conn::open_postgres(url)?;
                conn.migrate()?;
                Ok(conn)
            }
        }
    }

    /// Opens and migrates a SQLite store, waiting up to `wait` for another process that holds
    /// it (a `seam serve` starting or writing, `seam audit purge`). SQLite's busy handler covers
    /// most waits, but not all: some lock conflicts (a WAL being recovered or reset after a
    /// crash, a snapshot gone stale) fail at once, so the whole open is retried with backoff
    /// until the deadline; past it, the error names the file.
    pub(crate) fn open_sqlite_migrated(path: &Path, wait: Duration) -> Result<Conn, StoreError> {
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt =
                Conn::open_sqlite(path, left.max(Duration::from_millis(1))).and_then(|mut c| {
                    c.migrate()?;
                    Ok(c)
                });
            match attempt {
                Ok(c) => {
                    if let Backend::Sqlite(raw) = &c.db {
                        raw.busy_timeout(BUSY_TIMEOUT)?;
                    }
                    return Ok(c);
                }
                Err(e) if e.is_busy() && !left.is_zero() => {
                    #[allow(
                        clippy::disallowed_methods,
                        reason = "the store is synchronous and runs off the async runtime; SQLite's own busy handler sleeps the same way"
                    )]
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
                Err(e) if e.is_busy() => {
                    return Err(StoreError::new(format!(
                        "the SQLite store {} stayed locked by another process for {:.1} s while opening it ({e})",
                        path.display(),
                        wait.as_secs_f64()
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// After a deletion that must not be recoverable from the database's files (an erasure),
    /// removes the old copies the tables no longer show: on SQLite, checkpoints the WAL into
    /// the database and truncates it to zero bytes (`secure_delete` has already zeroed the
    /// freed bytes in the pages, which the checkpoint writes back); on PostgreSQL, rewrites
    /// `table` with `VACUUM FULL`, whose old file is truncated. Another connection in the
    /// middle of a read or a write can hold either up; this retries until `within` has passed,
    /// and then returns why it could not finish (`None`: done).
    ///
    /// On PostgreSQL a row version stays while any transaction that may still see it runs —
    /// one older than the deletion in any database of the server, or a snapshot taken before it
    /// in this one — and `VACUUM FULL` copies it to the new file. `deleted_by` (the deleting
    /// transaction's `txid_current()`) lets this wait for those to end rather than claim a
    /// rewrite that kept the row.
    pub(crate) fn scrub(
        &mut self,
        table: &str,
        deleted_by: Option<i64>,
        within: Duration,
    ) -> Result<Option<String>, StoreError> {
        self.statements += 1;
        let deadline = Instant::now() + within;
        let mut pause = Duration::from_millis(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = match &mut self.db {
                Backend::Sqlite(c) => checkpoint_truncate(c, left),
                Backend::Postgres(c) => vacuum_full(c, table, deleted_by),
            };
            match attempt {
                Ok(None) => return Ok(None),
                Ok(Some(why)) if left.is_zero() => {
                    return Ok(Some(format!(
                        "{why} (still so after {:.1} s)",
                        within.as_secs_f64()
                    )));
                }
                Ok(Some(_)) => {
                    #[allow(
                        clippy::disallowed_methods,
                        reason = "the store is synchronous and runs off the async runtime"
                    )]
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.db, Backend::Postgres(_))
    }

    /// Runs statements without parameters (migrations, transaction control).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.statements += 1;
        match &mut self.db {
            Backend::Sqlite(c) => c.execute_batch(sql)?,
            Backend::Postgres(c) => c.batch_execute(sql)?,
        }
        Ok(())
    }

    /// Runs one statement; returns the number of rows it changed.
    pub(crate) fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        self.statements += 1;
        match &mut self.db {
            Backend::Sqlite(c) => {
                let mut st = c.prepare_cached(&sqlite_sql(sql))?;
                let n = st.execute(rusqlite::params_from_iter(params.iter()))?;
                Ok(n as u64)
            }
            Backend::Postgres(c) => {
                let refs = pg_params(params);
                Ok(c.execute(sql, &refs)?)
            }
        }
    }

    /// Runs a query and maps every row; callers bound the row count with `LIMIT`.
    pub(crate) fn query<T>(
        &mut self,
        sql: &str,
        params: &[Val],
        mut f: impl FnMut(&dyn RowRead) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.statements += 1;
        let mut out = Vec::new();
        match &mut self.db {
            Backend::Sqlite(c) => {
                let mut st = c.prepare_cached(&sqlite_sql(sql))?;
                let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
                while let Some(row) = rows.next()? {
                    out.push(f(row)?);
                }
            }
            Backend::Postgres(c) => {
                let refs = pg_params(params);
                for row in c.query(sql, &refs)? {
                    out.push(f(&row)?);
                }
            }
        }
        Ok(out)
    }

    /// Runs a query and hands each row to `f` as it arrives, holding none of them: how a
    /// table of any size is read (the export). Returns the number of rows.
    pub(crate) fn each(
        &mut self,
        sql: &str,
        params: &[Val],
        mut f: impl FnMut(&dyn RowRead) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        self.statements += 1;
        let mut n = 0;
        match &mut self.db {
            Backend::Sqlite(c) => {
                let mut st = c.prepare(&sqlite_sql(sql))?;
                let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
                while let Some(row) = rows.next()? {
                    f(row)?;
                    n += 1;
                }
            }
            Backend::Postgres(c) => {
                use postgres::fallible_iterator::FallibleIterator;
                let mut rows = c.query_raw(sql, params.iter())?;
                while let Some(row) = rows.next()? {
                    f(&row)?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// PostgreSQL: `COPY table (columns) FROM STDIN` in the binary format, a row per call of
    /// `next` (which fills the vector it is given, or returns false at the end); the rows
    /// copied. Far cheaper than INSERTs for a bulk load (the import).
    pub(crate) fn copy_in(
        &mut self,
        table: &str,
        columns: &[(&str, postgres::types::Type)],
        mut next: impl FnMut(&mut Vec<Val>) -> Result<bool, StoreError>,
    ) -> Result<u64, StoreError> {
        self.statements += 1;
        let Backend::Postgres(c) = &mut self.db else {
            return Err(StoreError::new("COPY is PostgreSQL's"));
        };
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let types: Vec<postgres::types::Type> = columns.iter().map(|(_, t)| t.clone()).collect();
        let sink = c.copy_in(&format!(
            "COPY {table} ({}) FROM STDIN (FORMAT binary)",
            names.join(", ")
        ))?;
        let mut writer = postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
        let mut row = Vec::with_capacity(columns.len());
        loop {
            row.clear();
            if !next(&mut row)? {
                break;
            }
            if row.len() != columns.len() {
                return Err(StoreError::new(format!(
                    "{table}: a row of {} values for {} columns",
                    row.len(),
                    columns.len()
                )));
            }
            writer.write_raw(row.iter())?;
        }
        Ok(writer.finish()?)
    }

    /// SQLite: for a bulk load into a new store, a rollback journal in place of the WAL (pages
    /// appended to a file are not journaled, so the data is written once, not twice) and a
    /// 64 MiB page cache; `false` restores the WAL and the default cache. Best effort: another
    /// connection to the file keeps the WAL. PostgreSQL: nothing.
    pub(crate) fn sqlite_bulk(&mut self, on: bool) -> Result<(), StoreError> {
        if let Backend::Sqlite(c) = &self.db {
            if on {
                let _ = c.pragma_update(None, "journal_mode", "DELETE");
                c.pragma_update(None, "cache_size", -65_536)?;
            } else {
                c.pragma_update(None, "cache_size", -2_000)?;
                c.pragma_update(None, "journal_mode", "WAL")?;
            }
        }
        Ok(())
    }

    pub(crate) fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[Val],
        f: impl FnMut(&dyn RowRead) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.query(sql, params, f)?.into_iter().next())
    }

    /// Starts a write transaction. SQLite takes the database's write lock at once (so the chain
    /// head read next is the one this transaction extends); PostgreSQL locks the head row later.
    pub(crate) fn begin_write(&mut self) -> Result<(), StoreError> {
        if self.is_postgres() {
            self.batch("BEGIN")
        } else {
            self.batch("BEGIN IMMEDIATE")
        }
    }

    /// Starts a read transaction that sees one snapshot throughout.
    pub(crate) fn begin_read(&mut self) -> Result<(), StoreError> {
        if self.is_postgres() {
            self.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        } else {
            self.batch("BEGIN DEFERRED")
        }
    }

    pub(crate) fn commit(&mut self) -> Result<(), StoreError> {
        self.batch("COMMIT")
    }

    /// Best effort: the transaction's error is the one worth reporting.
    pub(crate) fn rollback(&mut self) {
        let _ = self.batch("ROLLBACK");
    }

    /// Runs `f` in a transaction begun by `begin`, committing on success and rolling back on error.
    pub(crate) fn in_tx<T>(
        &mut self,
        write: bool,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if write {
            self.begin_write()?;
        } else {
            self.begin_read()?;
        }
        match f(self) {
            Ok(v) => {
                if let Err(e) = self.commit() {
                    self.rollback();
                    return Err(e);
                }
                Ok(v)
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// Applies every migration step not yet recorded, in one transaction. Concurrent openers
    /// serialise on the write lock (SQLite) or an advisory lock (PostgreSQL), so the second sees
    /// the first's steps as done.
    pub(crate) fn migrate(&mut self) -> Result<(), StoreError> {
        let steps = if self.is_postgres() {
            schema::POSTGRES
        } else {
            schema::SQLITE
        };
        self.in_tx(true, |c| {
            if c.is_postgres() {
                c.query(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[Val::Int(schema::PG_LOCK)],
                    |_| Ok(()),
                )?;
            }
            c.batch(schema::MIGRATIONS_TABLE)?;
            for (version, sql) in steps {
                let done = c.query_opt(
                    "SELECT version FROM schema_migrations WHERE version = $1",
                    &[Val::Int(*version)],
                    |_| Ok(()),
                )?;
                if done.is_none() {
                    c.batch(sql)?;
                    c.exec(
                        "INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)",
                        &[Val::Int(*version), Val::Int(crate::now_ms())],
                    )?;
                }
            }
            Ok(())
        })
    }
}

/// `PRAGMA wal_checkpoint(TRUNCATE)`, waiting at most about a second (or `left`) for other
/// connections; `Some(why)` when one kept it from finishing.
fn checkpoint_truncate(
    c: &rusqlite::Connection,
    left: Duration,
) -> Result<Option<String>, StoreError> {
    c.busy_timeout(left.clamp(Duration::from_millis(1), Duration::from_secs(1)))?;
    let outcome = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    c.busy_timeout(BUSY_TIMEOUT)?;
    match outcome {
        Ok(0) => Ok(None),
        Ok(_) => Ok(Some(
            "another connection is reading or writing the SQLite store, so its WAL could not be checkpointed and truncated".to_owned(),
        )),
        Err(e) => {
            let e = StoreError::from(e);
            if e.is_busy() {
                Ok(Some(format!("the SQLite store's WAL is locked: {e}")))
            } else {
                Err(e)
            }
        }
    }
}

/// `VACUUM FULL table` (it cannot run in a transaction, nor in a multi-statement batch, which
/// PostgreSQL runs as one), waiting at most 500 ms for its lock: while it waits, every append
/// queues behind it. `Some(why)` when the lock was not had.
fn vacuum_full(
    c: &mut postgres::Client,
    table: &str,
    deleted_by: Option<i64>,
) -> Result<Option<String>, StoreError> {
    if let Some(xid) = deleted_by {
        // The oldest transaction running anywhere on the server, and the snapshots of this
        // database's sessions (and of replication), must all be past the deletion.
        let past: bool = c
            .query_one(
                "SELECT txid_snapshot_xmin(txid_current_snapshot()) > $1
                   AND NOT EXISTS (
                     SELECT 1 FROM pg_stat_activity
                     WHERE pid <> pg_backend_pid()
                       AND (datname = current_database() OR datname IS NULL)
                       AND backend_xmin IS NOT NULL
                       AND age(backend_xmin) >= age((($1) % 4294967296)::text::xid))
                   AND NOT EXISTS (
                     SELECT 1 FROM pg_replication_slots
                     WHERE xmin IS NOT NULL AND age(xmin) >= age((($1) % 4294967296)::text::xid))",
                &[&xid],
            )?
            .get(0);
        if !past {
            return Ok(Some(
                "a PostgreSQL transaction older than the erasure is still open on the server, so the deleted row cannot be removed yet".to_owned(),
            ));
        }
    }
    c.batch_execute("SET lock_timeout = '500ms'")?;
    let outcome = c.batch_execute(&format!("VACUUM FULL {table}"));
    c.batch_execute("RESET lock_timeout")?;
    match outcome {
        Ok(()) => Ok(None),
        Err(e)
            if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE)
                || e.code() == Some(&postgres::error::SqlState::T_R_DEADLOCK_DETECTED) =>
        {
            Ok(Some(format!(
                "another transaction holds {table}, so VACUUM FULL could not rewrite it"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// SQLite reads `$1` as a named parameter; `?1` is its numbered form.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

fn pg_params(params: &[Val]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "seam-store-busy-{}-{name}-{}",
            std::process::id(),
            crate::now_ms()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("seam.db")
    }

    /// Another process's connection holding the write lock, as `seam serve` does mid-batch.
    fn hold_write_lock(path: &Path) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(path).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE held (x);")
            .unwrap();
        c
    }

    #[test]
    fn opening_waits_out_a_lock() {
        let path = temp_db("wait");
        let holder = hold_write_lock(&path);
        let release = std::thread::spawn(move || {
            #[allow(clippy::disallowed_methods, reason = "a plain thread, not the runtime")]
            std::thread::sleep(Duration::from_millis(300));
            holder.execute_batch("COMMIT").unwrap();
        });
        let started = Instant::now();
        let mut conn = Conn::open_sqlite_migrated(&path, Duration::from_secs(5)).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(250));
        release.join().unwrap();
        let n = conn
            .query_opt("SELECT COUNT(*) FROM schema_migrations", &[], |r| r.int(0))
            .unwrap();
        assert!(n.flatten().unwrap() > 0);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_lock_held_too_long_is_a_clear_error_naming_the_file() {
        let path = temp_db("held");
        let _holder = hold_write_lock(&path);
        let Err(e) = Conn::open_sqlite_migrated(&path, Duration::from_millis(300)) else {
            panic!("opened a locked store");
        };
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("locked by another process"), "{msg}");
        assert!(
            !e.is_busy(),
            "the final error is a verdict, not a retryable state"
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
