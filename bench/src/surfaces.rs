//! The surfaces scenario: what answering on another API surface costs over chat completions,
//! measured slot against slot in one run through seam.
//!
//! The requests take six slots in turn (a `--model` each, see [`Surface::split`]):
//! 1. chat → `bench`: chat completions to the OpenAI-format fast mock, the baseline;
//! 2. Responses → `bench`: a Responses request, translated to chat for the same mock;
//! 3. Messages → `bench`: a Messages request, translated to chat for the same mock;
//! 4. chat → `bench-anth`: chat completions to the same mock speaking Anthropic's format
//!    (`kind = "anthropic"`, the mock's `/v1/messages`), the baseline of slot 5;
//! 5. Messages → `bench-anth`: Messages to an Anthropic target: the request passes through as
//!    the client wrote it (after the policy), the answer comes back through the chat shape;
//! 6. chat → `bench` again: the baseline is the mean of slots 1 and 6, and their difference shows
//!    how finely the run resolves.
//!
//! It runs non-stream at `--surfaces-rate`, then streamed at `--stream-rate`, then each slot
//! alone in a closed loop of `--saturation-concurrency` workers (interleaved, every slot would get
//! the same share of a closed loop's throughput by construction). Before the load a probe sends
//! one request per slot, non-stream and stream, and stops the run unless each answers 200 in its
//! surface's shape with the canned text (non-stream) or ends with its surface's final event.

use anyhow::Context as _;
use http_body_util::BodyExt;
use hyper::{StatusCode, Uri};
use serde::Serialize;
use serde_json::Value;

use crate::body::{ANSWER_TEXT, Prompt, Surface};
use crate::load::{self, Target, end_marker};
use crate::policy::Measure;
use crate::procs::{Launcher, Ports};
use crate::report::signed;
use crate::routing::Check;
use crate::run::{RunArgs, Scenario, run_load};
use crate::stats::{LoadReport, Percentiles};

/// The slots, in the order requests take them.
const SLOTS: [&str; 6] = [
    "bench",
    "responses:bench",
    "messages:bench",
    "bench-anth",
    "messages:bench-anth",
    "bench",
];

/// The budget for a translated surface over chat completions, p50 (BENCHMARKS.md).
pub const TRANSLATION_P50_MS: f64 = 0.03;
/// The budget for a passthrough (the surface's own format at the target), p50; not
/// built yet, so slot 5 is held to the translation budget.
pub const PASSTHROUGH_P50_MS: f64 = 0.01;

/// One report per slot.
#[derive(Serialize)]
pub struct SlotReports {
    /// Slot 1: chat → `bench`.
    pub chat: LoadReport,
    /// Slot 2: Responses → `bench`.
    pub responses: LoadReport,
    /// Slot 3: Messages → `bench`.
    pub messages: LoadReport,
    /// Slot 4: chat → `bench-anth`.
    pub chat_anth: LoadReport,
    /// Slot 5: Messages → `bench-anth`.
    pub messages_anth: LoadReport,
    /// Slot 6: chat → `bench` again.
    pub chat_b: LoadReport,
}

impl SlotReports {
    fn from_reports(reports: Vec<LoadReport>) -> anyhow::Result<Self> {
        let [chat, responses, messages, chat_anth, messages_anth, chat_b] =
            <[LoadReport; 6]>::try_from(reports)
                .map_err(|r| anyhow::anyhow!("{} surfaces reports for 6 slots", r.len()))?;
        Ok(Self {
            chat,
            responses,
            messages,
            chat_anth,
            messages_anth,
            chat_b,
        })
    }

    pub fn all(&self) -> [&LoadReport; 6] {
        [
            &self.chat,
            &self.responses,
            &self.messages,
            &self.chat_anth,
            &self.messages_anth,
            &self.chat_b,
        ]
    }

