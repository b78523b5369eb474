//! A labelled corpus of person names, places and street addresses in seven languages, with hard
//! negatives, for the `PERSON`, `LOCATION` and `STREET_ADDRESS` entities.
//!
//! Labelling rules, which the names detector is built to:
//!
//! - `PERSON` covers the name words only: given, middle and surnames with their particles
//!   ("van der", "de la", "O'"), never a title ("Dr.", "Frau", "Mme", "Sr.") or a possessive;
//!   "Lovelace, Ada" is one span; a given name alone, or a surname after a title, is a person.
//! - `LOCATION` covers a city, region or country name as written, without its article
//!   ("the Netherlands" is labelled "Netherlands", "la France" "France").
//! - `STREET_ADDRESS` covers the street line: number, street name and any unit ("Calle Mayor 10,
//!   3º B"). A postal code is not labelled; the city after it is a `LOCATION`.
//!
//! Every labelled value is inserted through [`fill`], so the offsets are exact by construction.
//! Names inside a street name ("Via Garibaldi", "Baker Street") are part of the street line and
//! carry no label of their own.

use std::collections::HashSet;

use super::names_data::{Culture, DRUGS, FOREIGN, IDENTS, LOCALES, Locale, PRODUCTS};
use super::rng::Rng;
use super::{Kind, Label, SLOT, fill};

/// The seed of [`generate_names`]; change it only on purpose, since floors are tuned against it.
pub const NAMES_SEED: u64 = 0x5EA3_4A3E_2026_0001;

/// The entities the names corpus labels.
pub const NAME_ENTITIES: &[&str] = &["PERSON", "LOCATION", "STREET_ADDRESS"];

/// The forms of [`NameSample::form`] that carry labels; hard negatives have the form
/// [`NEGATIVE_FORM`].
pub const NAME_FORMS: &[&str] = &[
    "full",
    "first_only",
    "titled",
    "lowercase",
    "uppercase",
    "last_first",
    "non_ascii",
    "greeting",
    "signature",
    "place",
    "address",
    "mixed",
];

/// The form of every hard negative.
pub const NEGATIVE_FORM: &str = "negative";

/// Samples per language and labelled form.
const PER_FORM: usize = 14;
/// Hard negatives per language.
const NEGATIVES: usize = 36;
/// Percent of people drawn from another naming culture than the language's own.
const FOREIGN_PERCENT: usize = 40;

/// One sample of the names corpus.
#[derive(Clone, Debug, PartialEq)]
pub struct NameSample {
    pub text: String,
    /// Byte spans of [`NameSample::text`], sorted and disjoint.
    pub labels: Vec<Label>,
    /// ISO 639-1 code of the text's language.
    pub lang: &'static str,
    /// How the entity is written: one of [`NAME_FORMS`], or [`NEGATIVE_FORM`].
    pub form: &'static str,
    /// A hard negative: nothing in it is an entity, and it has no labels.
    pub negative: bool,
}

/// The languages of the corpus, in order.
pub fn name_languages() -> Vec<&'static str> {
    LOCALES.iter().map(|l| l.lang).collect()
}

/// The names corpus from `seed`: same seed, same corpus.
pub fn generate_names(seed: u64) -> Vec<NameSample> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for loc in LOCALES {
        let mut places = Places::new(&mut rng, loc);
        for &form in NAME_FORMS {
            let mut seen = HashSet::new();
            let mut made = 0;
            // Retry duplicates a bounded number of times; the tables are large enough that the
            // bound is never the limit in practice.
            for _ in 0..PER_FORM * 20 {
                if made == PER_FORM {
                    break;
                }
                let s = positive(&mut rng, loc, &mut places, form, made);
                if seen.insert(s.text.clone()) {
                    out.push(s);
                    made += 1;
                }
            }
        }
        negatives(&mut rng, loc, &mut out);
    }
    out
}

