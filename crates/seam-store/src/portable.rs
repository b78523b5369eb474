//! The exit drill: every table a store owns, written to a folder in open formats
//! ([`export`]) and read back into an empty store on either backend ([`import`]) — a backup
//! anyone can read, and the migration path between SQLite and PostgreSQL.
//!
//! # The folder
//!
//! - `tables/TABLE.jsonl` — one JSON object per row, every column by name, in primary-key
//!   order (text keys bytewise, as SQLite and PostgreSQL's `C` collation compare them), so
//!   the same data gives the same bytes whichever backend held it. Integers and floats are
//!   JSON numbers (floats in their shortest round-tripping form), BLOBs are base64 strings,
//!   NULL is `null`; a retrieval chunk's `vector` is a list of floats.
//! - the extra files the caller hands in (the config, prompt files), copied byte for byte.
//! - `manifest.json` — [`FORMAT_VERSION`], the schema version, Seam's version, the time, the
//!   source backend and, per file, its path, rows (tables), bytes and SHA-256.
//! - `SHA256SUMS` — `sha256sum -c` format, over every file above and the manifest.
//!
//! Audit rows go out exactly as stored: payloads and wrapped keys stay sealed, hashes,
//! signatures, checkpoints, the anchor and the head unchanged, so the imported chain verifies
//! with the same master key. API keys go out as metadata and their one-way hash (what lets the
//! same secrets authenticate after an import), never a secret. Not exported: the rollout lease
//! (a replica's few-second claim) and the full-text index, which is rebuilt from the chunks
//! (SQLite's FTS5 table; PostgreSQL's generated column rebuilds itself). The rollups are
//! derived, but exported as stored: copying them is cheaper than rolling up every record again.
//!
//! # Bounded memory
//!
//! Export streams each table from one read snapshot straight into its file; import reads one
//! line at a time (hashing the file as it goes) and inserts a few hundred rows per statement on
//! SQLite, or streams them through binary `COPY` on PostgreSQL, all in one transaction, so an
//! import that fails leaves the store as empty as it found it.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::digest;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::crypto::{Keys, hex};
use crate::db::{Conn, RowRead, Val};
use crate::{BackendConfig, StoreConfig, StoreError, now_ms, rfc3339};

/// The folder layout and row format this build writes and reads. Bump it with any change to
/// [`TABLES`] (a migration that adds a column adds it here, and a test holds the two equal).
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
pub const SUMS: &str = "SHA256SUMS";
const TABLE_DIR: &str = "tables";
/// Parameters per multi-row INSERT, under SQLite's limit of 32,766.
const PARAMS_PER_STATEMENT: usize = 8_000;
/// How often, in rows, the progress callback hears of a table.
const PROGRESS_EVERY: u64 = 10_000;

mod tables;

use Ty::{Blob, F32s, Int, Real, Text};
use tables::{NOT_EXPORTED_TABLES, SEEDED, TABLES, Table, Ty};

/// Tables the store has that are deliberately not exported (see the module's doc).
pub const NOT_EXPORTED: &[&str] = NOT_EXPORTED_TABLES;

/// The names of the exported tables, in import order.
pub fn table_names() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|t| t.name)
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    /// The store's last migration (both backends number theirs alike).
    pub schema_version: i64,
    pub seam_version: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// `sqlite` or `postgres`.
    pub source_backend: String,
    pub files: Vec<FileEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative to the folder, `/`-separated.
    pub path: String,
    /// The table it holds, for `tables/*.jsonl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    pub bytes: u64,
    pub sha256: String,
}

/// A file copied into the export as it is (the config, a prompt file).
#[derive(Clone, Debug)]
pub struct Extra {
    /// Where it goes in the folder: relative, `/`-separated, no `..`.
    pub path: String,
    pub source: PathBuf,
}

/// What [`import`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    pub tables: usize,
    pub rows: u64,
    /// Extra files the export holds (the config, prompts): not loaded; the caller's to place.
    pub extras: Vec<String>,
}

