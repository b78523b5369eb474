//! A labelled corpus, generated, and the evaluator that measures a [`Scanner`](crate::Scanner)
//! and the [`injection`](crate::injection) heuristics against it.
//!
//! The corpus is generated from a fixed seed with its own PRNG ([`rng`]) and its own check-digit
//! code ([`checksum`]), so it is identical on every run and does not trust the validators it
//! measures. It holds:
//!
//! - **entity samples** ([`Kind::Entity`]): every structured PII entity and every secret, valid
//!   values in sentences of several locales, some obfuscated (fullwidth, zero-width characters,
//!   spaced or dashed groups); labels cover the value as written, obfuscation included;
//! - **unissued national ids** ([`unissued`]): values that break only an issuance rule (an SSN
//!   area never assigned, an Aadhaar starting with 1…), labelled as their entity next to its
//!   context word and hard negatives without one;
//! - **hard negatives** ([`Kind::HardNegative`]): text that looks like an entity and is not (Luhn-
//!   invalid card numbers, UUIDs, order numbers, versions, timestamps, prices, git SHAs, numbers in
//!   code, placeholder and near-miss secrets, published sample SSNs); labelled with nothing;
//! - **benign prompts** ([`Kind::Benign`]) and **injection prompts** ([`Kind::Injection`]) for the
//!   injection heuristics; benign prompts are also scanned for entities and count as negatives.
//!
//! [`evaluate`] turns a scanner and the corpus into a [`Report`].
//!
//! A second corpus, [`generate_names`], covers person names, places and street addresses in seven
//! languages with hard negatives; [`evaluate_names`] scores any scan function against it.

mod checksum;
mod eval;
mod names;
mod names_data;
mod names_eval;
#[cfg(test)]
mod names_tests;
mod negatives;
mod pii;
mod prompts;
mod public;
mod rng;
mod secrets;
#[cfg(test)]
mod tests;
mod unissued;
mod values;

pub use eval::{EntityStats, Miss, Report, evaluate};
pub use names::{
    NAME_ENTITIES, NAME_FORMS, NAMES_SEED, NEGATIVE_FORM, NameSample, generate_names,
    name_languages,
};
pub use names_eval::{FormStats, LangStats, NamesReport, evaluate_names};
pub use public::{Binary, PublicSample, Role, parse_public};

use rng::Rng;

/// The seed of [`generate`]; change it only on purpose, since floors are tuned against it.
pub const SEED: u64 = 0x5EA3_C0DE_2025_0001;

/// What a sample is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Contains labelled entities.
    Entity,
    /// Looks like an entity, is none: any finding is a false positive.
    HardNegative,
    /// An ordinary prompt: neither an injection nor (meant to be) holding entities.
    Benign,
    /// A prompt-injection attempt.
    Injection,
}

/// One labelled span, in bytes of [`Sample::text`].
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub entity: &'static str,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug)]
pub struct Sample {
    pub kind: Kind,
    pub text: String,
    pub labels: Vec<Label>,
}

/// The structured PII entities the corpus covers.
pub const PII_ENTITIES: &[&str] = &[
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "URL",
    "CRYPTO",
    "DATE_OF_BIRTH",
    "US_PASSPORT",
    "US_DRIVER_LICENSE",
    "US_ITIN",
    "UK_NHS",
    "UK_NINO",
    "ES_NIF",
    "IT_FISCAL_CODE",
    "DE_TAX_ID",
    "IN_AADHAAR",
    "IN_PAN",
    "AU_TFN",
    "SG_NRIC",
    "CA_SIN",
];

/// The PII entities whose values carry a check digit a validator can confirm.
pub const CHECKSUM_ENTITIES: &[&str] = &[
    "CREDIT_CARD",
    "IBAN_CODE",
    "CRYPTO",
    "UK_NHS",
    "ES_NIF",
    "IT_FISCAL_CODE",
    "DE_TAX_ID",
    "IN_AADHAAR",
    "AU_TFN",
    "SG_NRIC",
    "CA_SIN",
];

/// The corpus from [`SEED`].
pub fn generate() -> Vec<Sample> {
    generate_with_seed(SEED)
}

/// The corpus from any seed: same seed, same corpus.
pub fn generate_with_seed(seed: u64) -> Vec<Sample> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    pii::samples(&mut rng, &mut out);
    secrets::samples(&mut rng, &mut out);
    negatives::samples(&mut rng, &mut out);
    unissued::samples(&mut rng, &mut out);
    prompts::benign(&mut rng, &mut out);
    prompts::injections(&mut rng, &mut out);
    out
}

/// Where a template takes its values; a character no template otherwise uses.
const SLOT: char = '§';

/// Fills each [`SLOT`] of `template` with the next value, labelling those with an entity ("" for
/// an unlabelled value).
pub(crate) fn fill(kind: Kind, template: &str, values: &[(&'static str, &str)]) -> Sample {
    let mut text = String::with_capacity(template.len() + 64);
    let mut labels = Vec::new();
    let mut values = values.iter();
    for (i, part) in template.split(SLOT).enumerate() {
        if i > 0 {
            if let Some((entity, v)) = values.next() {
                let start = text.len();
                text.push_str(v);
                if !entity.is_empty() {
                    labels.push(Label {
                        entity,
                        start,
                        end: text.len(),
                    });
                }
            }
        }
        text.push_str(part);
    }
    Sample { kind, text, labels }
}

/// How a value is disguised in the text; the normaliser undoes all of them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disguise {
    Plain,
    /// ASCII as its fullwidth forms (U+FF01–FF5E).
    Fullwidth,
    /// Zero-width and other invisible characters between characters, never at the ends.
    Invisible,
}

impl Disguise {
    /// One in ten fullwidth, one in ten invisible, the rest plain; decided by the sample index so
    /// every entity gets its share.
    pub(crate) fn for_index(i: usize) -> Self {
        match i % 10 {
            3 => Disguise::Fullwidth,
            7 => Disguise::Invisible,
            _ => Disguise::Plain,
        }
    }

    pub(crate) fn apply(self, rng: &mut Rng, v: &str) -> String {
        match self {
            Disguise::Plain => v.to_string(),
            Disguise::Fullwidth => v
                .chars()
                .map(|c| match c {
                    '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
                    _ => c,
                })
                .collect(),
            Disguise::Invisible => {
                const INVISIBLE: [char; 5] =
                    ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{00AD}'];
                let n = v.chars().count();
                let mut out = String::with_capacity(v.len() * 2);
                for (i, c) in v.chars().enumerate() {
                    out.push(c);
                    if i + 1 < n && rng.chance(30) {
                        out.push(*rng.pick(&INVISIBLE));
                    }
                }
                out
            }
        }
    }
}
