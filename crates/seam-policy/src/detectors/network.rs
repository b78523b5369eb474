//! IP_ADDRESS, MAC_ADDRESS and URL.
//!
//! - IPv4: four dot-separated groups of one to three digits that std parses (so each is 0–255,
//!   without leading zeros), not part of a longer dotted sequence and not after "version".
//! - IPv6: a maximal run of hex digits, colons and dots holding `::` or seven colons, parsed by
//!   std (full, compressed and IPv4-suffixed forms).
//! - MAC: six hex pairs joined by one kind of `:` or `-`, or Cisco's `hhhh.hhhh.hhhh`.
//! - URL: `http(s)://`, `ftp://` and `www.` forms anywhere; bare domains with a common TLD only
//!   after a context word such as "website".

use std::net::{Ipv4Addr, Ipv6Addr};

use regex::Regex;

use super::scan::{Gate, finding, matches_in, next_of, runs, word_at, word_before};
use crate::{Detector, Finding};

const IP: &str = "IP_ADDRESS";
const MAC: &str = "MAC_ADDRESS";
const URL: &str = "URL";
const NAME: &str = "network";

const IPV4_SCORE: f32 = 0.6;
/// `::` or seven colons plus std's parser leave little else an IPv6 candidate could be.
const IPV6_SCORE: f32 = 0.7;
const MAC_SCORE: f32 = 0.7;
/// `hhhh.hhhh.hhhh` is rarer in the wild and closer to ordinary dotted words.
const CISCO_MAC_SCORE: f32 = 0.6;
const URL_SCORE: f32 = 0.6;
/// A bare domain is everywhere in prose; it counts only near a context word.
const DOMAIN_SCORE: f32 = 0.4;
/// Longest bare domain (with its path) looked for after a context word.
const DOMAIN_MAX: usize = 256;

const CONTEXT: &[(&str, &[&str])] = &[
    (IP, &["ip address", "ip addr", "ipv4", "ipv6"]),
    (MAC, &["mac address", "mac", "hwaddr", "ether", "bssid"]),
    (
        URL,
        &[
            "website", "url", "link", "domain", "homepage", "visit", "site", "web",
        ],
    ),
];

pub struct Network {
    url: Option<Regex>,
    domain: Option<Regex>,
    gate: Gate,
}

impl Network {
    pub fn new() -> Self {
        // Up to the first character no URL contains unescaped; trailing punctuation is trimmed
        // afterwards because a regex cannot tell a sentence's full stop from a path's.
        let url = Regex::new(
            r#"(?i)(?-u:\b)(?:(?:https?|ftp)://[^\s<>"'`{}|\\^\[\]]+|www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:[/?#:][^\s<>"'`{}|\\^\[\]]*)?)"#,
        )
        .ok();
        let domain = Regex::new(
            r#"(?i)(?-u:\b)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|org|net|edu|gov|io|co|ai|app|dev|info|biz|me|us|uk|de|fr|es|it|nl|ca|au|in|jp|cn|ru|br|ch|se|no|eu|tv|xyz)(?-u:\b)(?:/[^\s<>"'`]*)?"#,
        )
        .ok();
        Network {
            url,
            domain,
            gate: Gate::new(CONTEXT, &[URL]),
        }
    }
}

impl Detector for Network {
    fn name(&self) -> &'static str {
        NAME
    }

    fn entities(&self) -> &'static [&'static str] {
        &[IP, MAC, URL]
    }

    fn context(&self) -> &'static [(&'static str, &'static [&'static str])] {
        CONTEXT
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        let first = out.len();
        ipv4(text, out);
        separated(text, out);
        let urls = out.len();
        if let Some(re) = &self.url {
            for m in re.find_iter(text) {
                let end = trim_url(text, m.start(), m.end());
                if let Some(host) = text[m.start()..end].split("://").nth(1) {
                    if !host.starts_with(|c: char| c.is_alphanumeric() || c == '[') {
                        continue;
                    }
                }
                out.push(finding(URL, m.start(), end, URL_SCORE, NAME));
            }
        }
        drop_inside_urls(out, first, urls);
        let Some(domain) = &self.domain else {
            return;
        };
        self.gate.windows(text, |_, from, to| {
            matches_in(domain, text, from, to, DOMAIN_MAX, |s, e| {
                // Part of an email address, a URL or a longer dotted name.
                let joined = s > 0 && matches!(text.as_bytes()[s - 1], b'@' | b'.' | b'/' | b':');
                if !joined && !word_at(text, e) {
                    out.push(finding(URL, s, trim_url(text, s, e), DOMAIN_SCORE, NAME));
                }
            });
        });
    }
}

