//! The what-if scenario file (`seam report whatif --scenarios FILE`): the paths to replay the
//! period's traffic against. Parse, then validate: [`parse`] returns a [`Scenarios`] with no
//! unset option left to check, or every problem with its TOML path
//! (`paths[2].gpu_usd_per_hour: must be > 0`). Unknown keys are refused.

use std::collections::BTreeMap;

use seam_config::Price;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// Vendor prices move by ± this many percent in the sensitivity table (default 20).
    #[serde(default)]
    price_change_pct: Option<f64>,
    #[serde(default)]
    paths: Vec<RawPath>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    name: Option<String>,
    kind: String,
    // vendor, and hybrid's overflow
    model: Option<String>,
    input_per_mtok: Option<f64>,
    output_per_mtok: Option<f64>,
    cached_input_per_mtok: Option<f64>,
    // self_hosted and hybrid
    gpu_usd_per_hour: Option<f64>,
    prefill_tokens_per_s: Option<f64>,
    decode_tokens_per_s: Option<f64>,
    utilisation: Option<f64>,
    min_gpus: Option<u32>,
    gpus: Option<u32>,
    // fixed costs, any kind
    engineering_hours_per_month: Option<f64>,
    engineering_usd_per_hour: Option<f64>,
    platform_usd_per_month: Option<f64>,
    setup_usd: Option<f64>,
}

/// A validated scenario file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenarios {
    pub price_change_pct: f64,
    pub paths: Vec<Path>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Path {
    pub name: String,
    pub kind: PathKind,
    pub fixed: Fixed,
}

/// Costs that do not move with traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Fixed {
    pub engineering_hours_per_month: f64,
    pub engineering_usd_per_hour: f64,
    pub platform_usd_per_month: f64,
    pub setup_usd: f64,
}

impl Fixed {
    pub fn monthly(&self) -> f64 {
        self.engineering_hours_per_month * self.engineering_usd_per_hour
            + self.platform_usd_per_month
    }
}

/// GPUs of one kind: what an hour costs and what one does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Gpu {
    pub usd_per_hour: f64,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    /// The share of a GPU's time the plan counts on, (0, 1].
    pub utilisation: f64,
}

impl Gpu {
    /// GPU-seconds one request of these tokens takes at full speed.
    pub fn seconds(&self, input: u64, output: u64) -> f64 {
        input as f64 / self.prefill_tokens_per_s + output as f64 / self.decode_tokens_per_s
    }

    /// GPU-seconds one GPU offers in a minute at the target utilisation.
    pub fn per_minute(&self) -> f64 {
        60.0 * self.utilisation
    }
}

/// A vendor model and its price.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Vendor {
    pub model: String,
    #[serde(skip)]
    pub price: Price,
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    pub cached_input_per_mtok: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PathKind {
    Vendor(Vendor),
    SelfHosted {
        gpu: Gpu,
        min_gpus: u32,
    },
    Hybrid {
        gpu: Gpu,
        gpus: u32,
        overflow: Vendor,
    },
}

impl PathKind {
    pub fn name(&self) -> &'static str {
        match self {
            PathKind::Vendor(_) => "vendor",
            PathKind::SelfHosted { .. } => "self_hosted",
            PathKind::Hybrid { .. } => "hybrid",
        }
    }
}

