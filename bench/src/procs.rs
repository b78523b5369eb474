//! The processes the runner starts and watches: mocks and the reference proxy (bench helpers),
//! seam itself with its generated config, and what `/proc` says about their memory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode, Uri};
use tokio::process::{Child, Command};

use crate::load;
use crate::run::RunArgs;

/// Starts child processes, pinned to a core unless `--no-pin`.
pub struct Launcher {
    pub exe: PathBuf,
    pub pin: bool,
}

impl Launcher {
    pub fn command(&self, cpu: usize, program: &Path) -> Command {
        let mut cmd = if self.pin {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(cpu.to_string()).arg(program);
            cmd
        } else {
            Command::new(program)
        };
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        cmd
    }
}

/// Where everything listens: seam on the base port, then the mocks and the reference proxy.
pub struct Ports {
    pub seam: u16,
    pub fast: u16,
    pub slow: u16,
    pub proxy: u16,
    /// The mock that answers every request with 503 (first target of `bench-fallback`).
    pub failing: u16,
    /// The audit scenario's two seams: audit off, and audited (sync, class `redacted`).
    pub audit_off: u16,
    pub audit_on: u16,
    /// The MCP scenario's seams (their `[mcp.servers]` point at the fast mock's `/mcp`):
    /// audited, and with the audit trail off.
    pub mcp: u16,
    pub mcp_unaudited: u16,
    /// The names scenario's seam (one at a time: the model on, then off).
    pub names: u16,
    /// The prompts scenario's seam (a prompt file and a shadow rollout).
    pub prompts: u16,
    /// The full scenario's nginx (the reference proxy), routing-only seam and full seam.
    pub nginx: u16,
    pub full_routing: u16,
    pub full_pipeline: u16,
}

impl Ports {
    pub fn from_base(base: u16) -> Self {
        Self {
            seam: base,
            fast: base + 1,
            slow: base + 2,
            proxy: base + 3,
            failing: base + 4,
            audit_off: base + 5,
            audit_on: base + 6,
            mcp: base + 7,
            mcp_unaudited: base + 8,
            names: base + 9,
            prompts: base + 10,
            nginx: base + 11,
            full_routing: base + 12,
            full_pipeline: base + 13,
        }
    }

    pub fn all(&self) -> [u16; 14] {
        [
            self.seam,
            self.fast,
            self.slow,
            self.proxy,
            self.failing,
            self.audit_off,
            self.audit_on,
            self.mcp,
            self.mcp_unaudited,
            self.names,
            self.prompts,
            self.nginx,
            self.full_routing,
            self.full_pipeline,
        ]
    }

    pub fn url(port: u16) -> String {
        format!("http://127.0.0.1:{port}/v1/chat/completions")
    }
}

pub async fn check_taskset(args: &RunArgs) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    anyhow::ensure!(
        args.load_cpu < cores && args.seam_cpu < cores,
        "cores {} and {} are not both available ({cores} usable); pass --load-cpu/--seam-cpu or --no-pin",
        args.load_cpu,
        args.seam_cpu
    );
    let found = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    anyhow::ensure!(
        found.is_ok_and(|s| s.success()),
        "`taskset` (util-linux) is needed to pin processes to cores; install it or pass --no-pin"
    );
    Ok(())
}

/// How a mock answers: its per-chunk delay and its status (200, or a failure for every request).
pub struct MockShape {
    pub chunk_delay_ms: u64,
    pub status: u16,
}

pub async fn start_mock(
    launcher: &Launcher,
    cpu: usize,
    port: u16,
    shape: MockShape,
) -> anyhow::Result<Child> {
    let mut cmd = launcher.command(cpu, &launcher.exe);
    cmd.arg("mock")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--chunk-delay-ms")
        .arg(shape.chunk_delay_ms.to_string())
        .arg("--status")
        .arg(shape.status.to_string());
    start_helper(cmd, port, "the mock").await
}