    /// Each slot with its name for the tables, in slot order.
    fn named(&self) -> [(String, &LoadReport); 6] {
        let name = |slot: usize, what: &str| format!("{slot}. {what}");
        [
            (name(1, "chat → `bench`"), &self.chat),
            (name(2, "Responses → `bench`"), &self.responses),
            (name(3, "Messages → `bench`"), &self.messages),
            (name(4, "chat → `bench-anth`"), &self.chat_anth),
            (name(5, "Messages → `bench-anth`"), &self.messages_anth),
            (name(6, "chat → `bench`"), &self.chat_b),
        ]
    }

    /// Per percentile, the mean of the two chat → `bench` slots.
    fn chat_mean(&self, m: Measure) -> Percentiles {
        Percentiles::midpoint(m.of(&self.chat), m.of(&self.chat_b))
    }

    /// What each translated slot adds over chat completions to the same target: (name, added).
    fn added(&self, m: Measure) -> [(String, Percentiles); 3] {
        let chat = self.chat_mean(m);
        let anth = m.of(&self.chat_anth);
        [
            (
                "Responses → `bench` − chat → `bench`".to_owned(),
                m.of(&self.responses).minus(chat),
            ),
            (
                "Messages → `bench` − chat → `bench`".to_owned(),
                m.of(&self.messages).minus(chat),
            ),
            (
                "Messages → `bench-anth` − chat → `bench-anth`".to_owned(),
                m.of(&self.messages_anth).minus(anth),
            ),
        ]
    }

    /// How far apart the two chat → `bench` slots are at p50: differences this small are noise.
    fn drift_p50(&self) -> f64 {
        self.chat_b.latency_ms.p50 - self.chat.latency_ms.p50
    }
}

/// One load shape over the six slots.
#[derive(Serialize)]
pub struct SurfacesRun {
    pub scenario: Scenario,
    pub slots: SlotReports,
}

/// The three runs.
#[derive(Serialize)]
pub struct Surfaces {
    /// Open loop, non-stream, slots in turn.
    pub unary: SurfacesRun,
    /// Open loop, streams, slots in turn.
    pub stream: SurfacesRun,
    /// Closed loop, each slot alone, one after the other in slot order.
    pub saturation: SurfacesRun,
}

impl Surfaces {
    pub fn reports(&self) -> impl Iterator<Item = &LoadReport> {
        [&self.unary, &self.stream, &self.saturation]
            .into_iter()
            .flat_map(|r| r.slots.all())
    }
}

/// The probe, then the non-stream, stream and saturation runs through seam.
pub async fn run(launcher: &Launcher, args: &RunArgs, ports: &Ports) -> anyhow::Result<Surfaces> {
    let url = Ports::url(ports.seam);
    probe(&url.parse()?).await?;
    eprintln!("surfaces probe: every slot answered 200 in its surface's shape");
    let n = SLOTS.len();
    let open = |stream: bool, rate: f64| Scenario {
        key: if stream {
            "surfaces_stream"
        } else {
            "surfaces"
        },
        title: format!(
            "{} @ {rate:.0} req/s, {n} slots in turn ({:.0} req/s each)",
            if stream { "stream" } else { "non-stream" },
            rate / n as f64
        ),
        stream,
        rate: Some(rate),
        concurrency: None,
        prompt: Prompt::Short,
    };
    let mut interleaved = Vec::new();
    for scenario in [
        open(false, args.surfaces_rate),
        open(true, args.stream_rate),
    ] {
        let reports = run_load(
            launcher,
            args,
            &scenario,
            &SLOTS,
            url.clone(),
            "seam, surfaces",
        );
        let slots = SlotReports::from_reports(reports.await?)?;
        interleaved.push(SurfacesRun { scenario, slots });
    }
    let concurrency = args.saturation_concurrency;
    let scenario = Scenario {
        key: "surfaces_saturation",
        title: format!("saturation, {concurrency} workers, each slot alone"),
        stream: false,
        rate: None,
        concurrency: Some(concurrency),
        prompt: Prompt::Short,
    };
    let mut alone = Vec::new();
    for slot in SLOTS {
        let path = format!("seam, surfaces, {slot}");
        let mut reports = run_load(launcher, args, &scenario, &[slot], url.clone(), &path).await?;
        alone.push(reports.pop().context("the load generator gave no report")?);
    }
    let saturation = SurfacesRun {
        scenario,
        slots: SlotReports::from_reports(alone)?,
    };
    let [unary, stream] = <[SurfacesRun; 2]>::try_from(interleaved)
        .map_err(|_| anyhow::anyhow!("two interleaved surfaces runs expected"))?;
    Ok(Surfaces {
        unary,
        stream,
        saturation,
    })
}

