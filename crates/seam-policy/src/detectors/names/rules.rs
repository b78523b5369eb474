//! The rules: a tokenizer that walks the text once and looks each word up in the lexicon, then
//! person and place rules over the tokens. Street addresses are in `address.rs`.

use super::lexicon::{
    COMMON, DOTTED_ONLY, GIVEN, GREET, LEX, PARTICLE, PLACE, PLACE_HEAD, PREP, PRODUCT, SIGNOFF,
    ST_POST, ST_PRE, ST_WORD, STOP, SURNAME, TIME, TITLE, TOWN, VERB, VETO, lower_into,
};
use super::{Cand, LOCATION, PERSON};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// No capital letter.
    Lower,
    /// A capital, then lower-case letters ("Anna", "O'Brien", "Jean-Luc", "McDonald").
    Title,
    /// Capitals only ("JOHN", "J").
    Upper,
    /// Anything else with letters ("iPhone", "getUser", "MyClass").
    Mixed,
    /// Starts with a digit ("12", "221B", "3º").
    Num,
    Punct(char),
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Tok {
    pub s: usize,
    pub e: usize,
    pub kind: Kind,
    /// Lexicon flags (words only).
    pub f: u32,
    /// First token of a line.
    pub line: bool,
    /// First token of a sentence (or of a line).
    pub sent: bool,
}

impl Tok {
    pub fn is(&self, flag: u32) -> bool {
        self.f & flag != 0
    }
    pub fn word(&self) -> bool {
        matches!(
            self.kind,
            Kind::Lower | Kind::Title | Kind::Upper | Kind::Mixed
        )
    }
}

pub(super) struct Ctx<'t> {
    pub text: &'t str,
    pub toks: Vec<Tok>,
    pub buf: String,
}

fn char_at(text: &str, i: usize) -> Option<char> {
    match text.as_bytes().get(i) {
        None => None,
        Some(&b) if b < 0x80 => Some(char::from(b)),
        Some(_) => text.get(i..).and_then(|s| s.chars().next()),
    }
}

fn letter(c: Option<char>) -> bool {
    c.is_some_and(char::is_alphabetic)
}

impl<'t> Ctx<'t> {
    pub fn new(text: &'t str) -> Self {
        let mut c = Ctx {
            text,
            toks: Vec::with_capacity(text.len() / 5 + 1),
            buf: String::new(),
        };
        c.tokenize();
        c
    }

    fn tokenize(&mut self) {
        let text = self.text;
        let b = text.as_bytes();
        let mut i = 0;
        let mut line = true;
        let mut sent = true;
        while i < b.len() {
            let x = b[i];
            if x == b'\n' {
                line = true;
                sent = true;
                i += 1;
                continue;
            }
            if x == b' ' || x == b'\t' || x == b'\r' {
                i += 1;
                continue;
            }
            let Some(ch) = char_at(text, i) else { break };
            let w = ch.len_utf8();
            if ch.is_whitespace() {
                i += w;
                continue;
            }
            let s = i;
            let kind;
            let mut f = 0;
            if ch.is_ascii_digit() {
                i += 1;
                while let Some(c) = char_at(text, i) {
                    if c.is_alphanumeric() {
                        i += c.len_utf8();
                    } else {
                        break;
                    }
                }
                kind = Kind::Num;
            } else if ch.is_alphabetic() {
                let first_upper = ch.is_uppercase();
                let (mut lower, mut upper_after, mut camel) = (ch.is_lowercase(), false, false);
                let mut prev_lower = ch.is_lowercase();
                i += w;
                loop {
                    // ASCII letters, the common case, without decoding.
                    match b.get(i) {
                        Some(x) if x.is_ascii_lowercase() => {
                            lower = true;
                            prev_lower = true;
                            i += 1;
                            continue;
                        }
                        Some(x) if x.is_ascii_uppercase() => {
                            upper_after = true;
                            camel |= prev_lower;
                            prev_lower = false;
                            i += 1;
                            continue;
                        }
                        _ => {}
                    }
                    let Some(c) = char_at(text, i) else { break };
                    if c.is_alphabetic() {
                        if c.is_uppercase() {
                            upper_after = true;
                            camel |= prev_lower;
                        }
                        lower |= c.is_lowercase();
                        prev_lower = c.is_lowercase();
                        i += c.len_utf8();
                    } else if matches!(c, '\'' | '\u{2019}' | '-')
                        && letter(char_at(text, i + c.len_utf8()))
                    {
                        // A possessive `'s` ends the word: "Anna's" is "Anna".
                        let after = i + c.len_utf8();
                        if c != '-'
                            && matches!(b.get(after), Some(b's'))
                            && !letter(char_at(text, after + 1))
                        {
                            break;
                        }
                        prev_lower = false;
                        i = after;
                    } else {
                        break;
                    }
                }
                let word = &text[s..i];
                let mac = word.starts_with("Mc") || word.starts_with("Mac");
                kind = if !first_upper {
                    if upper_after {
                        Kind::Mixed
                    } else {
                        Kind::Lower
                    }
                } else if !lower {
                    Kind::Upper
                } else if camel && !mac {
                    Kind::Mixed
                } else {
                    Kind::Title
                };
                let _ = upper_after;
                // Code identifiers and long lower-case words are in no list the rules read.
                let listed = match kind {
                    Kind::Mixed => false,
                    Kind::Lower => word.len() <= 14,
                    _ => true,
                };
                if listed {
                    f = LEX.words.get(lower_into(word, &mut self.buf)).unwrap_or(0);
                }
            } else {
                i += w;
                kind = Kind::Punct(ch);
            }
            self.toks.push(Tok {
                s,
                e: i,
                kind,
                f,
                line,
                sent,
            });
            line = false;
            sent = matches!(
                kind,
                Kind::Punct('.' | '!' | '?' | ':' | '"' | '\u{201c}' | '>' | '*' | '-' | '•')
            ) && (sent || matches!(kind, Kind::Punct('.' | '!' | '?' | ':')));
        }
    }