/// Writes every table of the store `cfg` names, and `extras`, into `dir` (created if absent;
/// refused when it holds anything, unless `force`). `progress(table, rows)` hears of each
/// table as it goes. Reads one snapshot; the store stays open to writers meanwhile.
pub fn export(
    cfg: &StoreConfig,
    dir: &Path,
    extras: &[Extra],
    force: bool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<Manifest, StoreError> {
    prepare_dir(dir, force)?;
    for e in extras {
        check_rel(&e.path)?;
    }
    let mut conn = Conn::open_migrated(&cfg.backend)?;
    let mut files = Vec::new();
    for e in extras {
        files.push(copy_extra(dir, e)?);
    }
    std::fs::create_dir_all(dir.join(TABLE_DIR)).map_err(|e| io_err(&dir.join(TABLE_DIR), &e))?;
    let pg = conn.is_postgres();
    conn.in_tx(false, |c| {
        // A store from before subjects were sealed keeps them in clear until it is opened with
        // its master key (`AuditLog::open` seals them); they must not leave in clear.
        let clear = c.query_opt(
            "SELECT 1 FROM audit_subjects WHERE subject IS NOT NULL LIMIT 1",
            &[],
            |_| Ok(()),
        )?;
        if clear.is_some() {
            return Err(StoreError::new(
                "this store still holds subjects in clear from an older Seam: open it once with its master key (e.g. `seam audit verify`), which seals them, then export",
            ));
        }
        for t in TABLES {
            files.push(export_table(c, pg, dir, t, progress)?);
        }
        Ok(())
    })?;
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        schema_version: schema_version(),
        seam_version: env!("CARGO_PKG_VERSION").to_owned(),
        created: rfc3339(now_ms()),
        source_backend: backend_name(&cfg.backend).to_owned(),
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| StoreError::new(format!("cannot write the manifest: {e}")))?;
    let manifest_path = dir.join(MANIFEST);
    std::fs::write(&manifest_path, &text).map_err(|e| io_err(&manifest_path, &e))?;
    let mut sums = String::new();
    for f in &manifest.files {
        sums.push_str(&format!("{}  {}\n", f.sha256, f.path));
    }
    sums.push_str(&format!(
        "{}  {MANIFEST}\n",
        hex(digest::digest(&digest::SHA256, &text).as_ref())
    ));
    let sums_path = dir.join(SUMS);
    std::fs::write(&sums_path, sums).map_err(|e| io_err(&sums_path, &e))?;
    Ok(manifest)
}

/// Checks `dir` against its `SHA256SUMS` and manifest, then loads every table into the empty
/// store `cfg` names, in one transaction. Refuses, changing nothing: a file that does not
/// match its checksum (naming it; a table file is hashed as it is loaded, and the load rolled
/// back), another format version or schema, a master key other than the export's, a store
/// that already holds anything.
pub fn import(
    cfg: &StoreConfig,
    dir: &Path,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<ImportReport, StoreError> {
    let manifest = checked(dir, false)?;
    let mut conn = Conn::open_migrated(&cfg.backend)?;
    let pg = conn.is_postgres();
    let mut rows = 0;
    conn.sqlite_bulk(true)?;
    let done = conn.in_tx(true, |c| {
        refuse_unless_empty(c)?;
        for t in SEEDED {
            c.exec(&format!("DELETE FROM {t}"), &[])?;
        }
        for t in TABLES {
            let entry = manifest
                .files
                .iter()
                .find(|f| f.table.as_deref() == Some(t.name))
                .ok_or_else(|| {
                    StoreError::new(format!("the manifest lists no file for table {}", t.name))
                })?;
            let n = import_table(c, dir, entry, t, progress)?;
            rows += n;
            if t.name == "audit_meta" {
                let records = manifest
                    .files
                    .iter()
                    .find(|f| f.table.as_deref() == Some("audit_log"))
                    .and_then(|f| f.rows)
                    .unwrap_or(0);
                check_master_key(c, cfg.master_key.as_ref(), records > 0)?;
            }
        }
        if pg {
            for (table, column) in [
                ("retrieval_documents", "doc_key"),
                ("retrieval_chunks", "chunk_id"),
            ] {
                c.query(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                         COALESCE(MAX({column}), 0) + 1, false) FROM {table}"
                    ),
                    &[],
                    |_| Ok(()),
                )?;
            }
        } else {
            rebuild_fts(c)?;
        }
        Ok(())
    });
    // The import's own error, if any, is the one worth reporting.
    let restored = conn.sqlite_bulk(false);
    done?;
    restored?;
    Ok(ImportReport {
        tables: TABLES.len(),
        rows,
        extras: manifest
            .files
            .iter()
            .filter(|f| f.table.is_none())
            .map(|f| f.path.clone())
            .collect(),
    })
}

