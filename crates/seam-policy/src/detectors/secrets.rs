//! SECRET_*: credentials. Vendor keys are found by their documented prefixes and shapes; JWTs,
//! PEM private keys, passwords in URLs and connection strings by their structure; anything else
//! only as a high-entropy token right after a key-like word ("api_key", "token", "bearer"…), since
//! entropy alone flags every hash and UUID.
//!
//! One ASCII-case-insensitive Aho-Corasick pass over the literals every rule needs (`sk-`, `AKIA`,
//! `://`, `password`…) decides which rules' regexes run at all, so a prompt without any of them
//! costs one automaton scan. For URL and connection-string credentials the finding covers only the
//! password, so a redacted URL stays readable.

use aho_corasick::AhoCorasick;
use regex::Regex;

use crate::{Detector, Finding};

use generic::entropy;
use generic::{KEY_WORDS, generic, reach_sorted};

/// Every entity this detector reports, so a policy can address "all secrets".
pub const SECRET_ENTITIES: &[&str] = &[
    "SECRET_OPENAI_KEY",
    "SECRET_ANTHROPIC_KEY",
    "SECRET_AWS_ACCESS_KEY_ID",
    "SECRET_AWS_SECRET_KEY",
    "SECRET_GITHUB_TOKEN",
    "SECRET_GITLAB_TOKEN",
    "SECRET_SLACK_TOKEN",
    "SECRET_STRIPE_KEY",
    "SECRET_GOOGLE_API_KEY",
    "SECRET_JWT",
    "SECRET_PRIVATE_KEY",
    "SECRET_URL_CREDENTIALS",
    "SECRET_CONNECTION_STRING",
    "SECRET_GENERIC",
];

/// What a rule checks after its pattern matched.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// A prefixed vendor token: bounded by non-token bytes, body looks random.
    Token,
    /// Like `Token`, but an OpenAI `sk-` match that is really an Anthropic key is left to that rule.
    OpenAi,
    /// 40 base64 characters, only with an AWS word shortly before.
    AwsSecret,
    /// The header segment decodes to a JSON object naming an `alg`.
    Jwt,
    /// The block holds key material, not just the armour lines.
    PrivateKey,
    /// Capture group 1 is the secret; placeholders (`${PASSWORD}`, `<password>`) are not.
    Password,
    /// As `Password`, and only inside something shaped like a DSN.
    Dsn,
}

struct Rule {
    entity: &'static str,
    score: f32,
    /// One of these must occur (ASCII case-insensitively) for the pattern to be worth running.
    literals: &'static [&'static str],
    pattern: &'static str,
    check: Check,
}

