//! The prompts scenario: what `model: "prompt:NAME"` and a shadow rollout cost a request, measured
//! through a seam of its own against the same requests without them.
//!
//! **Prompt.** The seam serves `prompts/bench-ticket.prompt` ([`PROMPT_FILE`]: a ~1 KB support
//! template, five variables under a JSON Schema with types, lengths and one default) on the alias
//! `bench`. Three slots take turns on one connection (closed loop, `--prompt ticket`):
//! 1. chat → `bench` with the system and user messages the prompt renders to ([`rendered`]);
//! 2. chat → `prompt:bench-ticket` with only the variables (`seam.vars`), which seam renders into
//!    the same messages before the pipeline;
//! 3. chat → `bench` again: the baseline is the mean of slots 1 and 3, their difference the noise.
//!
//! then slots 1 and 2 each alone at `--saturation-concurrency`.
//!
//! **Shadow.** The alias `bench-shadowed` is `bench` with a shadow rollout (`sample = 1.0`) whose
//! candidate's targets are the same fast mock under another provider name: every answered request
//! also sends a copy to the candidate in the background. Interleaving would hand the copy's
//! background work to whichever slot runs next, so each runs alone, one after the other: `bench`,
//! `bench-shadowed`, `bench` again on one connection, then `bench` and `bench-shadowed` at
//! saturation. seam's `/metrics` is read after each shadowed run: the copies answered and those
//! dropped because [`SHADOW_IN_FLIGHT`](seam_server::rollouts::SHADOW_IN_FLIGHT) were in flight.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode, Uri};
use serde::Serialize;
use serde_json::{Value, json};

use crate::body::Prompt;
use crate::procs::{self, AuditMode, Launcher, Ports, SeamProcess, SeamSpec};
use crate::report::signed;
use crate::routing::Check;
use crate::run::{RunArgs, Scenario, run_load};
use crate::stats::{LoadReport, Percentiles};

/// The prompt's name: its file is `prompts/{PROMPT_NAME}.prompt` beside the config.
pub const PROMPT_NAME: &str = "bench-ticket";
/// The model a prompt request asks for.
pub const PROMPT_MODEL: &str = "prompt:bench-ticket";
/// The alias with the shadow rollout, and the rollout.
pub const SHADOWED: &str = "bench-shadowed";
pub const SHADOW_ROLLOUT: &str = "bench-shadow";

/// The issue's budgets (BENCHMARKS.md): a prompt render's added p50, and what a shadow rollout at
/// 100 % sampling adds to the primary's p50; in ms.
pub const RENDER_P50_MS: f64 = 0.02;
pub const SHADOW_P50_MS: f64 = 0.05;

/// The system template (a YAML double-quoted string in the file: no `"` or `\` in it).
const SYSTEM_TEMPLATE: &str = "You are {{ company }}'s support agent. Answer in {{ language }}, \
     in a calm and friendly tone, and never promise a refund you cannot see in the order history.";

/// The user template, the file's body (the file ends with one newline more, which minijinja
/// drops).
const USER_TEMPLATE: &str = "A customer needs an answer to a support ticket. Read it, then \
write the reply.

Customer: {{ customer }}
Product: {{ product }}

Ticket:
{{ ticket }}

When you answer:
1. Greet {{ customer }} by name and thank them for writing to {{ company }}.
2. Restate the problem in one sentence so they know it was understood.
3. Say what happens next and by when, in plain words; give a date only if the ticket states one.
4. If the ticket mentions a charge, a refund or an order number, repeat the number exactly as \
written and say that the billing team will confirm it by email.
5. Keep personal data out of the reply beyond what the customer wrote.
6. End with one line that invites them to answer if anything is still unclear.

Write at most 150 words. Do not use bullet points in the reply itself.";

/// The variables a request gives (`language` is left to its default).
const VARS: [(&str, &str); 4] = [
    ("company", "Acme Filters"),
    ("customer", "Maria Keller"),
    ("product", "HF-200 replacement filter, 2-pack"),
    (
        "ticket",
        "I ordered two replacement filters last Tuesday and the checkout page timed out twice, \
         so I tried again from my phone. My bank statement now shows three charges of 59.90 EUR \
         for order 48213 instead of one. Please cancel the extra orders and refund the extra \
         charges.",
    ),
];
const LANGUAGE_DEFAULT: &str = "English";

