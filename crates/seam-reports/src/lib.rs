//! Reports that turn what Seam recorded into the build/buy/hybrid decision (`seam report …`).
//!
//! Each report is built from facts (the store, the config, eval results) into a [`doc::Report`]:
//! a renderer-neutral document of sections, tables and charts that also carries the report's
//! numbers as JSON for machines. [`render`] writes it as Markdown, a self-contained HTML page
//! (inline CSS and SVG charts, no script, no external resource) or JSON.

pub mod build;
pub mod capabilities;
pub mod cost;
pub mod doc;
pub mod exit;
pub mod matrix;
pub mod quality;
pub mod render;
pub mod scenario;
pub mod setup;
pub mod traffic;
pub mod weights;
pub mod whatif;

pub use doc::{Align, Block, Cell, Chart, ChartKind, Column, Report, Section, Series, Table, Unit};
pub use render::{Format, render};