/// A piece of a sample: text as is, or a value labelled with an entity ("" for none).
enum Piece {
    Lit(String),
    Val(&'static str, String),
}

fn lit(s: &str) -> Piece {
    Piece::Lit(s.to_string())
}

/// Builds the sample through [`fill`]: literals go into the template, values into its slots.
fn build(lang: &'static str, form: &'static str, negative: bool, pieces: &[Piece]) -> NameSample {
    let mut template = String::new();
    let mut values: Vec<(&'static str, &str)> = Vec::new();
    for p in pieces {
        match p {
            Piece::Lit(s) => template.push_str(s),
            Piece::Val(entity, v) => {
                template.push(SLOT);
                values.push((entity, v.as_str()));
            }
        }
    }
    let s = fill(Kind::Entity, &template, &values);
    NameSample {
        text: s.text,
        labels: s.labels,
        lang,
        form,
        negative,
    }
}

/// Splits `template` into literals and `{KEY}` slots, handing each key to `slot`.
fn expand(template: &str, pieces: &mut Vec<Piece>, slot: &mut dyn FnMut(&str, &mut Vec<Piece>)) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        if open > 0 {
            pieces.push(lit(&rest[..open]));
        }
        slot(&rest[open + 1..open + close], pieces);
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(lit(rest));
    }
}

/// Upper-cases an ASCII first letter, so a sentence that opens with a lower-case title or particle
/// ("de heer", "van Dijk") starts as people write it; never changes a byte length.
fn capitalise_start(pieces: &mut [Piece]) {
    let first = match pieces.first_mut() {
        Some(Piece::Lit(s)) | Some(Piece::Val(_, s)) => s,
        None => return,
    };
    if let Some(c) = first.chars().next() {
        if c.is_ascii_lowercase() {
            first.replace_range(..1, &c.to_ascii_uppercase().to_string());
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Gender {
    F,
    M,
}

struct Person {
    gender: Gender,
    given: String,
    surname: String,
}

impl Person {
    fn full(&self) -> String {
        format!("{} {}", self.given, self.surname)
    }
}

fn culture<'a>(rng: &mut Rng, loc: &'a Locale) -> &'a Culture {
    if rng.chance(FOREIGN_PERCENT) {
        rng.pick(FOREIGN)
    } else {
        &loc.local
    }
}

fn person(rng: &mut Rng, loc: &Locale) -> Person {
    let c = culture(rng, loc);
    let gender = if rng.chance(50) { Gender::F } else { Gender::M };
    let given_list = if gender == Gender::F { c.f } else { c.m };
    let mut given = one(rng, given_list).to_string();
    let mut surname = one(rng, c.s).to_string();
    let local = std::ptr::eq(c, &loc.local);
    match loc.lang {
        // Two surnames are the norm in Spanish and Portuguese names.
        "es" | "pt" if local && rng.chance(50) => {
            let second = one(rng, c.s);
            if *second != surname {
                surname = format!("{surname} {second}");
            }
        }
        _ if local && rng.chance(12) => {
            let middle = one(rng, given_list);
            if *middle != given {
                given = format!("{given} {middle}");
            }
        }
        _ => {}
    }
    Person {
        gender,
        given,
        surname,
    }
}

/// A person with at least one letter outside ASCII in their name.
fn non_ascii_person(rng: &mut Rng, loc: &Locale) -> Person {
    let mut p = person(rng, loc);
    for _ in 0..200 {
        if !p.full().is_ascii() {
            break;
        }
        p = person(rng, loc);
    }
    p
}

fn title(rng: &mut Rng, loc: &Locale, gender: Gender) -> &'static str {
    if rng.chance(25) {
        one(rng, loc.titles_n)
    } else if gender == Gender::F {
        one(rng, loc.titles_f)
    } else {
        one(rng, loc.titles_m)
    }
}

/// Pushes a person as `form` writes them.
fn push_person(rng: &mut Rng, loc: &Locale, form: &str, pieces: &mut Vec<Piece>) {
    let p = if form == "non_ascii" {
        non_ascii_person(rng, loc)
    } else {
        person(rng, loc)
    };
    let value = match form {
        "first_only" => p.given.clone(),
        "titled" => {
            let t = title(rng, loc, p.gender);
            pieces.push(lit(&format!("{t} ")));
            if rng.chance(70) {
                p.surname.clone()
            } else {
                p.full()
            }
        }
        "lowercase" => {
            if rng.chance(50) {
                p.given.to_lowercase()
            } else {
                p.full().to_lowercase()
            }
        }
        "uppercase" => p.full().to_uppercase(),
        "last_first" => format!("{}, {}", p.surname, p.given),
        _ => p.full(),
    };
    pieces.push(Piece::Val("PERSON", value));
}

