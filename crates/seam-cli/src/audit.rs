//! `seam audit verify|show|export|erase|purge`: the audit trail from the command line, on the
//! store the config names (`[storage]`, keys from `[audit]`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use seam_store::{AuditLog, Query};

use crate::config::load;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The config naming the store and keys (default: SEAM_CONFIG, else the embedded default).
    #[arg(long, short = 'c', env = "SEAM_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Check the hash chain, checkpoints and anchor: exit 0, or 3 naming the first bad record.
    Verify,
    /// One record as JSON, payload decrypted when kept and not erased.
    Show { id: String },
    /// Records as JSON lines (one object per record) or a Parquet file (one row per record).
    Export {
        /// `parquet` needs `-o FILE`.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        #[command(flatten)]
        filter: Filter,
        /// Write here instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Forget a data subject: destroy its key (payloads become unreadable everywhere) and record
    /// the erasure in the chain.
    Erase {
        #[arg(long)]
        subject: String,
    },
    /// Apply the retention rules now: drop payloads and records past their days.
    Purge,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// One row per record (needs `-o FILE`); columns in docs/audit.md.
    Parquet,
}

/// `--kind`: the record kinds, as `seam_store::RecordKind` names them.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
enum Kind {
    /// What happened to a request.
    Request,
    /// A stream's opening, committed before its first byte (sync durability).
    Opening,
    /// One call through the MCP gateway.
    ToolCall,
    /// A rating of an earlier request (`POST /v1/feedback`).
    Feedback,
    /// A rollout's shadow call.
    Shadow,
    /// A rollout's decision, with its evidence.
    RolloutDecision,
    /// The tombstone an erasure leaves.
    Erasure,
}

impl From<Kind> for seam_store::RecordKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Request => seam_store::RecordKind::Request,
            Kind::Opening => seam_store::RecordKind::Opening,
            Kind::ToolCall => seam_store::RecordKind::ToolCall,
            Kind::Feedback => seam_store::RecordKind::Feedback,
            Kind::Shadow => seam_store::RecordKind::Shadow,
            Kind::RolloutDecision => seam_store::RecordKind::RolloutDecision,
            Kind::Erasure => seam_store::RecordKind::Erasure,
        }
    }
}

// `seam audit export`'s record filter, flattened between --format and --output.
#[derive(clap::Args)]
struct Filter {
    /// From this time (2026-11-29, 2026-11-29T10:00:00Z or Unix ms).
    #[arg(long)]
    since: Option<String>,
    /// Until this time, exclusive.
    #[arg(long)]
    until: Option<String>,
    #[arg(long)]
    subject: Option<String>,
    #[arg(long)]
    key: Option<String>,
    /// Only records of this kind.
    #[arg(long, value_enum)]
    kind: Option<Kind>,
}

fn open(config: Option<&Path>) -> anyhow::Result<AuditLog> {
    let cfg = load(config)?;
    let store = seam_server::audit::store_config(&cfg);
    // A mistyped path must not pass verification as an empty new log.
    if let seam_store::BackendConfig::Sqlite { path } = &store.backend
        && !path.exists()
    {
        bail!(
            "no audit log at {} (check [storage] url and --config)",
            path.display()
        );
    }
    AuditLog::open(&store).map_err(|e| anyhow::anyhow!("cannot open the audit log: {e}"))
}