/// One request per distinct slot, non-stream and stream: each must answer 200; a non-stream
/// answer must be in its surface's shape with the canned text, a stream must end with its
/// surface's final event. The first that does not stops the run, with what it answered.
async fn probe(url: &Uri) -> anyhow::Result<()> {
    let client = load::client();
    let timeout = std::time::Duration::from_secs(10);
    for slot in &SLOTS[..5] {
        for stream in [false, true] {
            let target = Target::new(slot, url, stream, Prompt::Short, timeout)?;
            let what = format!("the surfaces probe to `{slot}` (stream: {stream})");
            let response = client
                .request(target.request())
                .await
                .with_context(|| format!("sending {what}"))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .with_context(|| format!("reading the answer to {what}"))?
                .to_bytes();
            let shown = || String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned();
            anyhow::ensure!(
                status == StatusCode::OK,
                "{what} answered {status}: {}",
                shown()
            );
            let surface = Surface::split(slot).0;
            if stream {
                let mut ending = target.ending();
                ending.push(&body);
                anyhow::ensure!(
                    ending.ended(),
                    "{what} did not end with {}: {}",
                    end_marker(surface),
                    String::from_utf8_lossy(&body[body.len().saturating_sub(500)..])
                );
            } else {
                let json: Value = serde_json::from_slice(&body)
                    .with_context(|| format!("{what} answered no JSON: {}", shown()))?;
                anyhow::ensure!(
                    answer_text(surface, &json).as_deref() == Some(ANSWER_TEXT),
                    "{what} answered without the mock's text in a {} answer: {}",
                    surface.name(),
                    shown()
                );
            }
        }
    }
    Ok(())
}

/// The answer's text in `surface`'s non-stream shape; `None` when it is not that shape.
fn answer_text(surface: Surface, answer: &Value) -> Option<String> {
    let texts = |items: &Value, kind: &str| -> Option<String> {
        let items = items.as_array()?;
        let of_kind = items
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some(kind));
        Some(of_kind.filter_map(|b| b.get("text")?.as_str()).collect())
    };
    match surface {
        Surface::Chat => {
            (answer.get("object")?.as_str()? == "chat.completion").then_some(())?;
            Some(
                answer["choices"][0]["message"]["content"]
                    .as_str()?
                    .to_owned(),
            )
        }
        Surface::Messages => {
            (answer.get("type")?.as_str()? == "message").then_some(())?;
            texts(answer.get("content")?, "text")
        }
        Surface::Responses => {
            (answer.get("object")?.as_str()? == "response").then_some(())?;
            let messages = answer
                .get("output")?
                .as_array()?
                .iter()
                .filter(|item| item.get("type").and_then(Value::as_str) == Some("message"));
            messages
                .map(|m| texts(m.get("content")?, "output_text"))
                .collect()
        }
        // Not a surface of this scenario.
        Surface::Mcp => None,
    }
}

