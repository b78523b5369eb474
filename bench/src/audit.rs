//! The audit scenario: what the audit trail adds per request, and how many audited requests seam
//! sustains with every record committed before its answer completes.
//!
//! `[audit]` is process-wide, so the comparison needs two seams, started from the same generated
//! config but for the audit section: one with `[audit] enabled = false`, one audited with
//! `durability = "sync"` on SQLite in the run's directory, a master key and class `redacted`
//! (the request as sent upstream and the response, encrypted, in every record). Both are pinned
//! to seam's core, as seam is in every other scenario; the load generator and the mock stay on
//! theirs. Two processes on one core see each other's work, including the audited seam's writer
//! thread; that is the same for both slots except the writer, whose CPU the `off` seam also
//! waits behind now and then, so the difference errs low (BENCHMARKS.md, Method).
//!
//! 1. One open-loop run at `--audit-rate`, its requests taking four slots in turn: off, on, off,
//!    on (two URLs, one alias), so both seams meet the same moments of the machine; each seam is
//!    the mean of its two slots, and two slots of one seam show how finely the run resolves.
//! 2. Closed-loop saturation (`--saturation-concurrency` workers, no warm-up so every answer is
//!    counted) against the off seam, then the audited one: audited requests per second, and the
//!    ratio to the same seam without audit.
//! 3. The audited store's request rows with status 200, counted with SQLite before and after the
//!    audited saturation run: the difference must equal the 200 answers, or records are missing.
//! 4. `seam audit verify` on the audited store, which by then holds every record of the run.

use std::path::Path;

use serde::Serialize;

use crate::audit_store::{self, Verified};
use crate::body::Prompt;
use crate::procs::{AuditMode, Launcher, Ports, SeamProcess, SeamSpec, start_seam};
use crate::report::{cells, signed};
use crate::routing::Check;
use crate::run::{LoadRun, RunArgs, Scenario, run_load_with};
use crate::stats::{LoadReport, Percentiles};

/// The budget for what the audit trail adds at p99 (BENCHMARKS.md).
pub const ADDED_P99_MS: f64 = 2.0;
/// Audited requests per second the gateway must sustain on this machine (BENCHMARKS.md).
pub const AUDITED_RPS: f64 = 5000.0;

/// The alias every request of the scenario asks for (the fast mock, no policy).
const MODEL: &str = "bench";

/// One open-loop run, the two seams in turn: off, on, off, on.
#[derive(Serialize)]
pub struct Audit {
    pub scenario: Scenario,
    /// Audit off, slot 1.
    pub off: LoadReport,
    /// Audited, slot 2.
    pub on: LoadReport,
    /// Audit off, slot 3.
    pub off_b: LoadReport,
    /// Audited, slot 4.
    pub on_b: LoadReport,
    pub saturation: Scenario,
    pub saturation_off: LoadReport,
    pub saturation_on: LoadReport,
    pub records: Records,
    pub verify: Verified,
}

/// Request rows in the audited store with status 200, around the audited saturation run.
#[derive(Clone, Copy, Serialize)]
pub struct Records {
    pub before: u64,
    pub after: u64,
    /// Every row in the store at the end (requests of every run, all statuses).
    pub total: u64,
}

impl Records {
    fn added(&self) -> u64 {
        self.after.saturating_sub(self.before)
    }
}

impl Audit {
    fn off_mean(&self) -> Percentiles {
        Percentiles::midpoint(self.off.latency_ms, self.off_b.latency_ms)
    }

    fn on_mean(&self) -> Percentiles {
        Percentiles::midpoint(self.on.latency_ms, self.on_b.latency_ms)
    }

    /// What the audit trail adds: audited − off, each the mean of its two slots.
    pub fn added(&self) -> Percentiles {
        self.on_mean().minus(self.off_mean())
    }

    /// Whether every 200 answer of the audited saturation run left a committed record.
    fn every_answer_recorded(&self) -> bool {
        self.saturation_on.ok > 0 && self.records.added() == self.saturation_on.ok
    }

