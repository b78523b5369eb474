//! `[telemetry]`: OpenTelemetry traces exported over OTLP/HTTP (protobuf). Absent `endpoint`
//! means no export and nothing recorded.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::{ConfigError, Resolver, Secret};

pub const DEFAULT_SERVICE_NAME: &str = "seam";
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_QUEUE: usize = 2048;
pub const DEFAULT_BATCH: usize = 512;
/// The largest `queue`: spans are small, but the buffer must stay bounded.
pub const MAX_QUEUE: usize = 1 << 20;

/// A validated `[telemetry]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TelemetryConfig {
    /// The traces URL, `{endpoint}/v1/traces`; `None`: no export, nothing recorded.
    pub traces_url: Option<String>,
    /// Sent with every export (a collector's credential); values may be `env:`/`file:`.
    pub headers: Vec<(String, Secret)>,
    /// The share of traces Seam begins that are sampled; a client's sampled flag is honoured.
    pub sampling: f64,
    pub service_name: String,
    /// Extra resource attributes (`deployment.environment`, …).
    pub resource: BTreeMap<String, String>,
    /// Message content on spans (`gen_ai.input.messages`, `gen_ai.output.messages`), after policy.
    pub capture_content: bool,
    pub timeout: Duration,
    /// Spans buffered for export; more are dropped (and counted).
    pub queue: usize,
    /// Spans per export request.
    pub batch: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            traces_url: None,
            headers: Vec::new(),
            sampling: 1.0,
            service_name: DEFAULT_SERVICE_NAME.to_owned(),
            resource: BTreeMap::new(),
            capture_content: false,
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            queue: DEFAULT_QUEUE,
            batch: DEFAULT_BATCH,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawTelemetry {
    pub endpoint: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub sampling: Option<f64>,
    pub service_name: Option<String>,
    #[serde(default)]
    pub resource: BTreeMap<String, String>,
    pub capture_content: Option<bool>,
    pub timeout_ms: Option<u64>,
    pub queue: Option<u64>,
    pub batch: Option<u64>,
}

pub(crate) fn telemetry(
    raw: RawTelemetry,
    r: &Resolver<'_>,
    errors: &mut Vec<ConfigError>,
) -> TelemetryConfig {
    let d = TelemetryConfig::default();
    let traces_url = raw.endpoint.and_then(|e| {
        let e = e.trim_end_matches('/');
        let rest = e
            .strip_prefix("http://")
            .or_else(|| e.strip_prefix("https://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
                Some(format!("{e}/v1/traces"))
            }
            _ => {
                errors.push(ConfigError::new(
                    "telemetry.endpoint",
                    "must be an http:// or https:// URL (the OTLP/HTTP base, e.g. \
                     http://127.0.0.1:4318)",
                ));
                None
            }
        }
    });
    let mut headers = Vec::new();
    for (name, v) in raw.headers {
        let path = format!("telemetry.headers.{name}");
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            errors.push(ConfigError::new(path, "is not a valid header name"));
            continue;
        }
        let value = if v.starts_with("env:") || v.starts_with("file:") {
            match r.secret(&path, &v) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            }
        } else {
            Secret::new(v)
        };
        headers.push((name, value));
    }
    let sampling = match raw.sampling {
        None => d.sampling,
        Some(s) if (0.0..=1.0).contains(&s) => s,
        Some(_) => {
            errors.push(ConfigError::new(
                "telemetry.sampling",
                "must be a ratio between 0 and 1",
            ));
            d.sampling
        }
    };
    let service_name = match raw.service_name {
        None => d.service_name,
        Some(s) if s.trim().is_empty() => {
            errors.push(ConfigError::new(
                "telemetry.service_name",
                "must not be empty",
            ));
            d.service_name
        }
        Some(s) => s,
    };
    let timeout = match raw.timeout_ms {
        None => d.timeout,
        Some(0) => {
            errors.push(ConfigError::new(
                "telemetry.timeout_ms",
                "must be at least 1",
            ));
            d.timeout
        }
        Some(ms) => Duration::from_millis(ms),
    };
    let count = |v: Option<u64>, default: usize, name: &str, errors: &mut Vec<ConfigError>| match v
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    {
        None => default,
        Some(n) if (1..=MAX_QUEUE).contains(&n) => n,
        Some(_) => {
            errors.push(ConfigError::new(
                format!("telemetry.{name}"),
                format!("must be between 1 and {MAX_QUEUE}"),
            ));
            default
        }
    };
    let queue = count(raw.queue, d.queue, "queue", errors);
    let batch = count(raw.batch, d.batch, "batch", errors);
    if batch > queue {
        errors.push(ConfigError::new(
            "telemetry.batch",
            format!("must not exceed telemetry.queue ({queue})"),
        ));
    }
    TelemetryConfig {
        traces_url,
        headers,
        sampling,
        service_name,
        resource: raw.resource,
        capture_content: raw.capture_content.unwrap_or(false),
        timeout,
        queue,
        batch: batch.min(queue),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::PathBuf;

    use super::*;

    fn check(text: &str) -> Result<TelemetryConfig, Vec<String>> {
        let env = |k: &str| (k == "OTLP_TOKEN").then(|| "Bearer t0k3n".to_owned());
        let r = Resolver {
            env: &env,
            base_dir: PathBuf::from("/tmp"),
        };
        crate::from_toml(text, &r)
            .map(|c| c.telemetry)
            .map_err(|es| es.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn absent_means_no_export_with_defaults() {
        let t = check("").unwrap();
        assert_eq!(t, TelemetryConfig::default());
        assert!(t.traces_url.is_none());
    }

    #[test]
    fn a_full_section_is_read() {
        let t = check(
            r#"
[telemetry]
endpoint = "http://127.0.0.1:4318/"
headers = { authorization = "env:OTLP_TOKEN", x-tenant = "acme" }
sampling = 0.25
service_name = "gateway-eu"
resource = { "deployment.environment" = "prod" }
capture_content = true
timeout_ms = 800
queue = 100
batch = 10
"#,
        )
        .unwrap();
        assert_eq!(
            t.traces_url.as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(t.headers[0].0, "authorization");
        assert_eq!(t.headers[0].1.expose(), "Bearer t0k3n");
        assert_eq!(format!("{:?}", t.headers[0].1), "***");
        assert_eq!(t.headers[1].1.expose(), "acme");
        assert!((t.sampling - 0.25).abs() < 1e-12);
        assert_eq!(t.service_name, "gateway-eu");
        assert_eq!(t.resource["deployment.environment"], "prod");
        assert!(t.capture_content);
        assert_eq!(t.timeout, Duration::from_millis(800));
        assert_eq!((t.queue, t.batch), (100, 10));
    }

    #[test]
    fn bad_values_are_reported_together_with_their_paths() {
        let e = check(
            r#"
[telemetry]
endpoint = "127.0.0.1:4318"
headers = { authorization = "env:MISSING", "bad header" = "x" }
sampling = 1.5
service_name = " "
timeout_ms = 0
queue = 0
batch = 5000
"#,
        )
        .unwrap_err();
        let joined = e.join("\n");
        for path in [
            "telemetry.endpoint",
            "telemetry.headers.authorization",
            "telemetry.headers.bad header",
            "telemetry.sampling",
            "telemetry.service_name",
            "telemetry.timeout_ms",
            "telemetry.queue",
            "telemetry.batch",
        ] {
            assert!(joined.contains(path), "{path} missing from {joined}");
        }
        let e = check("[telemetry]\ncolour = \"blue\"\n").unwrap_err();
        assert!(e.join("\n").contains("telemetry.colour"), "{e:?}");
    }
}
