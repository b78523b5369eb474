//! `seam report exit`: for each alias, could its traffic move to another vendor this quarter?
//! Which aliases have only one provider, which prompts in traffic have no eval suite, which
//! features in use (from the audit record's `features`: tools, JSON schema output, vision,
//! prompt caching, streaming) each alternative target lacks, and the suite's verdict on the
//! alternative where one ran.
//!
//! Alternatives of an alias are its own targets on another provider; an alias with a single
//! provider is offered every other provider's targets from the rest of the config, marked as
//! such, so the report says what moving would take rather than only "no".

use std::collections::{BTreeMap, BTreeSet};

use seam_store::{AuditLog, RequestFacts, StoreError};
use serde::Serialize;
use serde_json::Value;

use crate::capabilities::{self, FEATURES, Overrides, Support};
use crate::doc::{Cell, Column, Report, Table};
use crate::quality::{EvalRow, Quality};
use crate::setup::{Setup, Target};
use crate::traffic::Period;

/// What one alias's traffic used in the period.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AliasUse {
    pub requests: u64,
    /// Feature → requests that used it.
    pub features: BTreeMap<String, u64>,
    /// Prompt name → requests.
    pub prompts: BTreeMap<String, u64>,
    /// `provider/model` → requests answered.
    pub routes: BTreeMap<String, u64>,
}

/// The period's traffic by alias (records whose model is no alias and whose route is no
/// alias's target are counted under `(other)`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Usage {
    pub by_alias: BTreeMap<String, AliasUse>,
}

pub const OTHER: &str = "(other)";

impl Usage {
    /// Every prompt name in traffic, with its requests.
    pub fn prompts(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for a in self.by_alias.values() {
            for (p, n) in &a.prompts {
                *out.entry(p.clone()).or_default() += n;
            }
        }
        out
    }
}

impl Usage {
    /// Counts one request of the traffic scan (shadow copies are no client's traffic).
    pub fn add(&mut self, f: &RequestFacts, setup: &Setup) {
        if f.shadow {
            return;
        }
        let alias = setup
            .alias_of(f.alias.as_deref(), f.route.as_deref())
            .map_or(OTHER, |a| a.name.as_str());
        let n = u64::from(f.count.max(1));
        let a = self.by_alias.entry(alias.to_owned()).or_default();
        a.requests += n;
        for feature in &f.features {
            *a.features.entry(feature.clone()).or_default() += n;
        }
        if let Some(p) = &f.prompt {
            let name = p.split('@').next().unwrap_or(p);
            *a.prompts.entry(name.to_owned()).or_default() += n;
        }
        if let Some(route) = &f.route {
            *a.routes.entry(route.clone()).or_default() += n;
        }
    }
}

/// Reads the period's requests in one pass of the traffic scan (no payload is read).
pub fn scan(log: &mut AuditLog, period: Period, setup: &Setup) -> Result<Usage, StoreError> {
    let mut u = Usage::default();
    log.scan_requests(period.since_ms, period.until_ms, &mut |f| u.add(f, setup))?;
    Ok(u)
}

/// Whether an eval variant's provider label names `alias` (`seam:ALIAS`).
pub fn covers_alias(row: &EvalRow, alias: &str) -> bool {
    row.provider == format!("seam:{alias}")
}

/// Whether an eval variant ran on `target`: `seam:PROVIDER/MODEL`, `openai:chat:MODEL` or
/// `openai:MODEL`.
pub fn covers_target(row: &EvalRow, t: &Target) -> bool {
    row.provider == format!("seam:{}", t.id())
        || (!row.provider.starts_with("seam:") && row.subject == t.model)
}