/// Whom a greeting addresses: a given name, or a title and surname.
fn push_addressee(rng: &mut Rng, loc: &Locale, pieces: &mut Vec<Piece>) {
    let p = person(rng, loc);
    if rng.chance(60) {
        pieces.push(Piece::Val("PERSON", p.given));
    } else {
        let t = title(rng, loc, p.gender);
        pieces.push(lit(&format!("{t} ")));
        pieces.push(Piece::Val("PERSON", p.surname));
    }
}

/// A place written "article|Name": the article is text, the name a `LOCATION`.
fn push_place(place: &str, with_article: bool, pieces: &mut Vec<Piece>) {
    let (article, name) = place.split_once('|').unwrap_or(("", place));
    if with_article && !article.is_empty() {
        pieces.push(lit(article));
    }
    pieces.push(Piece::Val("LOCATION", name.to_string()));
}

fn one(rng: &mut Rng, items: &'static [&'static str]) -> &'static str {
    rng.pick::<&'static str>(items)
}

fn digits(rng: &mut Rng, n: usize) -> String {
    super::rng::digits_to_string(&rng.digits(n))
}

/// Mostly small numbers; long streets numbered in the thousands only where `long` (North America).
fn house_number(rng: &mut Rng, long: bool) -> String {
    let n = match rng.below(10) {
        0..=5 => rng.range(1, 60),
        6..=8 => rng.range(61, 250),
        _ if long => rng.range(251, 2400),
        _ => rng.range(1, 12),
    };
    n.to_string()
}

const US_STREETS: &[&str] = &[
    "Pennsylvania Ave NW",
    "Main Street",
    "Maple Avenue",
    "Elm St",
    "Sunset Blvd",
    "Oak Street",
    "Lakeshore Drive",
    "Market St",
];
const US_CITIES: &[(&str, &str)] = &[
    ("Austin", "Texas"),
    ("Boston", "Massachusetts"),
    ("Denver", "Colorado"),
    ("Portland", "Oregon"),
    ("Springfield", "Illinois"),
    ("Ann Arbor", "Michigan"),
    ("Sacramento", "California"),
];

