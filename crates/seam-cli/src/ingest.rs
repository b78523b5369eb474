//! `seam ingest COLLECTION PATH…`: files and folders into a collection, straight into the store
//! the config names (a running server sees them on its next search). Each file is extracted by
//! its extension (txt, md, html, pdf, jsonl), passed through the collection's policy, chunked,
//! embedded and stored; a file whose content, labels and metadata are unchanged is skipped, a
//! changed one replaces its chunks. A document's id is its path as walked (`docs/guide.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use seam_retrieval::Embed;
use seam_retrieval::extract::Format;
use seam_retrieval::ingest::{Given, Settings};
use seam_retrieval::service::Retrieval;
use serde_json::{Map, Value};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The collection, as `[retrieval.collections.NAME]` declares it.
    collection: String,
    /// Files and folders (walked recursively; files of other types are skipped).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The config (default: the embedded default).
    #[arg(long, short = 'c', env = "SEAM_CONFIG")]
    config: Option<PathBuf>,
    /// Labels for every document, replacing jsonl lines' own and the collection's
    /// default_labels: `team:oncology,consent:research`.
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
    /// Metadata for every document: `--meta lang=en --meta year=2026` (values are strings).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// The format of every file, instead of by extension.
    #[arg(long)]
    format: Option<String>,
    /// Print one JSON object per file instead of text.
    #[arg(long)]
    json: bool,
}

