//! The names scenario: what the named-entity model (Rampart, in process) adds per request through
//! a running seam, and what it costs in memory.
//!
//! A seam of its own (port base + 9) serves two aliases against the same fast mock:
//! - `plain`: no policy (the built-in `default`, which does nothing and sends no header);
//! - `names`: the policy `names`, which tokenizes `PERSON`, `LOCATION` and `STREET_ADDRESS` in the
//!   input, with the model on (`ner = true`), so the model reads each request's texts.
//!
//! seam's model wrapper caches its tags by the text's SHA-256, so a run that repeats one prompt
//! measures the cache, not the model. Every request here sends a different text instead: the
//! load generator numbers its requests across slots ([`Prompt::numbered`]: a ticket number of its
//! own, and one of 576 people, 12 cities and 12 streets at different strides), and each run
//! starts its numbers where no other run of the seam has been. One run repeats a single text
//! ("cached") to show the difference.
//!
//! The slots are `plain`, `names`, `plain`, `names`, as in the policy scenario, open loop and
//! non-stream: the ~1 KB prompt at `--names-long-rate`, the ~120-byte one at `--names-rate`, then
//! the ~1 KB text repeated. The model runs on seam's one core, about a tenth of a second for 1 KB,
//! so the rates are far below the other scenarios'. Then each alias alone at saturation
//! (`--names-concurrency` connections, closed loop, ~120-byte prompt). seam's RSS is read idle
//! after start and at its peak (`VmHWM`) after the load; then the same seam config with `ner =
//! false` (rules alone, the model never loaded) is started, measured the same way, and given the
//! ~120-byte run, so the model's memory and its part of the latency stand apart from the rules'.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use hyper::Uri;
use serde::Serialize;

use crate::body::{self, Prompt};
use crate::load;
use crate::procs::{self, AuditMode, Launcher, Ports, SeamProcess, SeamSpec, proc_status_kb};
use crate::report::{cells, signed};
use crate::run::{LoadRun, RunArgs, Scenario, run_load_from};
use crate::stats::{LoadReport, Percentiles};

pub const PLAIN: &str = "plain";
pub const NAMES: &str = "names";
/// The policy `names` uses (`[policies.names]` in the generated config).
pub const POLICY: &str = "names";
/// The entities the policy tokenizes.
pub const ENTITIES: [&str; 3] = ["PERSON", "LOCATION", "STREET_ADDRESS"];

/// The slots, in the order requests take them.
const SLOTS: [&str; 4] = [PLAIN, NAMES, PLAIN, NAMES];

/// The seam header that says what the policy did, and whether the model read the request.
const HEADER: &str = "x-seam-policy";

/// Where each run's request numbers start: far enough apart that no two runs of one seam send the
/// same text (a run sends at most a few thousand requests).
const SEQ_LONG: u64 = 0;
const SEQ_SHORT: u64 = 10_000_000;
const SEQ_SAT_NAMES: u64 = 20_000_000;
const SEQ_SAT_PLAIN: u64 = 30_000_000;
const SEQ_RULES: u64 = 40_000_000;
/// The probes' text: a number no run reaches.
const SEQ_PROBE: u64 = 999_000_000;

/// The generated config plus the policy `names` (`ner` on or off) and its alias `names`; `plain`
/// is the generated config's own (no policy). Audit off: the question is the model's cost. Every
/// policy gets the same `ner`, so with `false` seam does not load the model at all.
pub fn config_toml(ports: &Ports, listen: u16, ner: bool) -> String {
    // The generated `guard` policy covers every entity too, with the model off (the policy
    // scenarios measure the rules); here it follows `ner` like every policy.
    let mut config = procs::config_toml(ports, listen, AuditMode::Off).replacen(
        "[policies.guard]\n# The policy scenarios measure the rules (names included); the names scenario measures the model.\nner = false\n",
        &format!("[policies.guard]\nner = {ner}\n"),
        1,
    );
    let entities = ENTITIES.map(|e| format!("\"{e}\"")).join(", ");
    config.push_str(&format!(
        r#"
[policies.names]
ner = {ner}

[policies.names.input]
pii = {{ action = "tokenize", entities = [{entities}] }}

[models.names]
targets = [{{ provider = "mock", model = "bench-model" }}]
policy = "names"
"#
    ));
    config
}