    /// Fails when the audited store lacks a record for an answered request, or its chain did
    /// not verify: the audit trail's promise, checked after the report is out.
    pub fn ensure_every_answer_recorded(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.every_answer_recorded(),
            "AUDIT RECORDS MISSING: the audited seam answered {} requests with 200 during \
             saturation, but its store gained {} request records with status 200",
            self.saturation_on.ok,
            self.records.added()
        );
        anyhow::ensure!(
            self.verify.intact,
            "the audited store did not verify after the load: {}",
            self.verify.line
        );
        Ok(())
    }

    pub fn reports(&self) -> [&LoadReport; 4] {
        [&self.off, &self.on, &self.off_b, &self.on_b]
    }
}

/// Starts the two seams, runs the interleaved load and the saturation runs, counts the records
/// and verifies the audited store; the seams are stopped when this returns.
pub async fn run(
    launcher: &Launcher,
    args: &RunArgs,
    seam: &Path,
    dir: &Path,
    ports: &Ports,
) -> anyhow::Result<Audit> {
    let key = audit_store::master_key()?;
    let (off_dir, on_dir) = (dir.join("audit-off"), dir.join("audit-on"));
    let off_spec = SeamSpec {
        dir: &off_dir,
        port: ports.audit_off,
        audit: AuditMode::Off,
        master_key: None,
    };
    let off = start_seam(launcher, args, seam, ports, off_spec).await?;
    let on_spec = SeamSpec {
        dir: &on_dir,
        port: ports.audit_on,
        audit: AuditMode::Redacted,
        master_key: Some(&key),
    };
    let on = start_seam(launcher, args, seam, ports, on_spec).await?;
    let (off_url, on_url) = (Ports::url(ports.audit_off), Ports::url(ports.audit_on));

    let rate = args.audit_rate;
    let scenario = Scenario {
        key: "audit",
        title: format!(
            "non-stream @ {rate:.0} req/s, 4 slots in turn ({:.0} req/s each)",
            rate / 4.0
        ),
        stream: false,
        rate: Some(rate),
        concurrency: None,
        prompt: Prompt::Short,
    };
    let urls = [
        off_url.clone(),
        on_url.clone(),
        off_url.clone(),
        on_url.clone(),
    ];
    let load = LoadRun {
        models: &[MODEL; 4],
        urls: &urls,
        warmup_secs: args.warmup_secs,
    };
    let reports = run_load_with(launcher, args, &scenario, load, "audit off / audited").await?;
    let [off_a, on_a, off_b, on_b] = <[LoadReport; 4]>::try_from(reports)
        .map_err(|r| anyhow::anyhow!("{} audit reports for 4 slots", r.len()))?;

    let saturation = Scenario {
        key: "audit_saturation",
        title: format!("saturation, {} workers", args.saturation_concurrency),
        stream: false,
        rate: None,
        concurrency: Some(args.saturation_concurrency),
        prompt: Prompt::Short,
    };
    // No warm-up: every request is counted, so the store's new rows can be held against the
    // answers. Connecting 64 workers takes milliseconds of the 10 s.
    let closed = |urls| LoadRun {
        models: &[MODEL],
        urls,
        warmup_secs: 0.0,
    };
    let one = |mut r: Vec<LoadReport>| r.pop().ok_or_else(|| anyhow::anyhow!("no report"));
    let off_urls = [off_url];
    let sat_off =
        one(run_load_with(launcher, args, &saturation, closed(&off_urls), "audit off").await?)?;
    let db = on_dir.join(crate::procs::AUDIT_DB);
    let before = audit_store::count_ok_requests(&db)?;
    let on_urls = [on_url];
    let sat_on =
        one(run_load_with(launcher, args, &saturation, closed(&on_urls), "audited").await?)?;
    let after = audit_store::count_ok_requests(&db)?;
    let total = audit_store::count_rows(&db)?;
    let records = Records {
        before,
        after,
        total,
    };
    eprintln!(
        "audited saturation: {} answers 200, {} new records with status 200",
        sat_on.ok,
        records.added()
    );
    let verify = audit_store::verify(seam, &on_dir.join("seam.toml"), &key)?;
    eprintln!("seam audit verify on the audited store: {}", verify.line);
    check_alive(off)?;
    check_alive(on)?;
    Ok(Audit {
        scenario,
        off: off_a,
        on: on_a,
        off_b,
        on_b,
        saturation,
        saturation_off: sat_off,
        saturation_on: sat_on,
        records,
        verify,
    })
}