/// Whether a prompt has a suite: a variant whose prompt label is the name (or `NAME@…`), or a
/// provider `seam:prompt:NAME…`.
pub fn covers_prompt(row: &EvalRow, name: &str) -> bool {
    let at = |s: &str| s == name || s.starts_with(&format!("{name}@"));
    at(&row.prompt) || row.provider.strip_prefix("seam:prompt:").is_some_and(at)
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alternative {
    pub target: String,
    pub private: bool,
    /// The alias it comes from, when not this one's own target.
    pub from_alias: Option<String>,
    /// Features in use it does not support, and those the table cannot tell.
    pub lacks: Vec<String>,
    pub unknown: Vec<String>,
    pub capabilities_from: &'static str,
    /// The latest suite run on it: pass rate with its interval, and the run.
    pub verdict: Option<String>,
    /// `worse` when its suite result is worse than the best variant of the prompt.
    pub versus_best: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExitRow {
    pub alias: String,
    pub requests: u64,
    pub providers: Vec<String>,
    pub single_provider: bool,
    /// Feature → requests, of those in use.
    pub features: BTreeMap<String, u64>,
    pub prompts_without_suite: Vec<String>,
    pub alias_has_suite: bool,
    pub alternatives: Vec<Alternative>,
    /// `ready`, `untested`, `check`, `blocked` or `no alternative`.
    pub status: String,
    /// One line: could it move this quarter, and what stands in the way.
    pub answer: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exit {
    pub rows: Vec<ExitRow>,
    pub single_provider: Vec<String>,
    /// Prompts in traffic with no suite, with their requests.
    pub prompts_without_suite: Vec<(String, u64)>,
}

fn alternative(
    t: &Target,
    from: Option<&str>,
    used: &BTreeMap<String, u64>,
    quality: &Quality,
    overrides: &Overrides,
) -> Alternative {
    let caps = capabilities::of(&t.kind, &t.provider, &t.model, overrides);
    let mut lacks = Vec::new();
    let mut unknown = Vec::new();
    for f in FEATURES.iter().filter(|f| used.contains_key(**f)) {
        match caps.get(f) {
            Support::Yes => {}
            Support::No => lacks.push((*f).to_owned()),
            Support::Unknown => unknown.push((*f).to_owned()),
        }
    }
    let run = quality
        .evals
        .iter()
        .filter(|r| covers_target(r, t))
        .max_by_key(|r| r.at_ms);
    Alternative {
        target: t.id(),
        private: t.private,
        from_alias: from.map(str::to_owned),
        lacks,
        unknown,
        capabilities_from: caps.source,
        verdict: run.map(|r| {
            format!(
                "{}/{} passed, {:.1} % ({:.1}–{:.1}), {}",
                r.passed,
                r.cases,
                r.pass_rate * 100.0,
                r.low * 100.0,
                r.high * 100.0,
                r.run
            )
        }),
        versus_best: run.map(|r| r.versus_best.clone()),
    }
}

/// Weighs every alias of `setup` against its traffic, the suites' results and the
/// capabilities.
pub fn build(setup: &Setup, usage: &Usage, quality: &Quality, overrides: &Overrides) -> Exit {
    let empty = AliasUse::default();
    let prompt_covered = |p: &str| quality.evals.iter().any(|r| covers_prompt(r, p));
    let mut rows = Vec::new();
    for a in &setup.aliases {
        let used = usage.by_alias.get(&a.name).unwrap_or(&empty);
        let providers: BTreeSet<&str> = a.targets.iter().map(|t| t.provider.as_str()).collect();
        // The primary is the provider that answered most; the others are alternatives.
        let primary = used
            .routes
            .iter()
            .max_by_key(|(_, n)| **n)
            .and_then(|(r, _)| r.split_once('/').map(|(p, _)| p.to_owned()))
            .or_else(|| a.targets.first().map(|t| t.provider.clone()))
            .unwrap_or_default();
        let mut alts: Vec<Alternative> = a
            .targets
            .iter()
            .filter(|t| t.provider != primary)
            .map(|t| alternative(t, None, &used.features, quality, overrides))
            .collect();
        let own = !alts.is_empty();
        if !own {
            let mut seen = BTreeSet::new();
            for other in setup.aliases.iter().filter(|o| o.name != a.name) {
                for t in other.targets.iter().filter(|t| t.provider != primary) {
                    if seen.insert(t.id()) {
                        alts.push(alternative(
                            t,
                            Some(&other.name),
                            &used.features,
                            quality,
                            overrides,
                        ));
                    }
                }
            }
        }
        let prompts_without_suite: Vec<String> = used
            .prompts
            .keys()
            .filter(|p| !prompt_covered(p))
            .cloned()
            .collect();
        let clean = |x: &Alternative| x.lacks.is_empty() && x.unknown.is_empty();
        let status = if alts.is_empty() {
            "no alternative"
        } else if alts
            .iter()
            .any(|x| clean(x) && x.verdict.is_some() && x.versus_best.as_deref() != Some("worse"))
        {
            "ready"
        } else if alts.iter().any(clean) {
            "untested"
        } else if alts.iter().any(|x| x.lacks.is_empty()) {
            "check"
        } else {
            "blocked"
        };
        let where_from = if own {
            ""
        } else {
            " (none of its own: from other aliases)"
        };
        let answer = match status {
            "ready" => format!(
                "yes: an alternative{where_from} supports every feature in use and its suite holds up"
            ),
            "untested" => format!(
                "likely: an alternative{where_from} supports every feature in use; run the suite on it"
            ),
            "check" => format!(
                "check: the table cannot tell whether the alternatives{where_from} support every feature in use"
            ),
            "blocked" => format!("no: every alternative{where_from} lacks a feature in use"),
            _ => "no: no other provider is configured".to_owned(),
        };
        rows.push(ExitRow {
            alias: a.name.clone(),
            requests: used.requests,
            providers: providers.iter().map(|p| (*p).to_owned()).collect(),
            single_provider: providers.len() < 2,
            features: used.features.clone(),
            prompts_without_suite,
            alias_has_suite: quality.evals.iter().any(|r| covers_alias(r, &a.name)),
            alternatives: alts,
            status: status.to_owned(),
            answer,
        });
    }
    let prompts_without_suite = usage
        .prompts()
        .into_iter()
        .filter(|(p, _)| !prompt_covered(p))
        .collect();
    Exit {
        single_provider: rows
            .iter()
            .filter(|r| r.single_provider)
            .map(|r| r.alias.clone())
            .collect(),
        rows,
        prompts_without_suite,
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "–".to_owned()
    } else {
        v.join(", ")
    }
}

pub fn report(e: &Exit, generated: &str, subtitle: Option<String>) -> Report {
    let mut r = Report::new(
        "exit",
        "Exit: could each alias move to another vendor this quarter?",
        generated,
    );
    r.subtitle = subtitle;
    let s = r.section("Summary");
    let mut t = Table::new(vec![
        Column::left("alias"),
        Column::right("requests"),
        Column::left("providers"),
        Column::left("features in use"),
        Column::left("suite"),
        Column::left("status"),
        Column::left("could it move this quarter?"),
    ]);
    for x in &e.rows {
        t.row(vec![
            Cell::text(&x.alias),
            Cell::Int(i64::try_from(x.requests).unwrap_or(i64::MAX)),
            Cell::text(x.providers.join(", ")),
            Cell::text(if x.features.is_empty() {
                "–".to_owned()
            } else {
                x.features
                    .iter()
                    .map(|(f, n)| format!("{f} ({n})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            Cell::text(if x.alias_has_suite { "yes" } else { "no" }),
            Cell::text(&x.status),
            Cell::text(&x.answer),
        ]);
    }
    s.table(t);
    s.facts(vec![
        (
            "Aliases with a single provider".into(),
            Cell::text(list(&e.single_provider)),
        ),
        (
            "Prompts in traffic without a suite".into(),
            Cell::text(if e.prompts_without_suite.is_empty() {
                "–".to_owned()
            } else {
                e.prompts_without_suite
                    .iter()
                    .map(|(p, n)| format!("{p} ({n} requests)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        ),
    ]);
    let s = r.section("Alternatives: what each lacks of the features in use");
    s.text(
        "Capabilities from the bundled table by provider kind and model family (or --capabilities); \
         'unknown' means the table cannot tell: check the target before moving.",
    );
    let mut t = Table::new(vec![
        Column::left("alias"),
        Column::left("alternative"),
        Column::left("lacks"),
        Column::left("unknown"),
        Column::left("capabilities"),
        Column::left("suite verdict on it"),
    ]);
    for x in &e.rows {
        if x.alternatives.is_empty() {
            t.row(vec![
                Cell::text(&x.alias),
                Cell::text("(none configured)"),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
            ]);
        }
        for a in &x.alternatives {
            let mut name = a.target.clone();
            if a.private {
                name.push_str(" (private)");
            }
            if let Some(from) = &a.from_alias {
                name.push_str(&format!(" from {from}"));
            }
            t.row(vec![
                Cell::text(&x.alias),
                Cell::text(name),
                Cell::text(list(&a.lacks)),
                Cell::text(list(&a.unknown)),
                Cell::text(a.capabilities_from),
                Cell::text(match (&a.verdict, &a.versus_best) {
                    (Some(v), Some(b)) => format!("{v} ({b})"),
                    (Some(v), None) => v.clone(),
                    _ => "not run".to_owned(),
                }),
            ]);
        }
    }
    s.table(t);
    r.data = serde_json::to_value(e).unwrap_or(Value::Null);
    r
}