/// The surfaces tables: non-stream, the stream's first chunk and whole stream, saturation.
pub fn section(out: &mut String, s: &Surfaces) {
    out.push_str(
        "### API surfaces (ms): chat completions, Responses and Messages through seam\n\n\
         One run through seam, its requests taking six slots in turn: 1. chat → `bench` (the \
         OpenAI-format fast mock), 2. Responses → `bench` and 3. Messages → `bench` (each \
         translated to chat completions for the same mock), 4. chat → `bench-anth` (the same \
         mock speaking Anthropic's format, `kind = \"anthropic\"`), 5. Messages → `bench-anth` \
         (the same-format passthrough: the client's body goes as written, the answer comes back \
         through the chat shape), 6. chat → `bench` \
         again. Every request carries the same texts in its surface's shape. The chat → `bench` \
         baseline is the mean of slots 1 and 6 per percentile; their difference is how finely \
         the run resolves. Added is each translated slot − chat completions to the same target. \
         Saturation runs each slot alone, one after the other. The probe before the load had \
         every slot answer 200 in its surface's shape (non-stream) and end with its surface's \
         final event (stream).\n\n",
    );
    table(out, &s.unary, &s.unary.scenario.title, Measure::Whole);
    let title = &s.stream.scenario.title;
    let first = format!("{title}: first chunk");
    table(out, &s.stream, &first, Measure::FirstChunk);
    let whole = format!("{title}: whole stream");
    table(out, &s.stream, &whole, Measure::Whole);
    saturation(out, &s.saturation);
}

/// The errors cell, with the streams that ended properly.
fn errors(r: &LoadReport) -> String {
    match r.streams_with_done {
        Some(done) => format!("{} ({done}/{} ended)", r.errors, r.requests),
        None => r.errors.to_string(),
    }
}

