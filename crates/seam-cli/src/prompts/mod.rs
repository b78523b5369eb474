//! `seam prompts`: the prompt files in the config's folder (`prompts/*.prompt`), the versions and
//! tags the store keeps of them, and their tests.
//!
//! Every subcommand names a prompt as `NAME`, `NAME@VERSION` or `NAME@TAG`
//! ([`seam_prompts::parse_ref`]), resolved as the gateway resolves `prompt:…`: no ref is the file;
//! a version is the file's when it is the current one, else the store's; a tag is the store's.
//! The store (`[storage]`) is opened only when a command needs it, and only `tag` creates it.

mod diff;
mod test;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use seam_prompts::{Prompt, Ref, Registry};
use seam_store::{BackendConfig, PromptStore};
use serde_json::{Value, json};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The config whose folder holds `prompts/` and whose `[storage]` keeps versions and tags
    /// (default: SEAM_CONFIG, else the current folder and the embedded default).
    #[arg(long, short = 'c', env = "SEAM_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// The prompts folder itself, instead of the config's `prompts/`.
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: PromptsCommand,
}

#[derive(clap::Subcommand)]
enum PromptsCommand {
    /// Every prompt: name, version, default alias, description.
    List,
    /// One prompt (NAME, NAME@VERSION or NAME@TAG): its version, defaults, variables and template.
    Show { prompt: String },
    /// Render a prompt (NAME[@REF]) with variables and print the messages and parameters it
    /// sends, as JSON.
    Render {
        prompt: String,
        /// The variables, as a JSON object.
        #[arg(long, conflicts_with = "vars_file")]
        vars: Option<String>,
        /// A file holding the variables as a JSON object.
        #[arg(long)]
        vars_file: Option<PathBuf>,
    },
    /// Every stored version of a prompt, when it was first served, its tags, and which one the
    /// file is.
    Versions { name: String },
    /// Point a tag at a version (a version, another tag, or `file`; default: the file's).
    Tag {
        name: String,
        tag: String,
        version: Option<String>,
    },
    /// Remove a tag.
    Untag { name: String, tag: String },
    /// A unified diff between two versions (a version, a tag or `file`; default: prod → file).
    Diff {
        name: String,
        from: Option<String>,
        to: Option<String>,
    },
    /// Run a prompt's `tests:` through `seam eval`'s runner against a gateway; exits as
    /// `seam eval` does (0 passed, 100 a case failed, 1 an error).
    Test(test::Args),
}

fn folder(config: Option<&Path>, dir: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = dir {
        return dir;
    }
    config
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("prompts"), |p| p.join("prompts"))
}

/// The prompt files and, once asked for, the store.
struct Ctx {
    dir: PathBuf,
    registry: Registry,
    config: Option<PathBuf>,
    store: Option<PromptStore>,
}

/// A prompt as one version: from the file, or from the store.
struct Resolved {
    prompt: Prompt,
    /// When the store first kept it, if it comes from the store.
    stored_ms: Option<i64>,
    /// The file's current version, when there is a file.
    file_version: Option<String>,
}

impl Resolved {
    fn label(&self) -> String {
        format!("{}@{}", self.prompt.name, self.prompt.version)
    }
}

impl Ctx {
    fn file(&self, name: &str) -> Option<&Prompt> {
        self.registry.get(name)
    }

    fn need_file(&self, name: &str) -> anyhow::Result<&Prompt> {
        self.file(name)
            .with_context(|| format!("no prompt `{name}` in {}", self.dir.display()))
    }

    /// The store; `None` when it is a SQLite file that does not exist and `create` is false (a
    /// read must not leave an empty database behind a mistyped path).
    fn store(&mut self, create: bool) -> anyhow::Result<Option<&mut PromptStore>> {
        if self.store.is_none() {
            let cfg = crate::config::load(self.config.as_deref())?;
            let store = seam_server::audit::store_config(&cfg);
            if let BackendConfig::Sqlite { path } = &store.backend
                && !create
                && !path.exists()
            {
                return Ok(None);
            }
            let opened = PromptStore::open(&store)
                .map_err(|e| anyhow!("cannot open the prompt store: {e}"))?;
            self.store = Some(opened);
        }
        Ok(self.store.as_mut())
    }