    pub fn tok(&self, i: usize) -> Option<&Tok> {
        self.toks.get(i)
    }

    /// The text between tokens `a` and `b`.
    pub fn gap(&self, a: usize, b: usize) -> &'t str {
        match (self.toks.get(a), self.toks.get(b)) {
            (Some(x), Some(y)) if x.e <= y.s => &self.text[x.e..y.s],
            _ => "\n",
        }
    }

    /// Tokens `a` and `b` (= a + 1) are separated by one or two spaces on one line.
    pub fn spaced(&self, a: usize, b: usize) -> bool {
        let g = self.gap(a, b);
        !g.is_empty() && g.len() <= 2 && g.bytes().all(|x| x == b' ' || x == b'\t')
    }

    /// Token `b` directly follows `a`.
    pub fn attached(&self, a: usize, b: usize) -> bool {
        self.gap(a, b).is_empty()
    }

    pub fn punct(&self, i: usize, c: char) -> bool {
        self.tok(i).is_some_and(|t| t.kind == Kind::Punct(c))
    }

    pub fn slice(&self, i: usize) -> &'t str {
        self.toks.get(i).map_or("", |t| &self.text[t.s..t.e])
    }

    pub fn key(&mut self, i: usize) -> &str {
        let w = self.slice(i);
        lower_into(w, &mut self.buf)
    }

    /// A word in code rather than prose: `user_name`, `Anna.length`, `Foo(`, `$Anna`.
    pub fn code(&self, i: usize) -> bool {
        let Some(t) = self.tok(i) else { return false };
        let b = self.text.as_bytes();
        let before = t.s.checked_sub(1).and_then(|j| b.get(j)).copied();
        let after = b.get(t.e).copied();
        let after2 = b.get(t.e + 1).copied();
        t.kind == Kind::Mixed
            || matches!(before, Some(b'_' | b'$' | b'\\' | b'`' | b'<' | b'{'))
            || (matches!(before, Some(b'.' | b'/'))
                && t.s >= 2
                && b.get(t.s - 2).is_some_and(|x| x.is_ascii_alphanumeric()))
            || matches!(after, Some(b'_' | b'(' | b'[' | b'{' | b'=' | b'`' | b'>'))
            || (matches!(after, Some(b'.' | b'/'))
                && after2.is_some_and(|x| x.is_ascii_alphanumeric()))
            || (after == Some(b':') && after2 == Some(b':'))
    }

    /// A capitalised word that may be part of a name: not a veto word, not code.
    pub fn namey(&self, i: usize, upper: bool) -> bool {
        self.tok(i).is_some_and(|t| {
            (t.kind == Kind::Title || (upper && t.kind == Kind::Upper && t.e - t.s > 1))
                && !t.is(STOP | TIME | TITLE)
                && !self.code(i)
        })
    }

    /// A lower-case word that is a known given name and nothing else common.
    pub fn lower_given(&self, i: usize) -> bool {
        self.tok(i).is_some_and(|t| {
            t.kind == Kind::Lower && t.is(GIVEN) && !t.is(VETO | COMMON | PLACE) && !self.code(i)
        })
    }

    pub fn particle(&self, i: usize) -> bool {
        self.tok(i)
            .is_some_and(|t| t.kind == Kind::Lower && t.is(PARTICLE))
    }

    /// The last token of the name that starts at `i` (a name word): more name words, particles
    /// before a name word ("van der", "de la"), initials ("F."), at most six words, one line.
    pub fn name_run(&self, i: usize, upper: bool) -> usize {
        let mut j = i;
        let mut words = 1;
        while words < 6 {
            let k = j + 1;
            if !self.spaced(j, k) {
                break;
            }
            // In capitals only gazetteer words continue a name: "DR. WATSON ARRIVED".
            if self.namey(k, upper) && (!upper || self.toks[k].is(GIVEN | SURNAME)) {
                j = k;
                words += 1;
                continue;
            }
            // Particles: up to two before a name word.
            if self.particle(k) && self.spaced(k, k + 1) {
                if self.namey(k + 1, upper) {
                    j = k + 1;
                    words += 2;
                    continue;
                }
                if self.particle(k + 1) && self.spaced(k + 1, k + 2) && self.namey(k + 2, upper) {
                    j = k + 2;
                    words += 3;
                    continue;
                }
            }
            // An initial: "John F. Kennedy".
            if self.initial(k) && self.spaced(k + 1, k + 2) && self.namey(k + 2, upper) {
                j = k + 2;
                words += 2;
                continue;
            }
            break;
        }
        j
    }

    /// A capital letter with its dot: "F." of "John F. Kennedy".
    pub fn initial(&self, k: usize) -> bool {
        self.tok(k)
            .is_some_and(|t| t.kind == Kind::Upper && t.e - t.s == 1)
            && self.punct(k + 1, '.')
            && self.attached(k, k + 1)
    }

    /// Whether any word in `i..=j` carries `flag`.
    pub fn any(&self, i: usize, j: usize, flag: u32) -> bool {
        self.toks
            .get(i..=j)
            .is_some_and(|ts| ts.iter().any(|t| t.is(flag)))
    }

    /// The end of the longest phrase (of `LEX.phrases`, up to five words) starting at `i`: the
    /// index after it.
    pub fn phrase(&mut self, i: usize) -> Option<usize> {
        for n in (1..=5).rev() {
            if i + n > self.toks.len() {
                continue;
            }
            let mut key = String::new();
            let mut ok = true;
            for k in i..i + n {
                if !self.toks[k].word() || (k > i && !self.spaced(k - 1, k)) {
                    ok = false;
                    break;
                }
                if k > i {
                    key.push(' ');
                }
                key.push_str(self.key(k));
            }
            if ok && LEX.phrases.contains(key.as_str()) {
                return Some(i + n);
            }
        }
        None
    }

    /// Skips a title and its dot and suffix ("Dr.", "Sig.ra", "Dott.ssa", "Sr.ª") at `i`:
    /// the index after it.
    pub fn title(&mut self, i: usize) -> Option<usize> {
        let t = *self.tok(i)?;
        // Long titles are often written in lower case mid-sentence ("beste meneer Jansen").
        let lower_ok = t.kind == Kind::Lower && t.e - t.s >= 5;
        if !t.is(TITLE) || !(matches!(t.kind, Kind::Title | Kind::Upper) || lower_ok) {
            return None;
        }
        let dotted = self.punct(i + 1, '.') && self.attached(i, i + 1);
        let key = self.key(i).to_owned();
        if !dotted && DOTTED_ONLY.contains(&key.as_str()) {
            return None;
        }
        let mut j = if dotted { i + 2 } else { i + 1 };
        // Sig.ra, Dott.ssa, Sr.ª, Dr.ª
        if dotted && self.attached(i + 1, j) && matches!(self.slice(j), "ra" | "ssa" | "ª" | "a") {
            j += 1;
            if self.punct(j, '.') && self.attached(j - 1, j) {
                j += 1;
            }
        }
        Some(j)
    }
}