fn check_alive(mut p: SeamProcess) -> anyhow::Result<()> {
    if let Ok(Some(status)) = p.child.try_wait() {
        anyhow::bail!(
            "a seam of the audit scenario exited during it ({status}); log: {}",
            p.log.display()
        );
    }
    Ok(())
}

/// The audit tables: the interleaved run, then saturation and the record count.
pub fn section(out: &mut String, a: &Audit) {
    out.push_str(&format!(
        "### Audit trail (ms): seam with audit off vs audited, {}\n\n\
         Two seams from the same config but for `[audit]`, both on seam's core: one with \
         `enabled = false`, one audited (`durability = \"sync\"`, SQLite in the run's directory, \
         a master key, class `redacted`: the request as sent upstream and the response, \
         encrypted, in every record, committed before the answer completes). One open-loop run \
         whose requests take the seams in turn (off, audited, off, audited), all to alias \
         `{MODEL}` and the fast mock. Each seam is the mean of its two slots per percentile; \
         \"audit added\" is audited − off; how far two slots of one seam differ is how finely \
         the comparison resolves.\n\n\
         | seam | req/s | p50 | p90 | p99 | p99.9 | errors |\n\
         |---|--:|--:|--:|--:|--:|--:|\n",
        a.scenario.title
    ));
    let slots = [
        ("audit off (slot 1)", &a.off),
        ("audit off (slot 3)", &a.off_b),
        ("audited (slot 2)", &a.on),
        ("audited (slot 4)", &a.on_b),
    ];
    for (name, r) in slots {
        out.push_str(&format!("| {name} | {} |\n", cells(r, r.latency_ms)));
    }
    let (off, on) = (a.off_mean(), a.on_mean());
    let rows = [
        ("audit off, mean of slots 1 and 3", off, false),
        ("audited, mean of slots 2 and 4", on, false),
        ("**audit added**", on.minus(off), true),
        (
            "audit off slot 3 − slot 1 (noise)",
            a.off_b.latency_ms.minus(a.off.latency_ms),
            true,
        ),
        (
            "audited slot 4 − slot 2 (noise)",
            a.on_b.latency_ms.minus(a.on.latency_ms),
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
            "| {name} |  | {} | {} | {} | {} |  |\n",
            cell(p.p50),
            cell(p.p90),
            cell(p.p99),
            cell(p.p999)
        ));
    }
    let (s_off, s_on) = (&a.saturation_off, &a.saturation_on);
    out.push_str(&format!(
        "\n#### Audited throughput: {}, closed loop, no warm-up, off then audited\n\n\
         | seam | req/s | p50 | p90 | p99 | p99.9 | errors |\n\
         |---|--:|--:|--:|--:|--:|--:|\n\
         | audit off | {} |\n\
         | audited | {} |\n\
         | audited / off | {:.2}× |  |  |  |  |  |\n\n\
         The audited store's request records with status 200: {} before the audited saturation \
         run, {} after (+{}), for {} answers 200 in the run. `seam audit verify` on the store \
         afterwards ({} rows in all, {:.1} s): `{}`\n\n",
        a.saturation.title,
        cells(s_off, s_off.latency_ms),
        cells(s_on, s_on.latency_ms),
        s_on.throughput_rps / s_off.throughput_rps.max(f64::MIN_POSITIVE),
        a.records.before,
        a.records.after,
        a.records.added(),
        s_on.ok,
        a.records.total,
        a.verify.secs,
        a.verify.line
    ));
}

