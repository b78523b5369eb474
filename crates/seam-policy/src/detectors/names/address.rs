//! Street-address grammars over the tokens: the street line (building number, street name and
//! type, unit) and, right after it, a postal code; the city after the code or after the line's
//! comma is a separate `LOCATION`.
//!
//! - number first, type last (en-US, en-GB): "221B Baker Street", "1600 Pennsylvania Ave NW, Apt 4"
//! - number first, type first (fr): "12 rue de la Paix", "5 bis avenue Foch"
//! - type first, number last (es, it, pt): "Calle Mayor 10, 3º B", "Via Roma 12", "Rua Augusta 100"
//! - one word with a street ending, number last (de, nl): "Hauptstraße 5", "Keizersgracht 123-II"

use super::lexicon::{
    DIRECTION, PARTICLE, PLACE, ST_POST, ST_PRE, ST_SUFFIXES, ST_WORD, UNIT, lower_into,
};
use super::rules::{Ctx, Kind};
use super::{Cand, LOCATION, STREET_ADDRESS};

const LINE: f32 = 0.9;

pub(super) fn addresses(c: &mut Ctx<'_>, out: &mut Vec<Cand>) {
    let n = c.toks.len();
    let mut i = 0;
    while i < n {
        let t = c.toks[i];
        let found = match t.kind {
            Kind::Num => number_first(c, i),
            Kind::Title | Kind::Lower | Kind::Upper => type_first(c, i)
                .or_else(|| name_then_number(c, i))
                .or_else(|| preposition_street(c, i)),
            _ => None,
        };
        let Some((start, mut end)) = found else {
            i += 1;
            continue;
        };
        // "Flat 3, 12 High Street": a unit written before the line.
        let mut start_tok = start;
        if start >= 3
            && c.punct(start - 1, ',')
            && c.toks[start - 2].kind == Kind::Num
            && c.toks[start - 3].is(UNIT)
            && c.toks[start - 3].kind != Kind::Lower
        {
            start_tok = start - 3;
        }
        if let Some(u) = unit(c, end) {
            end = u;
        }
        let line_end = end;
        let mut city = None;
        if let Some((p, city_from)) = postcode(c, end) {
            end = p;
            city = city_from;
        } else if c.punct(end + 1, ',') && c.spaced(end + 1, end + 2) && c.namey(end + 2, false) {
            city = Some(end + 2);
        }
        let _ = line_end;
        out.push(Cand {
            entity: STREET_ADDRESS,
            s: c.toks[start_tok].s,
            e: c.toks[end].e,
            score: LINE,
        });
        if let Some(k) = city {
            let upper = c.toks[k].kind == Kind::Upper;
            let last = c.name_run(k, upper);
            let score = if c.any(k, last, PLACE | super::lexicon::TOWN) {
                0.85
            } else {
                0.7
            };
            out.push(Cand {
                entity: LOCATION,
                s: c.toks[k].s,
                e: c.toks[last].e,
                score,
            });
            end = end.max(last);
        }
        i = end + 1;
    }
}

/// A building number at `i` ("12", "221B", "12bis", "123-II", "12-14", "12/A", "5 bis"): its
/// last token.
fn house(c: &Ctx<'_>, i: usize) -> Option<usize> {
    let t = c.tok(i)?;
    if t.kind != Kind::Num {
        return None;
    }
    let w = c.slice(i);
    let digits = w.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 5 || w.chars().count() - digits > 4 {
        return None;
    }
    // Not a part of a larger number or an amount: "1,600", "$100", "3.5".
    let b = c.text.as_bytes();
    if let Some(&p) = t.s.checked_sub(1).and_then(|j| b.get(j)) {
        if matches!(p, b'$' | b'.' | b',' | b'/' | b'-' | b'+' | b':')
            || p.is_ascii_digit()
            || p >= 0x80 && c.text[..t.s].ends_with(['€', '£'])
        {
            return None;
        }
    }
    let mut j = i;
    if (c.punct(j + 1, '-') || c.punct(j + 1, '/'))
        && c.attached(j, j + 1)
        && c.attached(j + 1, j + 2)
    {
        let next = c.tok(j + 2);
        if next.is_some_and(|x| x.kind == Kind::Num || (x.kind == Kind::Upper && x.e - x.s <= 4)) {
            j += 2;
        }
    }
    if c.spaced(j, j + 1) && matches!(c.slice(j + 1), "bis" | "ter" | "quater" | "hs" | "huis") {
        j += 1;
    }
    Some(j)
}

