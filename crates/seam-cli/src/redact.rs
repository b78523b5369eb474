//! `seam redact`: a policy's input stage on text from a file or stdin.
//!
//! Input is read in blocks of whole lines (a PEM block is kept whole), so a large file streams
//! through in bounded memory with `--format text`; `--format json` collects the one object
//! DESIGN.md specifies. Offsets are bytes into the whole input. One token vault serves the whole
//! input, so a value gets the same token wherever it recurs.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use seam_config::{Action, ClassRule, Entities, PolicyConfig, Resolver};
use seam_policy::{Policy, Record, Scanner, Vault};

/// A block is processed once it holds at least this many bytes (and no open PEM block).
const BLOCK: usize = 64 * 1024;
/// A PEM block longer than this is processed anyway.
const MAX_BLOCK: usize = 4 * 1024 * 1024;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The policy to apply (default: `default`).
    #[arg(long, short = 'p')]
    policy: Option<String>,
    /// The config that declares the policy (default: the embedded default).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// `text`: the input after the actions, streamed; `json`: {"text", "findings"}.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    format: Format,
    /// List the entity names the detectors know, and exit.
    #[arg(long)]
    entities: bool,
    /// The input file; `-` or none for stdin.
    file: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Every entity the detectors know, one per line.
fn entities() -> ExitCode {
    for e in Scanner::all().entities() {
        println!("{e}");
    }
    ExitCode::SUCCESS
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.entities {
        return Ok(entities());
    }
    let json = args.format == Format::Json;
    let policy = policy(args.config.as_deref(), args.policy.as_deref())?;
    let stdin;
    let mut reader: Box<dyn BufRead> = match args.file.as_deref() {
        None => {
            stdin = std::io::stdin();
            Box::new(stdin.lock())
        }
        Some(p) if p == Path::new("-") => {
            stdin = std::io::stdin();
            Box::new(stdin.lock())
        }
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("cannot read {}", p.display()))?,
        )),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut vault = Vault::new();
    let mut records: Vec<Record> = Vec::new();
    let mut all_text = String::new();
    let mut blocked: Vec<&'static str> = Vec::new();
    let mut offset = 0usize;
    let mut block = Vec::new();
    let mut in_pem = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .context("cannot read the input")?;
        if n > 0 {
            let text = String::from_utf8_lossy(&line);
            if text.contains("-----BEGIN ") {
                in_pem = true;
            }
            if text.contains("-----END ") {
                in_pem = false;
            }
            block.extend_from_slice(&line);
        }
        let full = block.len() >= MAX_BLOCK || (block.len() >= BLOCK && !in_pem);
        if !(full || n == 0) || block.is_empty() {
            if n == 0 {
                break;
            }
            continue;
        }
        let text = std::str::from_utf8(&block).map_err(|e| {
            anyhow::anyhow!(
                "the input is not UTF-8 (at byte {})",
                offset + e.valid_up_to()
            )
        })?;
        let mut found = Vec::new();
        // A file is read whole by the model (in windows), not cut at a request's budget.
        let tagging = match policy.input_model() {
            Some(_) => seam_policy::Tagging::Inline(usize::MAX),
            None => seam_policy::Tagging::Off,
        };
        let result = policy.input_text_tagged(text, "input", &mut vault, &mut found, tagging);
        for e in result.blocked {
            if !blocked.contains(&e) {
                blocked.push(e);
            }
        }
        let rewritten = result.text.as_deref().unwrap_or(text);
        for r in &mut found {
            r.start += offset;
            r.end += offset;
        }
        records.extend(found);
        if json {
            all_text.push_str(rewritten);
        } else {
            out.write_all(rewritten.as_bytes())
                .context("cannot write the output")?;
        }
        offset += block.len();
        block.clear();
        if n == 0 {
            break;
        }
    }
    if json {
        let findings: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "entity": r.entity,
                    "start": r.start,
                    "end": r.end,
                    "score": (f64::from(r.score) * 1000.0).round() / 1000.0,
                    "action": r.action.as_str(),
                    "detector": r.detector,
                })
            })
            .collect();
        let doc = serde_json::json!({"text": all_text, "findings": findings});
        serde_json::to_writer(&mut out, &doc).context("cannot write the output")?;
        out.write_all(b"\n").context("cannot write the output")?;
    }
    out.flush().context("cannot write the output")?;
    if !blocked.is_empty() {
        eprintln!(
            "seam: the policy `{}` blocks {} in this input",
            policy.name(),
            blocked.join(", ")
        );
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// The policy to run: `--policy` from `--config` (or the embedded default config), or, with
/// neither, every detector with `redact`.
fn policy(config: Option<&Path>, name: Option<&str>) -> anyhow::Result<Policy> {
    // Without a policy `hash_key`, a key drawn for this run: hashes are consistent within the
    // input and cannot be tested against guesses afterwards.
    let mut key = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| anyhow::anyhow!("no system randomness for the hash key"))?;
    let mut ner = seam_config::NerConfig::default();
    let cfg = match (config, name) {
        (None, None) => {
            let all = |action| ClassRule {
                action,
                entities: Entities::All,
                min_score: seam_config::policy::DEFAULT_MIN_SCORE,
            };
            let mut p = PolicyConfig::empty("redact-all");
            p.input.rules.pii = Some(all(Action::Redact));
            p.input.rules.secrets = Some(all(Action::Redact));
            p
        }
        (config, name) => {
            let name = name.unwrap_or(seam_config::DEFAULT_POLICY);
            let cfg = match config {
                Some(path) => seam_config::load(path).map_err(|e| {
                    let lines: Vec<String> = e.iter().map(ToString::to_string).collect();
                    anyhow::anyhow!("{}: {}", path.display(), lines.join("; "))
                })?,
                None => seam_config::embedded(&Resolver::process(PathBuf::from(".")))
                    .map_err(|_| anyhow::anyhow!("the embedded default config is invalid"))?,
            };
            ner = cfg.ner.clone();
            match cfg.policies.get(name) {
                Some(p) => p.clone(),
                None => {
                    let names: Vec<&str> = cfg.policies.keys().map(String::as_str).collect();
                    bail!("no policy named `{name}`; declared: {}", names.join(", "));
                }
            }
        }
    };
    let compile = |scanner: Scanner| {
        Policy::compile(&cfg, Arc::new(scanner), &key).map_err(|e| {
            let lines: Vec<String> = e.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("{}", lines.join("; "))
        })
    };
    let policy = compile(Scanner::all())?;
    if !policy.wants_names() {
        return Ok(policy);
    }
    if !cfg.ner {
        eprintln!("seam: names, places and addresses: rules only (`ner = false` in this policy)");
        return Ok(policy);
    }
    let ner = seam_gateway::ner::load(&ner).map_err(anyhow::Error::msg)?;
    match ner.tagger() {
        Some(tagger) => compile(Scanner::all().with_tagger(tagger)),
        None => {
            eprintln!("seam: {}", ner.status());
            Ok(policy)
        }
    }
}