/// The imported log must open with this config's master key, as [`crate::AuditLog::open`]
/// would check it: refused now, before the rest is loaded, rather than after.
fn check_master_key(
    c: &mut Conn,
    master: Option<&[u8; 32]>,
    records: bool,
) -> Result<(), StoreError> {
    let meta = |c: &mut Conn, name: &str| {
        Ok::<_, StoreError>(
            c.query_opt(
                "SELECT value FROM audit_meta WHERE name = $1",
                &[Val::Text(name.to_owned())],
                |r| r.text(0),
            )?
            .flatten(),
        )
    };
    let salt = meta(c, "subject_salt")?.unwrap_or_default();
    let written = meta(c, "key_check")?;
    let keys = Keys::new(master, salt.as_bytes())?;
    match (written, keys.key_check()) {
        (Some(w), Some(k)) if w != k => Err(StoreError::new(
            "the config's master key is not the one the exported audit log was written with",
        )),
        (Some(_), None) => Err(StoreError::new(
            "the exported audit log was written with a master key: the config must name it ([audit] master_key)",
        )),
        (None, Some(_)) if records => Err(StoreError::new(
            "the exported audit log was written without a master key and cannot take one: import with a config without [audit] master_key",
        )),
        _ => Ok(()),
    }
}

/// Verifies `dir`: every line of `SHA256SUMS` against its file, and the manifest's version,
/// schema and file list against the sums. Returns the manifest.
pub fn check(dir: &Path) -> Result<Manifest, StoreError> {
    checked(dir, true)
}

/// [`check`]; with `tables: false` the table files' own checksums are left to the import,
/// which hashes each as it reads it (a 4 GB export is then read once, not twice).
fn checked(dir: &Path, tables: bool) -> Result<Manifest, StoreError> {
    let sums_path = dir.join(SUMS);
    let sums = std::fs::read_to_string(&sums_path).map_err(|e| io_err(&sums_path, &e))?;
    let mut listed: Vec<(String, String)> = Vec::new();
    for (i, line) in sums.lines().enumerate() {
        let (sum, path) = line
            .split_once("  ")
            .filter(|(s, _)| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| {
                StoreError::new(format!(
                    "{} line {}: not `SHA256  PATH`",
                    sums_path.display(),
                    i + 1
                ))
            })?;
        check_rel(path)?;
        listed.push((path.to_owned(), sum.to_ascii_lowercase()));
    }
    let sum_of = |path: &str| {
        listed
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, s)| s.as_str())
    };
    let manifest_sum = sum_of(MANIFEST).ok_or_else(|| {
        StoreError::new(format!(
            "{SUMS} in {} has no line for {MANIFEST}",
            dir.display()
        ))
    })?;
    let manifest_path = dir.join(MANIFEST);
    verify_file(&manifest_path, manifest_sum)?;
    let text = std::fs::read(&manifest_path).map_err(|e| io_err(&manifest_path, &e))?;
    // The version first, from a loose read, so an export of another format says so rather
    // than failing on a field this build does not know.
    let version = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format_version").and_then(serde_json::Value::as_u64));
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(StoreError::new(format!(
            "{} is export format {}; this seam reads format {FORMAT_VERSION} only (use the seam version that wrote it)",
            manifest_path.display(),
            version.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
        )));
    }
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
        StoreError::new(format!(
            "{} is not a manifest: {e}",
            manifest_path.display()
        ))
    })?;
    if manifest.schema_version != schema_version() {
        return Err(StoreError::new(format!(
            "{} was written from schema version {}; this seam's is {} (use the seam version that wrote it)",
            manifest_path.display(),
            manifest.schema_version,
            schema_version()
        )));
    }
    for f in &manifest.files {
        if sum_of(&f.path) != Some(f.sha256.to_ascii_lowercase().as_str()) {
            return Err(StoreError::new(format!(
                "{} is in the manifest but not, with the same checksum, in {SUMS}",
                dir.join(&f.path).display()
            )));
        }
    }
    for (path, sum) in &listed {
        let table = manifest
            .files
            .iter()
            .any(|f| f.path == *path && f.table.is_some());
        if path != MANIFEST && (tables || !table) {
            verify_file(&dir.join(path), sum)?;
        }
    }
    Ok(manifest)
}

