//! Secrets: `env:NAME` and `file:PATH` references, resolved once while the config is validated,
//! and [`Secret`], whose `Debug` never prints the value.

use std::fmt;
use std::path::PathBuf;

use crate::ConfigError;

/// A resolved secret. `Debug` and `Display` print `***`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where `env:` and `file:` references are resolved. Tests pass their own; the binary reads the
/// process environment and the filesystem relative to the config file.
pub struct Resolver<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub base_dir: PathBuf,
}

impl Resolver<'_> {
    pub fn process(base_dir: PathBuf) -> Resolver<'static> {
        Resolver {
            env: &|name| std::env::var(name).ok(),
            base_dir,
        }
    }

    pub(crate) fn secret(&self, path: &str, value: &str) -> Result<Secret, ConfigError> {
        if let Some(name) = value.strip_prefix("env:") {
            return match (self.env)(name) {
                Some(v) if !v.is_empty() => Ok(Secret(v)),
                _ => Err(ConfigError::new(
                    path,
                    format!("environment variable {name} is not set"),
                )),
            };
        }
        if let Some(file) = value.strip_prefix("file:") {
            let p = self.base_dir.join(file);
            return match std::fs::read_to_string(&p) {
                Ok(s) if !s.trim().is_empty() => Ok(Secret(s.trim().to_owned())),
                Ok(_) => Err(ConfigError::new(path, format!("{} is empty", p.display()))),
                Err(e) => Err(ConfigError::new(
                    path,
                    format!("cannot read {}: {e}", p.display()),
                )),
            };
        }
        Err(ConfigError::new(
            path,
            "must be \"env:NAME\" or \"file:PATH\" so the secret stays out of the config file",
        ))
    }
}
