//! `.junit.xml`: a test suite per variant, a test case per case.

use std::fmt::Write as _;

use super::*;

impl Report {
    pub fn to_junit(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let t = &self.totals;
        let _ = writeln!(
            s,
            "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
            xml(self.description.as_deref().unwrap_or("seam eval")),
            t.cases,
            t.failed - t.errors,
            t.errors,
            self.duration_ms / 1000.0
        );
        if let Some(e) = &self.error {
            let _ = writeln!(
                s,
                "  <properties><property name=\"stopped\" value=\"{}\"/></properties>",
                xml(e)
            );
        }
        for ((p, q), cases) in groups(&self.results) {
            let tt = totals(&cases);
            let name = Variant::name(&variant(&p, &q, &[]));
            let _ = writeln!(
                s,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
                xml(&name),
                tt.cases,
                tt.failed - tt.errors,
                tt.errors
            );
            for c in cases {
                let time = c.output.as_ref().map_or(0.0, |o| o.latency_ms / 1000.0);
                let _ = write!(
                    s,
                    "    <testcase name=\"{}\" classname=\"{}\" time=\"{time:.3}\"",
                    xml(&case_name(c)),
                    xml(&name)
                );
                if c.pass {
                    s.push_str("/>\n");
                } else if let Some(e) = &c.error {
                    let _ = writeln!(
                        s,
                        ">\n      <error message=\"{}\"/>\n    </testcase>",
                        xml(e)
                    );
                } else {
                    // The body: each failing assertion with its value, then the output.
                    let mut body = String::new();
                    for f in failing(c) {
                        let value = f.value.map_or(String::new(), |v| format!(" ({v})"));
                        let _ = writeln!(body, "{}{value}: {}", f.kind, f.reason);
                    }
                    if let Some(o) = &c.output {
                        let _ = write!(
                            body,
                            "\noutput:\n{}",
                            o.text.chars().take(2000).collect::<String>()
                        );
                    }
                    let _ = writeln!(
                        s,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        xml(&why(c)),
                        xml(&body)
                    );
                }
            }
            s.push_str("  </testsuite>\n");
        }
        s.push_str("</testsuites>\n");
        s
    }
}