fn table(out: &mut String, r: &SurfacesRun, title: &str, m: Measure) {
    out.push_str(&format!(
        "#### {title}\n\n\
         | slot | req/s | p50 | p90 | p99 | p99.9 | errors |\n\
         |---|--:|--:|--:|--:|--:|--:|\n"
    ));
    for (name, report) in r.slots.named() {
        let p = m.of(report);
        out.push_str(&format!(
            "| {name} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} | {} |\n",
            report.throughput_rps,
            p.p50,
            p.p90,
            p.p99,
            p.p999,
            errors(report)
        ));
    }
    let chat = r.slots.chat_mean(m);
    out.push_str(&format!(
        "| chat → `bench`, mean of slots 1 and 6 |  | {:.3} | {:.3} | {:.3} | {:.3} |  |\n",
        chat.p50, chat.p90, chat.p99, chat.p999
    ));
    let noise = (
        "chat → `bench` slot 6 − slot 1 (noise)".to_owned(),
        m.of(&r.slots.chat_b).minus(m.of(&r.slots.chat)),
    );
    let added = r.slots.added(m).map(|(name, p)| (format!("**{name}**"), p));
    for (name, p) in added.into_iter().chain([noise]) {
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

fn saturation(out: &mut String, r: &SurfacesRun) {
    out.push_str(&format!(
        "#### {}\n\n\
         | slot | req/s | p50 | p99 | errors | req/s vs chat, same target |\n\
         |---|--:|--:|--:|--:|--:|\n",
        r.scenario.title
    ));
    let s = &r.slots;
    let chat = (s.chat.throughput_rps + s.chat_b.throughput_rps) / 2.0;
    let ratio = |x: &LoadReport, base: f64| {
        if base > 0.0 {
            format!("{:.2}×", x.throughput_rps / base)
        } else {
            "—".to_owned()
        }
    };
    let vs = [
        "—".to_owned(),
        ratio(&s.responses, chat),
        ratio(&s.messages, chat),
        "—".to_owned(),
        ratio(&s.messages_anth, s.chat_anth.throughput_rps),
        format!(
            "{} of slot 1 (drift)",
            ratio(&s.chat_b, s.chat.throughput_rps)
        ),
    ];
    for ((name, report), vs) in s.named().into_iter().zip(vs) {
        out.push_str(&format!(
            "| {name} | {:.0} | {:.3} | {:.3} | {} | {vs} |\n",
            report.throughput_rps,
            report.latency_ms.p50,
            report.latency_ms.p99,
            errors(report)
        ));
    }
    out.push('\n');
}

/// The surfaces rows of the targets table: each translation's added p50 (non-stream) against
/// the budget, and every answer of every run ok.
pub fn checks(s: &Surfaces) -> Vec<Check> {
    let noise = format!(
        "chat → `bench` slots differ by {}",
        signed(s.unary.slots.drift_p50())
    );
    let targets = [
        format!("≤ {TRANSLATION_P50_MS} ms"),
        format!("≤ {TRANSLATION_P50_MS} ms"),
        format!("≤ {PASSTHROUGH_P50_MS} ms (passthrough)"),
    ];
    let budgets = [TRANSLATION_P50_MS, TRANSLATION_P50_MS, PASSTHROUGH_P50_MS];
    let mut rows: Vec<Check> = s
        .unary
        .slots
        .added(Measure::Whole)
        .into_iter()
        .zip(targets.into_iter().zip(budgets))
        .map(|((name, added), (target, budget))| {
            let measured = format!("{} ms ({noise})", signed(added.p50));
            (
                format!("added p50, {name} (non-stream)"),
                Some((measured, added.p50 <= budget)),
                target,
            )
        })
        .collect();
    let (ok, requests) = s
        .reports()
        .fold((0, 0), |(o, n), r| (o + r.ok, n + r.requests));
    let errors = requests - ok;
    rows.push((
        "surfaces answers ok, streams ended with their final event (all three runs)".to_owned(),
        Some((
            format!("{ok}/{requests} ok; {errors} errors"),
            requests > 0 && errors == 0,
        )),
        "all; 0 errors".to_owned(),
    ));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::report;
    use serde_json::json;

    fn slots(p50: [f64; 6], stream: bool) -> SlotReports {
        let reports = p50
            .iter()
            .map(|&p| report(p, p + 0.2, 1000.0 / 6.0, stream))
            .collect();
        SlotReports::from_reports(reports).unwrap()
    }

    fn run(key: &'static str, p50: [f64; 6], stream: bool) -> SurfacesRun {
        SurfacesRun {
            scenario: Scenario {
                key,
                title: format!("{key} @ 1000 req/s"),
                stream,
                rate: Some(1000.0),
                concurrency: None,
                prompt: Prompt::Short,
            },
            slots: slots(p50, stream),
        }
    }

    fn surfaces(unary: [f64; 6]) -> Surfaces {
        let mut saturation = run("saturation", [1.0; 6], false);
        for (r, rps) in saturation
            .slots
            .all_mut()
            .into_iter()
            .zip([8000.0, 7600.0, 7200.0, 6000.0, 5400.0, 8400.0])
        {
            r.throughput_rps = rps;
        }
        Surfaces {
            unary: run("non-stream", unary, false),
            stream: run("stream", [0.3, 0.32, 0.31, 0.35, 0.37, 0.3], true),
            saturation,
        }
    }

    impl SlotReports {
        fn all_mut(&mut self) -> [&mut LoadReport; 6] {
            [
                &mut self.chat,
                &mut self.responses,
                &mut self.messages,
                &mut self.chat_anth,
                &mut self.messages_anth,
                &mut self.chat_b,
            ]
        }
    }

    const WITHIN: [f64; 6] = [0.200, 0.225, 0.215, 0.300, 0.320, 0.210];

    #[test]
    fn the_tables_show_each_slot_and_what_each_translation_adds() {
        let mut md = String::new();
        section(&mut md, &surfaces(WITHIN));
        let has = |row: &str| assert!(md.contains(row), "{row}\nnot in\n{md}");
        has("| 2. Responses → `bench` | 167 | 0.225 | 0.225 | 0.425 | 0.425 | 0 |");
        // Chat baseline: mean of 0.200 and 0.210; p99 of 0.400 and 0.410.
        has("| chat → `bench`, mean of slots 1 and 6 |  | 0.205 | 0.205 | 0.405 | 0.405 |  |");
        has("| **Responses → `bench` − chat → `bench`** |  | +0.020 | +0.020 | +0.020 | +0.020 |");
        has("| **Messages → `bench` − chat → `bench`** |  | +0.010 |");
        has("| **Messages → `bench-anth` − chat → `bench-anth`** |  | +0.020 |");
        has("| chat → `bench` slot 6 − slot 1 (noise) |  | +0.010 |");
        has("#### stream @ 1000 req/s: first chunk\n");
        has(
            "| 5. Messages → `bench-anth` | 167 | 0.370 | 0.370 | 0.570 | 0.570 | 0 (10/10 ended) |",
        );
        has("#### saturation @ 1000 req/s\n");
        // Responses and Messages against the mean of both chat runs (8,200 req/s).
        has("| 2. Responses → `bench` | 7600 | 1.000 | 1.200 | 0 | 0.93× |");
        has("| 5. Messages → `bench-anth` | 5400 | 1.000 | 1.200 | 0 | 0.90× |");
        has("| 6. chat → `bench` | 8400 | 1.000 | 1.200 | 0 | 1.05× of slot 1 (drift) |");
    }

    #[test]
    fn checks_hold_each_translation_to_the_budget_and_want_every_answer_ok() {
        let met = |s: &Surfaces| -> Vec<Option<bool>> {
            checks(s).into_iter().map(|c| c.1.map(|m| m.1)).collect()
        };
        let ok = surfaces(WITHIN);
        let rows = checks(&ok);
        let noise = "(chat → `bench` slots differ by +0.010)";
        assert_eq!(rows[0].1, Some((format!("+0.020 ms {noise}"), true)));
        assert_eq!(rows[1].1, Some((format!("+0.010 ms {noise}"), true)));
        // The passthrough's budget is tighter: +0.020 is over it.
        assert_eq!(rows[2].1, Some((format!("+0.020 ms {noise}"), false)));
        assert!(rows[2].2.contains("≤ 0.01 ms (passthrough)"));
        assert_eq!(rows[3].1, Some(("180/180 ok; 0 errors".to_owned(), true)));
        // Responses +0.045, Messages to `bench-anth` +0.040: over the budget.
        let over = surfaces([0.200, 0.250, 0.215, 0.300, 0.340, 0.210]);
        assert_eq!(
            met(&over),
            [Some(false), Some(true), Some(false), Some(true)]
        );
        // One stream that did not end with its final event fails the last row.
        let mut broken = surfaces(WITHIN);
        let r = &mut broken.stream.slots.messages;
        r.ok -= 1;
        r.errors += 1;
        r.error_kinds
            .insert("stream_without_message_stop".into(), 1);
        assert_eq!(
            checks(&broken)[3].1,
            Some(("179/180 ok; 1 errors".into(), false))
        );
    }

    #[test]
    fn the_probe_reads_the_text_of_each_surfaces_answer_and_only_that_shape() {
        let chat = json!({"object": "chat.completion",
                          "choices": [{"message": {"role": "assistant", "content": "hi"}}]});
        let messages = json!({"type": "message", "content": [
            {"type": "thinking", "thinking": "…"}, {"type": "text", "text": "h"},
            {"type": "text", "text": "i"}]});
        let responses = json!({"object": "response", "status": "completed", "output": [
            {"type": "reasoning", "summary": []},
            {"type": "message", "role": "assistant",
             "content": [{"type": "output_text", "text": "hi", "annotations": []}]}]});
        let text = |s, v: &Value| answer_text(s, v);
        assert_eq!(text(Surface::Chat, &chat).as_deref(), Some("hi"));
        assert_eq!(text(Surface::Messages, &messages).as_deref(), Some("hi"));
        assert_eq!(text(Surface::Responses, &responses).as_deref(), Some("hi"));
        // A surface that answered in another surface's shape is not read as its own.
        assert_eq!(text(Surface::Messages, &chat), None);
        assert_eq!(text(Surface::Responses, &chat), None);
        assert_eq!(text(Surface::Chat, &messages), None);
        let canned: Value = serde_json::from_slice(&crate::body::message()).unwrap();
        assert_eq!(
            text(Surface::Messages, &canned).as_deref(),
            Some(ANSWER_TEXT)
        );
    }
}