/// Deletes the retrieval documents labelled `subject:<subject>`.
fn erase_documents(
    config: Option<&Path>,
    subject: &str,
) -> anyhow::Result<seam_store::retrieval::Erased> {
    let cfg = load(config)?;
    let mut store =
        seam_store::retrieval::RetrievalStore::open(&seam_server::audit::store_config(&cfg))
            .map_err(|e| anyhow::anyhow!("cannot open the retrieval store: {e}"))?;
    store
        .erase_labelled(&format!("subject:{subject}"))
        .map_err(|e| anyhow::anyhow!("erasing the subject's documents failed: {e}"))
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = args.config.as_deref();
    let mut log = open(config)?;
    match args.command {
        Command::Verify => {
            let progress = crate::progress::Progress::new("verifying");
            let report = log
                .verify(&mut |n| progress.set(n))
                .map_err(|e| anyhow::anyhow!("verify failed: {e}"))?;
            progress.finish();
            match &report.problem {
                None => {
                    let range = match report.last_seq {
                        Some(last) => format!("seq {}..={last}", report.first_seq),
                        None => "no records".to_owned(),
                    };
                    let signing = if report.signed {
                        format!(
                            "{} signed checkpoints, {} records after the last",
                            report.checkpoints, report.unsigned_tail
                        )
                    } else {
                        "checkpoints unsigned (no master key)".to_owned()
                    };
                    println!("ok: {} records intact ({range}); {signing}", report.records);
                    Ok(ExitCode::SUCCESS)
                }
                Some(p) => {
                    eprintln!("seam: the audit log is NOT intact: {p}");
                    Ok(ExitCode::from(3))
                }
            }
        }
        Command::Show { id } => match log.get(&id).map_err(|e| anyhow::anyhow!("{e}"))? {
            Some(r) => {
                let text = serde_json::to_string_pretty(&r.to_json())?;
                println!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            None => bail!("no audit record with id {id}"),
        },
        Command::Export {
            format,
            filter,
            output,
        } => {
            let q = Query {
                subject: filter.subject,
                key_id: filter.key,
                since_ms: filter.since.as_deref().map(parse_time).transpose()?,
                until_ms: filter.until.as_deref().map(parse_time).transpose()?,
                kind: filter.kind.map(Into::into),
                ..Query::default()
            };
            if format == ExportFormat::Parquet {
                let Some(path) = &output else {
                    bail!("--format parquet needs -o FILE: Parquet is not written to stdout");
                };
                let n = crate::parquet::export(&mut log, &q, path)?;
                eprintln!("seam: exported {n} records");
                return Ok(ExitCode::SUCCESS);
            }
            let mut out: Box<dyn Write> = match &output {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("cannot write {}", p.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let mut write_err = None;
            let n = log
                .export(&q, &mut |r| {
                    let line = r.to_json().to_string();
                    if let Err(e) = writeln!(out, "{line}") {
                        write_err.get_or_insert(e);
                    }
                    Ok(())
                })
                .map_err(|e| anyhow::anyhow!("export failed: {e}"))?;
            if let Some(e) = write_err {
                return Err(e).context("cannot write the export");
            }
            out.flush().context("cannot write the export")?;
            eprintln!("seam: exported {n} records");
            Ok(ExitCode::SUCCESS)
        }
        Command::Erase { subject } => {
            let r = log
                .erase_subject(&subject)
                .map_err(|e| anyhow::anyhow!("erase failed: {e}"))?;
            // Retrieval documents labelled with the subject go too, with their chunks and
            // vectors (a running server's index drops them on its next search).
            let docs = erase_documents(config, &subject)?;
            // Stored Responses API conversations are the other subject data the store holds;
            // they are deleted in the same transaction (a running server's in-memory ones,
            // kept only without a master key, are not reachable from here).
            println!(
                "erased: {} records' payloads made unreadable (key destroyed: {}); tombstone at seq {}{}",
                r.records,
                if r.key_destroyed {
                    "yes"
                } else {
                    "no key existed"
                },
                r.tombstone_seq,
                if r.responses > 0 {
                    format!("; {} stored responses deleted", r.responses)
                } else {
                    String::new()
                },
            );
            if docs.documents > 0 {
                println!(
                    "erased: {} documents labelled subject:{subject} ({} chunks) deleted from retrieval collections",
                    docs.documents, docs.chunks
                );
            }
            // The key is out of the tables either way; say so when a copy may remain on disk.
            if let Some(why) = r.scrub.as_ref().or(docs.scrub.as_ref()) {
                eprintln!(
                    "seam: warning: old copies of the erased key and subject may remain in the store's files: {why}; run the same erase again when the store is less busy"
                );
                return Ok(ExitCode::from(4));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Purge => {
            let r = log
                .purge(seam_server::audit::now_ms())
                .map_err(|e| anyhow::anyhow!("purge failed: {e}"))?;
            println!(
                "purged: {} payloads, {} records{}{}",
                r.payloads_purged,
                r.records_deleted,
                if r.responses_deleted > 0 {
                    format!(", {} expired stored responses", r.responses_deleted)
                } else {
                    String::new()
                },
                r.anchor_seq
                    .map(|s| format!("; the chain now starts at seq {s}"))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `2026-11-29`, `2026-11-29T10:00:00Z`, or Unix milliseconds.
pub(crate) fn parse_time(s: &str) -> anyhow::Result<i64> {
    seam_store::parse_time(s).map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// Issue 13: an erasure whose WAL checkpoint another connection holds up says so and exits
    /// 4, rather than claiming the key is gone from the files; run again once free, it exits 0.
    #[test]
    fn erase_exits_4_while_the_files_cannot_be_cleared() {
        let dir = std::env::temp_dir().join(format!("seam-cli-erase-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("master.key");
        // Bytes 0..32, base64.
        std::fs::write(&key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let config = dir.join("seam.toml");
        let db = dir.join("audit.db");
        std::fs::write(
            &config,
            format!(
                "[storage]\nurl = \"sqlite://{}\"\n[audit]\nmaster_key = \"file:{}\"\n",
                db.display(),
                key.display()
            ),
        )
        .unwrap();
        let store = seam_server::audit::store_config(&load(Some(&config)).unwrap());
        drop(AuditLog::open(&store).unwrap());
        // A reader mid-transaction, as a search on a running `seam serve` would be.
        let reader = rusqlite::Connection::open(&db).unwrap();
        reader
            .execute_batch("BEGIN; SELECT COUNT(*) FROM audit_subjects;")
            .unwrap();
        let erase = || {
            run(Args {
                config: Some(config.clone()),
                command: Command::Erase {
                    subject: "someone@example.com".to_owned(),
                },
            })
            .unwrap()
        };
        assert_eq!(erase(), ExitCode::from(4));
        reader.execute_batch("COMMIT").unwrap();
        assert_eq!(erase(), ExitCode::SUCCESS);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