/// The prompt file: front matter (alias `bench`, the system template, a JSON Schema for five
/// variables with one default), then the user template.
pub fn prompt_file() -> String {
    format!(
        "---
description: Answers a support ticket (seam-bench's prompts scenario).
model: bench
system: \"{SYSTEM_TEMPLATE}\"
vars:
  type: object
  required: [company, customer, product, ticket]
  additionalProperties: false
  properties:
    company: {{ type: string, maxLength: 100 }}
    customer: {{ type: string, maxLength: 100 }}
    product: {{ type: string, maxLength: 200 }}
    ticket: {{ type: string, minLength: 1, maxLength: 4000 }}
    language: {{ type: string, enum: [English, German, French], default: {LANGUAGE_DEFAULT} }}
---
{USER_TEMPLATE}
"
    )
}

/// What a request sends as `seam.vars`.
pub fn vars() -> Value {
    Value::Object(
        VARS.iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect(),
    )
}

/// The messages the prompt renders to with [`vars`] (a unit test holds this to
/// `seam_prompts`' own rendering).
pub struct Rendered {
    pub system: String,
    pub user: String,
}

pub fn rendered() -> Rendered {
    let fill = |template: &str| {
        let all = VARS.iter().chain(&[("language", LANGUAGE_DEFAULT)]);
        all.fold(template.to_owned(), |t, (k, v)| {
            t.replace(&format!("{{{{ {k} }}}}"), v)
        })
    };
    Rendered {
        system: fill(SYSTEM_TEMPLATE),
        user: fill(USER_TEMPLATE),
    }
}

/// A chat request for [`Prompt::Ticket`]: for `prompt:…`, the variables; for an alias, the
/// messages they render to. Both ask for 64 tokens.
pub fn chat_request(model: &str, stream: bool) -> Bytes {
    let body = if model.starts_with("prompt:") {
        json!({"model": model, "seam": {"vars": vars()}, "max_tokens": 64, "stream": stream})
    } else {
        let r = rendered();
        json!({
            "model": model,
            "messages": [
                {"role": "system", "content": r.system},
                {"role": "user", "content": r.user}
            ],
            "max_tokens": 64,
            "stream": stream,
        })
    };
    Bytes::from(body.to_string())
}

/// The prompts scenario's additions to the generated config: `bench-shadowed` and its shadow
/// rollout, the candidate's targets the fast mock as `mock_b`. `min_samples_per_step` is out of
/// reach so the rollout never promotes (a promoted shadow stops copying) during a run.
pub fn shadow_toml() -> String {
    format!(
        r#"
[models.{SHADOWED}]
targets = [{{ provider = "mock", model = "bench-model" }}]

[rollouts.{SHADOW_ROLLOUT}]
alias = "{SHADOWED}"
mode = "shadow"
candidate = {{ targets = [{{ provider = "mock_b", model = "bench-model" }}] }}
sample = 1.0
min_samples_per_step = 1000000000
"#
    )
}

/// The prompts seam's whole config.
pub fn config_toml(ports: &Ports) -> String {
    let mut config = procs::config_toml(ports, ports.prompts, AuditMode::Off);
    config.push_str(&shadow_toml());
    config
}

/// Slots 1–3 of the prompt run, or its saturation runs (slot 3 is then absent).
#[derive(Serialize)]
pub struct PromptSlots {
    pub bench: LoadReport,
    pub prompt: LoadReport,
    pub bench_b: Option<LoadReport>,
}

impl PromptSlots {
    /// Per percentile, the baseline: the mean of both `bench` slots, or the one.
    fn baseline(&self) -> Percentiles {
        match &self.bench_b {
            Some(b) => Percentiles::midpoint(self.bench.latency_ms, b.latency_ms),
            None => self.bench.latency_ms,
        }
    }

    fn added(&self) -> Percentiles {
        self.prompt.latency_ms.minus(self.baseline())
    }

    fn noise(&self) -> Option<Percentiles> {
        Some(
            self.bench_b
                .as_ref()?
                .latency_ms
                .minus(self.bench.latency_ms),
        )
    }

    fn reports(&self) -> impl Iterator<Item = &LoadReport> {
        [Some(&self.bench), Some(&self.prompt), self.bench_b.as_ref()]
            .into_iter()
            .flatten()
    }
}

/// What seam's `/metrics` said of the shadow copies of one run.
#[derive(Clone, Copy, Default, Serialize)]
pub struct Copies {
    /// Copies the candidate answered (or failed), counted by seam.
    pub settled: u64,
    /// Copies dropped because the in-flight bound was reached.
    pub dropped: u64,
}

/// The shadow runs, each alone.
#[derive(Serialize)]
pub struct ShadowRuns {
    pub bench: LoadReport,
    pub shadowed: LoadReport,
    pub bench_b: Option<LoadReport>,
    /// The copies of the `shadowed` run (its warm-up included).
    pub copies: Copies,
}

impl ShadowRuns {
    fn as_slots(&self) -> PromptSlots {
        PromptSlots {
            bench: self.bench.clone(),
            prompt: self.shadowed.clone(),
            bench_b: self.bench_b.clone(),
        }
    }

    fn reports(&self) -> impl Iterator<Item = &LoadReport> {
        [
            Some(&self.bench),
            Some(&self.shadowed),
            self.bench_b.as_ref(),
        ]
        .into_iter()
        .flatten()
    }
}

/// Everything the scenario measured.
#[derive(Serialize)]
pub struct Prompts {
    /// One connection, slots in turn.
    pub prompt_one: PromptSlots,
    /// Each slot alone at saturation.
    pub prompt_saturation: PromptSlots,
    /// One connection, each alone: `bench`, `bench-shadowed`, `bench`.
    pub shadow_one: ShadowRuns,
    /// Each alone at saturation: `bench`, `bench-shadowed`.
    pub shadow_saturation: ShadowRuns,
    /// The scenarios' titles, for the tables.
    pub one_title: String,
    pub saturation_title: String,
}

impl Prompts {
    pub fn reports(&self) -> impl Iterator<Item = &LoadReport> {
        self.prompt_one
            .reports()
            .chain(self.prompt_saturation.reports())
            .chain(self.shadow_one.reports())
            .chain(self.shadow_saturation.reports())
    }
}

/// Starts the prompts seam, probes it, runs the prompt and the shadow runs, stops it.
pub async fn run(
    launcher: &Launcher,
    args: &RunArgs,
    seam: &Path,
    dir: &Path,
    ports: &Ports,
) -> anyhow::Result<Prompts> {
    let dir = dir.join("prompts-seam");
    let prompts_dir = dir.join("prompts");
    std::fs::create_dir_all(&prompts_dir)?;
    std::fs::write(
        prompts_dir.join(format!("{PROMPT_NAME}.prompt")),
        prompt_file(),
    )?;
    let spec = SeamSpec {
        dir: &dir,
        port: ports.prompts,
        audit: AuditMode::Off,
        master_key: None,
    };
    let p = procs::start_seam_with(launcher, args, seam, spec, &config_toml(ports)).await?;
    let measured = measure(launcher, args, ports).await;
    stop(p).await?;
    measured
}

async fn measure(launcher: &Launcher, args: &RunArgs, ports: &Ports) -> anyhow::Result<Prompts> {
    let url = Ports::url(ports.prompts);
    let metrics: Uri = format!("http://127.0.0.1:{}/metrics", ports.prompts).parse()?;
    let header = probe(&url.parse()?, &metrics).await?;
    eprintln!(
        "prompts probe: `{PROMPT_MODEL}` answered with x-seam-prompt: {header}; shadow copies flowing"
    );
    let one = |prompt| Scenario {
        key: "prompts_one",
        title: "one connection".to_owned(),
        stream: false,
        rate: None,
        concurrency: Some(1),
        prompt,
    };
    let n = args.saturation_concurrency;
    let saturation = |prompt| Scenario {
        key: "prompts_saturation",
        title: format!("saturation, {n} connections"),
        stream: false,
        rate: None,
        concurrency: Some(n),
        prompt,
    };
    let slots = ["bench", PROMPT_MODEL, "bench"];
    let path = "seam, prompts";
    let mut r = run_load(
        launcher,
        args,
        &one(Prompt::Ticket),
        &slots,
        url.clone(),
        path,
    )
    .await?;
    let bench_b = r.pop();
    let prompt_one = PromptSlots {
        prompt: r.pop().context("no prompt report")?,
        bench: r.pop().context("no bench report")?,
        bench_b,
    };
    let alone = |model: &'static str, scenario: Scenario| {
        let url = url.clone();
        async move {
            let label = format!("seam, prompts, {model}");
            let mut r = run_load(launcher, args, &scenario, &[model], url, &label).await?;
            r.pop().context("the load generator gave no report")
        }
    };
    let prompt_saturation = PromptSlots {
        bench: alone("bench", saturation(Prompt::Ticket)).await?,
        prompt: alone(PROMPT_MODEL, saturation(Prompt::Ticket)).await?,
        bench_b: None,
    };
    let client = crate::load::client();
    let shadowed = |scenario: Scenario| {
        let (client, metrics) = (&client, &metrics);
        let run = alone(SHADOWED, scenario);
        async move {
            let before = copies(client, metrics).await?;
            let report = run.await?;
            // Copies still in flight when the load stopped settle within a few round trips.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let after = copies(client, metrics).await?;
            let copies = Copies {
                settled: after.settled.saturating_sub(before.settled),
                dropped: after.dropped.saturating_sub(before.dropped),
            };
            anyhow::Ok((report, copies))
        }
    };
    let bench = alone("bench", one(Prompt::Short)).await?;
    let (shadowed_one, copies_one) = shadowed(one(Prompt::Short)).await?;
    let shadow_one = ShadowRuns {
        bench,
        shadowed: shadowed_one,
        bench_b: Some(alone("bench", one(Prompt::Short)).await?),
        copies: copies_one,
    };
    let bench = alone("bench", saturation(Prompt::Short)).await?;
    let (shadowed_sat, copies_sat) = shadowed(saturation(Prompt::Short)).await?;
    let shadow_saturation = ShadowRuns {
        bench,
        shadowed: shadowed_sat,
        bench_b: None,
        copies: copies_sat,
    };
    Ok(Prompts {
        prompt_one,
        prompt_saturation,
        shadow_one,
        shadow_saturation,
        one_title: one(Prompt::Short).title,
        saturation_title: saturation(Prompt::Short).title,
    })
}