/// A street line in the locale's format, then often a postal code and city: `with_city` false
/// gives the street line alone.
fn push_address(rng: &mut Rng, loc: &Locale, with_city: bool, pieces: &mut Vec<Piece>) {
    let street = one(rng, loc.streets);
    let num = house_number(rng, false);
    let with_city = with_city && rng.chance(75);
    let sep = if rng.chance(25) { "\n" } else { ", " };
    let line = match loc.lang {
        "en" if rng.chance(40) => {
            let num = house_number(rng, true);
            let mut line = format!("{num} {}", one(rng, US_STREETS));
            if rng.chance(50) {
                let unit = one(rng, &["Apt", "Suite", "Unit"]);
                line.push_str(&format!(", {unit} {}", rng.range(1, 420)));
            }
            pieces.push(Piece::Val("STREET_ADDRESS", line));
            if with_city {
                let (city, state) = rng.pick(US_CITIES);
                pieces.push(lit(sep));
                pieces.push(Piece::Val("LOCATION", city.to_string()));
                pieces.push(lit(", "));
                pieces.push(Piece::Val("LOCATION", state.to_string()));
                pieces.push(lit(&format!(" {}", digits(rng, 5))));
            }
            return;
        }
        "en" => {
            let letter = if rng.chance(20) { "B" } else { "" };
            format!("{num}{letter} {street}")
        }
        "fr" => {
            let bis = if rng.chance(15) { " bis" } else { "" };
            format!("{num}{bis} {street}")
        }
        "de" => {
            let letter = if rng.chance(15) { "a" } else { "" };
            format!("{street} {num}{letter}")
        }
        "es" => {
            let unit = match rng.below(4) {
                0 => format!(", {}º {}", rng.range(1, 9), one(rng, &["A", "B", "C", "D"])),
                1 => format!(", {}º izda.", rng.range(1, 9)),
                _ => String::new(),
            };
            format!("{street} {num}{unit}")
        }
        "it" => {
            let unit = match rng.below(5) {
                0 => format!(", int. {}", rng.range(1, 20)),
                1 => format!(", scala {}", one(rng, &["A", "B", "C"])),
                _ => String::new(),
            };
            format!("{street} {num}{unit}")
        }
        "nl" => {
            let unit = one(rng, &["", "", "", "-II", "-hs", "A", "-1"]);
            format!("{street} {num}{unit}")
        }
        _ => {
            let unit = match rng.below(4) {
                0 => format!(", {}.º Esq.", rng.range(1, 9)),
                1 => format!(", {}.º Dto.", rng.range(1, 9)),
                _ => String::new(),
            };
            format!("{street} {num}{unit}")
        }
    };
    pieces.push(Piece::Val("STREET_ADDRESS", line));
    if !with_city {
        return;
    }
    let city = one(rng, loc.post_cities).to_string();
    pieces.push(lit(sep));
    match loc.lang {
        "en" => {
            pieces.push(Piece::Val("LOCATION", city));
            pieces.push(lit(&format!(" {}", uk_postcode(rng))));
        }
        "nl" => {
            let code = format!(
                "{}{} {} ",
                rng.range(1, 9),
                digits(rng, 3),
                rng.string(2, "ABCDEFGHJKLMNPRSTVWXZ")
            );
            pieces.push(lit(&code));
            pieces.push(Piece::Val("LOCATION", city));
        }
        "pt" => {
            let code = format!("{}{}-{} ", rng.range(1, 9), digits(rng, 3), digits(rng, 3));
            pieces.push(lit(&code));
            pieces.push(Piece::Val("LOCATION", city));
        }
        _ => {
            let code = format!("{}{} ", rng.range(0, 9), digits(rng, 4));
            pieces.push(lit(&code));
            pieces.push(Piece::Val("LOCATION", city));
        }
    }
}

fn uk_postcode(rng: &mut Rng) -> String {
    let n = rng.range(1, 2) as usize;
    let area = rng.string(n, "BEGLMNSW");
    format!(
        "{area}{} {}{}",
        rng.range(1, 20),
        rng.digit(),
        rng.string(2, "ABDEFGHJLNPQRSTUWXYZ")
    )
}

/// A table dealt in a shuffled order, so a language's places all come up before any repeats.
struct Deck {
    items: &'static [&'static str],
    order: Vec<usize>,
    next: usize,
}

impl Deck {
    fn new(rng: &mut Rng, items: &'static [&'static str]) -> Self {
        let mut order: Vec<usize> = (0..items.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        Deck {
            items,
            order,
            next: 0,
        }
    }

    fn draw(&mut self) -> &'static str {
        let i = self.order.get(self.next % self.order.len().max(1)).copied();
        self.next += 1;
        i.and_then(|i| self.items.get(i).copied()).unwrap_or("")
    }
}

/// One language's places, each dealt from its own deck.
struct Places {
    cities: Deck,
    regions: Deck,
    countries: Deck,
}

impl Places {
    fn new(rng: &mut Rng, loc: &Locale) -> Self {
        Places {
            cities: Deck::new(rng, loc.cities),
            regions: Deck::new(rng, loc.regions),
            countries: Deck::new(rng, loc.countries),
        }
    }
}

