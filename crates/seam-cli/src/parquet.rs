//! `seam audit export --format parquet`: the JSON-lines export shape as a Parquet file, one row
//! per record. Flat fields get their own typed column; nested ones (`tags`, `attempts`,
//! `findings`, `usage`, `payload`) are JSON text, so the file holds exactly what a JSON line does.
//!
//! Rows are read from [`StoredRecord::to_json`], not from the record's fields, so the two formats
//! cannot drift apart. They are buffered column-wise and written as one row group per batch,
//! which keeps memory bounded however large the export.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use parquet::basic::Compression;
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use seam_store::{AuditLog, Query, StoreError, StoredRecord};
use serde_json::Value;

/// A row group holds at most this many records…
const BATCH_ROWS: usize = 10_000;
/// …or about this many bytes of text, whichever comes first (payloads can be large).
const BATCH_BYTES: usize = 64 << 20;

#[derive(Clone, Copy)]
enum Kind {
    Int64,
    Int32,
    Double,
    Bool,
    /// A JSON string, stored as UTF-8.
    Text,
    /// Any JSON value, stored as its JSON text (UTF-8).
    Json,
}

/// The columns, in file order: name, type, and whether it may be null. Names are the keys of the
/// JSON export shape; docs/audit.md lists them for users.
const COLUMNS: &[(&str, Kind, bool)] = &[
    ("seq", Kind::Int64, false),
    ("id", Kind::Text, false),
    ("kind", Kind::Text, false),
    ("time", Kind::Text, false),
    ("time_ms", Kind::Int64, false),
    ("subject", Kind::Text, true),
    ("key_id", Kind::Text, true),
    ("endpoint", Kind::Text, false),
    ("model", Kind::Text, true),
    ("route", Kind::Text, true),
    ("status", Kind::Int32, false),
    ("error_code", Kind::Text, true),
    ("latency_ms", Kind::Double, false),
    ("ttft_ms", Kind::Double, true),
    ("cost_usd", Kind::Double, true),
    ("cache_hit", Kind::Bool, false),
    ("placement", Kind::Text, true),
    ("count", Kind::Int64, true),
    ("prompt", Kind::Text, true),
    ("variant", Kind::Text, true),
    ("trace_id", Kind::Text, true),
    ("class", Kind::Text, false),
    ("payload_state", Kind::Text, false),
    ("tags", Kind::Json, false),
    ("attempts", Kind::Json, false),
    ("findings", Kind::Json, false),
    ("citations", Kind::Json, false),
    ("features", Kind::Json, false),
    ("usage", Kind::Json, true),
    ("payload", Kind::Json, true),
    ("hash", Kind::Text, false),
];