/// A file to ingest: where it is and the id it gets.
struct Item {
    path: PathBuf,
    id: String,
    format: Format,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(args.config.as_deref())?;
    let Some(coll) = cfg.retrieval.collections.get(&args.collection).cloned() else {
        let known: Vec<&str> = cfg
            .retrieval
            .collections
            .keys()
            .map(String::as_str)
            .collect();
        bail!(
            "no collection named {:?} in [retrieval.collections] (configured: {})",
            args.collection,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    };
    let forced = match args.format.as_deref() {
        None => None,
        Some(f) => Some(Format::parse(f).with_context(|| {
            format!("unknown --format {f:?}; expected txt, markdown, html, pdf or jsonl")
        })?),
    };
    let mut metadata = Map::new();
    for m in &args.meta {
        let Some((k, v)) = m.split_once('=') else {
            bail!("--meta {m:?} is not KEY=VALUE");
        };
        metadata.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    let (items, skipped) = walk(&args.paths, forced)?;
    if items.is_empty() {
        bail!(
            "no file to ingest under the given paths ({skipped} of other types skipped; known: .txt .md .html .pdf .jsonl)"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let store = seam_server::audit::store_config(&cfg);
    let engine =
        Retrieval::open(&store).map_err(|e| anyhow::anyhow!("cannot open the store: {e}"))?;
    let registry = Arc::new(seam_router::health::Registry::new());
    let gateway =
        runtime.block_on(async { seam_gateway::Gateway::new(&cfg, &registry).map(Arc::new) });
    let gateway = gateway.map_err(anyhow::Error::msg)?;
    let embedders = seam_server::embedders::Embedders::lazy(cfg.retrieval.model_dir.clone());
    let embedder: Arc<dyn Embed> = runtime
        .block_on(embedders.resolve(
            &coll.embedder,
            &gateway,
            &seam_config::Placement::default(),
            None,
        ))
        .map_err(anyhow::Error::msg)?;
    let settings = Settings {
        max_tokens: coll.max_tokens,
        overlap: coll.overlap,
        default_labels: &coll.default_labels,
        embedder: &coll.embedder,
        policy: coll.policy.as_deref(),
    };
    let bar = crate::progress::Progress::new("ingesting");
    let started = Instant::now();
    let (mut inserted, mut replaced, mut unchanged, mut chunks, mut failed) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for (n, item) in items.iter().enumerate() {
        let done = runtime.block_on(one(
            &engine,
            &gateway,
            embedder.as_ref(),
            &args.collection,
            &coll,
            settings,
            item,
            Given {
                id: Some(item.id.clone()),
                title: None,
                source: Some(item.path.display().to_string()),
                labels: args.labels.clone(),
                metadata: metadata.clone(),
            },
        ));
        bar.set(n as u64 + 1);
        match done {
            Ok(results) => {
                for (id, status, c) in results {
                    match status {
                        "inserted" => inserted += 1,
                        "replaced" => replaced += 1,
                        _ => unchanged += 1,
                    }
                    chunks += c;
                    if args.json {
                        println!(
                            "{}",
                            serde_json::json!({"id": id, "path": item.path, "status": status, "chunks": c})
                        );
                    }
                }
            }
            Err(e) => {
                failed += 1;
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"path": item.path, "status": "failed", "error": format!("{e:#}")})
                    );
                } else {
                    eprintln!(
                        "seam: error: {}: {}",
                        item.path.display(),
                        format!("{e:#}").replace('\n', " ")
                    );
                }
            }
        }
    }
    bar.finish();
    let secs = started.elapsed().as_secs_f64();
    if !args.json {
        println!(
            "{}: {inserted} inserted, {replaced} replaced, {unchanged} unchanged, {failed} failed; {chunks} chunks embedded in {secs:.1} s ({:.0} chunks/s){}",
            args.collection,
            chunks as f64 / secs.max(1e-9),
            if skipped > 0 {
                format!("; {skipped} files of other types skipped")
            } else {
                String::new()
            }
        );
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[allow(
    clippy::too_many_arguments,
    reason = "one file's whole context, called once"
)]
async fn one(
    engine: &Retrieval,
    gateway: &seam_gateway::Gateway,
    embedder: &dyn Embed,
    collection: &str,
    coll: &seam_config::CollectionConfig,
    settings: Settings<'_>,
    item: &Item,
    given: Given,
) -> anyhow::Result<Vec<(String, &'static str, u64)>> {
    let bytes = std::fs::read(&item.path).context("cannot read it")?;
    if bytes.len() > coll.max_document_bytes {
        bail!(
            "it is larger than the collection's max_document_bytes ({} bytes)",
            coll.max_document_bytes
        );
    }
    let mut govern = |texts: Vec<String>| -> Result<Vec<String>, String> {
        match &coll.policy {
            None => Ok(texts),
            Some(p) => gateway.govern_texts(p, texts).map_err(|e| e.message),
        }
    };
    let docs = seam_retrieval::ingest::prepare(
        item.format,
        &bytes,
        given,
        settings,
        &|t| embedder.count_tokens(t),
        &mut govern,
    )?;
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let id = d.id.clone();
        let up = engine
            .ingest(collection, embedder, d)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let (status, c) = match up {
            seam_store::retrieval::Upserted::Inserted { chunks } => ("inserted", chunks as u64),
            seam_store::retrieval::Upserted::Replaced { chunks } => ("replaced", chunks as u64),
            seam_store::retrieval::Upserted::Unchanged => ("unchanged", 0),
        };
        out.push((id, status, c));
    }
    Ok(out)
}

/// The files under `paths` with a known format (or `forced`), in a stable order, and how many
/// were skipped.
fn walk(paths: &[PathBuf], forced: Option<Format>) -> anyhow::Result<(Vec<Item>, usize)> {
    let mut items = Vec::new();
    let mut skipped = 0;
    let mut stack: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).with_context(|| format!("cannot read {}", p.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                .with_context(|| format!("cannot list {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|e| {
                    !e.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'))
                })
                .collect();
            entries.sort();
            stack.extend(entries.into_iter().rev());
            continue;
        }
        match forced.or_else(|| Format::from_path(&p)) {
            Some(format) => items.push(Item {
                id: document_id(&p),
                path: p,
                format,
            }),
            None => skipped += 1,
        }
    }
    Ok((items, skipped))
}

/// A path as a document id: `./` dropped, separators as `/`, characters ids do not allow as `_`.
fn document_id(p: &Path) -> String {
    let text = p.to_string_lossy().replace('\\', "/");
    let text = text.trim_start_matches("./");
    let id: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._:@/+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let id = id.trim_start_matches('/').to_owned();
    if id.len() > 200 {
        // Long paths keep their end, which tells files apart.
        id[id.len() - 200..].to_owned()
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn ids_are_paths_as_walked() {
        assert_eq!(document_id(Path::new("./docs/a b.md")), "docs/a_b.md");
        assert_eq!(document_id(Path::new("/abs/x.txt")), "abs/x.txt");
    }
}