/// Person and place rules.
pub(super) fn people_and_places(c: &mut Ctx<'_>, out: &mut Vec<Cand>) {
    let n = c.toks.len();
    // Chat typed all in lower case: a known given name (not a common word) after a preposition
    // or a verb ("an detlef", "ping merve") is a person, weakly; the model confirms it.
    let lower_text = !c
        .toks
        .iter()
        .any(|t| matches!(t.kind, Kind::Title | Kind::Upper | Kind::Mixed));
    let mut i = 0;
    while i < n {
        let t = c.toks[i];
        if lower_text
            && c.lower_given(i)
            && i > 0
            && c.toks[i - 1].is(PREP | VERB)
            && !out.iter().any(|o| o.s <= t.s && t.e <= o.e)
        {
            let mut end = i;
            if c.spaced(i, i + 1)
                && c.tok(i + 1).is_some_and(|t| {
                    t.kind == Kind::Lower && t.is(SURNAME) && !t.is(VETO | COMMON | PLACE | STOP)
                })
            {
                end = i + 1;
            }
            person(c, i, end, 0.55, out);
        }
        if !t.word() {
            // "-- " on a line of its own opens an e-mail signature.
            if t.line
                && t.kind == Kind::Punct('-')
                && c.punct(i + 1, '-')
                && c.attached(i, i + 1)
                && c.tok(i + 2).is_some_and(|n| n.line)
                && c.namey(i + 2, false)
            {
                signature(c, i + 2, false, out);
            }
            i += 1;
            continue;
        }
        if t.is(TITLE) {
            if let Some(next) = titled(c, i, out) {
                i = next;
                continue;
            }
        }
        if t.is(GREET) && (t.sent || t.line || c.punct(i.wrapping_sub(1), ',')) {
            greeting(c, i, out);
        }
        if t.is(SIGNOFF) && t.line {
            signoff(c, i, out);
        }
        if t.is(VERB) {
            addressed(c, i, out);
        }
        if t.kind == Kind::Title && c.punct(i + 1, ',') {
            last_first(c, i, out);
        }
        if t.is(GIVEN) && matches!(t.kind, Kind::Title | Kind::Upper) {
            full_or_first(c, i, out);
        }
        if t.is(PLACE | PLACE_HEAD | TOWN) && matches!(t.kind, Kind::Title | Kind::Upper) {
            place(c, i, out);
        }
        i += 1;
    }
}