fn verify_file(path: &Path, sum: &str) -> Result<(), StoreError> {
    let (actual, _) = hash_file(path)?;
    if actual == sum {
        Ok(())
    } else {
        Err(mismatch(path))
    }
}

fn mismatch(path: &Path) -> StoreError {
    StoreError::new(format!(
        "{} does not match its checksum in {SUMS}: the export was changed or damaged",
        path.display()
    ))
}

/// The last migration this build applies.
pub fn schema_version() -> i64 {
    crate::schema::SQLITE.last().map_or(0, |(v, _)| *v)
}

fn backend_name(b: &BackendConfig) -> &'static str {
    match b {
        BackendConfig::Sqlite { .. } => "sqlite",
        BackendConfig::Postgres { .. } => "postgres",
    }
}

fn io_err(path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::new(format!("{}: {e}", path.display()))
}

fn prepare_dir(dir: &Path, force: bool) -> Result<(), StoreError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                return Err(StoreError::new(format!(
                    "{} is not empty: export into an empty or new folder, or pass --force to write over it",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, &e))
        }
        Err(e) => Err(io_err(dir, &e)),
    }
}

/// A relative, `/`-separated path inside the folder: no `..`, no root.
fn check_rel(path: &str) -> Result<(), StoreError> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && !path.contains('\\')
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(StoreError::new(format!(
            "\"{path}\" is not a relative path inside the export folder"
        )))
    }
}

/// A file being written, hashed and counted as it goes.
struct Hashed {
    out: BufWriter<File>,
    ctx: digest::Context,
    bytes: u64,
}

impl Hashed {
    fn create(path: &Path) -> Result<Hashed, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err(parent, &e))?;
        }
        let f = File::create(path).map_err(|e| io_err(path, &e))?;
        Ok(Hashed {
            out: BufWriter::with_capacity(1 << 20, f),
            ctx: digest::Context::new(&digest::SHA256),
            bytes: 0,
        })
    }

    fn put(&mut self, buf: &[u8], path: &Path) -> Result<(), StoreError> {
        self.ctx.update(buf);
        self.bytes += buf.len() as u64;
        self.out.write_all(buf).map_err(|e| io_err(path, &e))
    }

    /// Flushes to disk; returns (sha256, bytes).
    fn finish(mut self, path: &Path) -> Result<(String, u64), StoreError> {
        self.out.flush().map_err(|e| io_err(path, &e))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(|e| io_err(path, &e))?;
        Ok((hex(self.ctx.finish().as_ref()), self.bytes))
    }
}

fn hash_file(path: &Path) -> Result<(String, u64), StoreError> {
    let mut f = File::open(path).map_err(|e| io_err(path, &e))?;
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| io_err(path, &e))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((hex(ctx.finish().as_ref()), bytes))
}