/// Shapes as the vendors document them; lengths are lower bounds where vendors have lengthened
/// keys over time, exact where the format is fixed.
const RULES: &[Rule] = &[
    Rule {
        entity: "SECRET_ANTHROPIC_KEY",
        score: 0.97,
        literals: &["sk-ant-"],
        pattern: r"sk-ant-[a-z]{2,8}[0-9]{0,3}-[A-Za-z0-9_-]{32,}",
        check: Check::Token,
    },
    Rule {
        entity: "SECRET_OPENAI_KEY",
        score: 0.95,
        literals: &["sk-"],
        pattern: r"sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20,})",
        check: Check::OpenAi,
    },
    Rule {
        entity: "SECRET_AWS_ACCESS_KEY_ID",
        score: 0.95,
        literals: &["AKIA", "ASIA", "ABIA", "ACCA"],
        pattern: r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
        check: Check::Token,
    },
    Rule {
        entity: "SECRET_AWS_SECRET_KEY",
        score: 0.9,
        literals: AWS_WORDS,
        pattern: r"[A-Za-z0-9/+]{40,}",
        check: Check::AwsSecret,
    },
    Rule {
        entity: "SECRET_GITHUB_TOKEN",
        score: 0.97,
        literals: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        pattern: r"gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{50,}",
        check: Check::Token,
    },
    Rule {
        entity: "SECRET_GITLAB_TOKEN",
        score: 0.95,
        literals: &["glpat-"],
        pattern: r"glpat-[A-Za-z0-9_-]{20,}",
        check: Check::Token,
    },
    Rule {
        entity: "SECRET_SLACK_TOKEN",
        score: 0.95,
        literals: &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"],
        pattern: r"xox[abeprs]-[0-9]{1,16}-[A-Za-z0-9-]{16,}",
        check: Check::Token,
    },
    Rule {
        entity: "SECRET_SLACK_TOKEN",
        score: 0.95,
        literals: &["hooks.slack.com"],
        pattern: r"https://hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/-]{16,})",
        check: Check::Password,
    },
    Rule {
        entity: "SECRET_STRIPE_KEY",
        score: 0.97,
        literals: &["sk_live_", "rk_live_", "sk_test_", "rk_test_"],
        pattern: r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
        check: Check::Token,
    },
    Rule {
        entity: "SECRET_GOOGLE_API_KEY",
        score: 0.95,
        literals: &["AIza"],
        pattern: r"AIza[0-9A-Za-z_-]{35}",
        check: Check::Token,
    },
    Rule {
        entity: "SECRET_JWT",
        score: 0.95,
        literals: &["eyJ"],
        pattern: r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
        check: Check::Jwt,
    },
    Rule {
        entity: "SECRET_PRIVATE_KEY",
        score: 0.99,
        literals: &["-----BEGIN"],
        // The header only; the check finds the END line, within `MAX_PEM` bytes so that many
        // unterminated headers cannot make the scan quadratic.
        pattern: r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
        check: Check::PrivateKey,
    },
    Rule {
        entity: "SECRET_URL_CREDENTIALS",
        score: 0.95,
        literals: &["://"],
        pattern: r"[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/?#@\[\]]{0,128}:([^\s/?#@]{1,256})@[A-Za-z0-9\[]",
        check: Check::Password,
    },
    Rule {
        entity: "SECRET_CONNECTION_STRING",
        score: 0.9,
        literals: &["password", "pwd", "passwd"],
        // A value ends at `,` or `)` unquoted so `connect(password=pw)` yields `pw`, which the check
        // then recognises as a variable rather than a literal.
        pattern: r#"(?i)\b(?:password|pwd|passwd)[ \t]*=[ \t]*(?:'([^'\r\n]{1,128})'|"([^"\r\n]{1,128})"|([^;\s'"&,)]{1,128}))"#,
        check: Check::Dsn,
    },
];

// Rules are selected by bits of a u32.
const _: () = assert!(RULES.len() <= 32);

/// Words that put a 40-character base64 run in AWS context.
const AWS_WORDS: &[&str] = &[
    "aws",
    "secret_access_key",
    "secretaccesskey",
    "secret access key",
];
/// The longest PEM block looked for (an 8192-bit RSA key is about 6.5 KiB).
const MAX_PEM: usize = 16 * 1024;
/// How far before a candidate AWS words are looked for, in bytes.
const AWS_WINDOW: usize = 96;

/// Values that stand for a password rather than being one.
const PLACEHOLDERS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "redacted",
    "hidden",
    "none",
    "null",
    "changeit",
    "example",
    "placeholder",
];

pub struct Secrets {
    compiled: Option<Compiled>,
}

struct Compiled {
    prefilter: AhoCorasick,
    /// Per prefilter pattern: the rules it enables (bit i = `RULES[i]`), and whether it is a key word.
    triggers: Vec<(u32, bool)>,
    /// Per rule: its pattern; `None` if it failed to compile, which turns that rule off.
    regexes: Vec<Option<Regex>>,
    dsn_keys: Option<Regex>,
}

impl Secrets {
    pub fn new() -> Self {
        Secrets {
            compiled: Compiled::new(),
        }
    }
}

impl Default for Secrets {
    fn default() -> Self {
        Self::new()
    }
}

impl Compiled {
    fn new() -> Option<Self> {
        let mut literals: Vec<&str> = Vec::new();
        let mut triggers: Vec<(u32, bool)> = Vec::new();
        let mut add = |lit: &'static str, rules: u32, keyword: bool| {
            let lower = lit.to_ascii_lowercase();
            match literals
                .iter()
                .position(|l| l.to_ascii_lowercase() == lower)
            {
                Some(i) => {
                    triggers[i].0 |= rules;
                    triggers[i].1 |= keyword;
                }
                None => {
                    literals.push(lit);
                    triggers.push((rules, keyword));
                }
            }
        };
        for (i, rule) in RULES.iter().enumerate() {
            for lit in rule.literals {
                add(lit, 1 << i, false);
            }
        }
        for word in KEY_WORDS {
            add(word, 0, true);
        }
        let prefilter = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&literals)
            .ok()?;
        Some(Compiled {
            prefilter,
            triggers,
            regexes: RULES.iter().map(|r| Regex::new(r.pattern).ok()).collect(),
            dsn_keys: Regex::new(
                r"(?i)\b(?:host|hostname|server|user|uid|user id|username|database|dbname|data source|initial catalog|port|sslmode)[ \t]*=",
            )
            .ok(),
        })
    }
}