fn person(c: &Ctx<'_>, i: usize, j: usize, score: f32, out: &mut Vec<Cand>) {
    if let (Some(a), Some(b)) = (c.tok(i), c.tok(j)) {
        out.push(Cand {
            entity: PERSON,
            s: a.s,
            e: b.e,
            score,
        });
    }
}

fn gazetteer_score(c: &Ctx<'_>, i: usize, j: usize, base: f32) -> f32 {
    if c.any(i, j, GIVEN | SURNAME) {
        base + 0.05
    } else {
        base
    }
}

/// "Dr. Ada Lovelace", "Frau Dr. Meier", "Sig.ra Rossi": the name words after the titles.
fn titled(c: &mut Ctx<'_>, i: usize, out: &mut Vec<Cand>) -> Option<usize> {
    let mut j = c.title(i)?;
    let mut guard = 0;
    while let Some(k) = c.title(j) {
        if !c.spaced(j - 1, j) || guard > 3 {
            break;
        }
        j = k;
        guard += 1;
    }
    if !c.spaced(j - 1, j) {
        return None;
    }
    // "Dhr. de Vries", "Herr von Weizsäcker": particles may open the name.
    let mut k = j;
    // A capitalised particle opens a surname written without its given name: "Van der Berg".
    while k < j + 2
        && (c.particle(k)
            || (k == j
                && c.tok(k)
                    .is_some_and(|t| t.kind == Kind::Title && t.is(PARTICLE))))
        && c.spaced(k, k + 1)
    {
        k += 1;
    }
    // "Dr. J. Smith": an initial opens the name.
    if c.initial(k) && c.spaced(k + 1, k + 2) && c.namey(k + 2, false) {
        let end = c.name_run(k + 2, false);
        person(c, k, end, gazetteer_score(c, k, end, 0.85), out);
        return Some(end + 1);
    }
    let upper = c.tok(k).is_some_and(|t| t.kind == Kind::Upper);
    if !c.namey(k, upper) {
        return None;
    }
    let end = c.name_run(k, upper);
    person(c, j, end, gazetteer_score(c, j, end, 0.85), out);
    Some(end + 1)
}

