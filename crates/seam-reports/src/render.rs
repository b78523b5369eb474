//! A [`Report`] as Markdown, a self-contained HTML page, or JSON.
//!
//! The HTML page needs nothing else: its style is inline, its charts are inline SVG, and it has
//! no script, so it opens offline, under a strict CSP and in any browser without console errors.
//! Every string from the report is escaped for the format it lands in.

use std::fmt::Write as _;

use crate::doc::{Align, Block, Cell, Chart, ChartKind, Report, Table, Unit};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    Json,
}

impl Format {
    /// `md`/`markdown`, `html`, `json`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "md" | "markdown" => Some(Format::Markdown),
            "html" => Some(Format::Html),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Json => "json",
        }
    }
}

pub fn render(r: &Report, f: Format) -> String {
    match f {
        Format::Markdown => markdown(r),
        Format::Html => html(r),
        Format::Json => json(r),
    }
}

/// `{kind, title, subtitle, generated, data}`, pretty-printed, with a final newline.
pub fn json(r: &Report) -> String {
    let v = serde_json::json!({
        "kind": r.kind,
        "title": r.title,
        "subtitle": r.subtitle,
        "generated": r.generated,
        "data": r.data,
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_else(|_| "{}".to_owned());
    s.push('\n');
    s
}

/// Thousands separated, e.g. `1,234,567`.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `decimals` places, the integer part grouped: `1,234.50`.
fn fixed(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let int: i64 = int.parse().unwrap_or(0);
    let sign = if v < 0.0 && s.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{}", grouped(int))
    } else {
        format!("{sign}{}.{frac}", grouped(int))
    }
}

/// A cell as text: dollars to the cent (four places under a dollar, where cents hide the
/// difference), percentages to a tenth, milliseconds to a hundredth under 10 ms.
pub fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Usd(v) if v.abs() < 1.0 && *v != 0.0 => format!("${}", fixed(*v, 4)),
        Cell::Usd(v) => format!("${}", fixed(*v, 2)).replace("$-", "-$"),
        Cell::Int(n) => grouped(*n),
        Cell::Num(v, d) => fixed(*v, usize::from(*d)),
        Cell::Pct(v) => format!("{} %", fixed(v * 100.0, 1)),
        Cell::Ms(v) if v.abs() < 10.0 => format!("{} ms", fixed(*v, 2)),
        Cell::Ms(v) => format!("{} ms", fixed(*v, 1)),
        Cell::Empty => "—".to_owned(),
    }
}

fn unit_text(u: Unit, v: f64) -> String {
    match u {
        Unit::Usd => cell_text(&Cell::Usd(v)),
        Unit::Count => {
            if v.fract() == 0.0 {
                fixed(v, 0)
            } else {
                fixed(v, 2)
            }
        }
        Unit::Ms => cell_text(&Cell::Ms(v)),
        Unit::Pct => cell_text(&Cell::Pct(v)),
    }
}

// ---------------------------------------------------------------- Markdown

/// Text safe inside a Markdown paragraph or table cell: no pipe, backslash, markup character or
/// line break reads as syntax.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn md_table(out: &mut String, t: &Table) {
    if t.columns.is_empty() {
        return;
    }
    let head: Vec<String> = t.columns.iter().map(|c| md(&c.name)).collect();
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let rule: Vec<&str> = t
        .columns
        .iter()
        .map(|c| match c.align {
            Align::Left => "---",
            Align::Right => "--:",
        })
        .collect();
    let _ = writeln!(out, "| {} |", rule.join(" | "));
    for row in &t.rows {
        let cells: Vec<String> = (0..t.columns.len())
            .map(|i| md(&row.get(i).map(cell_text).unwrap_or_default()))
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    if let Some(c) = &t.caption {
        let _ = writeln!(out, "\n{}", md(c));
    }
    out.push('\n');
}

/// A chart in Markdown is its data: one row per x label, one column per series.
fn md_chart(out: &mut String, c: &Chart) {
    let _ = writeln!(out, "**{}**\n", md(&c.title));
    let mut columns = vec![crate::doc::Column::left("")];
    columns.extend(c.series.iter().map(|s| crate::doc::Column::right(&s.name)));
    let mut t = Table::new(columns);
    for (i, x) in c.x.iter().enumerate() {
        let mut row = vec![Cell::Text(x.clone())];
        row.extend(c.series.iter().map(|s| {
            s.values
                .get(i)
                .map_or(Cell::Empty, |v| Cell::Text(unit_text(c.unit, *v)))
        }));
        t.row(row);
    }
    md_table(out, &t);
}

pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", md(&r.title));
    if let Some(s) = &r.subtitle {
        let _ = writeln!(out, "{}\n", md(s));
    }
    let _ = writeln!(out, "Generated {}.\n", md(&r.generated));
    for s in &r.sections {
        let _ = writeln!(out, "## {}\n", md(&s.title));
        for b in &s.blocks {
            match b {
                Block::Text(t) => {
                    let _ = writeln!(out, "{}\n", md(t));
                }
                Block::Note(t) => {
                    let _ = writeln!(out, "> {}\n", md(t));
                }
                Block::Facts(facts) => {
                    for (k, v) in facts {
                        let _ = writeln!(out, "- **{}**: {}", md(k), md(&cell_text(v)));
                    }
                    out.push('\n');
                }
                Block::Table(t) => md_table(&mut out, t),
                Block::Chart(c) => md_chart(&mut out, c),
            }
        }
    }
    out
}

// ---------------------------------------------------------------- HTML

/// Text safe in HTML content and in a double-quoted attribute.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2330;\
max-width:1080px;margin:2rem auto;padding:0 1rem}h1{font-size:1.6rem;margin-bottom:.2rem}\
h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde1e8;padding-bottom:.2rem}\
.sub{color:#5b6475}table{border-collapse:collapse;margin:.6rem 0;font-variant-numeric:tabular-nums}\
th,td{padding:.25rem .6rem;border-bottom:1px solid #e8ebf0;vertical-align:top}th{text-align:left;\
background:#f5f7fa}td.r,th.r{text-align:right}caption{caption-side:bottom;text-align:left;\
color:#5b6475;font-size:.9em;padding-top:.3rem}.note{border-left:3px solid #c8a400;\
background:#fffbe6;padding:.4rem .8rem}dl{display:grid;grid-template-columns:max-content auto;\
gap:.2rem 1rem}dt{color:#5b6475}dd{margin:0;font-variant-numeric:tabular-nums}\
figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.3rem}svg text{font:11px system-ui,sans-serif;fill:#39414f}";

const PALETTE: [&str; 8] = [
    "#2f6fdb", "#e0752d", "#2a9d6f", "#c6403c", "#7b5cc4", "#8c6d31", "#d45ca6", "#5b6475",
];

fn html_table(out: &mut String, t: &Table) {
    out.push_str("<table>");
    if let Some(c) = &t.caption {
        let _ = write!(out, "<caption>{}</caption>", esc(c));
    }
    out.push_str("<thead><tr>");
    for c in &t.columns {
        let class = if c.align == Align::Right {
            " class=\"r\""
        } else {
            ""
        };
        let _ = write!(out, "<th{class}>{}</th>", esc(&c.name));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, col) in t.columns.iter().enumerate() {
            let class = if col.align == Align::Right {
                " class=\"r\""
            } else {
                ""
            };
            let text = row.get(i).map(cell_text).unwrap_or_default();
            let _ = write!(out, "<td{class}>{}</td>", esc(&text));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

/// A "nice" axis maximum and step (1, 2 or 5 times a power of ten) covering `max`.
fn axis(max: f64) -> (f64, f64) {
    if !max.is_finite() || max <= 0.0 {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn svg_chart(out: &mut String, c: &Chart) {
    const W: f64 = 760.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 78.0;
    const RIGHT: f64 = 12.0;
    const TOP: f64 = 12.0;
    const BOTTOM: f64 = 48.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = c.x.len().max(1);
    let max = c
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let (top, step) = axis(max);
    let y = |v: f64| TOP + plot_h - (v.max(0.0) / top) * plot_h;
    let _ = write!(
        out,
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\">",
        esc(&c.title),
        esc(&c.title)
    );
    // Grid and y labels.
    let mut tick = 0.0;
    while tick <= top + step / 2.0 {
        let ty = y(tick);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{ty:.1}\" y2=\"{ty:.1}\" stroke=\"#e8ebf0\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            ty + 4.0,
            esc(&unit_text(c.unit, tick))
        );
        tick += step;
    }
    // X labels: at most ~12, evenly spaced.
    let every = n.div_ceil(12);
    let slot = plot_w / n as f64;
    for (i, label) in c.x.iter().enumerate() {
        if i % every != 0 {
            continue;
        }
        let cx = LEFT + slot * (i as f64 + 0.5);
        let _ = write!(
            out,
            "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            H - BOTTOM + 16.0,
            esc(label)
        );
    }
    match c.kind {
        ChartKind::Bars => {
            let k = c.series.len().max(1);
            let bar = (slot * 0.8 / k as f64).max(1.0);
            for (si, s) in c.series.iter().enumerate() {
                let color = PALETTE[si % PALETTE.len()];
                for (i, v) in s.values.iter().enumerate() {
                    if !v.is_finite() {
                        continue;
                    }
                    let x = LEFT + slot * i as f64 + slot * 0.1 + bar * si as f64;
                    let top_y = y(*v);
                    let _ = write!(
                        out,
                        "<rect x=\"{x:.1}\" y=\"{top_y:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" \
                         fill=\"{color}\"><title>{}: {}</title></rect>",
                        (TOP + plot_h - top_y).max(0.0),
                        esc(c.x.get(i).map_or("", String::as_str)),
                        esc(&unit_text(c.unit, *v))
                    );
                }
            }
        }
        ChartKind::Line => {
            for (si, s) in c.series.iter().enumerate() {
                let color = PALETTE[si % PALETTE.len()];
                let points: Vec<String> = s
                    .values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, v)| format!("{:.1},{:.1}", LEFT + slot * (i as f64 + 0.5), y(*v)))
                    .collect();
                let _ = write!(
                    out,
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
                    points.join(" ")
                );
            }
        }
    }
    // Legend.
    if c.series.len() > 1 {
        let mut lx = LEFT;
        for (si, s) in c.series.iter().enumerate() {
            let color = PALETTE[si % PALETTE.len()];
            let _ = write!(
                out,
                "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{color}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                H - 18.0,
                lx + 14.0,
                H - 9.0,
                esc(&s.name)
            );
            lx += 24.0 + 7.0 * s.name.chars().count() as f64;
        }
    }
    out.push_str("</svg></figure>");
}

pub fn html(r: &Report) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
        esc(&r.title),
        esc(&r.title)
    );
    if let Some(s) = &r.subtitle {
        let _ = write!(out, "<p class=\"sub\">{}</p>", esc(s));
    }
    let _ = write!(out, "<p class=\"sub\">Generated {}.</p>", esc(&r.generated));
    for s in &r.sections {
        let _ = write!(out, "<section><h2>{}</h2>", esc(&s.title));
        for b in &s.blocks {
            match b {
                Block::Text(t) => {
                    let _ = write!(out, "<p>{}</p>", esc(t));
                }
                Block::Note(t) => {
                    let _ = write!(out, "<p class=\"note\">{}</p>", esc(t));
                }
                Block::Facts(facts) => {
                    out.push_str("<dl>");
                    for (k, v) in facts {
                        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&cell_text(v)));
                    }
                    out.push_str("</dl>");
                }
                Block::Table(t) => html_table(&mut out, t),
                Block::Chart(c) => svg_chart(&mut out, c),
            }
        }
        out.push_str("</section>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use crate::doc::{Column, Series};

    fn sample() -> Report {
        let mut r = Report::new("cost", "Cost <report>", "2026-12-07T00:00:00Z");
        r.subtitle = Some("a | b".to_owned());
        let s = r.section("Totals");
        s.text("Spend & tokens.");
        s.facts(vec![("spend".to_owned(), Cell::Usd(1234.5))]);
        let mut t = Table::new(vec![Column::left("alias"), Column::right("cost")]);
        t.row(vec![Cell::text("chat|x"), Cell::Usd(0.00125)]);
        s.table(t);
        s.chart(Chart {
            title: "Daily".to_owned(),
            kind: ChartKind::Line,
            unit: Unit::Usd,
            x: vec!["d1".to_owned(), "d2".to_owned()],
            series: vec![Series {
                name: "spend".to_owned(),
                values: vec![1.0, 3.0],
            }],
        });
        r.data = serde_json::json!({"total_usd": 1234.5});
        r
    }

    #[test]
    fn cells_format_as_people_read_them() {
        assert_eq!(cell_text(&Cell::Usd(1234.5)), "$1,234.50");
        assert_eq!(cell_text(&Cell::Usd(0.00125)), "$0.0013");
        assert_eq!(cell_text(&Cell::Usd(-12.0)), "-$12.00");
        assert_eq!(cell_text(&Cell::Usd(0.0)), "$0.00");
        assert_eq!(cell_text(&Cell::Int(-1_234_567)), "-1,234,567");
        assert_eq!(cell_text(&Cell::Pct(0.1234)), "12.3 %");
        assert_eq!(cell_text(&Cell::Ms(3.126)), "3.13 ms");
        assert_eq!(cell_text(&Cell::Num(2.0, 3)), "2.000");
        assert_eq!(cell_text(&Cell::Num(f64::NAN, 1)), "—");
        assert_eq!(cell_text(&Cell::Empty), "—");
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(axis(9.3), (10.0, 5.0));
        assert_eq!(axis(0.37), (0.4, 0.1));
        assert_eq!(axis(0.0), (1.0, 0.25));
    }

    #[test]
    fn markdown_escapes_and_keeps_tables() {
        let m = markdown(&sample());
        assert!(m.starts_with("# Cost \\<report\\>\n"));
        assert!(m.contains("| chat\\|x | $0.0013 |"));
        assert!(m.contains("| --- | --: |"));
        assert!(m.contains("| d2 | $3.00 |"));
    }

    #[test]
    fn html_is_escaped_and_self_contained() {
        let h = html(&sample());
        assert!(h.starts_with("<!doctype html>"));
        assert!(h.contains("<h1>Cost &lt;report&gt;</h1>"));
        assert!(h.contains("<polyline"));
        assert!(!h.contains("<script"));
        assert!(!h.contains("src="));
    }

    #[test]
    fn json_carries_the_data() {
        let v: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(v["kind"], "cost");
        assert_eq!(v["data"]["total_usd"], 1234.5);
    }
}