/// Removes the addresses in `out[first..urls]` that lie inside a URL found after them: the host of
/// `http://10.0.0.7/admin` is part of the URL, whatever context raises the address's score.
fn drop_inside_urls(out: &mut Vec<Finding>, first: usize, urls: usize) {
    if out.len() == urls || first == urls {
        return;
    }
    let spans: Vec<(usize, usize)> = out[urls..].iter().map(|u| (u.start, u.end)).collect();
    let mut i = 0;
    out.retain(|f| {
        let inside = (first..urls).contains(&i)
            && f.entity == IP
            && spans.iter().any(|&(s, e)| s <= f.start && f.end <= e);
        i += 1;
        !inside
    });
}

/// Drops trailing punctuation that belongs to the sentence, keeping a `)` that closes a `(`
/// inside the URL (Wikipedia-style links).
fn trim_url(text: &str, start: usize, mut end: usize) -> usize {
    let b = text.as_bytes();
    while end > start {
        let opens = b[start..end].iter().filter(|&&c| c == b'(').count();
        let closes = b[start..end].iter().filter(|&&c| c == b')').count();
        match b[end - 1] {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'*' => end -= 1,
            b')' if closes > opens => end -= 1,
            _ => break,
        }
    }
    end
}

fn ipv4(text: &str, out: &mut Vec<Finding>) {
    runs(text, 0, text.len(), 4, |run| {
        for i in 0..run.len().saturating_sub(3) {
            let j = i + 3;
            let (s, e) = (run.group(i).0, run.group(j).1);
            if run.seps_are(i, j, ".")
                && !run.extends(i, j, ".")
                && run.clean(i, j)
                && (i..=j).all(|k| run.width(k) <= 3)
                && !after_version(text, s)
                && text[s..e].parse::<Ipv4Addr>().is_ok()
            {
                out.push(finding(IP, s, e, IPV4_SCORE, NAME));
            }
        }
    });
}