    /// The version a tag points at.
    fn tag(&mut self, name: &str, tag: &str) -> anyhow::Result<Option<String>> {
        match self.store(false)? {
            Some(s) => s.tag(name, tag).map_err(|e| anyhow!("{e}")),
            None => Ok(None),
        }
    }

    /// `name` at `reference`, resolved as the gateway resolves `prompt:NAME[@REF]`.
    fn resolve(&mut self, name: &str, reference: Option<&Ref>) -> anyhow::Result<Resolved> {
        let file_version = self.file(name).map(|p| p.version.clone());
        let version = match reference {
            None => {
                let source = self.need_file(name)?.source.clone();
                return from_file(name, &source, file_version);
            }
            Some(Ref::Version(v)) => v.clone(),
            Some(Ref::Tag(t)) => self
                .tag(name, t)?
                .with_context(|| format!("prompt `{name}` has no tag `{t}`"))?,
        };
        if file_version.as_deref() == Some(version.as_str()) {
            let source = self.need_file(name)?.source.clone();
            return from_file(name, &source, file_version);
        }
        let stored = match self.store(false)? {
            Some(s) => s.get(name, &version).map_err(|e| anyhow!("{e}"))?,
            None => None,
        };
        let stored = stored.with_context(|| {
            format!("prompt `{name}` has no version {version} (neither the file's nor stored)")
        })?;
        let prompt = Prompt::parse(name, &stored.source)
            .map_err(|e| anyhow!("stored {name}@{version}: {e}"))?;
        Ok(Resolved {
            prompt,
            stored_ms: Some(stored.first_ms),
            file_version,
        })
    }

    /// A side of a diff or a tag's target: `file`, a version or a tag.
    fn resolve_word(&mut self, name: &str, word: &str) -> anyhow::Result<Resolved> {
        if word == "file" {
            return self.resolve(name, None);
        }
        let reference = Ref::parse(word).map_err(|e| anyhow!(e))?;
        self.resolve(name, Some(&reference))
    }
}

fn from_file(name: &str, source: &str, file_version: Option<String>) -> anyhow::Result<Resolved> {
    Ok(Resolved {
        prompt: Prompt::parse(name, source).map_err(|e| anyhow!(e))?,
        stored_ms: None,
        file_version,
    })
}