/// One open-loop run, both aliases in turn.
#[derive(Serialize)]
pub struct NamesRun {
    pub scenario: Scenario,
    /// `plain`, slot 1.
    pub plain: LoadReport,
    /// `names`, slot 2.
    pub names: LoadReport,
    /// `plain`, slot 3.
    pub plain_b: LoadReport,
    /// `names`, slot 4.
    pub names_b: LoadReport,
}

impl NamesRun {
    fn plain_mean(&self) -> Percentiles {
        Percentiles::midpoint(self.plain.latency_ms, self.plain_b.latency_ms)
    }

    fn names_mean(&self) -> Percentiles {
        Percentiles::midpoint(self.names.latency_ms, self.names_b.latency_ms)
    }

    /// What the policy (and its model) adds: `names` − `plain`, each the mean of its two slots.
    pub fn added(&self) -> Percentiles {
        self.names_mean().minus(self.plain_mean())
    }

    pub fn reports(&self) -> [&LoadReport; 4] {
        [&self.plain, &self.names, &self.plain_b, &self.names_b]
    }
}

/// Each alias alone at a fixed number of connections (closed loop).
#[derive(Serialize)]
pub struct Saturation {
    pub scenario: Scenario,
    pub names: LoadReport,
    pub plain: LoadReport,
}

/// seam's resident memory, KiB.
#[derive(Clone, Copy, Serialize)]
pub struct Rss {
    /// A second after it answered `/readyz`.
    pub idle_kb: u64,
    /// Its high-water mark (`VmHWM`) after the load.
    pub peak_kb: u64,
}

/// The whole scenario: the model on, then off.
#[derive(Serialize)]
pub struct Names {
    /// `x-seam-policy` of the probe's answer from `names` with the model on.
    pub probe_header: String,
    /// Unique ~1 KB prompts.
    pub long: NamesRun,
    /// Unique ~120-byte prompts.
    pub short: NamesRun,
    /// One ~1 KB text on every request: the model's cache.
    pub cached: NamesRun,
    pub saturation: Saturation,
    pub model_rss: Rss,
    /// `x-seam-policy` of the probe's answer from `names` with `ner = false`.
    pub rules_probe_header: String,
    /// Unique ~120-byte prompts, `ner = false` (rules alone).
    pub rules_short: NamesRun,
    pub rules_rss: Rss,
}

impl Names {
    pub fn reports(&self) -> impl Iterator<Item = &LoadReport> {
        [&self.long, &self.short, &self.cached, &self.rules_short]
            .into_iter()
            .flat_map(NamesRun::reports)
    }
}

/// The seam with the model, its runs, then the seam without it.
pub async fn run(
    launcher: &Launcher,
    args: &RunArgs,
    seam: &Path,
    dir: &Path,
    ports: &Ports,
) -> anyhow::Result<Names> {
    let url = Ports::url(ports.names);
    let uri: Uri = url.parse()?;

    let on_dir = dir.join("names-model");
    let on = start(launcher, args, seam, &on_dir, ports, true).await?;
    let idle_kb = idle_rss(&on).await?;
    let probe_header = probe(&uri, Expect::Model).await?;
    eprintln!("names probe: `{NAMES}` answered with {HEADER}: {probe_header}");
    let long_rate = args.names_long_rate;
    let long = one_run(launcher, args, &url, Prompt::NamesLong, long_rate, SEQ_LONG).await?;
    let short = one_run(
        launcher,
        args,
        &url,
        Prompt::NamesShort,
        args.names_rate,
        SEQ_SHORT,
    );
    let short = short.await?;
    let cached = one_run(launcher, args, &url, Prompt::NamesLongSame, long_rate, 0).await?;
    let saturation = saturation(launcher, args, &url).await?;
    let model_rss = Rss {
        idle_kb,
        peak_kb: proc_status_kb(on.pid, "VmHWM")?,
    };
    stop(on).await?;

    let off_dir = dir.join("names-rules");
    let off = start(launcher, args, seam, &off_dir, ports, false).await?;
    let idle_kb = idle_rss(&off).await?;
    let rules_probe_header = probe(&uri, Expect::Rules).await?;
    let rate = args.names_rate;
    let rules_short = one_run(launcher, args, &url, Prompt::NamesShort, rate, SEQ_RULES).await?;
    let rules_rss = Rss {
        idle_kb,
        peak_kb: proc_status_kb(off.pid, "VmHWM")?,
    };
    stop(off).await?;
    Ok(Names {
        probe_header,
        long,
        short,
        cached,
        saturation,
        model_rss,
        rules_probe_header,
        rules_short,
        rules_rss,
    })
}