fn copy_extra(dir: &Path, e: &Extra) -> Result<FileEntry, StoreError> {
    let to = dir.join(&e.path);
    let mut from = File::open(&e.source).map_err(|err| io_err(&e.source, &err))?;
    let mut out = Hashed::create(&to)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = from.read(&mut buf).map_err(|err| io_err(&e.source, &err))?;
        if n == 0 {
            break;
        }
        out.put(&buf[..n], &to)?;
    }
    let (sha256, bytes) = out.finish(&to)?;
    Ok(FileEntry {
        path: e.path.clone(),
        table: None,
        rows: None,
        bytes,
        sha256,
    })
}

fn select_sql(t: &Table, pg: bool) -> String {
    let cols: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
    let order: Vec<String> = t
        .key
        .iter()
        .map(|k| {
            let text = t.columns.iter().any(|(c, ty)| c == k && *ty == Text);
            if pg && text {
                format!("{k} COLLATE \"C\"")
            } else {
                (*k).to_owned()
            }
        })
        .collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        cols.join(", "),
        t.name,
        order.join(", ")
    )
}

fn export_table(
    c: &mut Conn,
    pg: bool,
    dir: &Path,
    t: &Table,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<FileEntry, StoreError> {
    let rel = format!("{TABLE_DIR}/{}.jsonl", t.name);
    let path = dir.join(&rel);
    let mut out = Hashed::create(&path)?;
    let mut line = Vec::with_capacity(4096);
    let mut n = 0u64;
    progress(t.name, 0);
    c.each(&select_sql(t, pg), &[], |row| {
        line.clear();
        write_row(&mut line, t, row)?;
        out.put(&line, &path)?;
        n += 1;
        if n % PROGRESS_EVERY == 0 {
            progress(t.name, n);
        }
        Ok(())
    })?;
    progress(t.name, n);
    let (sha256, bytes) = out.finish(&path)?;
    Ok(FileEntry {
        path: rel,
        table: Some(t.name.to_owned()),
        rows: Some(n),
        bytes,
        sha256,
    })
}

fn json_into<T: Serialize + ?Sized>(line: &mut Vec<u8>, v: &T) -> Result<(), StoreError> {
    serde_json::to_writer(line, v).map_err(|e| StoreError::new(format!("json: {e}")))
}

/// One row as a JSON object and a newline.
fn write_row(line: &mut Vec<u8>, t: &Table, row: &dyn RowRead) -> Result<(), StoreError> {
    line.push(b'{');
    for (i, (name, ty)) in t.columns.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.push(b'"');
        line.extend_from_slice(name.as_bytes());
        line.extend_from_slice(b"\":");
        match ty {
            Int => match row.int(i)? {
                Some(v) => line.extend_from_slice(v.to_string().as_bytes()),
                None => line.extend_from_slice(b"null"),
            },
            Real => match row.real(i)? {
                Some(v) => json_into(line, &v)?,
                None => line.extend_from_slice(b"null"),
            },
            Text => match row.text(i)? {
                Some(v) => json_into(line, &v)?,
                None => line.extend_from_slice(b"null"),
            },
            Blob => match row.blob(i)? {
                Some(v) => {
                    line.push(b'"');
                    line.extend_from_slice(B64.encode(v).as_bytes());
                    line.push(b'"');
                }
                None => line.extend_from_slice(b"null"),
            },
            F32s => match row.blob(i)? {
                Some(v) => {
                    if v.len() % 4 != 0 {
                        return Err(StoreError::new(format!(
                            "{}.{name}: a vector of {} bytes is not a list of f32s",
                            t.name,
                            v.len()
                        )));
                    }
                    line.push(b'[');
                    for (j, b) in v.chunks_exact(4).enumerate() {
                        if j > 0 {
                            line.push(b',');
                        }
                        let x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                        json_into(line, &x)?;
                    }
                    line.push(b']');
                }
                None => line.extend_from_slice(b"null"),
            },
        }
    }
    line.extend_from_slice(b"}\n");
    Ok(())
}

