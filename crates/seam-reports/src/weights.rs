//! The weights file of `seam report matrix`: how much each of the eight criteria counts, which
//! paths to score, and the judgements (0–5) for what traffic cannot measure (a team's skills, a
//! contract's terms). Parsed, then validated: every error names its TOML path, unknown keys are
//! refused. docs/examples/weights.toml is a worked example.
//!
//! ```toml
//! [weights]                        # relative; a criterion left out weighs 1
//! tco_predictability = 3
//! vendor_dependence_exit = 2
//!
//! [paths.build]                    # no [paths]: buy, build and hybrid
//! judgements = { talent_operations = 1 }
//! note = "two ML engineers, no on-call for GPUs"
//!
//! [paths.burst]                    # a path of its own, scored like hybrid
//! based_on = "hybrid"
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

/// The eight criteria, in report order.
pub const CRITERIA: [&str; 8] = [
    "time_to_value",
    "tco_predictability",
    "control_differentiation",
    "interoperability",
    "performance_scale",
    "risk_compliance",
    "talent_operations",
    "vendor_dependence_exit",
];

/// The paths whose formulas are built in.
pub const BASES: [&str; 3] = ["buy", "build", "hybrid"];

/// A judgement or a score: 0 (worst) to 5 (best).
pub const MAX_SCORE: f64 = 5.0;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Path {
    pub name: String,
    /// Whose formulas it is scored with: `buy`, `build` or `hybrid`.
    pub based_on: String,
    /// Criterion → 0..=5, replacing the formula.
    pub judgements: BTreeMap<String, f64>,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Weights {
    /// Criterion → weight ≥ 0, for all eight.
    pub weights: BTreeMap<String, f64>,
    pub paths: Vec<Path>,
}

/// An error in the weights file: its TOML path and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightsError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for WeightsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

fn err(path: impl Into<String>, message: impl Into<String>) -> WeightsError {
    WeightsError {
        path: path.into(),
        message: message.into(),
    }
}

fn number(v: &toml::Value, path: &str) -> Result<f64, WeightsError> {
    let n = match v {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        _ => return Err(err(path, "must be a number")),
    };
    if n.is_finite() {
        Ok(n)
    } else {
        Err(err(path, "must be a finite number"))
    }
}

fn criterion(name: &str, path: &str) -> Result<(), WeightsError> {
    if CRITERIA.contains(&name) {
        Ok(())
    } else {
        Err(err(
            path,
            format!("unknown criterion (one of {})", CRITERIA.join(", ")),
        ))
    }
}

fn table<'a>(v: &'a toml::Value, path: &str) -> Result<&'a toml::Table, WeightsError> {
    v.as_table().ok_or_else(|| err(path, "must be a table"))
}

impl Weights {
    /// Every criterion weighing 1 over buy, build and hybrid, with no judgements.
    pub fn even() -> Weights {
        Weights {
            weights: CRITERIA.iter().map(|c| ((*c).to_owned(), 1.0)).collect(),
            paths: BASES
                .iter()
                .map(|b| Path {
                    name: (*b).to_owned(),
                    based_on: (*b).to_owned(),
                    judgements: BTreeMap::new(),
                    note: None,
                })
                .collect(),
        }
    }

    pub fn parse(text: &str) -> Result<Weights, WeightsError> {
        let root: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            err("", format!("not valid TOML: {}", e.message().trim()))
        })?;
        let mut out = Weights::even();
        for (k, v) in &root {
            match k.as_str() {
                "weights" => {
                    for (c, w) in table(v, "weights")? {
                        let path = format!("weights.{c}");
                        criterion(c, &path)?;
                        let w = number(w, &path)?;
                        if w < 0.0 {
                            return Err(err(path, "must be 0 or more"));
                        }
                        out.weights.insert(c.clone(), w);
                    }
                }
                "paths" => {
                    let paths = table(v, "paths")?;
                    if paths.is_empty() {
                        return Err(err(
                            "paths",
                            "names no path (leave it out for buy, build and hybrid)",
                        ));
                    }
                    let mut named: Vec<Path> = paths
                        .iter()
                        .map(|(name, p)| path(name, p))
                        .collect::<Result<_, _>>()?;
                    // buy, build and hybrid first, in that order; the others by name.
                    named.sort_by_key(|p| {
                        (
                            BASES
                                .iter()
                                .position(|b| *b == p.name)
                                .unwrap_or(BASES.len()),
                            p.name.clone(),
                        )
                    });
                    out.paths = named;
                }
                _ => return Err(err(k, "unknown key (expected [weights] and [paths.NAME])")),
            }
        }
        if out.weights.values().all(|w| *w == 0.0) {
            return Err(err("weights", "every weight is 0: nothing would count"));
        }
        Ok(out)
    }
}