async fn start(
    launcher: &Launcher,
    args: &RunArgs,
    seam: &Path,
    dir: &Path,
    ports: &Ports,
    ner: bool,
) -> anyhow::Result<SeamProcess> {
    let spec = SeamSpec {
        dir,
        port: ports.names,
        audit: AuditMode::Off,
        master_key: None,
    };
    let config = config_toml(ports, ports.names, ner);
    procs::start_seam_with(launcher, args, seam, spec, &config).await
}

async fn idle_rss(p: &SeamProcess) -> anyhow::Result<u64> {
    // Let start-up allocations settle before calling it idle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    proc_status_kb(p.pid, "VmRSS")
}

async fn stop(mut p: SeamProcess) -> anyhow::Result<()> {
    if let Ok(Some(status)) = p.child.try_wait() {
        anyhow::bail!(
            "seam exited during the names scenario ({status}); log: {}",
            p.log.display()
        );
    }
    drop(p.child.kill().await);
    Ok(())
}

async fn one_run(
    launcher: &Launcher,
    args: &RunArgs,
    url: &str,
    prompt: Prompt,
    rate: f64,
    seq_start: u64,
) -> anyhow::Result<NamesRun> {
    let what = match prompt {
        Prompt::NamesShort => "~120-byte prompts, each unique",
        Prompt::NamesLongSame => "the same ~1 KB prompt every time (cached)",
        _ => "~1 KB prompts, each unique",
    };
    let scenario = Scenario {
        key: "names",
        title: format!(
            "non-stream @ {rate:.0} req/s, {what}, {} slots in turn ({:.1} req/s each)",
            SLOTS.len(),
            rate / SLOTS.len() as f64
        ),
        stream: false,
        rate: Some(rate),
        concurrency: None,
        prompt,
    };
    let run = LoadRun {
        models: &SLOTS,
        urls: &[url.to_owned()],
        warmup_secs: args.warmup_secs,
    };
    let reports = run_load_from(launcher, args, &scenario, run, "seam, names", seq_start).await?;
    let [plain, names, plain_b, names_b] = <[LoadReport; 4]>::try_from(reports)
        .map_err(|r| anyhow::anyhow!("{} names reports for 4 slots", r.len()))?;
    Ok(NamesRun {
        scenario,
        plain,
        names,
        plain_b,
        names_b,
    })
}

/// `names`, then `plain`, each alone at `--names-concurrency` connections, unique ~120-byte texts.
async fn saturation(launcher: &Launcher, args: &RunArgs, url: &str) -> anyhow::Result<Saturation> {
    let n = args.names_concurrency;
    let scenario = Scenario {
        key: "names_saturation",
        title: format!("saturation, {n} connections, ~120-byte prompts, each unique"),
        stream: false,
        rate: None,
        concurrency: Some(n),
        prompt: Prompt::NamesShort,
    };
    let names = alone(launcher, args, &scenario, url, NAMES, SEQ_SAT_NAMES).await?;
    let plain = alone(launcher, args, &scenario, url, PLAIN, SEQ_SAT_PLAIN).await?;
    Ok(Saturation {
        scenario,
        names,
        plain,
    })
}

/// One alias alone under `scenario`, its texts numbered from `seq`.
async fn alone(
    launcher: &Launcher,
    args: &RunArgs,
    scenario: &Scenario,
    url: &str,
    alias: &str,
    seq: u64,
) -> anyhow::Result<LoadReport> {
    let run = LoadRun {
        models: &[alias],
        urls: &[url.to_owned()],
        warmup_secs: args.warmup_secs,
    };
    let mut r = run_load_from(launcher, args, scenario, run, alias, seq).await?;
    r.pop().context("no names saturation report")
}