/// Whether the name that ends at `j` ends where a greeting's or signature's name does.
fn ends_clean(c: &Ctx<'_>, j: usize) -> bool {
    match c.tok(j + 1) {
        None => true,
        Some(t) if t.line => true,
        Some(t) => matches!(
            t.kind,
            Kind::Punct(
                ',' | '!' | '.' | ':' | ';' | '-' | '|' | '(' | '/' | '\u{2013}' | '\u{2014}'
            )
        ),
    }
}

/// A product or assistant that is also a name ("Claude", "Alexa", "Siri"): addressed, it is the
/// product.
fn product(t: &Tok) -> bool {
    t.is(PRODUCT)
}

/// "Hi Anna,", "Dear John Smith", "Bonjour Camille", "hi anna".
fn greeting(c: &mut Ctx<'_>, i: usize, out: &mut Vec<Cand>) {
    let Some(mut j) = c.phrase(i) else { return };
    if c.punct(j, ',') && c.attached(j - 1, j) {
        j += 1;
    }
    if !c.spaced(j - 1, j) || c.tok(j).is_some_and(|t| t.is(TITLE)) {
        return;
    }
    let Some(t) = c.tok(j).copied() else { return };
    if t.kind == Kind::Title && !t.is(STOP | TIME | TITLE) && !product(&t) && !c.code(j) {
        let end = c.name_run(j, false);
        if ends_clean(c, end) || t.is(GIVEN) {
            person(c, j, end, gazetteer_score(c, j, end, 0.85), out);
        }
    } else if c.lower_given(j) {
        let mut end = j;
        if c.spaced(j, j + 1)
            && c.tok(j + 1)
                .is_some_and(|t| t.kind == Kind::Lower && t.is(SURNAME) && !t.is(VETO | COMMON))
        {
            end = j + 1;
        }
        person(c, j, end, 0.7, out);
    }
}

/// "Best,\nPriya Raman", "Mit freundlichen Grüßen\nJürgen Groß", "Thanks, Priya".
fn signoff(c: &mut Ctx<'_>, i: usize, out: &mut Vec<Cand>) {
    let Some(mut j) = c.phrase(i) else { return };
    while c
        .tok(j)
        .is_some_and(|t| matches!(t.kind, Kind::Punct(',' | '!' | '.' | '-')))
        && !c.tok(j).is_some_and(|t| t.line)
    {
        j += 1;
    }
    let Some(t) = c.tok(j).copied() else { return };
    let same_line = !t.line;
    if same_line && !c.spaced(j - 1, j) && !c.punct(j - 1, ',') {
        return;
    }
    if !c.namey(j, false) {
        return;
    }
    signature(c, j, same_line, out);
}

/// The name that starts a signature at `j`.
fn signature(c: &Ctx<'_>, j: usize, same_line: bool, out: &mut Vec<Cand>) {
    let t = c.toks[j];
    let end = c.name_run(j, false);
    // One unknown word under a sign-off is as often a team ("Cheers,\nOps") as a person.
    let score = if end == j && !t.is(GIVEN | SURNAME) {
        0.45
    } else {
        gazetteer_score(c, j, end, 0.85)
    };
    if ends_clean(c, end) || (same_line && t.is(GIVEN) && !t.is(COMMON)) {
        person(c, j, end, score, out);
    }
}

