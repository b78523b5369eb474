//! The policy scenarios: what a policy adds per request, measured alias against alias in one run.
//!
//! Every request carries the same ~1 KB prompt with four personal-data values in it
//! ([`Prompt::Pii`]) and goes through seam to the same fast mock, taking the aliases in turn:
//! - `plain`: no policy (the built-in `default`, which does nothing and sends no header);
//! - `guarded`: the policy `guard` (input PII tokenized, secrets blocked, injection flagged, output
//!   PII redacted), so seam scans the prompt with every detector, scores it with the injection
//!   heuristics and classifier, swaps four values for tokens, and scans the answer (restoring any
//!   token in it) before it reaches the caller.
//!
//! The slots are `plain`, `guarded`, `plain`, `guarded`, as in the routing scenarios: each alias
//! meets the same moments of the machine, and two slots of one alias show how finely the run
//! resolves. It runs non-stream at `--policy-rate`, then streamed at `--stream-rate` (the output
//! stage as a stream filter with its hold-back).
//!
//! Before the load one probe per alias checks that `guarded` really runs the policy (its
//! `x-seam-policy` header names each of the four entities as tokenized) and `plain` does not.

use anyhow::Context as _;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use serde::Serialize;

use crate::body::{self, PII_ENTITIES, Prompt};
use crate::load;
use crate::procs::{Launcher, Ports};
use crate::report::{cells, signed};
use crate::routing::Check;
use crate::run::{RunArgs, Scenario, run_load};
use crate::stats::{LoadReport, Percentiles};

pub const PLAIN: &str = "plain";
pub const GUARDED: &str = "guarded";
/// The policy `guarded` uses (`[policies.guard]` in the generated config).
pub const POLICY: &str = "guard";

/// The slots, in the order requests take them.
const SLOTS: [&str; 4] = [PLAIN, GUARDED, PLAIN, GUARDED];

/// The issue's budget for what a policy adds to a 1 KB prompt end to end (BENCHMARKS.md).
pub const ADDED_P50_MS: f64 = 0.1;
pub const ADDED_P99_MS: f64 = 0.5;

/// The seam header that says what the policy did (entity names, actions and counts).
const HEADER: &str = "x-seam-policy";

/// One run, both aliases in turn.
#[derive(Serialize)]
pub struct PolicyRun {
    pub scenario: Scenario,
    /// `plain`, slot 1.
    pub plain: LoadReport,
    /// `guarded`, slot 2.
    pub guarded: LoadReport,
    /// `plain`, slot 3.
    pub plain_b: LoadReport,
    /// `guarded`, slot 4.
    pub guarded_b: LoadReport,
}

/// Which latency of a report a table shows.
#[derive(Clone, Copy)]
pub enum Measure {
    /// To the last body byte.
    Whole,
    /// To the first non-empty body frame (streams).
    FirstChunk,
}

impl Measure {
    pub fn of(self, r: &LoadReport) -> Percentiles {
        match self {
            Measure::Whole => r.latency_ms,
            Measure::FirstChunk => r.ttfc_ms.unwrap_or_default(),
        }
    }
}

impl PolicyRun {
    /// Per percentile, the mean of the two `plain` slots.
    fn plain_mean(&self, m: Measure) -> Percentiles {
        Percentiles::midpoint(m.of(&self.plain), m.of(&self.plain_b))
    }

    /// Per percentile, the mean of the two `guarded` slots.
    fn guarded_mean(&self, m: Measure) -> Percentiles {
        Percentiles::midpoint(m.of(&self.guarded), m.of(&self.guarded_b))
    }

    /// What the policy adds: `guarded` − `plain`, each the mean of its two slots.
    pub fn added(&self) -> Percentiles {
        let m = Measure::Whole;
        self.guarded_mean(m).minus(self.plain_mean(m))
    }

    /// How far apart the two `plain` slots are at p50: differences this small are noise.
    pub fn drift_p50(&self) -> f64 {
        self.plain_b.latency_ms.p50 - self.plain.latency_ms.p50
    }

    fn guarded_reports(&self) -> [&LoadReport; 2] {
        [&self.guarded, &self.guarded_b]
    }