async fn stop(mut p: SeamProcess) -> anyhow::Result<()> {
    if let Ok(Some(status)) = p.child.try_wait() {
        anyhow::bail!(
            "seam exited during the prompts scenario ({status}); log: {}",
            p.log.display()
        );
    }
    drop(p.child.kill().await);
    Ok(())
}

/// Sends `body` to `url`; the status, the `x-seam-prompt` header and the body.
async fn send(
    client: &crate::load::Client,
    url: &Uri,
    body: Bytes,
) -> anyhow::Result<(StatusCode, Option<String>, Bytes)> {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = hyper::Method::POST;
    *request.uri_mut() = url.clone();
    request.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    let response = client.request(request).await?;
    let status = response.status();
    let header = response
        .headers()
        .get("x-seam-prompt")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, header, body))
}

/// The prompt request must answer 200 with `x-seam-prompt: bench-ticket@…` and the rendered
/// one 200; then requests to `bench-shadowed` until seam counts a settled shadow copy (the
/// rollout starts on the rollout thread's first tick, within about a second). The header.
async fn probe(url: &Uri, metrics: &Uri) -> anyhow::Result<String> {
    let client = crate::load::client();
    let shown = |b: &Bytes| String::from_utf8_lossy(&b[..b.len().min(500)]).into_owned();
    let (status, header, body) = send(&client, url, chat_request(PROMPT_MODEL, false)).await?;
    anyhow::ensure!(
        status == StatusCode::OK,
        "`{PROMPT_MODEL}` answered {status}: {}",
        shown(&body)
    );
    let header = header
        .filter(|h| h.starts_with(&format!("{PROMPT_NAME}@")))
        .context("the prompt's answer has no x-seam-prompt header naming it")?;
    let (status, _, body) = send(&client, url, chat_request("bench", false)).await?;
    anyhow::ensure!(
        status == StatusCode::OK,
        "`bench` with the rendered messages answered {status}: {}",
        shown(&body)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _, body) = send(
            &client,
            url,
            crate::body::request(SHADOWED, false, Prompt::Short),
        )
        .await?;
        anyhow::ensure!(
            status == StatusCode::OK,
            "`{SHADOWED}` answered {status}: {}",
            shown(&body)
        );
        if copies(&client, metrics).await?.settled > 0 {
            return Ok(header);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "no shadow copy of `{SHADOWED}` was counted within 15 s: the rollout did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The shadow copies seam has counted so far.
async fn copies(client: &crate::load::Client, metrics: &Uri) -> anyhow::Result<Copies> {
    let mut request = Request::new(Full::default());
    *request.uri_mut() = metrics.clone();
    let response = client.request(request).await.context("reading /metrics")?;
    let body = response.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&body);
    Ok(Copies {
        settled: counter(
            &text,
            "seam_rollout_requests_total",
            &["variant=\"shadow\""],
        ),
        dropped: counter(&text, "seam_rollout_shadow_dropped_total", &[]),
    })
}

/// The sum of a Prometheus counter's series for the shadow rollout that carry every label in
/// `with`.
fn counter(text: &str, name: &str, with: &[&str]) -> u64 {
    let rollout = format!("rollout=\"{SHADOW_ROLLOUT}\"");
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
        .filter(|l| l.contains(&rollout) && with.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// The prompts tables.
pub fn section(out: &mut String, p: &Prompts) {
    out.push_str(&format!(
        "### Prompts and rollouts (ms): through a seam of their own\n\n\
         Prompt: chat → `bench` with the messages `prompts/{PROMPT_NAME}.prompt` renders to \
         (~1 KB, 5 variables), chat → `{PROMPT_MODEL}` with only the variables, and chat → \
         `bench` again, in turn on one connection; added = the prompt slot − the mean of the \
         two `bench` slots. Shadow: `bench`, `{SHADOWED}` (a shadow rollout, `sample = 1.0`, its \
         candidate the same mock) and `bench` again, each alone; added = `{SHADOWED}` − the mean \
         of the `bench` runs.\n\n"
    ));
    let prompt_rows = [
        (
            "1. chat → `bench`, rendered messages",
            Some(&p.prompt_one.bench),
        ),
        (
            "2. chat → `prompt:bench-ticket`, variables",
            Some(&p.prompt_one.prompt),
        ),
        (
            "3. chat → `bench`, rendered messages",
            p.prompt_one.bench_b.as_ref(),
        ),
    ];
    let title = format!("prompt, {}, slots in turn", p.one_title);
    table(out, &title, &prompt_rows, &p.prompt_one);
    let shadow_rows = [
        ("`bench`", Some(&p.shadow_one.bench)),
        ("`bench-shadowed`", Some(&p.shadow_one.shadowed)),
        ("`bench` again", p.shadow_one.bench_b.as_ref()),
    ];
    let title = format!("shadow, {}, each alone", p.one_title);
    table(out, &title, &shadow_rows, &p.shadow_one.as_slots());
    out.push_str(&format!(
        "#### {}, each alone\n\n\
         | run | req/s | p50 | p99 | errors | req/s vs baseline |\n|---|--:|--:|--:|--:|--:|\n",
        p.saturation_title
    ));
    let sat = [
        (
            "chat → `bench`, rendered messages",
            &p.prompt_saturation.bench,
            None,
        ),
        (
            "chat → `prompt:bench-ticket`",
            &p.prompt_saturation.prompt,
            Some(&p.prompt_saturation.bench),
        ),
        ("`bench`", &p.shadow_saturation.bench, None),
        (
            "`bench-shadowed`",
            &p.shadow_saturation.shadowed,
            Some(&p.shadow_saturation.bench),
        ),
    ];
    for (name, r, base) in sat {
        let vs = base.map_or("—".to_owned(), |b| {
            ratio(r.throughput_rps, b.throughput_rps)
        });
        out.push_str(&format!(
            "| {name} | {:.0} | {:.3} | {:.3} | {} | {vs} |\n",
            r.throughput_rps, r.latency_ms.p50, r.latency_ms.p99, r.errors
        ));
    }
    out.push('\n');
    for (what, s) in [
        ("one connection", &p.shadow_one),
        ("saturation", &p.shadow_saturation),
    ] {
        out.push_str(&format!(
            "Shadow copies, {what} run (warm-up included): {} settled, {} dropped ({}).\n",
            s.copies.settled,
            s.copies.dropped,
            drop_share(s.copies)
        ));
    }
    out.push('\n');
}

fn ratio(x: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.2}×", x / base)
    } else {
        "—".to_owned()
    }
}

fn drop_share(c: Copies) -> String {
    let all = c.settled + c.dropped;
    if all == 0 {
        return "no copies".to_owned();
    }
    format!("{:.1}% dropped", 100.0 * c.dropped as f64 / all as f64)
}

fn table(out: &mut String, title: &str, rows: &[(&str, Option<&LoadReport>)], s: &PromptSlots) {
    out.push_str(&format!(
        "#### {title}\n\n\
         | run | req/s | p50 | p90 | p99 | p99.9 | errors |\n|---|--:|--:|--:|--:|--:|--:|\n"
    ));
    for (name, r) in rows {
        let Some(r) = r else { continue };
        let p = r.latency_ms;
        out.push_str(&format!(
            "| {name} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} | {} |\n",
            r.throughput_rps, p.p50, p.p90, p.p99, p.p999, r.errors
        ));
    }
    let mut diffs = vec![("**added**", s.added())];
    if let Some(n) = s.noise() {
        diffs.push(("second baseline − first (noise)", n));
    }
    for (name, p) in diffs {
        out.push_str(&format!(
            "| {name} |  | {} | {} | {} | {} |  |\n",
            signed(p.p50),
            signed(p.p90),
            signed(p.p99),
            signed(p.p999)
        ));
    }
    out.push('\n');
}

/// The prompts rows of the targets table: the render's and the shadow's added p50 at one
/// connection against the issue's budgets, and every answer ok.
pub fn checks(p: &Prompts) -> Vec<Check> {
    let row = |name: &str, s: &PromptSlots, budget: f64| {
        let noise = s.noise().map_or(String::new(), |n| {
            format!(" (baselines differ by {})", signed(n.p50))
        });
        let added = s.added().p50;
        (
            name.to_owned(),
            Some((format!("{} ms{noise}", signed(added)), added <= budget)),
            format!("≤ {budget} ms"),
        )
    };
    let (ok, requests) = p
        .reports()
        .fold((0, 0), |(o, n), r| (o + r.ok, n + r.requests));
    vec![
        row(
            "prompt render added p50, `prompt:NAME` − the rendered request, one connection",
            &p.prompt_one,
            RENDER_P50_MS,
        ),
        row(
            "shadow rollout (sample 1.0) added p50 to the primary, one connection",
            &p.shadow_one.as_slots(),
            SHADOW_P50_MS,
        ),
        (
            "prompts scenario answers ok".to_owned(),
            Some((
                format!("{ok}/{requests} ok"),
                requests > 0 && ok == requests,
            )),
            "all".to_owned(),
        ),
    ]
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
    fn the_prompt_renders_to_the_baselines_messages_through_seams_own_registry() {
        let prompt = seam_prompts::Prompt::parse(PROMPT_NAME, &prompt_file()).unwrap();
        assert_eq!(prompt.variables().len(), 5, "{:?}", prompt.variables());
        let ours = rendered();
        let theirs = prompt.render(&vars()).unwrap();
        assert_eq!(theirs.system.as_deref(), Some(ours.system.as_str()));
        assert_eq!(theirs.user, ours.user);
        assert!(!ours.user.contains("{{"), "{}", ours.user);
        // About a kilobyte of template, rendered to a bit more.
        let template = SYSTEM_TEMPLATE.len() + USER_TEMPLATE.len();
        assert!((900..1300).contains(&template), "{template}");
        assert_eq!(prompt.model.as_deref(), Some("bench"));
    }

    #[tokio::test]
    async fn the_servers_prompt_step_turns_the_prompt_request_into_the_baseline() {
        use seam_server::surface::chat::Chat;
        let dir = std::env::temp_dir().join(format!("seam-bench-prompts-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("prompts")).unwrap();
        let file = dir.join("prompts").join(format!("{PROMPT_NAME}.prompt"));
        std::fs::write(&file, prompt_file()).unwrap();
        let registry = seam_prompts::Registry::load(&dir.join("prompts")).unwrap();
        let store = seam_store::StoreConfig {
            backend: seam_store::BackendConfig::Sqlite {
                path: dir.join("seam.db"),
            },
            master_key: None,
            retention: Vec::new(),
        };
        let versions = seam_server::prompts::Versions::open(&store, true);
        let body = chat_request(PROMPT_MODEL, false);
        let (out, applied) =
            seam_server::prompts::apply::<Chat>(&versions, &registry, body, |_, _| None)
                .await
                .unwrap();
        assert!(applied.unwrap().id.starts_with("bench-ticket@"));
        let seam_server::prompts::Body::Parsed(out) = out else {
            panic!("a prompt body is parsed")
        };
        let baseline: Value = serde_json::from_slice(&chat_request("bench", false)).unwrap();
        assert_eq!(out, baseline);
        drop(std::fs::remove_dir_all(&dir));
    }

    #[test]
    fn the_generated_config_has_a_shadow_rollout_that_never_promotes() {
        let config = config_toml(&Ports::from_base(18700));
        let resolver = seam_config::Resolver {
            env: &|_| None,
            base_dir: std::path::PathBuf::from("/run-dir"),
        };
        let parsed = seam_config::from_toml(&config, &resolver).unwrap();
        assert!(config.contains("listen = \"127.0.0.1:18710\""));
        let r = &parsed.rollouts[SHADOW_ROLLOUT];
        assert_eq!(r.mode(), seam_rollouts::Mode::Shadow);
        assert_eq!(
            r.subject,
            seam_config::RolloutSubject::Alias(SHADOWED.into())
        );
        assert_eq!(r.sample, 1.0);
        assert_eq!(r.candidate.targets[0].provider, "mock_b");
        assert_eq!(r.spec.min_samples_per_step, 1_000_000_000);
        assert_eq!(parsed.models[SHADOWED].targets[0].provider, "mock");
    }

    #[test]
    fn counters_are_summed_over_the_shadow_rollouts_series() {
        let text = "# TYPE seam_rollout_requests_total counter\n\
            seam_rollout_requests_total{rollout=\"bench-shadow\",variant=\"shadow\",outcome=\"ok\"} 120\n\
            seam_rollout_requests_total{rollout=\"bench-shadow\",variant=\"shadow\",outcome=\"error\"} 3\n\
            seam_rollout_requests_total{rollout=\"bench-shadow\",variant=\"control\",outcome=\"ok\"} 99\n\
            seam_rollout_requests_total{rollout=\"other\",variant=\"shadow\",outcome=\"ok\"} 7\n\
            seam_rollout_shadow_dropped_total{rollout=\"bench-shadow\"} 4\n";
        let shadow = ["variant=\"shadow\""];
        assert_eq!(counter(text, "seam_rollout_requests_total", &shadow), 123);
        assert_eq!(counter(text, "seam_rollout_shadow_dropped_total", &[]), 4);
        assert_eq!(counter("", "seam_rollout_shadow_dropped_total", &[]), 0);
    }

    fn prompts(prompt_p50: f64, shadow_p50: f64) -> Prompts {
        let r = |p50: f64| report(p50, p50 + 0.2, 1000.0, false);
        let slots = |p50| PromptSlots {
            bench: r(0.200),
            prompt: r(p50),
            bench_b: Some(r(0.210)),
        };
        let shadow = |p50| ShadowRuns {
            bench: r(0.200),
            shadowed: r(p50),
            bench_b: Some(r(0.210)),
            copies: Copies {
                settled: 990,
                dropped: 10,
            },
        };
        Prompts {
            prompt_one: slots(prompt_p50),
            prompt_saturation: PromptSlots {
                bench_b: None,
                ..slots(prompt_p50)
            },
            shadow_one: shadow(shadow_p50),
            shadow_saturation: ShadowRuns {
                bench_b: None,
                ..shadow(shadow_p50)
            },
            one_title: "one connection".into(),
            saturation_title: "saturation, 64 connections".into(),
        }
    }

    #[test]
    fn the_tables_and_checks_hold_each_addition_to_its_budget() {
        let p = prompts(0.220, 0.240);
        let mut md = String::new();
        section(&mut md, &p);
        let has = |row: &str| assert!(md.contains(row), "{row}\nnot in\n{md}");
        has("| **added** |  | +0.015 |");
        has("| second baseline − first (noise) |  | +0.010 |");
        has("| **added** |  | +0.035 |");
        has("1.0% dropped");
        let met: Vec<_> = checks(&p).into_iter().map(|c| c.1.unwrap().1).collect();
        assert_eq!(met, [true, true, true]);
        let over = prompts(0.240, 0.270);
        let met: Vec<_> = checks(&over).into_iter().map(|c| c.1.unwrap().1).collect();
        assert_eq!(met, [false, false, true]);
        assert!(checks(&over)[0].1.as_ref().unwrap().0.contains("+0.035 ms"));
        let mut broken = prompts(0.220, 0.240);
        broken.shadow_one.shadowed.ok -= 1;
        assert!(!checks(&broken)[2].1.as_ref().unwrap().1);
    }
}