/// "tell john", "ask Maria", "cc: peter", "dis à pierre", "pregunta a maría".
fn addressed(c: &mut Ctx<'_>, i: usize, out: &mut Vec<Cand>) {
    let mut j = i + 1;
    if c.punct(j, ':') && c.attached(i, j) {
        j += 1;
    }
    if matches!(c.slice(j), "à" | "a" | "al" | "aan" | "an") && c.spaced(j - 1, j) {
        j += 1;
    }
    if !c.spaced(j - 1, j) {
        return;
    }
    let Some(t) = c.tok(j).copied() else { return };
    if c.lower_given(j) {
        let mut end = j;
        if c.spaced(j, j + 1)
            && c.tok(j + 1).is_some_and(|t| {
                t.kind == Kind::Lower && t.is(SURNAME) && !t.is(VETO | COMMON | PLACE)
            })
        {
            end = j + 1;
        }
        person(c, j, end, 0.7, out);
    } else if t.kind == Kind::Title && t.is(GIVEN | SURNAME) && !product(&t) && c.namey(j, false) {
        let end = c.name_run(j, false);
        person(c, j, end, 0.85, out);
    }
}

/// "Lovelace, Ada": a surname-looking word, a comma, a known given name.
fn last_first(c: &mut Ctx<'_>, i: usize, out: &mut Vec<Cand>) {
    let t = c.toks[i];
    let Some(first) = c.tok(i + 2).copied() else {
        return;
    };
    if !c.attached(i, i + 1) || !c.spaced(i + 1, i + 2) {
        return;
    }
    if !c.namey(i, false) || !c.namey(i + 2, false) || !first.is(GIVEN) || first.is(COMMON | PLACE)
    {
        return;
    }
    let surname = t.is(SURNAME);
    if !surname && t.is(GIVEN | PLACE | COMMON | ST_POST | ST_PRE | ST_WORD) {
        return;
    }
    // A list of names ("Anna, Maria, John") is not one person.
    if c.punct(i.wrapping_sub(1), ',')
        || (c.punct(i + 3, ',') && c.tok(i + 4).is_some_and(|t| t.is(GIVEN)))
    {
        return;
    }
    let mut end = i + 2;
    if c.spaced(end, end + 1)
        && c.namey(end + 1, false)
        && c.tok(end + 1).is_some_and(|t| t.is(GIVEN))
    {
        end += 1;
    }
    // Particles before the surname: "van Dijk, Jan".
    let mut start = i;
    while start > 0 && c.particle(start - 1) && c.spaced(start - 1, start) {
        start -= 1;
    }
    person(c, start, end, if surname { 0.85 } else { 0.65 }, out);
}

/// "Anna Schmidt", "JOHN SMITH", "I met Anna".
fn full_or_first(c: &mut Ctx<'_>, i: usize, out: &mut Vec<Cand>) {
    let t = c.toks[i];
    let upper = t.kind == Kind::Upper;
    if !c.namey(i, upper) {
        return;
    }
    if upper && (t.is(COMMON | PLACE) || t.e - t.s < 3) {
        return;
    }
    // Inside a run another rule already reported ("Dr. Anna Meier") the rule adds nothing.
    if i > 0 && c.spaced(i - 1, i) && c.namey(i - 1, upper) && c.toks[i - 1].is(GIVEN) {
        return;
    }
    let end = c.name_run(i, upper);
    if end > i {
        let last = c.toks[end];
        if c.any(i + 1, end, ST_POST | ST_WORD)
            || c.toks
                .get(end + 1)
                .is_some_and(|x| x.is(ST_POST) && c.spaced(end, end + 1))
        {
            return;
        }
        let known = last.is(SURNAME) && !last.is(COMMON);
        // "Julia Roberts" is a person, "Adam optimizer" and "Ruby Rails" are not.
        if (t.is(PRODUCT) || last.is(PRODUCT)) && !known {
            return;
        }
        let score = if upper {
            if known { 0.8 } else { return }
        } else if t.is(COMMON) {
            if known { 0.6 } else { return }
        } else if known {
            0.85
        } else if last.is(SURNAME) {
            0.7
        } else if !last.is(COMMON | PLACE) {
            0.65
        } else {
            0.45
        };
        person(c, i, end, score, out);
    } else if !upper && !t.is(COMMON | PLACE | TOWN | PRODUCT) {
        // A lone given name: weak at the start of a sentence, where any word is capitalised, and
        // after a capitalised common word ("Lake Victoria", "Saint Helena").
        let prev = (i > 0 && c.spaced(i - 1, i)).then(|| c.toks[i - 1]);
        let prev_signal = prev.is_some_and(|p| p.is(VERB | GREET));
        let proper_noun = prev.is_some_and(|p| {
            p.kind == Kind::Title
                && p.is(STOP | COMMON)
                && !p.is(VERB | GREET | SIGNOFF | TITLE | PREP)
        });
        let subject = t.sent && !prev_signal && !proper_noun && acts(c, i + 1);
        let score = if ((t.sent && !prev_signal) || proper_noun) && !subject {
            0.45
        } else {
            0.6
        };
        person(c, i, i, score, out);
    }
}