/// The do-nothing proxy, on seam's core, in front of the fast mock.
pub async fn start_proxy(launcher: &Launcher, cpu: usize, ports: &Ports) -> anyhow::Result<Child> {
    let mut cmd = launcher.command(cpu, &launcher.exe);
    cmd.arg("proxy")
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", ports.proxy))
        .arg("--upstream")
        .arg(format!("http://127.0.0.1:{}", ports.fast));
    start_helper(cmd, ports.proxy, "the reference proxy").await
}

/// Starts a bench helper and waits until it accepts connections on `port`.
async fn start_helper(mut cmd: Command, port: u16, name: &str) -> anyhow::Result<Child> {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("{name} on port {port} exited at start ({status})");
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{name} on port {port} did not start listening"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(child)
}

/// The running gateway under test.
pub struct SeamProcess {
    pub child: Child,
    pub pid: u32,
    pub log: PathBuf,
}

/// The environment variable the audited seam (and `seam audit` on its store) reads the master
/// key from: `[audit] master_key = "env:SEAM_MASTER_KEY"`.
pub const MASTER_KEY_ENV: &str = "SEAM_MASTER_KEY";

/// The SQLite file of a generated config, relative to the config (and so to the run's
/// temporary directory).
pub const AUDIT_DB: &str = "seam.db";

/// What a generated seam does about the audit trail; stated in full so the config says what the
/// scenarios run with rather than leaning on defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditMode {
    /// `[audit] enabled = false`: no records.
    Off,
    /// Sync durability, SQLite, class `metadata` (no payloads): what a config without a master
    /// key gets by default. The core, routing and policy scenarios run with this.
    Metadata,
    /// As `Metadata` but `durability = "async"`: records go through a bounded queue (with a disk
    /// spool) and an answer does not wait for its commit (the MCP scenario's `--mcp-async-audit`).
    MetadataAsync,
    /// Sync durability, SQLite, a master key from `SEAM_MASTER_KEY`, class `redacted`: the
    /// request as sent upstream and the response, encrypted, in every record.
    Redacted,
}

impl AuditMode {
    pub fn toml(self) -> String {
        let (enabled, extra) = match self {
            AuditMode::Off => ("false", String::new()),
            AuditMode::Metadata => (
                "true",
                "durability = \"sync\"\ndefault_class = \"metadata\"\n".to_owned(),
            ),
            AuditMode::MetadataAsync => (
                "true",
                "durability = \"async\"\ndefault_class = \"metadata\"\n".to_owned(),
            ),
            AuditMode::Redacted => (
                "true",
                format!(
                    "durability = \"sync\"\nmaster_key = \"env:{MASTER_KEY_ENV}\"\n\
                     default_class = \"redacted\"\n"
                ),
            ),
        };
        format!("[storage]\nurl = \"sqlite://{AUDIT_DB}\"\n\n[audit]\nenabled = {enabled}\n{extra}")
    }
}

