//! Each report from a store, built one way for every caller: `seam report …` and the console's
//! reports page both call these, so the two can never disagree.
//!
//! Every function reads the audit log in one streaming pass (and the eval runs where the report
//! weighs quality); none keeps a payload. They block: call them off an async runtime's threads.

use std::collections::BTreeMap;

use seam_config::Price;
use seam_store::{AuditLog, EvalStore, StoreConfig, StoreError};

use crate::capabilities::Overrides;
use crate::doc::Report;
use crate::quality::{self, Collector, Quality, Source};
use crate::setup::Setup;
use crate::traffic::{self, Period};
use crate::weights::Weights;
use crate::{cost, exit, matrix, whatif};

/// Why a report could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// The store could not be read (the message is the store's, with no secret in it).
    Store(String),
    /// An input the caller gave is wrong (a scenario or weights file): what is wrong, by path.
    Input(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Store(m) | BuildError::Input(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BuildError {}

fn store_error(what: &str) -> impl Fn(StoreError) -> BuildError + '_ {
    move |e| BuildError::Store(format!("cannot {what}: {e}"))
}

/// What every report is built from: the store, the config's setup and prices, the period.
pub struct Inputs<'a> {
    /// The store to read; `None` when there is none (only `quality` can do without).
    pub store: Option<&'a StoreConfig>,
    pub setup: &'a Setup,
    pub pricing: &'a BTreeMap<String, Price>,
    pub period: Period,
    /// Now, RFC 3339: the report's `generated`.
    pub generated: String,
    /// Eval or red-team reports read besides the store's uploads.
    pub results: Vec<Source>,
}

impl Inputs<'_> {
    fn log(&self) -> Result<AuditLog, BuildError> {
        let store = self
            .store
            .ok_or_else(|| BuildError::Store("there is no store to read".to_owned()))?;
        AuditLog::open(store).map_err(store_error("open the audit log"))
    }

    /// `since to until`: the subtitle of the reports over a period.
    pub fn subtitle(&self) -> String {
        format!(
            "{} to {}",
            seam_store::rfc3339(self.period.since_ms),
            seam_store::rfc3339(self.period.until_ms)
        )
    }

    /// The latest eval and red-team results (the store's uploads, then `results`) and the
    /// period's online metrics.
    fn quality(&self) -> Result<Quality, BuildError> {
        let mut c = Collector::default();
        let mut online = Vec::new();
        if let Some(store) = self.store {
            let mut evals =
                EvalStore::open(store).map_err(store_error("open the store's eval runs"))?;
            quality::from_store(&mut evals, &mut c)
                .map_err(store_error("read the store's eval runs"))?;
            let mut log = self.log()?;
            online = quality::online(
                &mut log,
                Some(self.period.since_ms),
                Some(self.period.until_ms),
            )
            .map_err(store_error("read the audit log"))?;
        }
        for r in &self.results {
            c.add(r.clone());
        }
        Ok(c.finish(online))
    }
}

/// `seam report cost`.
pub fn cost(i: &Inputs<'_>) -> Result<Report, BuildError> {
    let mut log = i.log()?;
    let t = traffic::scan(&mut log, i.period).map_err(store_error("read the audit log"))?;
    Ok(cost::report(&t, &i.generated))
}

/// `seam report whatif`: `scenarios` is the scenario file's text, `name` how to call it.
pub fn whatif(i: &Inputs<'_>, scenarios: &str, name: &str) -> Result<Report, BuildError> {
    let parsed = crate::scenario::parse(scenarios, i.pricing)
        .map_err(|errors| BuildError::Input(format!("{name}: {}", errors.join("; "))))?;
    let mut log = i.log()?;
    let mut w = whatif::Whatif::new(parsed);
    let t = traffic::scan_with(&mut log, i.period, &mut |f| w.add(f))
        .map_err(store_error("read the audit log"))?;
    let data = w.data(&t);
    Ok(whatif::report(&data, &i.generated, name))
}

/// `seam report quality`.
pub fn quality(i: &Inputs<'_>) -> Result<Report, BuildError> {
    let q = i.quality()?;
    Ok(quality::report(
        &q,
        &i.generated,
        Some(format!("online metrics {}", i.subtitle())),
    ))
}

/// `seam report matrix`: `weights_from` says where the weights came from, for the subtitle.
pub fn matrix(i: &Inputs<'_>, weights: &Weights, weights_from: &str) -> Result<Report, BuildError> {
    let mut log = i.log()?;
    let mut usage = exit::Usage::default();
    let t = traffic::scan_with(&mut log, i.period, &mut |f| usage.add(f, i.setup))
        .map_err(store_error("read the audit log"))?;
    drop(log);
    let q = i.quality()?;
    let facts = matrix::facts(i.setup, &t, &usage, &q);
    let m = matrix::score(facts, weights);
    Ok(matrix::report(
        &m,
        &i.generated,
        Some(format!("{}, {weights_from}", i.subtitle())),
    ))
}

/// `seam report exit`.
pub fn exit(i: &Inputs<'_>, overrides: &Overrides) -> Result<Report, BuildError> {
    let mut log = i.log()?;
    let usage =
        exit::scan(&mut log, i.period, i.setup).map_err(store_error("read the audit log"))?;
    drop(log);
    let q = i.quality()?;
    let e = exit::build(i.setup, &usage, &q, overrides);
    Ok(exit::report(&e, &i.generated, Some(i.subtitle())))
}