impl Detector for Secrets {
    fn name(&self) -> &'static str {
        "secrets"
    }

    fn entities(&self) -> &'static [&'static str] {
        SECRET_ENTITIES
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        let Some(c) = &self.compiled else {
            return;
        };
        let Ok(hits) = c.prefilter.try_find_overlapping_iter(text) else {
            return;
        };
        let mut wanted = 0u32;
        let mut key_words = Vec::new();
        let mut aws_words = Vec::new();
        for m in hits {
            let (rules, keyword) = c.triggers[m.pattern().as_usize()];
            wanted |= rules;
            if keyword && !inside_token(text.as_bytes(), m.start(), m.end()) {
                key_words.push(m.end());
            }
            if is_aws_word(&text[m.start()..m.end()]) {
                aws_words.push(m.end());
            }
        }
        // Overlapping matches come in order of their ends already; sorting makes that a contract.
        key_words.sort_unstable();
        aws_words.sort_unstable();
        let first = out.len();
        for (i, rule) in RULES.iter().enumerate() {
            if wanted & (1 << i) == 0 {
                continue;
            }
            let Some(re) = &c.regexes[i] else {
                continue;
            };
            for caps in re.captures_iter(text) {
                let Some(span) = confirm(rule.check, text, &caps, &aws_words, c) else {
                    continue;
                };
                out.push(Finding {
                    entity: rule.entity,
                    start: span.0,
                    end: span.1,
                    score: rule.score,
                    detector: "secrets",
                });
            }
        }
        let taken = reach_sorted(&out[first..]);
        generic(text, &key_words, &taken, out);
    }
}

/// A key word with letters or digits on both sides is a piece of some token (`…EPWdT…` holds no
/// `pwd`), unless it starts a camelCase part (`clientSecretValue`). Glued on one side only it
/// still counts: `PGPASSWORD=`, `tokens:`.
fn inside_token(b: &[u8], s: usize, e: usize) -> bool {
    let before = s.checked_sub(1).and_then(|p| b.get(p)).copied();
    let after = b.get(e).is_some_and(u8::is_ascii_alphanumeric);
    let camel = before.is_some_and(|p| p.is_ascii_lowercase())
        && b.get(s).is_some_and(u8::is_ascii_uppercase);
    before.is_some_and(|p| p.is_ascii_alphanumeric()) && after && !camel
}