/// The config the runner hands seam: the fast and the slow mock behind one alias each, the
/// routing aliases: `bench-fallback` (the failing mock, then the fast one) and `bench-weighted`
/// (the fast mock under two provider names, weights 1 and 1), and the policy aliases: `plain`
/// (no policy) and `guarded` (the policy `guard`), both to the fast mock, and the cache aliases:
/// `bench-echo` (the echo provider) and `bench-cached` (the fast mock, cached), and the surfaces
/// alias `bench-anth` (the fast mock as an Anthropic upstream, `kind = "anthropic"`, which posts to
/// `{base_url}/v1/messages`); seam listens on `listen` and keeps its audit trail as `audit` says.
///
/// The failing provider's breaker is off, so every request really attempts it first; with the
/// breaker on it would open after a few failures and the scenario would measure the skip.
pub fn config_toml(ports: &Ports, listen: u16, audit: AuditMode) -> String {
    let Ports {
        fast,
        slow,
        failing,
        ..
    } = ports;
    let audit = audit.toml();
    format!(
        r#"# Generated by seam-bench run.
[server]
listen = "127.0.0.1:{listen}"

{audit}
[providers.mock]
kind = "openai"
base_url = "http://127.0.0.1:{fast}/v1"
max_concurrency = 4096

[providers.mock_b]
kind = "openai"
base_url = "http://127.0.0.1:{fast}/v1"
max_concurrency = 4096

[providers.mock_slow]
kind = "openai"
base_url = "http://127.0.0.1:{slow}/v1"
max_concurrency = 4096

[providers.failing]
kind = "openai"
base_url = "http://127.0.0.1:{failing}/v1"
max_concurrency = 4096
breaker = {{ enabled = false }}

[models.bench]
targets = [{{ provider = "mock", model = "bench-model" }}]

[models.bench-slow]
targets = [{{ provider = "mock_slow", model = "bench-model" }}]

[models.bench-fallback]
targets = [{{ provider = "failing", model = "bench-model" }}, {{ provider = "mock", model = "bench-model" }}]
max_attempts = 2

[models.bench-weighted]
strategy = "weighted"
targets = [{{ provider = "mock", model = "bench-model", weight = 1 }}, {{ provider = "mock_b", model = "bench-model", weight = 1 }}]

[policies.guard]
# The policy scenarios measure the rules (names included); the names scenario measures the model.
ner = false

[policies.guard.input]
pii = {{ action = "tokenize" }}
secrets = {{ action = "block" }}
injection = {{ action = "flag" }}

[policies.guard.output]
pii = {{ action = "redact" }}

[models.plain]
targets = [{{ provider = "mock", model = "bench-model" }}]

[models.guarded]
targets = [{{ provider = "mock", model = "bench-model" }}]
policy = "guard"

[providers.echo]
kind = "echo"
max_concurrency = 4096

[models.bench-echo]
targets = [{{ provider = "echo", model = "bench-model" }}]

[models.bench-cached]
targets = [{{ provider = "mock", model = "bench-model" }}]
cache = {{ ttl_s = 3600, scope = "org" }}

[providers.mock_anth]
kind = "anthropic"
base_url = "http://127.0.0.1:{fast}"
max_concurrency = 4096

[models.bench-anth]
targets = [{{ provider = "mock_anth", model = "bench-model" }}]
"#
    )
}

/// One seam to start: its directory (config, log and audit store go there), port and audit mode.
pub struct SeamSpec<'a> {
    pub dir: &'a Path,
    pub port: u16,
    pub audit: AuditMode,
    /// The master key in base64, for [`AuditMode::Redacted`].
    pub master_key: Option<&'a str>,
}

pub async fn start_seam(
    launcher: &Launcher,
    args: &RunArgs,
    seam: &Path,
    ports: &Ports,
    spec: SeamSpec<'_>,
) -> anyhow::Result<SeamProcess> {
    let config = config_toml(ports, spec.port, spec.audit);
    start_seam_with(launcher, args, seam, spec, &config).await
}

/// Stops `child` with SIGTERM (a seam commits its queued audit records before it exits), and
/// with SIGKILL if it has not exited within 30 s.
pub async fn terminate(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
        if sent.is_ok_and(|s| s.success())
            && tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .is_ok()
        {
            return;
        }
    }
    drop(child.kill().await);
}

/// [`start_seam`] with a config of the caller's (`spec.audit` is then the caller's to write).
pub async fn start_seam_with(
    launcher: &Launcher,
    args: &RunArgs,
    seam: &Path,
    spec: SeamSpec<'_>,
    config_text: &str,
) -> anyhow::Result<SeamProcess> {
    let dir = spec.dir;
    std::fs::create_dir_all(dir)?;
    let config = dir.join("seam.toml");
    std::fs::write(&config, config_text)?;
    let log = dir.join("seam.log");
    let log_file = std::fs::File::create(&log)?;
    let mut cmd = launcher.command(args.seam_cpu, seam);
    cmd.arg("serve")
        .arg("--config")
        .arg(&config)
        .current_dir(dir)
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    if let Some(key) = spec.master_key {
        cmd.env(MASTER_KEY_ENV, key);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", seam.display()))?;
    let pid = child.id().context("seam exited at once")?;
    let client = load::client();
    let ready: Uri = format!("http://127.0.0.1:{}/readyz", spec.port).parse()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!(
                "seam exited before it was ready ({status}); its log:\n{}",
                log_tail(&log)
            );
        }
        if get_status(&client, &ready).await == Some(StatusCode::OK) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "seam did not answer 200 on /readyz within 60 s; its log:\n{}",
            log_tail(&log)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("seam ready (pid {pid}, log {})", log.display());
    Ok(SeamProcess { child, pid, log })
}