fn refuse_unless_empty(c: &mut Conn) -> Result<(), StoreError> {
    for t in TABLES.iter().filter(|t| !SEEDED.contains(&t.name)) {
        let any = c.query_opt(
            &format!("SELECT 1 FROM {} LIMIT 1", t.name),
            &[],
            |_| Ok(()),
        )?;
        if any.is_some() {
            return Err(StoreError::new(format!(
                "the target store is not empty (table {} holds rows): import only into a new, empty store",
                t.name
            )));
        }
    }
    let head = c
        .query_opt("SELECT seq FROM audit_head WHERE id = 1", &[], |r| r.int(0))?
        .flatten()
        .unwrap_or(0);
    if head != 0 {
        return Err(StoreError::new(
            "the target store is not empty (its audit chain has started): import only into a new, empty store",
        ));
    }
    Ok(())
}

fn insert_sql(t: &Table, rows: usize) -> String {
    let cols: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
    let n = cols.len();
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", t.name, cols.join(", "));
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for i in 0..n {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", r * n + i + 1));
        }
        sql.push(')');
    }
    sql
}

fn import_table(
    c: &mut Conn,
    dir: &Path,
    entry: &FileEntry,
    t: &Table,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<u64, StoreError> {
    let path = dir.join(&entry.path);
    let file = File::open(&path).map_err(|e| io_err(&path, &e))?;
    let mut reader = BufReader::with_capacity(
        1 << 20,
        HashingReader {
            inner: file,
            ctx: digest::Context::new(&digest::SHA256),
        },
    );
    let mut line = String::new();
    let mut n = 0u64;
    progress(t.name, 0);
    // The next row's values into `out`; false at the end of the file.
    let mut next = |out: &mut Vec<Val>| -> Result<bool, StoreError> {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| io_err(&path, &e))?;
        if read == 0 {
            return Ok(false);
        }
        n += 1;
        parse_row(&line, t, out)
            .map_err(|e| StoreError::new(format!("{} line {n}: {e}", path.display())))?;
        if n % PROGRESS_EVERY == 0 {
            progress(t.name, n);
        }
        Ok(true)
    };
    if c.is_postgres() {
        let columns: Vec<(&str, postgres::types::Type)> = t
            .columns
            .iter()
            .map(|(name, ty)| (*name, pg_type(*ty)))
            .collect();
        c.copy_in(t.name, &columns, &mut next)?;
    } else {
        let per = (PARAMS_PER_STATEMENT / t.columns.len()).max(1);
        let full_sql = insert_sql(t, per);
        let mut params: Vec<Val> = Vec::with_capacity(per * t.columns.len());
        let mut pending = 0usize;
        while next(&mut params)? {
            pending += 1;
            if pending == per {
                c.exec(&full_sql, &params)?;
                params.clear();
                pending = 0;
            }
        }
        if pending > 0 {
            c.exec(&insert_sql(t, pending), &params)?;
        }
    }
    progress(t.name, n);
    let sum = hex(reader.into_inner().ctx.finish().as_ref());
    if sum != entry.sha256.to_ascii_lowercase() {
        return Err(mismatch(&path));
    }
    if entry.rows.is_some_and(|r| r != n) {
        return Err(StoreError::new(format!(
            "{} holds {n} rows; its manifest says {}",
            path.display(),
            entry.rows.unwrap_or(0)
        )));
    }
    Ok(n)
}

/// A file read through SHA-256.
struct HashingReader {
    inner: File,
    ctx: digest::Context,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ctx.update(&buf[..n]);
        Ok(n)
    }
}

fn pg_type(ty: Ty) -> postgres::types::Type {
    use postgres::types::Type;
    match ty {
        Int => Type::INT8,
        Real => Type::FLOAT8,
        Text => Type::TEXT,
        Blob | F32s => Type::BYTEA,
    }
}