fn is_aws_word(s: &str) -> bool {
    AWS_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

/// The span to report if the match is a credential.
fn confirm(
    check: Check,
    text: &str,
    caps: &regex::Captures<'_>,
    aws_words: &[usize],
    c: &Compiled,
) -> Option<(usize, usize)> {
    let whole = caps.get(0)?;
    let (s, e) = (whole.start(), whole.end());
    let bytes = text.as_bytes();
    match check {
        Check::Token | Check::OpenAi => {
            let bounded = s == 0 || !is_word_byte(bytes[s - 1]);
            let ends = bytes.get(e).is_none_or(|&b| !is_word_byte(b) && b != b'-');
            let v = whole.as_str();
            let openai_ok = check != Check::OpenAi
                || (!v.starts_with("sk-ant-") && mixed_classes(v.get(3..).unwrap_or("")));
            (bounded && ends && openai_ok && looks_random(v)).then_some((s, e))
        }
        Check::AwsSecret => {
            let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+';
            let bounded = s == 0 || !b64(bytes[s - 1]);
            let ends = bytes.get(e).is_none_or(|&b| b != b'=');
            let v = whole.as_str();
            let has = |f: fn(&u8) -> bool| v.as_bytes().iter().any(f);
            let mixed = has(u8::is_ascii_uppercase)
                && has(u8::is_ascii_lowercase)
                && (has(u8::is_ascii_digit) || v.contains(['/', '+']));
            // `aws_words` is in order: is there one ending in `s - AWS_WINDOW ..= s`?
            let i = aws_words.partition_point(|&w| w + AWS_WINDOW < s);
            let near = aws_words.get(i).is_some_and(|&w| w <= s);
            (v.len() == 40 && bounded && ends && mixed && near).then_some((s, e))
        }
        Check::Jwt => {
            let bounded = s == 0 || !is_word_byte(bytes[s - 1]);
            let header = whole.as_str().split('.').next()?;
            let json = crate::injection::decode::base64(header.as_bytes())?;
            let json = std::str::from_utf8(&json).ok()?.trim();
            let object = json.starts_with('{') && json.ends_with('}');
            (bounded && object && json.contains("\"alg\"")).then_some((s, e))
        }
        Check::PrivateKey => {
            let (body, end) = pem_body(text, e);
            let material = body
                .bytes()
                .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
                .count();
            (material >= 32).then_some((s, end))
        }
        Check::Password => {
            let m = caps.get(1)?;
            (!is_placeholder(m.as_str())).then_some((m.start(), m.end()))
        }
        Check::Dsn => {
            let (m, quoted) = match (caps.get(1), caps.get(2), caps.get(3)) {
                (Some(m), _, _) | (_, Some(m), _) => (m, true),
                (_, _, Some(m)) => (m, false),
                _ => return None,
            };
            // `password=pw,` or `password=pw)` unquoted is code passing a variable.
            let variable = !quoted && matches!(bytes.get(m.end()), Some(b',' | b')'));
            let ok = !variable && !is_placeholder(m.as_str()) && in_dsn(text, s, e, c);
            ok.then_some((m.start(), m.end()))
        }
    }
}

/// The key material after a PEM header ending at `from`, and where the block ends: after its END
/// line, or, pasted without one, after the last line of base64.
fn pem_body(text: &str, from: usize) -> (&str, usize) {
    let rest = &text[from..floor(text, (from + MAX_PEM).min(text.len()))];
    if let Some(i) = rest.find("-----END") {
        let footer = &rest[i + 8..];
        let end = match footer.find("-----") {
            Some(j) if j <= 40 && footer[..j].contains("PRIVATE KEY") => from + i + 8 + j + 5,
            _ => from + i,
        };
        return (&rest[..i], end);
    }
    // Line by line: the block ends at the first line that is not base64, or at a blank line.
    let mut end = 0;
    for line in rest.split_inclusive('\n') {
        let t = line.trim();
        let base64 = t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
        if (t.is_empty() && end > 0) || !base64 {
            break;
        }
        end += line.len();
    }
    let body = rest[..end].trim_end();
    (body, from + body.len())
}

/// Whether `password=` at `s..e` sits among other DSN keys, or in the query of a URL.
fn in_dsn(text: &str, s: usize, e: usize, c: &Compiled) -> bool {
    let from = floor(text, s.saturating_sub(160));
    let to = floor(text, (e + 160).min(text.len()));
    // The URL this `password=` is a query parameter of, if any, within the same window.
    let token_start = text[from..s]
        .rfind(|ch: char| ch.is_whitespace())
        .map_or(from, |i| from + i + 1);
    let in_url = text[token_start..s].contains("://");
    let keyed = c.dsn_keys.as_ref().is_some_and(|re| {
        re.find_iter(&text[from..to])
            .any(|m| from + m.end() <= s || from + m.start() >= e)
    });
    in_url || keyed
}

fn floor(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Real tokens are random; placeholders (`ghp_xxxx…`, `AKIAXXXX…`) repeat themselves.
fn looks_random(v: &str) -> bool {
    entropy(v.as_bytes()) >= 3.0 && !v.to_ascii_lowercase().contains("xxxx")
}

/// An `sk-` body with one character class is a slug (`sk-abcdefghijklmnopqrstu`), not a key.
fn mixed_classes(v: &str) -> bool {
    let b = v.as_bytes();
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let lower = b.iter().any(u8::is_ascii_lowercase);
    let digit = b.iter().any(u8::is_ascii_digit);
    u8::from(upper) + u8::from(lower) + u8::from(digit) >= 2
}

fn is_placeholder(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let first = v.bytes().next();
    v.is_empty()
        || v.starts_with(['$', '{', '<', '%', '[', '*'])
        || v.bytes().all(|b| Some(b) == first)
        || lower.contains("xxx")
        || lower.contains("your")
        || PLACEHOLDERS.contains(&lower.as_str())
}

mod generic;
#[cfg(test)]
mod tests;