fn path(name: &str, v: &toml::Value) -> Result<Path, WeightsError> {
    let at = format!("paths.{name}");
    let t = table(v, &at)?;
    let mut p = Path {
        name: name.to_owned(),
        based_on: name.to_owned(),
        judgements: BTreeMap::new(),
        note: None,
    };
    let mut based = None;
    for (k, v) in t {
        let here = format!("{at}.{k}");
        match k.as_str() {
            "based_on" => {
                let b = v
                    .as_str()
                    .filter(|b| BASES.contains(b))
                    .ok_or_else(|| err(&here, format!("must be one of {}", BASES.join(", "))))?;
                based = Some(b.to_owned());
            }
            "note" => {
                p.note = Some(
                    v.as_str()
                        .ok_or_else(|| err(&here, "must be text"))?
                        .to_owned(),
                );
            }
            "judgements" => {
                for (c, j) in table(v, &here)? {
                    let jp = format!("{here}.{c}");
                    criterion(c, &jp)?;
                    let j = number(j, &jp)?;
                    if !(0.0..=MAX_SCORE).contains(&j) {
                        return Err(err(jp, "must be from 0 to 5"));
                    }
                    p.judgements.insert(c.clone(), j);
                }
            }
            _ => {
                return Err(err(
                    here,
                    "unknown key (expected based_on, judgements, note)",
                ));
            }
        }
    }
    match based {
        Some(b) => p.based_on = b,
        None if BASES.contains(&name) => {}
        None => {
            return Err(err(
                format!("{at}.based_on"),
                format!(
                    "is required for a path not named {} (whose formulas score it?)",
                    BASES.join(", ")
                ),
            ));
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn errors_name_their_toml_path() {
        let e = |t: &str| Weights::parse(t).unwrap_err().to_string();
        assert!(e("[weights]\ncost = 1\n").starts_with("weights.cost: unknown criterion"));
        assert!(
            e("[weights]\ntime_to_value = \"high\"\n")
                .starts_with("weights.time_to_value: must be a number")
        );
        assert!(
            e("[weights]\ntime_to_value = -1\n")
                .starts_with("weights.time_to_value: must be 0 or more")
        );
        assert!(
            e("[paths.build]\njudgements = { talent_operations = 7 }\n")
                .starts_with("paths.build.judgements.talent_operations: must be from 0 to 5")
        );
        assert!(e("[paths.build]\nscore = 1\n").starts_with("paths.build.score: unknown key"));
        assert!(e("[paths.burst]\n").starts_with("paths.burst.based_on: is required"));
        assert!(
            e("[paths.burst]\nbased_on = \"rent\"\n")
                .starts_with("paths.burst.based_on: must be one of")
        );
        assert!(e("[extra]\n").starts_with("extra: unknown key"));
        assert!(e("weights = [").starts_with("not valid TOML"));
    }

    #[test]
    fn missing_criteria_weigh_one_and_no_paths_means_the_three() {
        let w = Weights::parse("[weights]\ntco_predictability = 3\n").unwrap();
        assert_eq!(w.weights["tco_predictability"], 3.0);
        assert_eq!(w.weights["time_to_value"], 1.0);
        let names: Vec<&str> = w.paths.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["buy", "build", "hybrid"]);
    }
}