    fn plain_reports(&self) -> [&LoadReport; 2] {
        [&self.plain, &self.plain_b]
    }

    pub fn reports(&self) -> [&LoadReport; 4] {
        [&self.plain, &self.guarded, &self.plain_b, &self.guarded_b]
    }
}

/// Both policy runs and what the probe saw.
#[derive(Serialize)]
pub struct Policy {
    /// The `x-seam-policy` header of the probe's non-stream answer from `guarded`.
    pub probe_header: String,
    pub unary: PolicyRun,
    pub stream: PolicyRun,
}

impl Policy {
    pub fn reports(&self) -> impl Iterator<Item = &LoadReport> {
        self.unary
            .reports()
            .into_iter()
            .chain(self.stream.reports())
    }
}

/// The probe, then the non-stream and the stream run through seam.
pub async fn run(launcher: &Launcher, args: &RunArgs, ports: &Ports) -> anyhow::Result<Policy> {
    let url = Ports::url(ports.seam);
    let probe_header = probe(&url.parse()?).await?;
    eprintln!("policy probe: `{GUARDED}` answered with {HEADER}: {probe_header}");
    let unary = one_run(launcher, args, &url, false, args.policy_rate).await?;
    let stream = one_run(launcher, args, &url, true, args.stream_rate).await?;
    Ok(Policy {
        probe_header,
        unary,
        stream,
    })
}

async fn one_run(
    launcher: &Launcher,
    args: &RunArgs,
    url: &str,
    stream: bool,
    rate: f64,
) -> anyhow::Result<PolicyRun> {
    let scenario = Scenario {
        key: if stream { "policy_stream" } else { "policy" },
        title: format!(
            "{} @ {rate:.0} req/s, 1 KB prompt, {} slots in turn ({:.0} req/s each)",
            if stream { "stream" } else { "non-stream" },
            SLOTS.len(),
            rate / SLOTS.len() as f64
        ),
        stream,
        rate: Some(rate),
        concurrency: None,
        prompt: Prompt::Pii,
    };
    let reports = run_load(
        launcher,
        args,
        &scenario,
        &SLOTS,
        url.to_owned(),
        "seam, policy",
    )
    .await?;
    let [plain, guarded, plain_b, guarded_b] = <[LoadReport; 4]>::try_from(reports)
        .map_err(|r| anyhow::anyhow!("{} policy reports for 4 slots", r.len()))?;
    Ok(PolicyRun {
        scenario,
        plain,
        guarded,
        plain_b,
        guarded_b,
    })
}

/// One request per alias (and a stream to `guarded`) before the load: `guarded` must answer with
/// an `x-seam-policy` header naming every entity of the prompt as tokenized, `plain` with none.
/// Returns the header of the non-stream `guarded` answer.
async fn probe(url: &Uri) -> anyhow::Result<String> {
    let client = load::client();
    let header = ask(&client, url, GUARDED, false).await?.with_context(|| {
        format!("`{GUARDED}` answered without an {HEADER} header: its policy did not run")
    })?;
    check_header(&header)?;
    let streamed = ask(&client, url, GUARDED, true).await?.with_context(|| {
        format!("a stream from `{GUARDED}` came without an {HEADER} header: its policy did not run")
    })?;
    check_header(&streamed)?;
    if let Some(h) = ask(&client, url, PLAIN, false).await? {
        anyhow::bail!("`{PLAIN}` has no policy but answered with {HEADER}: {h}");
    }
    Ok(header)
}

/// Sends the policy prompt to `model`; the answer's `x-seam-policy` header, if any.
async fn ask(
    client: &load::Client,
    url: &Uri,
    model: &str,
    stream: bool,
) -> anyhow::Result<Option<String>> {
    let body = body::request(model, stream, Prompt::Pii);
    let what = format!("the policy probe to `{model}` (stream: {stream})");
    probe_header(client, url, body, &what).await
}

