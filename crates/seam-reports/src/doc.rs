//! The document model every report renders from.
//!
//! A report builder fills a [`Report`] with [`Section`]s of [`Block`]s; numbers stay numbers
//! (a [`Cell::Usd`], not a preformatted string) so that each renderer formats them its way and
//! the JSON keeps full precision. [`Report::data`] is the report's own machine-readable payload
//! (the builder's structs, serialised), which the JSON rendering carries as it is.

use serde::Serialize;
use serde_json::Value;

/// One report: what it is, over which period, and its sections.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `cost`, `whatif`, `quality`, `matrix`, `exit`.
    pub kind: String,
    pub title: String,
    /// One line under the title: the period, the store, the scenario file.
    pub subtitle: Option<String>,
    /// When it was generated, RFC 3339.
    pub generated: String,
    pub sections: Vec<Section>,
    /// The report's numbers for machines; the JSON rendering's `data`.
    pub data: Value,
}

impl Report {
    pub fn new(kind: &str, title: impl Into<String>, generated: impl Into<String>) -> Report {
        Report {
            kind: kind.to_owned(),
            title: title.into(),
            subtitle: None,
            generated: generated.into(),
            sections: Vec::new(),
            data: Value::Null,
        }
    }

    /// Appends a section and returns it for filling.
    pub fn section(&mut self, title: impl Into<String>) -> &mut Section {
        self.sections.push(Section {
            title: title.into(),
            blocks: Vec::new(),
        });
        let last = self.sections.len() - 1;
        &mut self.sections[last]
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Section {
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Section {
    pub fn text(&mut self, s: impl Into<String>) -> &mut Section {
        self.blocks.push(Block::Text(s.into()));
        self
    }

    pub fn note(&mut self, s: impl Into<String>) -> &mut Section {
        self.blocks.push(Block::Note(s.into()));
        self
    }

    pub fn facts(&mut self, facts: Vec<(String, Cell)>) -> &mut Section {
        self.blocks.push(Block::Facts(facts));
        self
    }

    pub fn table(&mut self, t: Table) -> &mut Section {
        self.blocks.push(Block::Table(t));
        self
    }

    pub fn chart(&mut self, c: Chart) -> &mut Section {
        self.blocks.push(Block::Chart(c));
        self
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Block {
    /// A paragraph of plain text (no markup: renderers escape it).
    Text(String),
    /// A caveat or an explanation, set apart from the text.
    Note(String),
    /// Label → value pairs, e.g. the totals of a period.
    Facts(Vec<(String, Cell)>),
    Table(Table),
    Chart(Chart),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    Left,
    Right,
}

#[derive(Clone, Debug, Serialize)]
pub struct Column {
    pub name: String,
    pub align: Align,
}

impl Column {
    pub fn left(name: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            align: Align::Left,
        }
    }

    pub fn right(name: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            align: Align::Right,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    pub caption: Option<String>,
}

impl Table {
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
            caption: None,
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) -> &mut Table {
        self.rows.push(cells);
        self
    }

    pub fn caption(mut self, c: impl Into<String>) -> Table {
        self.caption = Some(c.into());
        self
    }
}

/// A value in a table or a fact, kept as what it is so each renderer formats it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Cell {
    Text(String),
    /// US dollars.
    Usd(f64),
    Int(i64),
    /// A number shown with this many decimals.
    Num(f64, u8),
    /// A fraction, shown as a percentage (0.25 → 25.0 %).
    Pct(f64),
    /// Milliseconds.
    Ms(f64),
    /// Nothing to show (a dash).
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// One bar per x label (several series side by side).
    Bars,
    /// One line per series over the x labels (a time series).
    Line,
}

/// The unit of a chart's values, for its axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Usd,
    Count,
    Ms,
    Pct,
}

#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Chart {
    pub title: String,
    pub kind: ChartKind,
    pub unit: Unit,
    pub x: Vec<String>,
    pub series: Vec<Series>,
}