/// A bare prompt name: the commands that take one manage versions themselves.
fn bare_name(s: &str) -> anyhow::Result<&str> {
    match seam_prompts::parse_ref(s).map_err(|e| anyhow!(e))? {
        (_, None) => Ok(s),
        (_, Some(_)) => bail!("`{s}`: give the prompt's name without `@`"),
    }
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = folder(args.config.as_deref(), args.dir);
    let registry = Registry::load(&dir).map_err(|errors| anyhow!(errors.join("; ")))?;
    let mut ctx = Ctx {
        dir,
        registry,
        config: args.config,
        store: None,
    };
    match args.command {
        PromptsCommand::List => list(&ctx),
        PromptsCommand::Show { prompt } => show(&mut ctx, &prompt)?,
        PromptsCommand::Render {
            prompt,
            vars,
            vars_file,
        } => render(&mut ctx, &prompt, vars, vars_file)?,
        PromptsCommand::Versions { name } => versions(&mut ctx, bare_name(&name)?)?,
        PromptsCommand::Tag { name, tag, version } => {
            set_tag(&mut ctx, bare_name(&name)?, &tag, version.as_deref())?;
        }
        PromptsCommand::Untag { name, tag } => untag(&mut ctx, bare_name(&name)?, &tag)?,
        PromptsCommand::Diff { name, from, to } => {
            diff(&mut ctx, bare_name(&name)?, from.as_deref(), to.as_deref())?;
        }
        PromptsCommand::Test(args) => {
            let (name, reference) =
                seam_prompts::parse_ref(&args.prompt).map_err(|e| anyhow!(e))?;
            let r = ctx.resolve(&name, reference.as_ref())?;
            return test::run(&r.prompt, &r.label(), &ctx.dir, &args);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(ctx: &Ctx) {
    if ctx.registry.is_empty() {
        println!("no prompts in {}", ctx.dir.display());
    }
    for p in ctx.registry.iter() {
        println!(
            "{}\t{}\t{}\t{}",
            p.name,
            p.version,
            p.model.as_deref().unwrap_or("-"),
            p.description.as_deref().unwrap_or("")
        );
    }
}

fn resolve_arg(ctx: &mut Ctx, s: &str) -> anyhow::Result<Resolved> {
    let (name, reference) = seam_prompts::parse_ref(s).map_err(|e| anyhow!(e))?;
    ctx.resolve(&name, reference.as_ref())
}

fn show(ctx: &mut Ctx, s: &str) -> anyhow::Result<()> {
    let r = resolve_arg(ctx, s)?;
    let p = &r.prompt;
    println!("prompt: {}", p.name);
    println!("version: {}", p.version);
    match (r.stored_ms, &r.file_version) {
        (None, _) => println!("from: the file"),
        (Some(ms), Some(file)) => println!(
            "from: the store (first served {}; the file is at {file})",
            seam_store::rfc3339(ms)
        ),
        (Some(ms), None) => println!(
            "from: the store (first served {}; no file)",
            seam_store::rfc3339(ms)
        ),
    }
    if let Some(d) = &p.description {
        println!("description: {d}");
    }
    println!("model: {}", p.model.as_deref().unwrap_or("-"));
    if !p.params.is_empty() {
        println!("params: {}", Value::Object(p.params.clone()));
    }
    println!("variables: {}", p.variables().join(", "));
    if p.output_schema.is_some() {
        println!("output schema: yes");
    }
    if let Some(Value::Array(tests)) = &p.tests {
        println!("tests: {}", tests.len());
    }
    if let Some(system) = &p.system {
        println!("--- system\n{system}");
    }
    println!("--- template\n{}", p.template);
    Ok(())
}

fn render(
    ctx: &mut Ctx,
    s: &str,
    vars: Option<String>,
    vars_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let text = match (vars, vars_file) {
        (Some(v), _) => v,
        (None, Some(f)) => {
            std::fs::read_to_string(&f).with_context(|| format!("{}", f.display()))?
        }
        (None, None) => "{}".to_owned(),
    };
    let vars: Value = serde_json::from_str(&text).context("--vars is not JSON")?;
    let p = resolve_arg(ctx, s)?.prompt;
    let r = match p.render(&vars) {
        Ok(r) => r,
        Err(e) => bail!("prompt `{}`: {e}", p.name),
    };
    let out = json!({
        "prompt": p.name,
        "version": p.version,
        "model": p.model,
        "params": p.params,
        "messages": messages(r),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// The chat messages a rendered prompt opens a conversation with.
fn messages(r: seam_prompts::Rendered) -> Vec<Value> {
    let mut messages = Vec::new();
    if let Some(system) = r.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": r.user}));
    messages
}

fn versions(ctx: &mut Ctx, name: &str) -> anyhow::Result<()> {
    let file_version = ctx.file(name).map(|p| p.version.clone());
    let (stored, tags) = match ctx.store(false)? {
        Some(s) => (
            s.versions(name).map_err(|e| anyhow!("{e}"))?,
            s.tags().map_err(|e| anyhow!("{e}"))?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    if stored.is_empty() && file_version.is_none() {
        bail!(
            "no prompt `{name}` in {} nor in the store",
            ctx.dir.display()
        );
    }
    let tags_of = |v: &str| {
        let t: Vec<&str> = tags
            .iter()
            .filter(|t| t.name == name && t.version == v)
            .map(|t| t.tag.as_str())
            .collect();
        if t.is_empty() {
            "-".to_owned()
        } else {
            t.join(",")
        }
    };
    let mark = |v: &str| {
        if file_version.as_deref() == Some(v) {
            "\tfile"
        } else {
            ""
        }
    };
    for (v, ms) in &stored {
        println!(
            "{v}\t{}\t{}{}",
            seam_store::rfc3339(*ms),
            tags_of(v),
            mark(v)
        );
    }
    if let Some(v) = &file_version
        && !stored.iter().any(|(s, _)| s == v)
    {
        println!("{v}\tnot stored yet\t-\tfile");
    }
    Ok(())
}

/// A tag name as `tag` and `untag` take it.
fn tag_name(tag: &str) -> anyhow::Result<&str> {
    match Ref::parse(tag).map_err(|e| anyhow!(e))? {
        Ref::Version(_) => bail!("`{tag}` is a version, not a tag: a tag is never 12 hex digits"),
        Ref::Tag(_) if tag == "file" => {
            bail!("`file` names the file in `seam prompts diff`: pick another tag")
        }
        Ref::Tag(_) => Ok(tag),
    }
}

fn set_tag(ctx: &mut Ctx, name: &str, tag: &str, target: Option<&str>) -> anyhow::Result<()> {
    let tag = tag_name(tag)?;
    let r = ctx.resolve_word(name, target.unwrap_or("file"))?;
    let version = r.prompt.version.clone();
    let store = ctx
        .store(true)?
        .context("the prompt store could not be opened")?;
    if r.stored_ms.is_none() {
        // The file's version: stored first, so the tag has something to point at.
        store
            .put(name, &version, &r.prompt.source)
            .map_err(|e| anyhow!("{e}"))?;
    }
    let before = store
        .set_tag(name, tag, &version)
        .map_err(|e| anyhow!("{e}"))?;
    println!(
        "{tag}: {} → {version}",
        before.as_deref().unwrap_or("(none)")
    );
    Ok(())
}

fn untag(ctx: &mut Ctx, name: &str, tag: &str) -> anyhow::Result<()> {
    let tag = tag_name(tag)?;
    let before = ctx
        .tag(name, tag)?
        .with_context(|| format!("prompt `{name}` has no tag `{tag}`"))?;
    if let Some(s) = ctx.store(false)? {
        s.delete_tag(name, tag).map_err(|e| anyhow!("{e}"))?;
    }
    println!("{tag}: {before} → (none)");
    Ok(())
}

fn diff(ctx: &mut Ctx, name: &str, from: Option<&str>, to: Option<&str>) -> anyhow::Result<()> {
    let from = match from {
        Some(f) => ctx.resolve_word(name, f)?,
        None if ctx.tag(name, "prod")?.is_some() => ctx.resolve_word(name, "prod")?,
        None => bail!(
            "prompt `{name}` has no `prod` tag: give FROM ({})",
            known_refs(ctx, name)?
        ),
    };
    let to = ctx.resolve_word(name, to.unwrap_or("file"))?;
    match diff::unified(
        &from.prompt.source,
        &to.prompt.source,
        &from.label(),
        &to.label(),
        3,
    ) {
        Some(d) => print!("{d}"),
        None => eprintln!("seam: {} and {} are the same", from.label(), to.label()),
    }
    Ok(())
}

/// The refs of a prompt that exist, for an error that asks for one.
fn known_refs(ctx: &mut Ctx, name: &str) -> anyhow::Result<String> {
    let mut known = Vec::new();
    if ctx.file(name).is_some() {
        known.push("file".to_owned());
    }
    if let Some(s) = ctx.store(false)? {
        let tags = s.tags().map_err(|e| anyhow!("{e}"))?;
        known.extend(tags.into_iter().filter(|t| t.name == name).map(|t| t.tag));
        let versions = s.versions(name).map_err(|e| anyhow!("{e}"))?;
        known.extend(versions.into_iter().map(|(v, _)| v));
    }
    Ok(match known.is_empty() {
        true => "it has no file and no stored version".to_owned(),
        false => format!("one of: {}", known.join(", ")),
    })
}