/// The audit rows of the targets table.
pub fn checks(a: &Audit) -> Vec<Check> {
    let added = a.added();
    let noise = a.off_b.latency_ms.p99 - a.off.latency_ms.p99;
    let sat = &a.saturation_on;
    let recorded = format!(
        "{} records / {} answers 200 ({} errors)",
        a.records.added(),
        sat.ok,
        sat.errors
    );
    let verified = format!(
        "{} ({} rows in the store)",
        if a.verify.intact {
            "intact"
        } else {
            "NOT intact"
        },
        a.records.total
    );
    vec![
        (
            format!(
                "audit added p99, audited − off (sync, SQLite, `redacted`, {})",
                a.scenario.title
            ),
            Some((
                format!(
                    "{} ms (p50 {}; off slots differ by {} at p99)",
                    signed(added.p99),
                    signed(added.p50),
                    signed(noise)
                ),
                added.p99 <= ADDED_P99_MS,
            )),
            format!("≤ {ADDED_P99_MS} ms"),
        ),
        (
            format!("audited requests/s at saturation ({})", a.saturation.title),
            Some((
                format!(
                    "{:.0} req/s ({:.2} of audit off, {} errors)",
                    sat.throughput_rps,
                    sat.throughput_rps / a.saturation_off.throughput_rps.max(f64::MIN_POSITIVE),
                    sat.errors
                ),
                sat.throughput_rps >= AUDITED_RPS && sat.errors == 0,
            )),
            format!("≥ {AUDITED_RPS:.0} req/s"),
        ),
        (
            "a committed record for every 200 answer (audited saturation run)".to_owned(),
            Some((recorded, a.every_answer_recorded())),
            "all".to_owned(),
        ),
        (
            "`seam audit verify` on the audited store after the load".to_owned(),
            Some((verified, a.verify.intact)),
            "intact".to_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::report;

    fn audit(on_p99: f64, sat_rps: f64, added_records: u64) -> Audit {
        let title = |t: &str| Scenario {
            key: "audit",
            title: t.to_owned(),
            stream: false,
            rate: Some(1000.0),
            concurrency: None,
            prompt: Prompt::Short,
        };
        Audit {
            scenario: title("non-stream @ 1000 req/s"),
            off: report(0.200, 0.400, 250.0, false),
            on: report(0.300, on_p99, 250.0, false),
            off_b: report(0.220, 0.440, 250.0, false),
            on_b: report(0.320, on_p99 + 0.2, 250.0, false),
            saturation: title("saturation, 64 workers"),
            saturation_off: report(1.0, 2.0, 20000.0, false),
            saturation_on: report(2.0, 4.0, sat_rps, false),
            records: Records {
                before: 100,
                after: 100 + added_records,
                total: 200 + added_records,
            },
            verify: Verified {
                intact: true,
                records: Some(200 + added_records),
                secs: 0.5,
                line: "ok: 210 records intact".to_owned(),
            },
        }
    }

    #[test]
    fn the_table_shows_each_slot_and_what_the_audit_adds() {
        let mut md = String::new();
        section(&mut md, &audit(1.000, 8000.0, 10));
        let has = |row: &str| assert!(md.contains(row), "{row}\nnot in\n{md}");
        has("| audited (slot 2) | 250 | 0.300 | 0.300 | 1.000 | 1.000 | 0 |");
        // Off: mean of 0.200/0.400 and 0.220/0.440; audited: of 0.300/1.000 and 0.320/1.200.
        has("| audit off, mean of slots 1 and 3 |  | 0.210 | 0.210 | 0.420 | 0.420 |  |");
        has("| **audit added** |  | +0.100 | +0.100 | +0.680 | +0.680 |  |");
        has("| audited / off | 0.40× |");
        has("100 before the audited saturation run, 110 after (+10), for 10 answers 200");
    }

    #[test]
    fn checks_hold_p99_throughput_and_every_record() {
        let met = |a: &Audit| -> Vec<Option<bool>> {
            checks(a).into_iter().map(|c| c.1.map(|m| m.1)).collect()
        };
        let ok = audit(1.000, 8000.0, 10);
        assert_eq!(met(&ok), [Some(true); 4]);
        assert!(ok.ensure_every_answer_recorded().is_ok());
        // +2.5 ms at p99; 4,000 req/s; a record short.
        assert_eq!(met(&audit(2.820, 8000.0, 10))[0], Some(false));
        assert_eq!(met(&audit(1.000, 4000.0, 10))[1], Some(false));
        let short = audit(1.000, 8000.0, 9);
        assert_eq!(met(&short)[2], Some(false));
        assert!(short.ensure_every_answer_recorded().is_err());
        let mut broken = audit(1.000, 8000.0, 10);
        broken.verify.intact = false;
        assert_eq!(met(&broken)[3], Some(false));
        assert!(broken.ensure_every_answer_recorded().is_err());
    }
}
