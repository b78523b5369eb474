//! The values a probe's templates name (`{{canary}}`, `{{nonce}}`, `{{pii.card}}`,
//! `{{secret.aws_key_id}}` …) and the renderer that fills them in.
//!
//! Canaries, nonces and secrets are drawn per probe from the run's seed (SHA-256 of the seed, the
//! probe id and the name), so a run is reproduced exactly by its seed and a value found in one
//! probe's answer can only have come from that probe. The personal data is fixed: values that
//! Seam's detectors (and most others) recognise, none of them a real person's.

use ring::digest::{SHA256, digest};

/// Fake but valid-looking personal data: checksums pass, formats are the real ones.
pub const PII: &[(&str, &str)] = &[
    ("pii.email", "ada.lovelace@example.com"),
    ("pii.email2", "grace.hopper@example.org"),
    // Luhn-valid Visa and Mastercard test numbers.
    ("pii.card", "4111 1111 1111 1111"),
    ("pii.card_compact", "4111111111111111"),
    ("pii.card2", "5555 5555 5555 4444"),
    // A valid area, group and serial that was never issued as a published example.
    ("pii.ssn", "536-22-8726"),
    // Ofcom's range for drama: never assigned to a subscriber.
    ("pii.phone", "+44 20 7946 0958"),
    // The mod-97-valid IBAN every bank's documentation uses.
    ("pii.iban", "GB82 WEST 1234 5698 7654 32"),
];

const UPPER_DIGITS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const DIGITS: &[u8] = b"0123456789";
/// Consonants that leetspeak and ROT13-insensitive comparisons leave alone, so a nonce survives
/// leetspeak unchanged and is always changed by ROT13.
const NONCE_LETTERS: &[u8] = b"CDFHJKMNPQRUVWXY";
const NONCE_DIGITS: &[u8] = b"23456789";

/// A fake credential: its vendor prefix and random body.
struct SecretShape {
    name: &'static str,
    prefix: &'static str,
    /// (alphabet, length) runs after the prefix; a `None` alphabet is a literal separator.
    body: &'static [(&'static [u8], usize)],
}

/// Each shape matches the vendor's documented format, so a gateway's secret scanner sees a
/// real-looking key.
const SECRETS: &[SecretShape] = &[
    SecretShape {
        name: "secret.aws_key_id",
        prefix: "AKIA",
        body: &[(UPPER_DIGITS, 16)],
    },
    SecretShape {
        name: "secret.aws_secret",
        prefix: "",
        body: &[(ALNUM, 40)],
    },
    SecretShape {
        name: "secret.openai",
        prefix: "sk-proj-",
        body: &[(ALNUM, 48)],
    },
    SecretShape {
        name: "secret.github",
        prefix: "ghp_",
        body: &[(ALNUM, 36)],
    },
    SecretShape {
        name: "secret.slack",
        prefix: "xoxb-",
        body: &[(DIGITS, 12), (b"-", 1), (ALNUM, 24)],
    },
    SecretShape {
        name: "secret.stripe",
        prefix: "sk_live_",
        body: &[(ALNUM, 24)],
    },
    SecretShape {
        name: "secret.google",
        prefix: "AIza",
        body: &[(ALNUM, 35)],
    },
    SecretShape {
        name: "secret.db_password",
        prefix: "",
        body: &[(ALNUM, 20)],
    },
];

/// A secret the probe planted: the whole value and the part after its vendor prefix, which is
/// what proves a leak when a model drops or alters the prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planted {
    pub name: &'static str,
    pub value: String,
    pub body: String,
}

/// Every value one probe's templates can name.
#[derive(Clone, Debug)]
pub struct Vars {
    pub canary: String,
    pub nonce: String,
    pub secrets: Vec<Planted>,
}

impl Vars {
    pub fn new(seed: u64, probe_id: &str) -> Vars {
        let draw = |name: &str, runs: &[(&[u8], usize)]| draw(seed, probe_id, name, runs);
        let canary = format!(
            "{}-{}",
            draw("canary.word", &[(b"BCDFGHJKLMNPRSTVWXZ", 4)]),
            draw("canary", &[(UPPER_DIGITS, 8)])
        );
        let nonce = draw(
            "nonce",
            &[
                (NONCE_LETTERS, 1),
                (NONCE_DIGITS, 1),
                (NONCE_LETTERS, 1),
                (NONCE_DIGITS, 1),
                (NONCE_LETTERS, 1),
                (NONCE_DIGITS, 1),
                (NONCE_LETTERS, 1),
                (NONCE_DIGITS, 1),
            ],
        );
        let secrets = SECRETS
            .iter()
            .map(|s| {
                let body = draw(s.name, s.body);
                Planted {
                    name: s.name,
                    value: format!("{}{body}", s.prefix),
                    body,
                }
            })
            .collect();
        Vars {
            canary,
            nonce,
            secrets,
        }
    }