/// One line's values, in the table's column order, appended to `out`.
fn parse_row(line: &str, t: &Table, out: &mut Vec<Val>) -> Result<(), String> {
    let Members(members) =
        serde_json::from_str(line.trim_end()).map_err(|e| format!("not a JSON object: {e}"))?;
    if members.len() != t.columns.len() {
        if let Some((k, _)) = members
            .iter()
            .find(|(k, _)| !t.columns.iter().any(|(c, _)| c == k))
        {
            return Err(format!("{} has no column {k}", t.name));
        }
    }
    for (i, (name, ty)) in t.columns.iter().enumerate() {
        // The export writes the columns in order; anything else is searched for.
        let raw = match members.get(i) {
            Some((k, v)) if k == name => *v,
            _ => members
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("column {name} is missing"))?,
        }
        .get();
        let v = if raw == "null" {
            Val::Null
        } else {
            parse_val(raw, *ty).map_err(|e| format!("column {name}: {e}"))?
        };
        out.push(v);
    }
    Ok(())
}

/// A JSON object's members in the order written, borrowed from the line (no map to build).
struct Members<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some(entry) = map.next_entry::<&'de str, &'de RawValue>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A JSON string's contents: borrowed when it holds no escape (base64, most text), else decoded.
fn json_str(raw: &str) -> Result<std::borrow::Cow<'_, str>, String> {
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => Ok(std::borrow::Cow::Borrowed(inner)),
        _ => serde_json::from_str::<String>(raw)
            .map(std::borrow::Cow::Owned)
            .map_err(|_| "not a string".to_owned()),
    }
}

fn parse_val(raw: &str, ty: Ty) -> Result<Val, String> {
    Ok(match ty {
        Int => Val::Int(raw.parse().map_err(|_| "not an integer".to_owned())?),
        // Rust's own parse is exact, so a float reads back bit for bit (the chain hashes it).
        Real => Val::Real(raw.parse().map_err(|_| "not a number".to_owned())?),
        Text => Val::Text(json_str(raw)?.into_owned()),
        Blob => Val::Blob(
            B64.decode(json_str(raw)?.as_bytes())
                .map_err(|_| "not base64".to_owned())?,
        ),
        F32s => {
            let items: Vec<&RawValue> =
                serde_json::from_str(raw).map_err(|_| "not a list of numbers".to_owned())?;
            let mut bytes = Vec::with_capacity(items.len() * 4);
            for x in items {
                let f: f32 = x
                    .get()
                    .parse()
                    .map_err(|_| "not a list of numbers".to_owned())?;
                bytes.extend_from_slice(&f.to_le_bytes());
            }
            Val::Blob(bytes)
        }
    })
}

