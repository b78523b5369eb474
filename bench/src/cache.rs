//! The cache scenario, and what the report says about it: one open-loop load through seam whose
//! requests take two slots in turn, non-stream then stream:
//!
//! - `bench-echo`: the built-in echo provider, so seam's whole pipeline (parse, resolve, policy,
//!   router, provider, serialise) runs but no upstream is called: the baseline a hit is held to;
//! - `bench-cached`: the fast mock behind `cache = { ttl_s = 3600, scope = "org" }`. Every request
//!   is the same, so after the first (in the warm-up) every answer is a hit, replayed from the
//!   in-process store; the report counts `x-seam-attempts: 0` to prove it.
//!
//! The target is a hit served in ≤ 0.3 ms at p99, end to end from the load generator.

use serde::Serialize;

use crate::body::Prompt;
use crate::procs::{Launcher, Ports};
use crate::report::{cells, signed};
use crate::routing::Check;
use crate::run::{RunArgs, Scenario, run_load};
use crate::stats::LoadReport;

/// A hit, end to end, at p99 (the target).
const HIT_P99_MS: f64 = 0.3;

pub const ECHO: &str = "bench-echo";
pub const CACHED: &str = "bench-cached";

const SLOTS: [&str; 2] = [ECHO, CACHED];

/// Both slots, non-stream and stream.
#[derive(Serialize)]
pub struct Cache {
    pub unary: Pair,
    pub stream: Pair,
}

#[derive(Serialize)]
pub struct Pair {
    pub scenario: Scenario,
    pub echo: LoadReport,
    pub cached: LoadReport,
}

impl Cache {
    pub fn reports(&self) -> [&LoadReport; 4] {
        [
            &self.unary.echo,
            &self.unary.cached,
            &self.stream.echo,
            &self.stream.cached,
        ]
    }
}

pub async fn run(launcher: &Launcher, args: &RunArgs, ports: &Ports) -> anyhow::Result<Cache> {
    let url = Ports::url(ports.seam);
    let mut pairs = Vec::new();
    for (stream, rate) in [(false, args.cache_rate), (true, args.stream_rate)] {
        let scenario = Scenario {
            key: if stream { "cache_stream" } else { "cache" },
            title: format!(
                "{} @ {rate:.0} req/s, 2 slots in turn",
                if stream { "stream" } else { "non-stream" }
            ),
            stream,
            rate: Some(rate),
            concurrency: None,
            prompt: Prompt::Short,
        };
        let reports = run_load(
            launcher,
            args,
            &scenario,
            &SLOTS,
            url.clone(),
            "seam, cache",
        )
        .await?;
        let [echo, cached] = <[LoadReport; 2]>::try_from(reports)
            .map_err(|r| anyhow::anyhow!("{} cache reports for 2 slots", r.len()))?;
        pairs.push(Pair {
            scenario,
            echo,
            cached,
        });
    }
    let [unary, stream] =
        <[Pair; 2]>::try_from(pairs).map_err(|_| anyhow::anyhow!("two cache runs expected"))?;
    Ok(Cache { unary, stream })
}

pub fn section(out: &mut String, c: &Cache) {
    out.push_str(&format!(
        "### Exact cache (ms): a hit against the echo provider, through seam\n\n\
         Requests take `{ECHO}` (the built-in echo provider: the whole pipeline, no upstream) and \
         `{CACHED}` (the fast mock behind `cache = {{ ttl_s = 3600, scope = \"org\" }}`; every \
         request is the same, so all but the first, in the warm-up, are hits) in turn. \
         `x-seam-attempts: 0` counts the hits.\n\n\
         | run | alias | req/s | p50 | p90 | p99 | p99.9 | errors | x-seam-attempts |\n\
         |---|---|--:|--:|--:|--:|--:|--:|---|\n"
    ));
    for p in [&c.unary, &c.stream] {
        for (alias, r) in [(ECHO, &p.echo), (CACHED, &p.cached)] {
            out.push_str(&format!(
                "| {} | `{alias}` | {} | {} |\n",
                p.scenario.title,
                cells(r, r.latency_ms),
                attempts(r)
            ));
        }
        let (h, e) = (p.cached.latency_ms, p.echo.latency_ms);
        out.push_str(&format!(
            "| {} | hit − echo |  | {} | {} | {} | {} |  |  |\n",
            p.scenario.title,
            signed(h.p50 - e.p50),
            signed(h.p90 - e.p90),
            signed(h.p99 - e.p99),
            signed(h.p999 - e.p999)
        ));
    }
    out.push('\n');
}

fn attempts(r: &LoadReport) -> String {
    let parts: Vec<String> = r
        .seam_attempts
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    if parts.is_empty() {
        "—".to_owned()
    } else {
        parts.join(", ")
    }
}

/// The cache rows of the targets table.
pub fn checks(c: &Cache) -> Vec<Check> {
    let hits = |r: &LoadReport| r.seam_attempts.get("0").copied().unwrap_or(0);
    [&c.unary, &c.stream]
        .into_iter()
        .flat_map(|p| {
            let r = &p.cached;
            let all_hits = r.requests > 0 && r.errors == 0 && hits(r) == r.ok;
            [
                (
                    format!("cache hit p99, end to end ({})", p.scenario.title),
                    Some((
                        format!("{:.3} ms", r.latency_ms.p99),
                        r.latency_ms.p99 <= HIT_P99_MS,
                    )),
                    format!("≤ {HIT_P99_MS} ms"),
                ),
                (
                    format!("`{CACHED}` answers that were hits ({})", p.scenario.title),
                    Some((format!("{}/{}", hits(r), r.requests), all_hits)),
                    "all".to_owned(),
                ),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::report;

    fn pair(stream: bool, echo_p99: f64, hit_p99: f64) -> Pair {
        let mut cached = report(0.1, hit_p99, 1000.0, stream);
        cached.seam_attempts.insert("0".to_owned(), cached.ok);
        Pair {
            scenario: Scenario {
                key: "cache",
                title: "non-stream @ 1000 req/s".to_owned(),
                stream,
                rate: Some(1000.0),
                concurrency: None,
                prompt: Prompt::Short,
            },
            echo: report(0.2, echo_p99, 1000.0, stream),
            cached,
        }
    }

    #[test]
    fn the_table_compares_hits_with_echo_and_the_checks_hold_the_target() {
        let c = Cache {
            unary: pair(false, 0.5, 0.25),
            stream: pair(true, 0.6, 0.35),
        };
        let mut md = String::new();
        section(&mut md, &c);
        assert!(md.contains("| hit − echo |  | -0.100 |"), "{md}");
        let rows = checks(&c);
        assert_eq!(rows[0].1, Some(("0.250 ms".to_owned(), true)));
        assert_eq!(rows[1].1, Some(("10/10".to_owned(), true)));
        assert_eq!(rows[2].1, Some(("0.350 ms".to_owned(), false)));
        let mut missed = pair(false, 0.5, 0.25);
        missed.cached.seam_attempts.insert("0".to_owned(), 9);
        let c = Cache {
            unary: missed,
            stream: pair(true, 0.6, 0.2),
        };
        assert_eq!(checks(&c)[1].1, Some(("9/10".to_owned(), false)));
    }
}