/// Whether the token at `k` makes the capitalised given name before it, at the start of a
/// sentence, a person: a vocative comma ("Anna, can you…") or a verb people do ("Anna said").
fn acts(c: &mut Ctx<'_>, k: usize) -> bool {
    if c.punct(k, ',') && c.attached(k - 1, k) {
        return true;
    }
    if !c.spaced(k - 1, k) || c.tok(k).is_none_or(|t| t.kind != Kind::Lower) {
        return false;
    }
    matches!(
        c.key(k),
        "said"
            | "says"
            | "asked"
            | "told"
            | "wrote"
            | "sent"
            | "called"
            | "replied"
            | "mentioned"
            | "thinks"
            | "thought"
            | "wants"
            | "wanted"
            | "needs"
            | "needed"
            | "will"
            | "would"
            | "can"
            | "could"
            | "should"
            | "has"
            | "had"
            | "and"
            | "agreed"
            | "confirmed"
            | "joined"
            | "left"
            | "lives"
            | "works"
            | "sagt"
            | "sagte"
            | "hat"
            | "wird"
            | "dit"
            | "a"
            | "est"
            | "va"
            | "dice"
            | "dijo"
            | "ha"
            | "zegt"
            | "heeft"
            | "disse"
            | "tem"
    )
}

/// A gazetteer place, the longest of several words first.
fn place(c: &mut Ctx<'_>, i: usize, out: &mut Vec<Cand>) {
    let t = c.toks[i];
    if c.code(i) {
        return;
    }
    let mut end = None;
    if t.is(PLACE_HEAD) {
        let mut key = String::new();
        key.push_str(c.key(i));
        let mut best = None;
        let mut k = i;
        while k + 1 < c.toks.len() && k < i + 5 && c.spaced(k, k + 1) && c.toks[k + 1].word() {
            k += 1;
            key.push(' ');
            let w = c.key(k).to_owned();
            key.push_str(&w);
            if LEX.places.contains(key.as_str()) && c.toks[k].kind != Kind::Lower {
                best = Some(k);
            }
        }
        end = best;
    }
    let multi = end.is_some();
    let end = match end {
        Some(e) => e,
        None if t.is(PLACE | TOWN) => i,
        None => return,
    };
    let prep =
        i > 0 && c.spaced(i - 1, i) && c.toks[i - 1].is(PREP) && c.toks[i - 1].kind == Kind::Lower;
    // A place that is also a surname ("Madrid", "Berlin") is less often a person than one that
    // is also a given name ("Paris", "Georgia").
    let ambiguous = t.is(GIVEN | COMMON | STOP | TIME | PRODUCT | TITLE);
    let surname = t.is(SURNAME);
    let score = if multi {
        if prep { 0.9 } else { 0.8 }
    } else if !t.is(PLACE) {
        // A town: only after a preposition, and only when no other reading competes.
        if prep
            && t.kind == Kind::Title
            && !t.is(GIVEN | SURNAME | COMMON | STOP | TIME | PRODUCT | TITLE)
        {
            0.7
        } else {
            return;
        }
    } else if t.kind == Kind::Upper {
        if ambiguous || surname || t.e - t.s < 4 {
            return;
        } else {
            0.55
        }
    } else if !ambiguous {
        if prep {
            0.85
        } else if surname {
            0.45
        } else if t.sent {
            0.55
        } else {
            0.65
        }
    } else if prep && !t.is(STOP | TIME | PRODUCT | TITLE) {
        let strong = !matches!(
            c.slice(i - 1),
            "to" | "from" | "at" | "a" | "da" | "de" | "per" | "via" | "no" | "na"
        );
        if strong { 0.75 } else { 0.45 }
    } else {
        0.4
    };
    out.push(Cand {
        entity: LOCATION,
        s: t.s,
        e: c.toks[end].e,
        score,
    });
}