fn street_word(c: &Ctx<'_>, i: usize) -> bool {
    c.tok(i).is_some_and(|t| {
        matches!(t.kind, Kind::Title | Kind::Upper)
            || (t.kind == Kind::Num && c.slice(i).bytes().any(|b| b.is_ascii_alphabetic()))
            || (t.kind == Kind::Mixed && elided(c.slice(i)))
    })
}

/// "l'Église", "d'Alsace".
fn elided(w: &str) -> bool {
    ["l'", "d'", "l\u{2019}", "d\u{2019}"]
        .iter()
        .any(|p| w.starts_with(p))
}

/// en: number, name words, street type ("221B Baker Street", "1600 Pennsylvania Ave NW"); fr:
/// number, street type, name ("12 rue de la Paix").
fn number_first(c: &mut Ctx<'_>, i: usize) -> Option<(usize, usize)> {
    let h = house(c, i)?;
    let mut k = h + 1;
    if c.punct(k, ',') && c.attached(h, k) {
        k += 1;
    }
    if !c.spaced(k - 1, k) {
        return None;
    }
    // fr
    if c.tok(k)
        .is_some_and(|t| t.is(ST_PRE) && t.kind != Kind::Upper)
    {
        if let Some(e) = name_after_type(c, k) {
            return Some((i, e));
        }
    }
    if k != h + 1 {
        return None;
    }
    // en
    let mut best = None;
    let mut j = k;
    let mut words = 0;
    while words < 5 && street_word(c, j) {
        if words > 0 && c.toks[j].is(ST_POST) {
            best = Some(j);
        }
        words += 1;
        if !c.spaced(j, j + 1) {
            break;
        }
        j += 1;
    }
    let mut e = best?;
    // "St." and "Ave." keep their dot; after "Road" it ends the sentence.
    if c.punct(e + 1, '.') && c.attached(e, e + 1) && abbreviated(c.slice(e)) {
        e += 1;
    }
    if c.spaced(e, e + 1)
        && c.tok(e + 1)
            .is_some_and(|t| t.is(DIRECTION) && t.kind == Kind::Upper)
    {
        e += 1;
    }
    Some((i, e))
}

/// The street name after a type word at `k` ("de la Paix", "Mayor", "XX Settembre"): its last
/// token. Particles may sit inside but not at the end.
fn name_after_type(c: &Ctx<'_>, k: usize) -> Option<usize> {
    let mut j = k;
    // "C/ Alcalá", "Avda. de América", "Pº de la Castellana"
    if (c.punct(j + 1, '/') || c.punct(j + 1, '.')) && c.attached(j, j + 1) {
        j += 1;
    } else if c.slice(k) == "C" || c.slice(k) == "c" || c.slice(k) == "R" || c.slice(k) == "r" {
        return None;
    }
    let mut last = None;
    let mut n = 0;
    while n < 7 {
        let next = j + 1;
        let gap = c.gap(j, next);
        if gap.is_empty() || gap.len() > 2 || !gap.bytes().all(|b| b == b' ') {
            break;
        }
        let Some(t) = c.tok(next) else { break };
        if street_word(c, next) && !t.is(UNIT) {
            last = Some(next);
        } else if !(t.kind == Kind::Lower && t.is(PARTICLE)) {
            break;
        }
        j = next;
        n += 1;
    }
    last
}