/// What the probe wants to see in `names`' header.
#[derive(Clone, Copy)]
enum Expect {
    /// `ner=model`: the model is installed and the policy uses it.
    Model,
    /// `ner=rules`: the policy has `ner = false`.
    Rules,
}

/// One request per alias before the load: `names` must answer with a header that names the
/// policy, reports `PERSON` tokenized and says how names were found; `plain` with no header.
async fn probe(url: &Uri, expect: Expect) -> anyhow::Result<String> {
    let client = load::client();
    let text = body::names_short(SEQ_PROBE);
    let header = ask(&client, url, NAMES, &text).await?.with_context(|| {
        format!("`{NAMES}` answered without an {HEADER} header: its policy did not run")
    })?;
    check_header(&header, expect)?;
    if let Some(h) = ask(&client, url, PLAIN, &text).await? {
        anyhow::bail!("`{PLAIN}` has no policy but answered with {HEADER}: {h}");
    }
    Ok(header)
}

/// Sends `text` to `model`; the answer's `x-seam-policy` header, if any.
async fn ask(
    client: &load::Client,
    url: &Uri,
    model: &str,
    text: &str,
) -> anyhow::Result<Option<String>> {
    let body = body::Surface::Chat.request_text(model, false, text);
    let what = format!("the names probe to `{model}`");
    crate::policy::probe_header(client, url, body, &what).await
}

/// `policy=names; input=LOCATION:tokenize:1,PERSON:tokenize:1,…; ner=model`.
fn check_header(header: &str, expect: Expect) -> anyhow::Result<()> {
    let parts: Vec<&str> = header.split("; ").collect();
    anyhow::ensure!(
        parts.first() == Some(&format!("policy={POLICY}").as_str()),
        "{HEADER} does not name the policy `{POLICY}`: {header}"
    );
    let input = parts
        .iter()
        .find_map(|p| p.strip_prefix("input="))
        .with_context(|| format!("{HEADER} reports no input decisions: {header}"))?;
    anyhow::ensure!(
        input.split(',').any(|i| i.starts_with("PERSON:tokenize:")),
        "{HEADER} does not report PERSON tokenized, though the prompt names a person: {header}"
    );
    let ner = parts.iter().find_map(|p| p.strip_prefix("ner="));
    match (expect, ner) {
        (Expect::Model, Some("model")) | (Expect::Rules, Some("rules")) => Ok(()),
        (Expect::Model, Some("rules")) => anyhow::bail!(
            "the named-entity model is not installed where seam looks ({HEADER}: {header}): \
             install it with `seam models fetch` and set SEAM_MODELS_DIR for the runner (seam \
             inherits it) to the folder that holds `rampart`"
        ),
        _ => {
            anyhow::bail!("{HEADER} does not say `ner=model` or `ner=rules` as expected: {header}")
        }
    }
}

/// Answers of `r` whose header says the model was on.
fn with_model(r: &LoadReport) -> u64 {
    let on = |h: &String| h.split("; ").any(|p| p == "ner=model");
    r.seam_policies
        .iter()
        .filter(|(h, _)| on(h))
        .map(|(_, n)| n)
        .sum()
}

fn mib(kb: u64) -> String {
    format!("{:.1}", kb as f64 / 1024.0)
}

