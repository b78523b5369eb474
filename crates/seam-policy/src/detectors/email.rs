//! EMAIL_ADDRESS: RFC 5322's common form, with a domain that has a real-looking TLD.

use regex::Regex;

use crate::{Detector, Finding};

pub struct Email {
    re: Option<Regex>,
}

impl Email {
    pub fn new() -> Self {
        // Local part: dot-atoms; domain: labels of letters, digits and hyphens, TLD of 2–24 letters.
        // `/` is legal in a local part but almost never used, while addresses inside URL paths
        // (`www.site.example/u/ada@example.com`) are common: without it the address starts after
        // the last `/`, so a masked value never swallows the link around it. `?`, `=` and `&`
        // are left out for the same reason: they join a query string's parameters
        // (`?email=ada@example.com`), and an address that uses them is rarer still.
        let re = Regex::new(
            r"(?i)\b[a-z0-9!#$%'*+^_`{|}~-]+(?:\.[a-z0-9!#$%'*+^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b",
        )
        .ok();
        Email { re }
    }
}

impl Detector for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    fn entities(&self) -> &'static [&'static str] {
        &["EMAIL_ADDRESS"]
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        let Some(re) = &self.re else {
            return;
        };
        if !text.contains('@') {
            return;
        }
        for m in re.find_iter(text) {
            out.push(Finding {
                entity: "EMAIL_ADDRESS",
                start: m.start(),
                end: m.end(),
                score: 0.9,
                detector: "email",
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let d = Email::new();
        let cases: &[(&str, &[&str])] = &[
            (
                "mail john.doe+tag@example.co.uk now",
                &["john.doe+tag@example.co.uk"],
            ),
            (
                "two: a@b.io, c_d@e-f.example.org.",
                &["a@b.io", "c_d@e-f.example.org"],
            ),
            ("no at sign here", &[]),
            ("user@localhost", &[]),
            ("version 1.2@3.4", &[]),
            ("@handle and foo@", &[]),
            (
                "www.evil.example/subscribe/ada.lovelace@example.com",
                &["ada.lovelace@example.com"],
            ),
            (
                "https://x.example/u/bob@example.org?a=1",
                &["bob@example.org"],
            ),
            (
                "https://x.example/users?email=ada@example.com&x=1",
                &["ada@example.com"],
            ),
            (
                "?to=bob@example.org&cc=carol@example.net",
                &["bob@example.org", "carol@example.net"],
            ),
        ];
        for (text, expect) in cases {
            let mut out = Vec::new();
            d.detect(text, &mut out);
            let got: Vec<&str> = out.iter().map(|f| &text[f.start..f.end]).collect();
            assert_eq!(&got, expect, "text {text:?}");
        }
    }
}