/// SQLite: the full-text rows of every imported chunk (what `RetrievalStore::upsert` writes),
/// reading chunks a page at a time and each document's collection and labels once.
fn rebuild_fts(c: &mut Conn) -> Result<(), StoreError> {
    const PAGE: i64 = 1000;
    let mut after = 0i64;
    let mut doc: Option<(i64, String, String)> = None;
    loop {
        let page = c.query(
            "SELECT chunk_id, doc_key, heading, text FROM retrieval_chunks
             WHERE chunk_id > $1 ORDER BY chunk_id LIMIT $2",
            &[Val::Int(after), Val::Int(PAGE)],
            |r| {
                Ok((
                    r.int(0)?.unwrap_or(0),
                    r.int(1)?.unwrap_or(0),
                    r.text(2)?,
                    r.text(3)?.unwrap_or_default(),
                ))
            },
        )?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.0;
        for (chunk_id, doc_key, heading, text) in page {
            if doc.as_ref().is_none_or(|d| d.0 != doc_key) {
                let coll = c
                    .query_opt(
                        "SELECT collection FROM retrieval_documents WHERE doc_key = $1",
                        &[Val::Int(doc_key)],
                        |r| r.text(0),
                    )?
                    .flatten()
                    .unwrap_or_default();
                let labels = c.query(
                    "SELECT label FROM retrieval_labels WHERE doc_key = $1 ORDER BY label",
                    &[Val::Int(doc_key)],
                    |r| Ok(r.text(0)?.unwrap_or_default()),
                )?;
                let acl = labels
                    .iter()
                    .map(|l| crate::retrieval::digit_token(l))
                    .collect::<Vec<_>>()
                    .join(" ");
                doc = Some((doc_key, crate::retrieval::digit_token(&coll), acl));
            }
            let Some((_, coll, acl)) = &doc else {
                continue;
            };
            let body = match heading {
                Some(h) => format!("{h}\n{text}"),
                None => text,
            };
            c.exec(
                "INSERT INTO retrieval_fts (rowid, body, coll, acl) VALUES ($1, $2, $3, $4)",
                &[
                    Val::Int(chunk_id),
                    Val::Text(body),
                    Val::Text(coll.clone()),
                    Val::Text(acl.clone()),
                ],
            )?;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// Every column of every table a migrated store has is exported, or the table is named in
    /// `NOT_EXPORTED`: a migration that adds one fails here until the format learns it.
    #[test]
    fn the_format_covers_the_schema() {
        let dir = std::env::temp_dir().join(format!("seam-portable-cover-{}", now_ms()));
        let path = dir.join("s.db");
        drop(Conn::open_migrated(&BackendConfig::Sqlite { path: path.clone() }).unwrap());
        let raw = rusqlite::Connection::open(&path).unwrap();
        let mut st = raw
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'retrieval_fts_%' ORDER BY name")
            .unwrap();
        let tables: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for name in tables {
            if NOT_EXPORTED.contains(&name.as_str()) {
                continue;
            }
            let t = TABLES
                .iter()
                .find(|t| t.name == name)
                .unwrap_or_else(|| panic!("table {name} is neither exported nor excluded"));
            let mut st = raw.prepare(&format!("PRAGMA table_info({name})")).unwrap();
            let cols: Vec<String> = st
                .query_map([], |r| r.get(1))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let ours: Vec<String> = t.columns.iter().map(|(c, _)| (*c).to_owned()).collect();
            assert_eq!(cols, ours, "columns of {name}");
        }
        drop(st);
        drop(raw);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn paths_stay_inside_the_folder() {
        for ok in ["config.toml", "prompts/a.prompt", "tables/x.jsonl"] {
            assert!(check_rel(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "/etc/passwd", "a/../../b", "a\\b", "./a"] {
            assert!(check_rel(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_read_back_exactly() {
        for x in [0.1f64, 1e-300, 123_456.789, -0.000_012_5, f64::MAX] {
            let text = serde_json::to_string(&x).unwrap();
            assert_eq!(parse_val(&text, Real).unwrap(), Val::Real(x));
        }
        let v = [0.1f32, -0.333_333_34, 1e-8];
        let text = serde_json::to_string(&v).unwrap();
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(parse_val(&text, F32s).unwrap(), Val::Blob(bytes));
        assert_eq!(
            parse_val("\"aGk=\"", Blob).unwrap(),
            Val::Blob(b"hi".to_vec())
        );
        assert!(parse_val("1.5", Int).is_err());
        assert_eq!(
            parse_val(r#""a\"b\u00e9""#, Text).unwrap(),
            Val::Text("a\"b\u{e9}".to_owned())
        );
    }

    #[test]
    fn rows_read_in_any_member_order_and_name_what_is_wrong() {
        let t = TABLES.iter().find(|t| t.name == "spend_ledger").unwrap();
        let want = vec![
            Val::Text("key:a".to_owned()),
            Val::Text("2024-05".to_owned()),
            Val::Int(7),
        ];
        for line in [
            r#"{"scope":"key:a","period":"2024-05","microusd":7}"#,
            r#"{"microusd":7,"scope":"key:a","period":"2024-05"}"#,
        ] {
            let mut out = Vec::new();
            parse_row(line, t, &mut out).unwrap();
            assert_eq!(out, want, "{line}");
        }
        for (line, says) in [
            (
                r#"{"scope":"a","period":"p"}"#,
                "column microusd is missing",
            ),
            (
                r#"{"scope":"a","period":"p","microusd":1,"extra":2}"#,
                "no column extra",
            ),
            (
                r#"{"scope":"a","period":"p","microusd":"1"}"#,
                "not an integer",
            ),
            ("[1,2,3]", "not a JSON object"),
        ] {
            let err = parse_row(line, t, &mut Vec::new()).unwrap_err();
            assert!(err.contains(says), "{line}: {err}");
        }
    }
}