    /// The value of `name`, if it is one a template may use.
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "canary" => Some(&self.canary),
            "nonce" => Some(&self.nonce),
            _ => PII
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .or_else(|| {
                    self.secrets
                        .iter()
                        .find(|s| s.name == name)
                        .map(|s| s.value.as_str())
                }),
        }
    }

    /// The planted secret a value is, if it is one.
    pub fn secret(&self, value: &str) -> Option<&Planted> {
        self.secrets.iter().find(|s| s.value == value)
    }
}

/// Every name a template may use besides `payload` and `context`.
pub fn names() -> Vec<&'static str> {
    let mut names = vec!["canary", "nonce"];
    names.extend(PII.iter().map(|(n, _)| *n));
    names.extend(SECRETS.iter().map(|s| s.name));
    names
}

/// Characters from each alphabet in turn, from SHA-256 in counter mode over the seed, the probe
/// and the name.
fn draw(seed: u64, probe: &str, name: &str, runs: &[(&[u8], usize)]) -> String {
    let mut out = String::new();
    let mut pool: Vec<u8> = Vec::new();
    let mut counter = 0u32;
    for (alphabet, len) in runs {
        for _ in 0..*len {
            if pool.is_empty() {
                let mut input = seed.to_le_bytes().to_vec();
                input.extend_from_slice(probe.as_bytes());
                input.push(0);
                input.extend_from_slice(name.as_bytes());
                input.push(0);
                input.extend_from_slice(&counter.to_le_bytes());
                counter += 1;
                pool = digest(&SHA256, &input).as_ref().to_vec();
            }
            let byte = pool.pop().unwrap_or(0);
            let i = usize::from(byte) % alphabet.len().max(1);
            out.push(char::from(alphabet.get(i).copied().unwrap_or(b'X')));
        }
    }
    out
}

/// `template` with every `{{ name }}` replaced by `lookup(name)`; the first unknown name is the
/// error. Text outside the braces is copied as it is.
pub fn render(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err("an unclosed `{{`".into());
        };
        let name = after[..close].trim();
        match lookup(name) {
            Some(v) => out.push_str(&v),
            None => return Err(format!("unknown variable `{{{{{name}}}}}`")),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The names a template uses, in order.
pub fn used(template: &str) -> Vec<String> {
    let names = std::cell::RefCell::new(Vec::new());
    let _ = render(template, &|n| {
        names.borrow_mut().push(n.to_owned());
        Some(String::new())
    });
    names.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_depend_on_seed_and_probe_only() {
        let a = Vars::new(7, "p1");
        let b = Vars::new(7, "p1");
        let c = Vars::new(8, "p1");
        let d = Vars::new(7, "p2");
        assert_eq!(a.canary, b.canary);
        assert_eq!(a.nonce, b.nonce);
        assert_ne!(a.canary, c.canary);
        assert_ne!(a.nonce, d.nonce);
        assert_eq!(a.canary.len(), 13);
        assert_eq!(a.nonce.len(), 8);
        let aws = a.get("secret.aws_key_id").unwrap();
        assert!(aws.starts_with("AKIA") && aws.len() == 20, "{aws}");
        let slack = a.get("secret.slack").unwrap();
        assert_eq!(slack.split('-').count(), 3, "{slack}");
        assert_eq!(a.get("pii.ssn"), Some("536-22-8726"));
        assert_eq!(a.get("nope"), None);
        for name in names() {
            assert!(a.get(name).is_some(), "{name}");
        }
    }

    #[test]
    fn render_fills_and_rejects() {
        let vars = Vars::new(1, "x");
        let lookup = |n: &str| vars.get(n).map(str::to_owned);
        assert_eq!(
            render("SSN {{ pii.ssn }}!", &lookup).unwrap(),
            "SSN 536-22-8726!"
        );
        assert_eq!(
            render("{{nope}}", &lookup).unwrap_err(),
            "unknown variable `{{nope}}`"
        );
        assert!(render("{{canary", &lookup).is_err());
        assert_eq!(used("a {{x}} b {{ y }}"), vec!["x", "y"]);
    }
}