/// The `nth` sample of `form` in `loc`'s language.
fn positive(
    rng: &mut Rng,
    loc: &Locale,
    places: &mut Places,
    form: &'static str,
    nth: usize,
) -> NameSample {
    let mut pieces = Vec::new();
    let template: String = match form {
        "first_only" => one(rng, loc.casual).to_string(),
        "last_first" => one(rng, loc.records).to_string(),
        "lowercase" => one(rng, loc.lower).to_string(),
        "greeting" => {
            let greeting = one(rng, loc.greetings);
            let body = one(rng, loc.bodies);
            // After "Estimado X:" a letter goes on in upper case; after a comma, as the body is.
            let body = if greeting.ends_with(':') {
                capitalise(body)
            } else {
                body.to_string()
            };
            format!("{greeting}\n\n{body}")
        }
        "signature" => {
            let role = if rng.chance(60) {
                format!("\n{}", one(rng, loc.roles))
            } else {
                String::new()
            };
            // Some signature blocks carry the office's street address under the role.
            let address = if rng.chance(35) { "\n{A}" } else { "" };
            format!(
                "{}\n\n{}\n{{P}}{role}{address}",
                one(rng, loc.bodies),
                one(rng, loc.signoffs)
            )
        }
        "place" => {
            // Cities, regions and countries in turn, so each kind is well represented.
            let wanted: &[&str] = match nth % 3 {
                0 => &["{C}"],
                1 => &["{R}"],
                _ => &["{N}", "{B}"],
            };
            let fitting: Vec<&str> = loc
                .place
                .iter()
                .copied()
                .filter(|t| wanted.iter().any(|w| t.contains(w)))
                .collect();
            rng.pick(&fitting).to_string()
        }
        "address" => one(rng, loc.address).to_string(),
        "mixed" => one(rng, loc.mixed).to_string(),
        _ => one(rng, loc.person).to_string(),
    };
    // Signatures and greetings follow a body that may open in lower case after a greeting only.
    let template = if form == "signature" {
        capitalise(&template)
    } else {
        template
    };
    let person_form = match form {
        "greeting" | "signature" | "mixed" | "place" | "address" => "full",
        f => f,
    };
    expand(&template, &mut pieces, &mut |key, pieces| match key {
        "P" => push_person(rng, loc, person_form, pieces),
        "G" => push_addressee(rng, loc, pieces),
        "F" => push_person(rng, loc, "first_only", pieces),
        "C" => pieces.push(Piece::Val("LOCATION", places.cities.draw().to_string())),
        "R" => push_place(places.regions.draw(), true, pieces),
        "N" => push_place(places.countries.draw(), true, pieces),
        "B" => push_place(places.countries.draw(), false, pieces),
        "A" => push_address(rng, loc, true, pieces),
        "L" => push_address(rng, loc, false, pieces),
        other => pieces.push(lit(other)),
    });
    if form != "lowercase" {
        capitalise_start(&mut pieces);
    }
    build(loc.lang, form, false, &pieces)
}

/// Upper-cases the first letter of `s` when it is ASCII.
fn capitalise(s: &str) -> String {
    let mut out = s.to_string();
    if let Some(c) = s.chars().next() {
        if c.is_ascii_lowercase() {
            out.replace_range(..1, &c.to_ascii_uppercase().to_string());
        }
    }
    out
}

fn negatives(rng: &mut Rng, loc: &Locale, out: &mut Vec<NameSample>) {
    let mut seen = HashSet::new();
    for text in loc.negatives.iter().take(NEGATIVES) {
        seen.insert(text.to_string());
        out.push(build(loc.lang, NEGATIVE_FORM, true, &[lit(text)]));
    }
    for _ in 0..NEGATIVES * 40 {
        if seen.len() >= NEGATIVES {
            break;
        }
        let mut pieces = Vec::new();
        expand(
            one(rng, loc.neg_templates),
            &mut pieces,
            &mut |key, pieces| {
                let v: &str = match key {
                    "X" => one(rng, PRODUCTS),
                    "Y" => one(rng, DRUGS),
                    "M" => one(rng, loc.months),
                    "D" => one(rng, loc.weekdays),
                    "I" => one(rng, IDENTS),
                    "H" => one(rng, loc.headings),
                    other => other,
                };
                pieces.push(lit(v));
            },
        );
        let s = build(loc.lang, NEGATIVE_FORM, true, &pieces);
        if seen.insert(s.text.clone()) {
            out.push(s);
        }
    }
}