/// es, it, pt (and a French line without its number first): type, name, number.
fn type_first(c: &mut Ctx<'_>, i: usize) -> Option<(usize, usize)> {
    let t = c.toks[i];
    if !t.is(ST_PRE) || t.kind == Kind::Upper && c.slice(i) != "C" && c.slice(i) != "R" {
        return None;
    }
    if i > 0 && c.toks[i - 1].kind == Kind::Num && c.spaced(i - 1, i) {
        return None; // number first: already tried
    }
    let name_end = name_after_type(c, i)?;
    let mut k = name_end + 1;
    if c.punct(k, ',') && c.attached(name_end, k) {
        k += 1;
    }
    if !c.spaced(k - 1, k) {
        return None;
    }
    // nº, n.º, n., no., núm.
    if matches!(
        c.slice(k),
        "nº" | "n" | "no" | "núm" | "num" | "Nº" | "N" | "No" | "n°"
    ) {
        let mut m = k + 1;
        if c.punct(m, '.') && c.attached(k, m) {
            m += 1;
            if c.slice(m) == "º" && c.attached(m - 1, m) {
                m += 1;
            }
        }
        if c.tok(m).is_some_and(|x| x.kind == Kind::Num)
            && (c.spaced(m - 1, m) || c.attached(m - 1, m))
        {
            k = m;
        }
    }
    let h = house(c, k)?;
    Some((i, h))
}

/// de, nl: "Hauptstraße 5", "Hauptstr. 5", "Berliner Straße 10", "Keizersgracht 123-II".
fn name_then_number(c: &mut Ctx<'_>, i: usize) -> Option<(usize, usize)> {
    let t = c.toks[i];
    if t.kind != Kind::Title {
        return None;
    }
    let mut j = i;
    if c.punct(j + 1, '.') && c.attached(j, j + 1) {
        j += 1;
    }
    if c.tok(j + 1).is_none_or(|x| x.kind != Kind::Num) || !c.spaced(j, j + 1) {
        return None;
    }
    let word = c.slice(i);
    let mut buf = String::new();
    let key = lower_into(word, &mut buf);
    let dotted = j > i;
    let suffix = ST_SUFFIXES.iter().any(|s| {
        let s = if dotted {
            if *s == "str." { "str" } else { return false }
        } else {
            *s
        };
        key.len() > s.len() && key.ends_with(s)
    });
    let mut start = i;
    if !suffix {
        // "Berliner Straße 10": a separate street word after one to three capitalised words.
        if !t.is(ST_WORD) {
            return None;
        }
        let mut s = i;
        while s > 0
            && i - s < 3
            && c.spaced(s - 1, s)
            && c.toks[s - 1].kind == Kind::Title
            && !c.toks[s - 1].is(super::lexicon::VETO)
        {
            s -= 1;
        }
        if s == i {
            return None;
        }
        start = s;
    }
    let h = house(c, j + 1)?;
    Some((start, h))
}

/// de: "Am Markt 3", "An der Alster 5", "Unter den Linden 77": a preposition, an article, one or
/// two capitalised words and a number. Prose has the same shape ("Im Jahr 2020"), so the line
/// counts only with a postal code after it.
fn preposition_street(c: &mut Ctx<'_>, i: usize) -> Option<(usize, usize)> {
    if c.toks[i].kind != Kind::Title
        || !matches!(
            c.slice(i),
            "Am" | "An"
                | "Im"
                | "Auf"
                | "Unter"
                | "Zum"
                | "Zur"
                | "In"
                | "Hinter"
                | "Vor"
                | "Alte"
                | "Alter"
        )
    {
        return None;
    }
    let mut j = i + 1;
    if matches!(c.slice(j), "der" | "den" | "dem" | "die" | "das") && c.spaced(j - 1, j) {
        j += 1;
    }
    let mut last = None;
    while j < i + 5 && c.spaced(j - 1, j) && c.namey(j, false) {
        last = Some(j);
        j += 1;
    }
    let last = last?;
    let h = house(c, last + 1).filter(|_| c.spaced(last, last + 1))?;
    postcode(c, h)?;
    Some((i, h))
}