/// The names tables.
pub fn section(out: &mut String, n: &Names) {
    out.push_str(&format!(
        "### Names (ms): through seam, `{PLAIN}` (no policy) vs `{NAMES}` (policy `{POLICY}`, \
         the named-entity model on)\n\n\
         A seam of its own against the same fast mock; its requests take the aliases `{PLAIN}`, \
         `{NAMES}`, `{PLAIN}`, `{NAMES}` in turn. `{NAMES}` tokenizes PERSON, LOCATION and \
         STREET_ADDRESS in the input, with the model reading every text the rules have not \
         settled; `{PLAIN}` does nothing. Every request's text is unique (a ticket number of \
         its own, and one of 576 names, 12 cities and 12 streets at different strides, numbered \
         across slots and runs), so seam's cache of the model's tags (by SHA-256 of the text) \
         never answers; the \"cached\" run repeats one text to show what a hit costs. \
         \"names added\" is `{NAMES}` − `{PLAIN}`, each the mean of its two slots; the noise \
         row is how far the two `{PLAIN}` slots differ. The last column counts the ok answers \
         whose `{HEADER}` said `ner=model` (`ner=rules` for the last run).\n\n\
         The probes: `{NAMES}` answered with `{HEADER}: {}`; with `ner = false`, \
         `{HEADER}: {}`; `{PLAIN}` with none.\n\n",
        n.probe_header, n.rules_probe_header
    ));
    table(out, &n.long, &n.long.scenario.title, with_model);
    table(out, &n.short, &n.short.scenario.title, with_model);
    table(out, &n.cached, &n.cached.scenario.title, with_model);
    let rules = |r: &LoadReport| -> u64 {
        r.seam_policies
            .iter()
            .filter(|(h, _)| h.split("; ").any(|p| p == "ner=rules"))
            .map(|(_, n)| n)
            .sum()
    };
    let title = format!(
        "{}, `ner = false` (rules alone)",
        n.rules_short.scenario.title
    );
    table(out, &n.rules_short, &title, rules);

    let s = &n.saturation;
    out.push_str(&format!(
        "#### {}, each alias alone\n\n\
         | alias | req/s | p50 | p90 | p99 | p99.9 | errors |\n\
         |---|--:|--:|--:|--:|--:|--:|\n\
         | `{NAMES}` | {} |\n| `{PLAIN}` | {} |\n\n",
        s.scenario.title,
        cells(&s.names, s.names.latency_ms),
        cells(&s.plain, s.plain.latency_ms),
    ));

    let (m, r) = (n.model_rss, n.rules_rss);
    out.push_str(&format!(
        "#### seam's memory (RSS, MiB)\n\n\
         | seam | idle after start | peak after the load |\n|---|--:|--:|\n\
         | `{POLICY}` with the model (`ner = true`) | {} | {} |\n\
         | `{POLICY}` by rules alone (`ner = false`, model not loaded) | {} | {} |\n\
         | **the model's share** | {} | {} |\n\n",
        mib(m.idle_kb),
        mib(m.peak_kb),
        mib(r.idle_kb),
        mib(r.peak_kb),
        mib(m.idle_kb.saturating_sub(r.idle_kb)),
        mib(m.peak_kb.saturating_sub(r.peak_kb)),
    ));
}