/// POSTs `body` to `url` and returns the answer's `x-seam-policy` header, if any; an answer
/// other than 200 is an error naming `what` with the start of its body.
pub(crate) async fn probe_header(
    client: &load::Client,
    url: &Uri,
    body: bytes::Bytes,
    what: &str,
) -> anyhow::Result<Option<String>> {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = url.clone();
    request
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let response = client
        .request(request)
        .await
        .with_context(|| format!("sending {what}"))?;
    let status = response.status();
    let header = response
        .headers()
        .get(HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = response
        .into_body()
        .collect()
        .await
        .with_context(|| format!("reading the answer to {what}"))?
        .to_bytes();
    anyhow::ensure!(
        status == StatusCode::OK,
        "{what} answered {status}: {}",
        String::from_utf8_lossy(&body[..body.len().min(500)])
    );
    Ok(header)
}

/// `policy=guard; input=CREDIT_CARD:tokenize:1,…`: the policy's name, and each entity of the
/// prompt tokenized at input.
fn check_header(header: &str) -> anyhow::Result<()> {
    let mut parts = header.split("; ");
    anyhow::ensure!(
        parts.next() == Some(&format!("policy={POLICY}")),
        "{HEADER} does not name the policy `{POLICY}`: {header}"
    );
    let input = parts
        .find_map(|p| p.strip_prefix("input="))
        .with_context(|| format!("{HEADER} reports no input decisions: {header}"))?;
    for entity in PII_ENTITIES {
        let tokenized = format!("{entity}:tokenize:");
        anyhow::ensure!(
            input.split(',').any(|item| item.starts_with(&tokenized)),
            "{HEADER} does not report {entity} tokenized, though the prompt holds one: {header}"
        );
    }
    anyhow::ensure!(
        header.split("; ").any(|p| p.starts_with("injection=")),
        "{HEADER} reports no injection score, though the policy assesses injection: {header}"
    );
    Ok(())
}

/// The policy tables: non-stream latency, then the stream's first chunk and whole stream.
pub fn section(out: &mut String, p: &Policy) {
    out.push_str(&format!(
        "### Policy (ms): through seam, `{PLAIN}` (no policy) vs `{GUARDED}` (policy `{POLICY}`)\n\n\
         Runs through seam against the same fast mock, every request carrying the same ~1 KB \
         prompt with an email address, a phone number, a card number and an IBAN, its requests \
         taking the aliases `{PLAIN}`, `{GUARDED}`, `{PLAIN}`, `{GUARDED}` in turn. `{GUARDED}` \
         tokenizes personal data in the prompt, blocks secrets, and redacts personal data in the \
         answer; `{PLAIN}` uses the built-in `default` policy, which does nothing. Each alias is \
         the mean of its two slots per percentile; \"policy added\" is `{GUARDED}` − `{PLAIN}`; \
         how far two slots of one alias differ is how finely the comparison resolves. The last \
         column counts the ok answers that carried seam's `{HEADER}` header.\n\n\
         The probe before the load: `{GUARDED}` answered with `{HEADER}: {}`; `{PLAIN}` with none.\n\n",
        p.probe_header
    ));
    table(out, &p.unary, &p.unary.scenario.title, Measure::Whole);
    let title = &p.stream.scenario.title;
    table(
        out,
        &p.stream,
        &format!("{title}: first chunk"),
        Measure::FirstChunk,
    );
    table(
        out,
        &p.stream,
        &format!("{title}: whole stream"),
        Measure::Whole,
    );
}

fn table(out: &mut String, r: &PolicyRun, title: &str, m: Measure) {
    out.push_str(&format!(
        "#### {title}\n\n\
         | alias | req/s | p50 | p90 | p99 | p99.9 | errors | {HEADER} |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|\n"
    ));
    let slots = [
        (format!("`{PLAIN}` (slot 1)"), &r.plain),
        (format!("`{PLAIN}` (slot 3)"), &r.plain_b),
        (format!("`{GUARDED}` (slot 2)"), &r.guarded),
        (format!("`{GUARDED}` (slot 4)"), &r.guarded_b),
    ];
    for (alias, report) in slots {
        out.push_str(&format!(
            "| {alias} | {} | {}/{} |\n",
            cells(report, m.of(report)),
            report.with_policy_header(),
            report.ok
        ));
    }
    let (plain, guarded) = (r.plain_mean(m), r.guarded_mean(m));
    let rows = [
        (format!("`{PLAIN}`, mean of slots 1 and 3"), plain, false),
        (
            format!("`{GUARDED}`, mean of slots 2 and 4"),
            guarded,
            false,
        ),
        ("**policy added**".to_owned(), guarded.minus(plain), true),
        (
            format!("`{PLAIN}` slot 3 − slot 1 (noise)"),
            m.of(&r.plain_b).minus(m.of(&r.plain)),
            true,
        ),
        (
            format!("`{GUARDED}` slot 4 − slot 2 (noise)"),
            m.of(&r.guarded_b).minus(m.of(&r.guarded)),
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

/// The policy rows of the targets table: the non-stream run against the issue's budget, and the
/// header on every answer of `guarded` (both runs) and none of `plain`.
pub fn checks(p: &Policy) -> Vec<Check> {
    let added = p.unary.added();
    let noise = format!("`{PLAIN}` slots differ by {}", signed(p.unary.drift_p50()));
    let row =
        |value: f64, limit: f64| Some((format!("{} ms ({noise})", signed(value)), value <= limit));
    let runs = [&p.unary, &p.stream];
    let guarded = runs.iter().flat_map(|r| r.guarded_reports());
    let (with, ok) = guarded.fold((0, 0), |(w, o), r| (w + r.with_policy_header(), o + r.ok));
    let plain = runs.iter().flat_map(|r| r.plain_reports());
    let plain_with: u64 = plain.map(LoadReport::with_policy_header).sum();
    let errors: u64 = p.reports().map(|r| r.errors).sum();
    let header = (
        format!("{with}/{ok} `{GUARDED}`; {plain_with} `{PLAIN}`; {errors} errors"),
        ok > 0 && with == ok && plain_with == 0 && errors == 0,
    );
    let title = "1 KB prompt, 4 PII values, non-stream";
    vec![
        (
            format!("policy added p50, `{GUARDED}` − `{PLAIN}` ({title})"),
            row(added.p50, ADDED_P50_MS),
            format!("≤ {ADDED_P50_MS} ms"),
        ),
        (
            format!("policy added p99, `{GUARDED}` − `{PLAIN}` ({title})"),
            row(added.p99, ADDED_P99_MS),
            format!("≤ {ADDED_P99_MS} ms"),
        ),
        (
            format!("ok answers with `{HEADER}` (both policy runs), and errors"),
            Some(header),
            format!("all `{GUARDED}`; no `{PLAIN}`; 0 errors"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::report;

    const HEADER_OK: &str = "policy=guard; input=CREDIT_CARD:tokenize:1,EMAIL_ADDRESS:tokenize:1,\
                             IBAN_CODE:tokenize:1,PHONE_NUMBER:tokenize:1; injection=0.01; \
                             injection_by=classifier";

    #[test]
    fn the_probe_accepts_only_a_header_that_names_the_policy_and_every_entity() {
        let cases = [
            (HEADER_OK, true),
            (
                "policy=guard; input=CREDIT_CARD:tokenize:1,EMAIL_ADDRESS:tokenize:2,\
                 IBAN_CODE:tokenize:1,PHONE_NUMBER:tokenize:1,URL:tokenize:1; output=URL:redact:1; \
                 injection=0.00",
                true,
            ),
            (
                "policy=guard; input=CREDIT_CARD:tokenize:1,EMAIL_ADDRESS:tokenize:1,\
                 IBAN_CODE:tokenize:1,PHONE_NUMBER:tokenize:1",
                false,
            ),
            ("policy=default", false),
            ("policy=guard", false),
            (
                "policy=other; input=CREDIT_CARD:tokenize:1,EMAIL_ADDRESS:tokenize:1,\
                 IBAN_CODE:tokenize:1,PHONE_NUMBER:tokenize:1",
                false,
            ),
            (
                "policy=guard; input=CREDIT_CARD:tokenize:1,EMAIL_ADDRESS:tokenize:1,\
                 IBAN_CODE:tokenize:1",
                false,
            ),
            (
                "policy=guard; input=CREDIT_CARD:redact:1,EMAIL_ADDRESS:tokenize:1,\
                 IBAN_CODE:tokenize:1,PHONE_NUMBER:tokenize:1",
                false,
            ),
        ];
        for (header, ok) in cases {
            assert_eq!(check_header(header).is_ok(), ok, "{header}");
        }
    }

    fn with_header(p50: f64, p99: f64, stream: bool) -> LoadReport {
        let mut r = report(p50, p99, 250.0, stream);
        r.seam_policies.insert(HEADER_OK.to_owned(), r.ok);
        r
    }

    fn run(stream: bool, guarded: (f64, f64)) -> PolicyRun {
        PolicyRun {
            scenario: Scenario {
                key: "policy",
                title: "non-stream @ 1000 req/s".to_owned(),
                stream,
                rate: Some(1000.0),
                concurrency: None,
                prompt: Prompt::Pii,
            },
            plain: report(0.200, 0.400, 250.0, stream),
            guarded: with_header(guarded.0, guarded.1, stream),
            plain_b: report(0.220, 0.440, 250.0, stream),
            guarded_b: with_header(guarded.0 + 0.020, guarded.1, stream),
        }
    }

    fn policy(guarded: (f64, f64)) -> Policy {
        Policy {
            probe_header: HEADER_OK.to_owned(),
            unary: run(false, guarded),
            stream: run(true, (0.300, 0.500)),
        }
    }

    #[test]
    fn the_table_shows_each_slot_and_what_the_policy_adds() {
        let mut md = String::new();
        section(&mut md, &policy((0.250, 0.600)));
        let has = |row: &str| assert!(md.contains(row), "{row}\nnot in\n{md}");
        has("| `guarded` (slot 2) | 250 | 0.250 | 0.250 | 0.600 | 0.600 | 0 | 10/10 |");
        has("| `plain` (slot 1) | 250 | 0.200 | 0.200 | 0.400 | 0.400 | 0 | 0/10 |");
        // Plain: mean of 0.200/0.400 and 0.220/0.440; guarded: of 0.250/0.600 and 0.270/0.600.
        has("| `plain`, mean of slots 1 and 3 |  | 0.210 | 0.210 | 0.420 | 0.420 |");
        has("| **policy added** |  | +0.050 | +0.050 | +0.180 | +0.180 |");
        has("| `plain` slot 3 − slot 1 (noise) |  | +0.020 | +0.020 | +0.040 | +0.040 |");
        has("| `guarded` slot 4 − slot 2 (noise) |  | +0.020 | +0.020 | +0.000 | +0.000 |");
        has("#### non-stream @ 1000 req/s: first chunk\n");
        has(&format!(
            "`guarded` answered with `x-seam-policy: {HEADER_OK}`"
        ));
    }

    #[test]
    fn checks_hold_the_difference_to_the_issue_budget_and_want_every_header() {
        let met = |p: &Policy| -> Vec<Option<bool>> {
            checks(p).into_iter().map(|c| c.1.map(|m| m.1)).collect()
        };
        let ok = policy((0.250, 0.600));
        let rows = checks(&ok);
        let noise = "(`plain` slots differ by +0.020)";
        assert_eq!(rows[0].1, Some((format!("+0.050 ms {noise}"), true)));
        assert_eq!(rows[1].1, Some((format!("+0.180 ms {noise}"), true)));
        let header = "40/40 `guarded`; 0 `plain`; 0 errors".to_owned();
        assert_eq!(rows[2].1, Some((header, true)));
        // +0.110 at p50, +0.520 at p99.
        assert_eq!(met(&policy((0.310, 0.600)))[0], Some(false));
        assert_eq!(met(&policy((0.250, 0.940)))[1], Some(false));
        // One guarded answer without the header, or one plain answer with it, fails the check.
        let mut p = policy((0.250, 0.600));
        p.stream.guarded_b.seam_policies.clear();
        assert_eq!(met(&p)[2], Some(false));
        let mut p = policy((0.250, 0.600));
        p.unary.plain.seam_policies.insert(HEADER_OK.to_owned(), 1);
        assert_eq!(met(&p)[2], Some(false));
    }
}