/// Parses and validates `text`; `overrides` is the config's `[pricing]` (`provider/model` →
/// price), consulted before the bundled catalog.
pub fn parse(text: &str, overrides: &BTreeMap<String, Price>) -> Result<Scenarios, Vec<String>> {
    let de = toml::Deserializer::parse(text).map_err(|e| vec![toml_error("", &e, text)])?;
    let raw: RawFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = seam_config::toml_path(&e.path().to_string());
        vec![toml_error(&path, e.inner(), text)]
    })?;
    let mut errors = Vec::new();
    let price_change_pct = raw.price_change_pct.unwrap_or(20.0);
    if !(price_change_pct.is_finite() && (0.0..100.0).contains(&price_change_pct)) {
        errors.push("price_change_pct: must be at least 0 and under 100".to_owned());
    }
    if raw.paths.is_empty() {
        errors.push("paths: at least one [[paths]] is needed".to_owned());
    }
    let mut paths = Vec::new();
    for (i, p) in raw.paths.into_iter().enumerate() {
        if let Some(p) = path(i, p, overrides, &mut errors) {
            paths.push(p);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, p) in paths.iter().enumerate() {
        if !seen.insert(p.name.clone()) {
            errors.push(format!("paths[{i}].name: `{}` is used twice", p.name));
        }
    }
    if errors.is_empty() {
        Ok(Scenarios {
            price_change_pct,
            paths,
        })
    } else {
        Err(errors)
    }
}

fn path(
    i: usize,
    p: RawPath,
    overrides: &BTreeMap<String, Price>,
    errors: &mut Vec<String>,
) -> Option<Path> {
    let at = |field: &str| format!("paths[{i}].{field}");
    let before = errors.len();
    let mut nonneg = |field: &str, v: Option<f64>| -> f64 {
        match v {
            Some(x) if !(x.is_finite() && x >= 0.0) => {
                errors.push(format!("{}: must be ≥ 0", at(field)));
                0.0
            }
            Some(x) => x,
            None => 0.0,
        }
    };
    let fixed = Fixed {
        engineering_hours_per_month: nonneg(
            "engineering_hours_per_month",
            p.engineering_hours_per_month,
        ),
        engineering_usd_per_hour: nonneg("engineering_usd_per_hour", p.engineering_usd_per_hour),
        platform_usd_per_month: nonneg("platform_usd_per_month", p.platform_usd_per_month),
        setup_usd: nonneg("setup_usd", p.setup_usd),
    };
    let kind = match p.kind.as_str() {
        "vendor" => {
            forbid(i, &p, &["gpu", "gpus"], errors);
            vendor(i, &p, overrides, errors).map(PathKind::Vendor)
        }
        "self_hosted" => {
            forbid(i, &p, &["model", "gpus"], errors);
            let gpu = gpu(i, &p, errors);
            gpu.map(|gpu| PathKind::SelfHosted {
                gpu,
                min_gpus: p.min_gpus.unwrap_or(0),
            })
        }
        "hybrid" => {
            let gpus = match p.gpus {
                Some(n) if n > 0 => Some(n),
                Some(_) => {
                    errors.push(format!("{}: must be > 0", at("gpus")));
                    None
                }
                None => {
                    errors.push(format!("{}: required for a hybrid path", at("gpus")));
                    None
                }
            };
            let gpu = gpu(i, &p, errors);
            let overflow = vendor(i, &p, overrides, errors);
            match (gpu, gpus, overflow) {
                (Some(gpu), Some(gpus), Some(overflow)) => Some(PathKind::Hybrid {
                    gpu,
                    gpus,
                    overflow,
                }),
                _ => None,
            }
        }
        other => {
            errors.push(format!(
                "{}: unknown kind `{other}`; expected vendor, self_hosted or hybrid",
                at("kind")
            ));
            None
        }
    };
    let name = p.name.unwrap_or_else(|| format!("{} {}", p.kind, i + 1));
    match kind {
        Some(kind) if errors.len() == before => Some(Path { name, kind, fixed }),
        _ => None,
    }
}

/// Fields that make no sense for this kind are refused rather than silently ignored.
fn forbid(i: usize, p: &RawPath, groups: &[&str], errors: &mut Vec<String>) {
    let mut set: Vec<&str> = Vec::new();
    for g in groups {
        match *g {
            "gpu" => {
                if p.gpu_usd_per_hour.is_some() {
                    set.push("gpu_usd_per_hour");
                }
                if p.prefill_tokens_per_s.is_some() {
                    set.push("prefill_tokens_per_s");
                }
                if p.decode_tokens_per_s.is_some() {
                    set.push("decode_tokens_per_s");
                }
                if p.utilisation.is_some() {
                    set.push("utilisation");
                }
                if p.min_gpus.is_some() {
                    set.push("min_gpus");
                }
            }
            "gpus" => {
                if p.gpus.is_some() {
                    set.push("gpus");
                }
            }
            _ => {
                if p.model.is_some() {
                    set.push("model");
                }
                if p.input_per_mtok.is_some() {
                    set.push("input_per_mtok");
                }
                if p.output_per_mtok.is_some() {
                    set.push("output_per_mtok");
                }
            }
        }
    }
    for f in set {
        errors.push(format!("paths[{i}].{f}: not used by a {} path", p.kind));
    }
}