/// A unit after the line at `end` ("Apt 4", ", Suite 200", "#12", ", 3º B", "2º Esq."): its last
/// token.
fn unit(c: &Ctx<'_>, end: usize) -> Option<usize> {
    let mut k = end + 1;
    if c.punct(k, ',') && c.attached(end, k) {
        k += 1;
    }
    if !c.spaced(k - 1, k) {
        return None;
    }
    let t = c.tok(k)?;
    let mut j;
    if t.is(UNIT) && t.kind != Kind::Lower
        || matches!(
            c.slice(k),
            "piso" | "puerta" | "int" | "scala" | "andar" | "apt" | "app"
        )
    {
        j = k + 1;
        if c.punct(j, '.') && c.attached(k, j) {
            j += 1;
        }
        if c.punct(j, '#') {
            j += 1;
        }
        let v = c.tok(j)?;
        if !(v.kind == Kind::Num || (v.kind == Kind::Upper && v.e - v.s <= 2)) {
            return None;
        }
    } else if c.punct(k, '#') && c.tok(k + 1).is_some_and(|v| v.kind == Kind::Num) {
        j = k + 1;
    } else if t.kind == Kind::Num && ordinal(c.slice(k)) {
        j = k;
        if c.spaced(j, j + 1) {
            let w = c.slice(j + 1);
            let side = matches!(
                w.to_lowercase().as_str(),
                "izq"
                    | "izda"
                    | "izquierda"
                    | "dcha"
                    | "dcho"
                    | "derecha"
                    | "der"
                    | "esq"
                    | "dto"
                    | "drt"
                    | "dta"
                    | "esquerdo"
                    | "direito"
                    | "frente"
                    | "centro"
                    | "ctro"
                    | "int"
                    | "ext"
            ) || (w.len() == 1 && w.bytes().all(|b| b.is_ascii_alphabetic()));
            if side {
                j += 1;
                if c.punct(j + 1, '.') && c.attached(j, j + 1) {
                    j += 1;
                }
            }
        }
    } else {
        return None;
    }
    Some(j)
}

/// A floor or door: "3º", "2ª", and "3o", "2a" as compatibility folding writes them.
fn ordinal(w: &str) -> bool {
    let digits = w.bytes().take_while(u8::is_ascii_digit).count();
    (1..=2).contains(&digits) && matches!(&w[digits..], "º" | "ª" | "°" | "o" | "a")
}

/// A postal code after the line at `end` (", 75002", " 1011 AB", ", 1100-148"): its last token,
/// and where the city after it starts.
fn postcode(c: &Ctx<'_>, end: usize) -> Option<(usize, Option<usize>)> {
    let mut k = end + 1;
    if c.punct(k, ',') && c.attached(end, k) {
        k += 1;
    }
    if !c.spaced(k - 1, k) {
        return None;
    }
    let t = c.tok(k)?;
    let w = c.slice(k);
    if t.kind != Kind::Num || !w.bytes().all(|b| b.is_ascii_digit()) || !(4..=5).contains(&w.len())
    {
        return None;
    }
    let mut j = k;
    if w.len() == 4 {
        if c.spaced(j, j + 1)
            && c.tok(j + 1)
                .is_some_and(|x| x.kind == Kind::Upper && x.e - x.s == 2)
        {
            j += 1; // nl
        } else if c.punct(j + 1, '-')
            && c.attached(j, j + 1)
            && c.slice(j + 2).len() == 3
            && c.tok(j + 2).is_some_and(|x| x.kind == Kind::Num)
        {
            j += 2; // pt
        }
    }
    let city = (c.spaced(j, j + 1) && c.namey(j + 1, true)).then_some(j + 1);
    Some((j, city))
}

/// A street type written short, whose dot belongs to it.
fn abbreviated(word: &str) -> bool {
    const SHORT: &[&str] = &[
        "st", "ave", "av", "rd", "ln", "blvd", "dr", "pl", "ct", "ter", "cres", "hwy", "pkwy",
        "sq", "str", "c", "cl", "pza", "pç", "trav", "bd", "bld", "av", "all", "imp", "ch", "sqr",
    ];
    word.len() <= 5 && SHORT.iter().any(|s| word.eq_ignore_ascii_case(s))
}