async fn get_status(client: &load::Client, uri: &Uri) -> Option<StatusCode> {
    let mut request = Request::new(Full::default());
    *request.uri_mut() = uri.clone();
    let response = client.request(request).await.ok()?;
    let status = response.status();
    drop(response.into_body().collect().await);
    Some(status)
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
pub fn proc_status_kb(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    parse_status_kb(&status, field).with_context(|| format!("no {field} in /proc/{pid}/status"))
}

pub fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|n| n.trim().parse().ok())
}

/// How busy all cores were over `window`, in percent, from `/proc/stat`.
pub async fn cpu_busy_pct(window: Duration) -> anyhow::Result<f64> {
    let read = || -> anyhow::Result<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
        parse_cpu_times(&stat).context("no cpu line in /proc/stat")
    };
    let (busy0, total0) = read()?;
    tokio::time::sleep(window).await;
    let (busy1, total1) = read()?;
    let total = total1.saturating_sub(total0);
    Ok(if total == 0 {
        0.0
    } else {
        100.0 * busy1.saturating_sub(busy0) as f64 / total as f64
    })
}

/// (busy, total) jiffies from the aggregate `cpu` line; idle and iowait count as not busy.
fn parse_cpu_times(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3)? + fields.get(4)?;
    Some((total - idle, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_fields_from_proc_status() {
        let status = "Name:\tseam\nVmHWM:\t   20480 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_status_kb(status, "VmRSS"), Some(12345));
        assert_eq!(parse_status_kb(status, "VmHWM"), Some(20480));
        assert_eq!(parse_status_kb(status, "VmSwap"), None);
        // The full scenario's anonymous memory, from this process's own status.
        let anon = proc_status_kb(std::process::id(), "RssAnon").unwrap();
        assert!(anon > 0 && anon <= proc_status_kb(std::process::id(), "VmRSS").unwrap());
    }

    #[test]
    fn reads_busy_and_total_cpu_time() {
        let stat = "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\n";
        assert_eq!(parse_cpu_times(stat), Some((160, 980)));
        assert_eq!(parse_cpu_times("intr 1 2 3\n"), None);
    }

    #[test]
    fn reads_our_own_rss() {
        assert!(proc_status_kb(std::process::id(), "VmRSS").unwrap() > 0);
    }

    /// The generated config through seam's parser, with `SEAM_MASTER_KEY` set to 32 zero bytes.
    fn parse(mode: AuditMode, listen: u16) -> seam_config::Config {
        let config = config_toml(&Ports::from_base(18700), listen, mode);
        assert!(config.contains(&format!("listen = \"127.0.0.1:{listen}\"")));
        let key = |name: &str| (name == MASTER_KEY_ENV).then(|| "A".repeat(43) + "=");
        let resolver = seam_config::Resolver {
            env: &key,
            base_dir: PathBuf::from("/run-dir"),
        };
        seam_config::from_toml(&config, &resolver).unwrap()
    }

    #[test]
    fn the_generated_config_states_its_audit_trail() {
        use seam_config::{AuditClass, Durability, StorageConfig};
        let sqlite = |c: &seam_config::Config| match &c.storage {
            StorageConfig::Sqlite { path, .. } => path.clone(),
            StorageConfig::Postgres { .. } => PathBuf::new(),
        };
        let meta = parse(AuditMode::Metadata, 18700);
        assert!(meta.audit.enabled);
        assert_eq!(meta.audit.durability, Durability::Sync);
        assert_eq!(meta.audit.default_class, AuditClass::Metadata);
        assert!(meta.audit.master_key.is_none());
        assert_eq!(sqlite(&meta), Path::new("/run-dir").join(AUDIT_DB));
        let on = parse(AuditMode::Redacted, 18706);
        assert!(on.audit.enabled);
        assert_eq!(on.audit.durability, Durability::Sync);
        assert_eq!(on.audit.default_class, AuditClass::Redacted);
        assert_eq!(on.audit.master_key.map(|k| k.0), Some([0; 32]));
        assert!(!parse(AuditMode::Off, 18705).audit.enabled);
    }

    #[test]
    fn the_generated_config_points_every_alias_at_the_mocks() {
        let parsed = parse(AuditMode::Metadata, 18700);
        let base_url = |p: &str| parsed.providers[p].base_url.as_str();
        assert_eq!(base_url("mock"), "http://127.0.0.1:18701/v1");
        assert_eq!(base_url("mock_b"), "http://127.0.0.1:18701/v1");
        assert_eq!(base_url("mock_slow"), "http://127.0.0.1:18702/v1");
        assert_eq!(base_url("failing"), "http://127.0.0.1:18704/v1");
        assert!(parsed.providers["mock"].breaker.enabled);
        assert!(!parsed.providers["failing"].breaker.enabled);
        assert!(parsed.providers.values().all(|p| p.max_concurrency == 4096));
        let providers = |alias: &str| -> Vec<(String, u32)> {
            let targets = &parsed.models[alias].targets;
            targets
                .iter()
                .map(|t| (t.provider.clone(), t.weight))
                .collect()
        };
        assert_eq!(providers("bench"), [("mock".to_owned(), 1)]);
        assert_eq!(providers("bench-slow"), [("mock_slow".to_owned(), 1)]);
        let fallback = &parsed.models["bench-fallback"];
        assert_eq!(fallback.strategy, seam_config::Strategy::Fallback);
        assert_eq!(fallback.max_attempts, 2);
        assert_eq!(
            providers("bench-fallback"),
            [("failing".to_owned(), 1), ("mock".to_owned(), 1)]
        );
        let weighted = &parsed.models["bench-weighted"];
        assert_eq!(weighted.strategy, seam_config::Strategy::Weighted);
        assert_eq!(
            providers("bench-weighted"),
            [("mock".to_owned(), 1), ("mock_b".to_owned(), 1)]
        );
        assert!(
            parsed
                .models
                .values()
                .all(|m| m.targets[0].model == "bench-model")
        );
        assert_eq!(providers("plain"), [("mock".to_owned(), 1)]);
        assert_eq!(providers("guarded"), [("mock".to_owned(), 1)]);
        assert_eq!(parsed.models["plain"].policy, "default");
        assert_eq!(parsed.models["guarded"].policy, "guard");
        let guard = &parsed.policies["guard"];
        let action =
            |rule: &Option<seam_config::policy::ClassRule>| rule.as_ref().map(|r| r.action);
        use seam_config::policy::Action;
        assert_eq!(action(&guard.input.rules.pii), Some(Action::Tokenize));
        assert_eq!(action(&guard.input.rules.secrets), Some(Action::Block));
        assert_eq!(action(&guard.output.pii), Some(Action::Redact));
        assert_eq!(providers("bench-echo"), [("echo".to_owned(), 1)]);
        assert_eq!(providers("bench-cached"), [("mock".to_owned(), 1)]);
        let rule = parsed.models["bench-cached"].cache.as_ref().unwrap();
        assert_eq!(rule.scope, seam_config::CacheScope::Org);
        assert!(parsed.models["bench"].cache.is_none());
        // The Anthropic adapter appends `/v1/messages` to the base URL: the mock's own path.
        let anth = &parsed.providers["mock_anth"];
        assert_eq!(anth.kind, seam_config::ProviderKind::Anthropic);
        assert_eq!(anth.base_url, "http://127.0.0.1:18701");
        assert_eq!(providers("bench-anth"), [("mock_anth".to_owned(), 1)]);
    }
}