fn table(out: &mut String, r: &NamesRun, title: &str, tagged: fn(&LoadReport) -> u64) {
    out.push_str(&format!(
        "#### {title}\n\n\
         | alias | req/s | p50 | p90 | p99 | p99.9 | errors | ner |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|\n"
    ));
    let slots = [
        (format!("`{PLAIN}` (slot 1)"), &r.plain),
        (format!("`{PLAIN}` (slot 3)"), &r.plain_b),
        (format!("`{NAMES}` (slot 2)"), &r.names),
        (format!("`{NAMES}` (slot 4)"), &r.names_b),
    ];
    for (alias, report) in slots {
        out.push_str(&format!(
            "| {alias} | {} | {}/{} |\n",
            cells(report, report.latency_ms),
            tagged(report),
            report.ok
        ));
    }
    let (plain, names) = (r.plain_mean(), r.names_mean());
    let rows = [
        (format!("`{PLAIN}`, mean of slots 1 and 3"), plain, false),
        (format!("`{NAMES}`, mean of slots 2 and 4"), names, false),
        ("**names added**".to_owned(), r.added(), true),
        (
            format!("`{PLAIN}` slot 3 − slot 1 (noise)"),
            r.plain_b.latency_ms.minus(r.plain.latency_ms),
            true,
        ),
    ];
    for (name, p, difference) in rows {
        let cell = |v: f64| {
            if difference {
                signed(v)
            } else {
                format!("{v:.3}")
            }
        };
        out.push_str(&format!(
            "| {name} |  | {} | {} | {} | {} |  |  |\n",
            cell(p.p50),
            cell(p.p90),
            cell(p.p99),
            cell(p.p999)
        ));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;
    use crate::report::tests::report;

    #[test]
    fn the_probe_wants_the_policy_a_tokenized_person_and_the_model() {
        let ok = "policy=names; input=LOCATION:tokenize:1,PERSON:tokenize:1,\
                  STREET_ADDRESS:tokenize:1; ner=model";
        assert!(check_header(ok, Expect::Model).is_ok());
        assert!(check_header(ok, Expect::Rules).is_err());
        let rules = ok.replace("ner=model", "ner=rules");
        assert!(check_header(&rules, Expect::Rules).is_ok());
        let missing = check_header(&rules, Expect::Model).unwrap_err().to_string();
        assert!(missing.contains("model is not installed"), "{missing}");
        let cases = [
            "policy=names; ner=model",
            "policy=guard; input=PERSON:tokenize:1; ner=model",
            "policy=names; input=LOCATION:tokenize:1; ner=model",
            "policy=names; input=PERSON:redact:1; ner=model",
            "policy=names; input=PERSON:tokenize:1; ner=partial",
            "policy=names; input=PERSON:tokenize:1",
        ];
        for header in cases {
            assert!(check_header(header, Expect::Model).is_err(), "{header}");
        }
    }

    fn parse(ner: bool) -> seam_config::Config {
        let config = config_toml(&Ports::from_base(18700), 18709, ner);
        let none = |_: &str| None;
        let resolver = seam_config::Resolver {
            env: &none,
            base_dir: std::path::PathBuf::from("/run-dir"),
        };
        seam_config::from_toml(&config, &resolver).unwrap()
    }

    #[test]
    fn the_generated_config_has_the_names_policy_with_the_model_on_or_off() {
        use seam_config::policy::{Action, Entities};
        for ner in [true, false] {
            let parsed = parse(ner);
            assert!(!parsed.audit.enabled);
            assert_eq!(parsed.models["names"].policy, POLICY);
            assert_eq!(parsed.models["plain"].policy, "default");
            for alias in ["names", "plain"] {
                assert_eq!(parsed.models[alias].targets[0].provider, "mock");
            }
            assert_eq!(
                parsed.providers["mock"].base_url,
                "http://127.0.0.1:18701/v1"
            );
            let policy = &parsed.policies[POLICY];
            assert_eq!(policy.ner, ner);
            // The other policy that covers names does not load the model into the rules-alone
            // seam (the built-in `default` covers nothing).
            assert_eq!(parsed.policies["guard"].ner, ner);
            let pii = policy.input.rules.pii.as_ref().unwrap();
            assert_eq!(pii.action, Action::Tokenize);
            let want: Vec<String> = ENTITIES.iter().map(|e| (*e).to_owned()).collect();
            let Entities::Only(mut got) = pii.entities.clone() else {
                panic!("all entities");
            };
            got.sort();
            let mut want = want;
            want.sort();
            assert_eq!(got, want);
        }
    }

    fn run(names_p50: f64) -> NamesRun {
        let mut names = report(names_p50, names_p50 * 2.0, 3.0, false);
        names.seam_policies.insert(
            "policy=names; input=PERSON:tokenize:1; ner=model".to_owned(),
            names.ok,
        );
        NamesRun {
            scenario: Scenario {
                key: "names",
                title: "non-stream @ 6 req/s".to_owned(),
                stream: false,
                rate: Some(6.0),
                concurrency: None,
                prompt: Prompt::NamesLong,
            },
            plain: report(0.200, 0.400, 3.0, false),
            names: names.clone(),
            plain_b: report(0.220, 0.440, 3.0, false),
            names_b: names,
        }
    }

    #[test]
    fn the_table_shows_each_slot_what_the_model_adds_and_the_noise() {
        let mut md = String::new();
        table(&mut md, &run(40.0), "t", with_model);
        let has = |row: &str| assert!(md.contains(row), "{row}\nnot in\n{md}");
        has("| `names` (slot 2) | 3 | 40.000 | 40.000 | 80.000 | 80.000 | 0 | 10/10 |");
        has("| `plain` (slot 1) | 3 | 0.200 | 0.200 | 0.400 | 0.400 | 0 | 0/10 |");
        has("| **names added** |  | +39.790 | +39.790 | +79.580 | +79.580 |");
        has("| `plain` slot 3 − slot 1 (noise) |  | +0.020 | +0.020 | +0.040 | +0.040 |");
    }
}