/// Writes the records `q` selects to `path` as Parquet; returns how many. A failed export
/// removes the partial file, which would have no footer and so be unreadable anyway.
pub fn export(log: &mut AuditLog, q: &Query, path: &Path) -> anyhow::Result<u64> {
    let file = File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let result = write(log, q, BufWriter::new(file), path);
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

fn write(log: &mut AuditLog, q: &Query, out: BufWriter<File>, path: &Path) -> anyhow::Result<u64> {
    let cannot = || format!("cannot write {}", path.display());
    let schema = Arc::new(parse_message_type(&schema_text())?);
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("seam {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer =
        SerializedFileWriter::new(out, schema, Arc::new(props)).with_context(cannot)?;
    let mut batch = Batch::new();
    // The scan's callback can only return a `StoreError`; keep the real error to report it.
    let mut failed = None;
    let scanned = log.export(q, &mut |r| {
        let step = batch.push(r).and_then(|()| {
            if batch.rows >= BATCH_ROWS || batch.bytes >= BATCH_BYTES {
                batch.flush(&mut writer).with_context(cannot)?;
            }
            Ok(())
        });
        step.map_err(|e| {
            let stop = StoreError::new(e.to_string());
            failed = Some(e);
            stop
        })
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let n = scanned.map_err(|e| anyhow!("export failed: {e}"))?;
    batch.flush(&mut writer).with_context(cannot)?;
    writer.close().with_context(cannot)?;
    Ok(n)
}

/// `message audit_record { required int64 seq; optional binary subject (UTF8); … }`.
fn schema_text() -> String {
    let fields: String = COLUMNS
        .iter()
        .map(|&(name, kind, nullable)| {
            let repetition = if nullable { "optional" } else { "required" };
            let ty = match kind {
                Kind::Int64 => "int64",
                Kind::Int32 => "int32",
                Kind::Double => "double",
                Kind::Bool => "boolean",
                Kind::Text | Kind::Json => "binary",
            };
            let annotation = match kind {
                Kind::Text | Kind::Json => " (UTF8)",
                _ => "",
            };
            format!(" {repetition} {ty} {name}{annotation};")
        })
        .collect();
    format!("message audit_record {{{fields} }}")
}

/// One column's buffered values; `None` is null.
enum Values {
    Int64(Vec<Option<i64>>),
    Int32(Vec<Option<i32>>),
    Double(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Bytes(Vec<Option<ByteArray>>),
}

/// The rows of the next row group, column-wise, in [`COLUMNS`] order.
struct Batch {
    columns: Vec<Values>,
    rows: usize,
    bytes: usize,
}

impl Batch {
    fn new() -> Batch {
        let columns = COLUMNS
            .iter()
            .map(|&(_, kind, _)| match kind {
                Kind::Int64 => Values::Int64(Vec::new()),
                Kind::Int32 => Values::Int32(Vec::new()),
                Kind::Double => Values::Double(Vec::new()),
                Kind::Bool => Values::Bool(Vec::new()),
                Kind::Text | Kind::Json => Values::Bytes(Vec::new()),
            })
            .collect();
        Batch {
            columns,
            rows: 0,
            bytes: 0,
        }
    }

    /// Adds one record. On an error the batch is left ragged, but the export stops there.
    fn push(&mut self, r: &StoredRecord) -> anyhow::Result<()> {
        let json = r.to_json();
        for (column, &(name, kind, nullable)) in self.columns.iter_mut().zip(COLUMNS) {
            let v = json.get(name).unwrap_or(&Value::Null);
            if v.is_null() && !nullable {
                bail!("record seq {}: `{name}` is null", r.seq);
            }
            let taken = match column {
                Values::Int64(c) => take(c, v, Value::as_i64),
                Values::Int32(c) => take(c, v, |v| v.as_i64().and_then(|n| i32::try_from(n).ok())),
                Values::Double(c) => take(c, v, Value::as_f64),
                Values::Bool(c) => take(c, v, Value::as_bool),
                Values::Bytes(c) => take(c, v, |v| {
                    let text = match kind {
                        Kind::Json => v.to_string(),
                        _ => v.as_str()?.to_owned(),
                    };
                    self.bytes += text.len();
                    Some(ByteArray::from(text.into_bytes()))
                }),
            };
            if !taken {
                bail!("record seq {}: `{name}` has an unexpected type", r.seq);
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Writes the buffered rows as one row group and empties the batch.
    fn flush(&mut self, writer: &mut SerializedFileWriter<BufWriter<File>>) -> anyhow::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = writer.next_row_group()?;
        for (values, &(name, _, nullable)) in self.columns.iter_mut().zip(COLUMNS) {
            let Some(mut column) = group.next_column()? else {
                bail!("the Parquet schema has no column `{name}`");
            };
            match (column.untyped(), values) {
                (ColumnWriter::Int64ColumnWriter(w), Values::Int64(v)) => {
                    let (vals, defs) = split(v, nullable);
                    w.write_batch(&vals, defs.as_deref(), None)?;
                }
                (ColumnWriter::Int32ColumnWriter(w), Values::Int32(v)) => {
                    let (vals, defs) = split(v, nullable);
                    w.write_batch(&vals, defs.as_deref(), None)?;
                }
                (ColumnWriter::DoubleColumnWriter(w), Values::Double(v)) => {
                    let (vals, defs) = split(v, nullable);
                    w.write_batch(&vals, defs.as_deref(), None)?;
                }
                (ColumnWriter::BoolColumnWriter(w), Values::Bool(v)) => {
                    let (vals, defs) = split(v, nullable);
                    w.write_batch(&vals, defs.as_deref(), None)?;
                }
                (ColumnWriter::ByteArrayColumnWriter(w), Values::Bytes(v)) => {
                    let (vals, defs) = split(v, nullable);
                    w.write_batch(&vals, defs.as_deref(), None)?;
                }
                _ => bail!("the Parquet column `{name}` has an unexpected type"),
            }
            column.close()?;
        }
        group.close()?;
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }
}

/// Buffers `v` (null as `None`); false when `read` finds it of another type.
fn take<T>(column: &mut Vec<Option<T>>, v: &Value, read: impl FnOnce(&Value) -> Option<T>) -> bool {
    if v.is_null() {
        column.push(None);
        return true;
    }
    let Some(x) = read(v) else { return false };
    column.push(Some(x));
    true
}

/// Takes a column's buffered values: the non-null ones, and the definition levels (1 = value,
/// 0 = null) that a nullable column needs.
fn split<T>(column: &mut Vec<Option<T>>, nullable: bool) -> (Vec<T>, Option<Vec<i16>>) {
    let taken = std::mem::take(column);
    let defs = nullable.then(|| taken.iter().map(|v| i16::from(v.is_some())).collect());
    (taken.into_iter().flatten().collect(), defs)
}

#[cfg(test)]
mod tests {
    use super::schema_text;

    #[test]
    fn the_schema_parses_with_every_column() {
        let schema = parquet::schema::parser::parse_message_type(&schema_text()).unwrap();
        assert_eq!(schema.get_fields().len(), super::COLUMNS.len());
    }
}