/// `version 1.2.3.4`, `release 10.0.0.1`: dotted version numbers look like addresses. A bare `v`
/// counts only glued on (`v1.2.3.4`, which is not a clean run anyway): `V 10.0.0.1` is a letter
/// before an address.
fn after_version(text: &str, start: usize) -> bool {
    let before = text[..start].trim_end_matches([' ', ':', '=']);
    let word_start = before
        .bytes()
        .rposition(|c| !c.is_ascii_alphabetic())
        .map_or(0, |p| p + 1);
    let word = &before[word_start..];
    ["version", "ver", "release", "build", "rev"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
}

/// MAC and IPv6 candidates, found from their separators.
fn separated(text: &str, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(p) = next_of(b, i, *b":-.") {
        if let Some((s, e, score)) = mac_at(text, p) {
            out.push(finding(MAC, s, e, score, NAME));
            i = e;
            continue;
        }
        i = p + 1;
        if b[p] == b':' {
            let (s, e, token_end) = ipv6_at(text, p);
            if s < e {
                out.push(finding(IP, s, e, IPV6_SCORE, NAME));
            }
            // Every colon inside this token yields the same token: skip them all.
            i = i.max(token_end);
        }
    }
}

fn hex(b: &[u8], at: usize, n: usize) -> bool {
    b.get(at..at + n)
        .is_some_and(|s| s.iter().all(u8::is_ascii_hexdigit))
}

/// A MAC address whose first separator is at `p`.
fn mac_at(text: &str, p: usize) -> Option<(usize, usize, f32)> {
    let b = text.as_bytes();
    let sep = b[p];
    let (start, len, score) = match sep {
        b':' | b'-' => (p.checked_sub(2)?, 17, MAC_SCORE),
        _ => (p.checked_sub(4)?, 14, CISCO_MAC_SCORE),
    };
    let end = start + len;
    let shape = match sep {
        b':' | b'-' => (0..6).all(|k| {
            hex(b, start + 3 * k, 2) && (k == 5 || b.get(start + 3 * k + 2) == Some(&sep))
        }),
        _ => {
            (0..3).all(|k| {
                hex(b, start + 5 * k, 4) && (k == 2 || b.get(start + 5 * k + 4) == Some(&sep))
            }) && b
                .get(start..end)
                .is_some_and(|v| v.iter().any(u8::is_ascii_digit))
        }
    };
    // More groups written the same way make it something else (EUI-64, IPv6, a hash).
    let longer = (b.get(end) == Some(&sep) && hex(b, end + 1, 1))
        || (start > 1 && b[start - 1] == sep && hex(b, start - 2, 1));
    (shape && !longer && !word_before(text, start) && !word_at(text, end))
        .then_some((start, end, score))
}

/// The IPv6 address around the colon at `p` (an empty range if there is none), and where the
/// hex/colon/dot token holding it ends.
fn ipv6_at(text: &str, p: usize) -> (usize, usize, usize) {
    let b = text.as_bytes();
    let part = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
    let mut s = p - b[..p].iter().rev().take_while(|&&c| part(c)).count();
    let token_end = p + b[p..].iter().take_while(|&&c| part(c)).count();
    let mut e = token_end;
    // Sentence punctuation and a lone leading or trailing colon are not part of the address.
    while e > s && b[e - 1] == b'.' {
        e -= 1;
    }
    if e >= s + 2 && b[e - 1] == b':' && b[e - 2] != b':' {
        e -= 1;
    }
    if e >= s + 2 && b[s] == b':' && b[s + 1] != b':' {
        s += 1;
    }
    let candidate = &text[s..e];
    let colons = candidate.bytes().filter(|&c| c == b':').count();
    let valid = (candidate.contains("::") || colons == 7)
        && candidate.bytes().any(|c| c.is_ascii_hexdigit())
        && !word_before(text, s)
        && !word_at(text, e)
        && candidate.parse::<Ipv6Addr>().is_ok();
    if valid {
        (s, e, token_end)
    } else {
        (s, s, token_end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scanner;
    use crate::detectors::scan::GATE_PATTERNS;

    fn detect(text: &str) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        Network::new().detect(text, &mut out);
        out.sort_by_key(|f| f.start);
        out.iter()
            .map(|f| (f.entity, &text[f.start..f.end]))
            .collect()
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("host 192.168.1.20.", &[(IP, "192.168.1.20")]),
            (
                "10.0.0.1:8080 and 8.8.8.8/32",
                &[(IP, "10.0.0.1"), (IP, "8.8.8.8")],
            ),
            (
                "addr 2001:0db8:85a3:0000:0000:8a2e:0370:7334",
                &[(IP, "2001:0db8:85a3:0000:0000:8a2e:0370:7334")],
            ),
            (
                "fe80::1ff:fe23:4567:890a, ::1 and [2001:db8::1]:443",
                &[
                    (IP, "fe80::1ff:fe23:4567:890a"),
                    (IP, "::1"),
                    (IP, "2001:db8::1"),
                ],
            ),
            (
                "mapped ::ffff:192.0.2.128.",
                &[(IP, "::ffff:192.0.2.128"), (IP, "192.0.2.128")],
            ),
            (
                "mac 00:1A:2B:3C:4D:5E, 00-1a-2b-3c-4d-5e; 001a.2b3c.4d5e",
                &[
                    (MAC, "00:1A:2B:3C:4D:5E"),
                    (MAC, "00-1a-2b-3c-4d-5e"),
                    (MAC, "001a.2b3c.4d5e"),
                ],
            ),
            (
                "see https://example.com/a?b=c.",
                &[(URL, "https://example.com/a?b=c")],
            ),
            (
                "(http://en.wikipedia.org/wiki/Foo_(bar))",
                &[(URL, "http://en.wikipedia.org/wiki/Foo_(bar)")],
            ),
            // The address is part of the URL.
            (
                "admin at http://10.0.0.7:8080/admin",
                &[(URL, "http://10.0.0.7:8080/admin")],
            ),
            (
                "www.example.org, ftp://files.example.net/x",
                &[(URL, "www.example.org"), (URL, "ftp://files.example.net/x")],
            ),
            ("V 10.0.0.1", &[(IP, "10.0.0.1")]),
            // Versions, out of range, longer dotted, times, code paths, EUI-64, bare schemes.
            ("version 1.2.3.4, v1.2.3.4, 1.2.3, 1.2.3.4.5", &[]),
            ("256.1.1.1 and 01.02.03.04", &[]),
            ("at 10:32:11, std::io::Result, a::b::c", &[]),
            ("00:1a:2b:3c:4d:5e:6f and 0:1:2:3:4:5", &[]),
            ("http:// and https://-bad", &[]),
            ("example.com without context", &[]),
        ];
        for (text, expect) in cases {
            assert_eq!(&detect(text), expect, "text {text:?}");
        }
    }

    #[test]
    fn bare_domains_need_context() {
        let s = Scanner::new(vec![Box::new(Network::new())]);
        let cases: &[(&str, &[&str])] = &[
            ("visit example.com today", &["example.com"]),
            (
                "our website: shop.example.co.uk/sale.",
                &["shop.example.co.uk/sale"],
            ),
            ("website mail me at a@example.com", &[]),
            ("website example.company", &[]),
            ("example.com alone", &[]),
        ];
        for (text, expect) in cases {
            let got: Vec<&str> = s
                .scan(text)
                .iter()
                .filter(|f| f.score >= 0.5)
                .map(|f| &text[f.start..f.end])
                .collect();
            assert_eq!(&got, expect, "text {text:?}");
        }
    }

    #[test]
    fn patterns_compile() {
        let n = Network::new();
        assert!(
            n.url.is_some()
                && n.domain.is_some()
                && n.gate.compiled()
                && n.gate.patterns() <= GATE_PATTERNS
        );
    }
}