fn gpu(i: usize, p: &RawPath, errors: &mut Vec<String>) -> Option<Gpu> {
    let before = errors.len();
    let mut positive = |field: &str, v: Option<f64>| -> f64 {
        match v {
            Some(x) if x.is_finite() && x > 0.0 => x,
            Some(_) => {
                errors.push(format!("paths[{i}].{field}: must be > 0"));
                0.0
            }
            None => {
                errors.push(format!(
                    "paths[{i}].{field}: required for a {} path",
                    p.kind
                ));
                0.0
            }
        }
    };
    let g = Gpu {
        usd_per_hour: positive("gpu_usd_per_hour", p.gpu_usd_per_hour),
        prefill_tokens_per_s: positive("prefill_tokens_per_s", p.prefill_tokens_per_s),
        decode_tokens_per_s: positive("decode_tokens_per_s", p.decode_tokens_per_s),
        utilisation: p.utilisation.unwrap_or(0.7),
    };
    if !(g.utilisation > 0.0 && g.utilisation <= 1.0) {
        errors.push(format!("paths[{i}].utilisation: must be in (0, 1]"));
    }
    (errors.len() == before).then_some(g)
}

fn vendor(
    i: usize,
    p: &RawPath,
    overrides: &BTreeMap<String, Price>,
    errors: &mut Vec<String>,
) -> Option<Vendor> {
    let Some(model) = p.model.clone() else {
        errors.push(format!(
            "paths[{i}].model: required for a {} path (`provider/model`)",
            p.kind
        ));
        return None;
    };
    let price = match (p.input_per_mtok, p.output_per_mtok) {
        (Some(input), Some(output)) => Price {
            input_per_mtok: input,
            output_per_mtok: output,
            cached_input_per_mtok: p.cached_input_per_mtok,
        },
        (None, None) => {
            match overrides
                .get(&model)
                .copied()
                .or_else(|| seam_config::pricing::catalog_price(&model))
            {
                Some(mut price) => {
                    if let Some(c) = p.cached_input_per_mtok {
                        price.cached_input_per_mtok = Some(c);
                    }
                    price
                }
                None => {
                    errors.push(format!(
                        "paths[{i}].model: `{model}` has no price in [pricing] or the bundled catalog; give input_per_mtok and output_per_mtok"
                    ));
                    return None;
                }
            }
        }
        _ => {
            errors.push(format!(
                "paths[{i}]: input_per_mtok and output_per_mtok go together"
            ));
            return None;
        }
    };
    for (f, v) in [
        ("input_per_mtok", Some(price.input_per_mtok)),
        ("output_per_mtok", Some(price.output_per_mtok)),
        ("cached_input_per_mtok", price.cached_input_per_mtok),
    ] {
        if let Some(v) = v
            && !(v.is_finite() && v >= 0.0)
        {
            errors.push(format!("paths[{i}].{f}: must be ≥ 0"));
            return None;
        }
    }
    Some(Vendor {
        model,
        price,
        input_per_mtok: price.input_per_mtok,
        output_per_mtok: price.output_per_mtok,
        cached_input_per_mtok: price.cached_input_per_mtok,
    })
}

fn toml_error(path: &str, e: &toml::de::Error, text: &str) -> String {
    let msg = seam_config::toml_message(e, text);
    if path.is_empty() {
        msg
    } else {
        format!("{path}: {msg}")
    }
}
