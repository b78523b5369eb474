//! The words the rules know: gazetteers from Faker (data/names/, built by scripts/gazetteer.py)
//! and hand-written lists of titles, greetings, sign-offs, verbs of address, particles, street
//! types and the words that fool models (imperatives, weekdays and months, products and drugs).
//! Everything is folded into one table from a lower-cased word to its flags, built once, so the
//! tokenizer pays one hash lookup per word.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

/// A word-at-a-time multiplicative hash (FxHash's): the keys are short words, where SipHash's
/// set-up and FNV's byte loop dominate the lookup.
#[derive(Default, Clone, Copy)]
pub(super) struct Fnv(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Fnv {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }
}

type Build = BuildHasherDefault<Fnv>;

pub(super) const GIVEN: u32 = 1;
pub(super) const SURNAME: u32 = 1 << 1;
pub(super) const PLACE: u32 = 1 << 2;
/// The first word of a place of several words ("new" of "New York").
pub(super) const PLACE_HEAD: u32 = 1 << 3;
/// A common word that is also a name or place ("will", "mark", "best"): needs other evidence.
pub(super) const COMMON: u32 = 1 << 4;
/// Never a name on its own: imperatives, sentence-start words, pronouns, "team", "everyone".
pub(super) const STOP: u32 = 1 << 5;
/// Weekdays and months.
pub(super) const TIME: u32 = 1 << 6;
/// Products, drugs, programming languages and tools.
pub(super) const PRODUCT: u32 = 1 << 7;
pub(super) const TITLE: u32 = 1 << 8;
/// The first word of a greeting ("hi", "dear", "good" of "good morning").
pub(super) const GREET: u32 = 1 << 9;
/// The first word of a sign-off ("best", "kind" of "kind regards").
pub(super) const SIGNOFF: u32 = 1 << 10;
/// Verbs of address ("tell", "ask", "cc", "sag", "dis").
pub(super) const VERB: u32 = 1 << 11;
/// Lower-case name particles ("van", "der", "de", "la", "von", "dos").
pub(super) const PARTICLE: u32 = 1 << 12;
/// Prepositions that make a following place a place ("in", "nach", "à", "naar").
pub(super) const PREP: u32 = 1 << 13;
/// Street types written after the name ("Street", "Ave", "Road").
pub(super) const ST_POST: u32 = 1 << 14;
/// Street types written before the name ("rue", "Calle", "Via", "Rua").
pub(super) const ST_PRE: u32 = 1 << 15;
/// Units after a street line ("Apt", "Suite", "Flat", "piso").
pub(super) const UNIT: u32 = 1 << 16;
/// German and Dutch street words written apart ("Berliner Straße 5").
pub(super) const ST_WORD: u32 = 1 << 17;
/// Compass directions after a US street type ("NW").
pub(super) const DIRECTION: u32 = 1 << 18;
/// A village or small municipality (towns.txt): a place only after a preposition or postcode.
pub(super) const TOWN: u32 = 1 << 19;
/// Words that never start a name part: the union of the vetoes.
pub(super) const VETO: u32 = STOP | TIME | PRODUCT | TITLE;

const GIVEN_TXT: &str = include_str!("../../../data/names/given.txt");
const SURNAMES_TXT: &str = include_str!("../../../data/names/surnames.txt");
const PLACES_TXT: &str = include_str!("../../../data/names/places.txt");
const TOWNS_TXT: &str = include_str!("../../../data/names/towns.txt");
const COMMON_TXT: &str = include_str!("../../../data/names/common.txt");

/// Titles and salutations, lower-case, without their dot. `m`, `hr` and `fr` count only with a dot.
#[rustfmt::skip]
pub(super) const TITLES: &[&str] = &[
    // en
    "dr", "prof", "professor", "doctor", "mr", "mrs", "ms", "miss", "mx", "sir", "dame", "lord",
    "lady", "rev", "revd", "capt", "captain", "col", "sgt", "lt", "gen", "mister", "madam",
    // de
    "herr", "herrn", "frau", "fräulein", "hr", "fr", "dipl", "ing", "doktor",
    // fr
    "m", "mme", "mmes", "mlle", "mlles", "monsieur", "madame", "mademoiselle", "docteur", "maître",
    "pr",
    // es
    "sr", "sra", "srta", "sres", "señor", "señora", "señorita", "don", "doña", "dña", "dra", "lic",
    // it
    "sig", "sigra", "sigg", "signor", "signore", "signora", "signorina", "dott", "dottssa",
    "dottore", "dottoressa", "avv", "arch", "geom", "rag",
    // nl
    "dhr", "mevr", "mw", "mej", "ir", "drs", "meneer", "mevrouw", "mijnheer",
    // pt
    "sra", "srª", "senhor", "senhora", "dr", "drª", "eng", "engº",
];

/// Titles that are also ordinary words or initials: they count only with their dot.
#[rustfmt::skip]
pub(super) const DOTTED_ONLY: &[&str] = &[
    "m", "hr", "fr", "gen", "col", "lt", "arch", "rag", "ing", "pr", "lic", "eng",
];

/// Greetings, lower-case; a name after one is addressed.
#[rustfmt::skip]
pub(super) const GREETINGS: &[&str] = &[
    "hi", "hello", "hey", "hiya", "dear", "howdy", "greetings", "good morning", "good afternoon",
    "good evening", "morning", "thanks", "thank you", "welcome", "hallo", "liebe", "lieber",
    "sehr geehrte", "sehr geehrter", "guten tag", "guten morgen", "moin", "servus", "danke",
    "bonjour", "bonsoir", "salut", "coucou", "cher", "chère", "merci", "hola", "buenos días",
    "buenas tardes", "buenas", "querido", "querida", "estimado", "estimada", "gracias", "ciao",
    "salve", "caro", "cara", "gentile", "gentilissimo", "gentilissima", "buongiorno", "buonasera",
    "grazie", "beste", "hoi", "dag", "geachte", "goedemorgen", "goedemiddag", "bedankt", "olá",
    "ola", "oi", "bom dia", "boa tarde", "boa noite", "prezado", "prezada", "caríssimo",
    "caríssima", "obrigado", "obrigada",
];

/// Sign-offs, lower-case; the line after one (or the rest of its line) is a signature.
#[rustfmt::skip]
pub(super) const SIGNOFFS: &[&str] = &[
    "best", "best regards", "best wishes", "kind regards", "warm regards", "warmest regards",
    "regards", "many thanks", "thanks", "thank you", "thanks again", "cheers", "sincerely",
    "yours sincerely", "yours faithfully", "yours truly", "yours", "all the best", "talk soon",
    "love", "take care", "mit freundlichen grüßen", "mit freundlichen grüssen", "freundliche grüße",
    "freundliche grüsse", "viele grüße", "viele grüsse", "liebe grüße", "liebe grüsse",
    "beste grüße", "beste grüsse", "herzliche grüße", "gruß", "grüße", "lg", "mfg", "cordialement",
    "bien cordialement", "bien à vous", "bien à toi", "salutations", "sincères salutations",
    "amitiés", "bises", "bisous", "à bientôt", "saludos", "un saludo", "saludos cordiales",
    "atentamente", "un abrazo", "abrazos", "cordiali saluti", "distinti saluti", "saluti",
    "un saluto", "a presto", "un abbraccio", "met vriendelijke groet", "met vriendelijke groeten",
    "vriendelijke groet", "groeten", "groetjes", "hartelijke groet", "atenciosamente",
    "cumprimentos", "com os melhores cumprimentos", "abraços", "abraço", "beijos", "um abraço",
];

/// Verbs (and chat markers) after which a lower-case given name is addressed.
#[rustfmt::skip]
const VERBS: &[&str] = &[
    "tell", "ask", "ping", "cc", "message", "msg", "text", "call", "email", "remind", "thank",
    "thx", "meet", "invite", "dm", "page", "sag", "frag", "schreib", "ruf", "dis", "demande",
    "appelle", "préviens", "dile", "pregunta", "llama", "avisa", "escribe", "chiedi", "dì", "di'",
    "chiama", "avvisa", "scrivi", "vraag", "zeg", "bel", "mail", "app", "pergunta", "diz", "liga",
    "fala", "manda",
];

#[rustfmt::skip]
const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "la", "le", "du", "des", "di", "da", "das", "dos", "del",
    "della", "dei", "degli", "ten", "ter", "te", "op", "'t", "zu", "vom", "y", "e", "bin", "ibn",
    "al", "el", "st", "st.", "mac", "lo",
];

#[rustfmt::skip]
const PREPS: &[&str] = &[
    "in", "from", "near", "at", "to", "into", "around", "outside", "across", "visiting", "nach",
    "aus", "bei", "nahe", "à", "au", "aux", "dans", "vers", "en", "desde", "hacia", "para", "cerca",
    "a", "da", "per", "presso", "naar", "uit", "bij", "em", "no", "na", "rumo", "via",
    // Of, for, over, about: "the exports of India", "für Italien", "über Polen".
    "of", "für", "über", "pour", "sur", "por", "voor", "over", "tra", "fra", "entre",
    // To and with, before a person in lower-case chat: "an detlef", "tegen wouter", "mit anna".
    "an", "tegen", "with", "mit", "avec", "con", "com", "met",
];

#[rustfmt::skip]
const STREET_POST: &[&str] = &[
    "street", "st", "avenue", "ave", "av", "road", "rd", "lane", "ln", "boulevard", "blvd", "drive",
    "dr", "way", "place", "pl", "court", "ct", "terrace", "ter", "close", "crescent", "cres",
    "square", "sq", "parkway", "pkwy", "highway", "hwy", "circle", "cir", "trail", "trl", "row",
    "mews", "gardens", "grove", "walk", "alley", "plaza", "pike", "hill", "park", "green", "parade",
    "broadway", "expressway", "freeway", "turnpike", "loop", "path", "point", "rise", "vale",
    "view", "wharf", "yard",
];

#[rustfmt::skip]
const STREET_PRE: &[&str] = &[
    // fr
    "rue", "avenue", "av", "boulevard", "bd", "bld", "place", "chemin", "allée", "impasse", "quai",
    "cours", "route", "passage", "voie", "square", "faubourg", "promenade", "rond-point",
    // es
    "calle", "c", "avenida", "avda", "plaza", "pza", "paseo", "camino", "carretera", "ctra",
    "ronda", "travesía", "glorieta", "carrer", "pasaje",
    // it
    "via", "viale", "piazza", "piazzale", "corso", "vicolo", "largo", "strada", "lungomare",
    "lungotevere", "contrada", "borgo", "vico", "salita",
    // pt
    "rua", "r", "travessa", "tv", "praça", "pç", "alameda", "estrada", "calçada", "beco", "rotunda",
    "praceta", "avª",
];

#[rustfmt::skip]
const UNITS: &[&str] = &[
    "apt", "apartment", "suite", "ste", "unit", "flat", "floor", "fl", "room", "rm", "bldg",
    "building", "piso", "puerta", "planta", "escalera", "esc", "interno", "int", "scala", "piano",
    "andar", "bus", "app", "appartement", "étage", "bte", "boîte", "wohnung", "whg", "etage", "og",
    "stock",
];

#[rustfmt::skip]
const ST_WORDS: &[&str] = &[
    "straße", "strasse", "str", "weg", "platz", "allee", "gasse", "ring", "damm", "ufer",
    "chaussee", "steig", "pfad", "markt", "straat", "laan", "gracht", "plein", "kade", "singel",
    "dijk",
];

/// Endings of German and Dutch street names written as one word ("Hauptstraße", "Keizersgracht").
#[rustfmt::skip]
pub(super) const ST_SUFFIXES: &[&str] = &[
    "straße", "strasse", "str.", "weg", "platz", "allee", "gasse", "ring", "damm", "ufer",
    "chaussee", "steig", "pfad", "markt", "straat", "laan", "gracht", "plein", "kade", "singel",
    "dijk", "dreef", "steeg", "wal", "haven",
];

#[rustfmt::skip]
const DIRECTIONS: &[&str] = &[
    "n", "s", "e", "w", "ne", "nw", "se", "sw", "north", "south", "east", "west",
];

#[rustfmt::skip]
const TIMES: &[&str] = &[
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue",
    "tues", "wed", "thu", "thurs", "fri", "sat", "sun", "january", "february", "march", "april",
    "may", "june", "july", "august", "september", "october", "november", "december", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "montag", "dienstag",
    "mittwoch", "donnerstag", "freitag", "samstag", "sonnabend", "sonntag", "januar", "februar",
    "märz", "mai", "juni", "juli", "oktober", "dezember", "lundi", "mardi", "mercredi", "jeudi",
    "vendredi", "samedi", "dimanche", "janvier", "février", "mars", "avril", "juin", "juillet",
    "août", "septembre", "octobre", "novembre", "décembre", "lunes", "martes", "miércoles",
    "jueves", "viernes", "sábado", "domingo", "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "setiembre", "octubre", "noviembre", "diciembre", "lunedì",
    "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica", "gennaio", "febbraio",
    "aprile", "maggio", "giugno", "luglio", "settembre", "ottobre", "dicembre", "maandag",
    "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag", "januari", "februari",
    "maart", "mei", "augustus", "segunda", "terça", "quarta", "quinta", "sexta", "janeiro",
    "fevereiro", "março", "maio", "junho", "julho", "setembro", "outubro", "novembro", "dezembro",
    "christmas", "easter", "weihnachten", "ostern", "noël", "pâques", "navidad", "natale", "pasqua",
    "kerstmis", "pasen", "natal", "páscoa",
];

#[rustfmt::skip]
const PRODUCTS: &[&str] = &[
    // drugs
    "aspirin", "ibuprofen", "paracetamol", "acetaminophen", "tylenol", "advil", "motrin", "aleve",
    "xanax", "valium", "prozac", "zoloft", "lexapro", "lipitor", "crestor", "ozempic", "wegovy",
    "mounjaro", "viagra", "cialis", "claritin", "zyrtec", "nexium", "prilosec", "humira",
    "keytruda", "metformin", "insulin", "adderall", "ritalin", "ambien", "lyrica", "eliquis",
    "xarelto", "januvia", "synthroid", "amoxicillin", "augmentin", "benadryl", "sudafed",
    "voltaren", "nurofen", "dafalgan", "doliprane", "efferalgan", "novalgin", "tachipirina",
    "moment", "gelocatil", "enantyum", "ben-u-ron",
    // products, companies and tools
    "adam", "bert", "roberta", "electra", "albert", "llava", "phi", "gemma", "qwen", "falcon",
    "iphone", "ipad", "macbook", "android", "windows", "excel", "outlook", "teams", "slack", "zoom",
    "chrome", "firefox", "safari", "siri", "alexa", "cortana", "copilot", "claude", "gemini",
    "chatgpt", "gpt", "llama", "mistral", "grok", "tesla", "kindle", "pixel", "galaxy", "xbox",
    "playstation", "nintendo", "lego", "jira", "github", "gitlab", "docker", "kubernetes", "python",
    "java", "javascript", "typescript", "rust", "ruby", "perl", "julia", "swift", "kotlin", "scala",
    "elixir", "haskell", "django", "flask", "rails", "react", "angular", "vue", "node", "linux",
    "ubuntu", "debian", "fedora", "postgres", "postgresql", "mysql", "redis", "kafka", "spark",
    "jenkins", "ansible", "terraform", "mercedes", "porsche", "toyota", "honda", "nissan", "audi",
    "bmw", "volkswagen", "renault", "peugeot", "fiat", "seat", "skoda", "volvo", "dell", "lenovo",
    "asus", "sony", "samsung", "nokia", "oracle", "amazon", "google", "apple", "microsoft", "meta",
    "netflix", "spotify", "uber", "lyft", "airbnb", "adobe", "photoshop", "figma", "notion",
    "trello", "asana", "salesforce", "shopify", "stripe", "paypal", "visa", "mastercard", "nike",
    "adidas", "ikea", "zara", "starbucks", "mcdonald's", "walmart", "costco", "aldi", "lidl",
    "rampart", "seam", "openai", "anthropic", "whatsapp", "telegram", "signal", "instagram",
    "facebook", "twitter", "tiktok", "youtube", "linkedin", "reddit", "wikipedia",
];

/// Words that start prompts and sentences, pronouns, and whom a greeting may address that is no
/// person ("Hi team", "Dear customer").
#[rustfmt::skip]
const STOPS: &[&str] = &[
    // en
    "summarise", "summarize", "translate", "draft", "write", "please", "note", "make", "create",
    "explain", "list", "give", "show", "tell", "ask", "find", "check", "review", "update", "fix",
    "add", "remove", "delete", "use", "let", "help", "thanks", "thank", "hello", "hi", "hey",
    "dear", "regards", "sincerely", "cheers", "team", "all", "everyone", "everybody", "there",
    "sir", "madam", "folks", "guys", "friends", "colleagues", "customer", "customers", "client",
    "user", "users", "world", "support", "admin", "the", "a", "an", "this", "that", "these",
    "those", "here", "what", "when", "where", "why", "how", "who", "which", "is", "are", "was",
    "were", "be", "do", "does", "did", "have", "has", "had", "can", "could", "would", "should",
    "shall", "might", "must", "i", "you", "he", "she", "we", "they", "my", "your", "our", "their",
    "his", "her", "its", "it", "if", "but", "and", "or", "so", "yes", "no", "ok", "okay", "also",
    "then", "now", "today", "tomorrow", "yesterday", "tonight", "see", "send", "reply", "forward",
    "sign", "attach", "open", "close", "start", "stop", "run", "build", "deploy", "test", "compare",
    "analyse", "analyze", "rewrite", "edit", "format", "convert", "generate", "extract", "classify",
    "answer", "describe", "calculate", "sort", "identify", "happy", "good", "great", "subject",
    "re", "fw", "fwd", "from", "to", "cc", "bcc", "date", "sent", "attention", "attn", "hereby",
    "regarding", "dept", "department", "manager", "director", "ceo", "cto", "cfo", "office",
    "company", "inc", "ltd", "llc", "gmbh", "corp", "sa", "srl", "bv", "nv", "ag", "university",
    "hospital", "school", "bank", "hotel", "restaurant", "street", "road", "avenue", "city",
    "state", "country", "north", "south", "east", "west", "central", "new", "old", "great", "saint",
    "san", "santa", "mount", "lake", "fort", "port", "mr", "mrs", "ms", "dr", "note", "important",
    "warning", "error", "todo", "fixme", "step", "section", "chapter", "table", "figure",
    "appendix", "summary", "conclusion", "introduction", "background", "meeting", "agenda",
    "minutes", "notes", "action", "items", "question", "questions", "input", "output", "example",
    "task", "context", "instructions", "system", "assistant", "human", "ai", "bot", "model",
    "prompt", "response", "answer", "data", "json", "api", "url", "http", "https", "null", "true",
    "false", "none", "id", "name", "first", "last", "full", "some", "any", "every", "each", "many",
    "more", "most", "other", "another", "such", "same", "just", "only", "not", "never", "always",
    "maybe", "perhaps", "however", "therefore", "although", "because", "since", "while", "after",
    "before", "during", "about", "above", "below", "with", "without", "within", "under", "over",
    "between", "through", "again", "both", "either", "neither", "one", "two", "three", "ten",
    "hundred", "thousand", "sorry", "welcome", "congratulations", "happy", "birthday", "best",
    "kind", "warm", "love", "hugs", "xoxo", "ps", "p.s", "btw", "fyi", "asap", "eta", "faq", "via",
    // languages and nationalities, which share words with given names ("German", "Florence")
    "english", "german", "french", "spanish", "italian", "dutch", "portuguese", "chinese",
    "japanese", "korean", "russian", "arabic", "hindi", "polish", "turkish", "greek", "swedish",
    "danish", "norwegian", "finnish", "czech", "hungarian", "romanian", "ukrainian", "hebrew",
    "latin", "american", "british", "european", "african", "asian", "indian", "irish", "scottish",
    "welsh", "canadian", "australian", "mexican", "brazilian", "catalan", "basque", "deutsch",
    "englisch", "französisch", "spanisch", "italienisch", "niederländisch", "français", "anglais",
    "allemand", "espagnol", "italien", "néerlandais", "portugais", "español", "inglés", "alemán",
    "francés", "italiano", "inglese", "tedesco", "francese", "spagnolo", "nederlands", "engels",
    "duits", "frans", "português", "inglês", "alemão",
    // de
    "bitte", "danke", "hallo", "liebe", "lieber", "sehr", "geehrte", "geehrter", "übersetze",
    "schreibe", "erstelle", "fasse", "erkläre", "prüfe", "sende", "ich", "du", "er", "sie", "wir",
    "ihr", "der", "die", "das", "ein", "eine", "und", "oder", "aber", "heute", "morgen", "gestern",
    "hier", "dort", "team", "kollegen", "kunde", "kunden", "damen", "herren", "alle", "guten",
    "viele", "grüße", "gruß", "mit", "freundlichen",
    // fr
    "merci", "bonjour", "salut", "cher", "chère", "chers", "traduisez", "traduis", "résume",
    "résumez", "écris", "rédige", "je", "tu", "il", "elle", "nous", "vous", "ils", "elles", "le",
    "la", "les", "un", "une", "et", "ou", "mais", "aujourd'hui", "demain", "ici", "madame",
    "monsieur", "mesdames", "messieurs", "tous", "toutes", "cordialement", "bien",
    // es
    "hola", "gracias", "por", "favor", "traduce", "resume", "escribe", "redacta", "yo", "tú", "él",
    "ella", "nosotros", "ellos", "el", "los", "las", "una", "y", "o", "pero", "hoy", "mañana",
    "aquí", "todos", "señores", "estimados", "saludos", "atentamente",
    // it
    "ciao", "grazie", "traduci", "riassumi", "scrivi", "io", "lui", "lei", "noi", "voi", "loro",
    "il", "lo", "gli", "ma", "oggi", "domani", "qui", "tutti", "gentili", "cordiali", "saluti",
    // nl
    "dank", "bedankt", "vertaal", "schrijf", "ik", "jij", "hij", "zij", "wij", "jullie", "het",
    "een", "en", "maar", "vandaag", "hier", "allemaal", "groeten", "geachte", "beste",
    // pt
    "olá", "obrigado", "obrigada", "traduza", "resuma", "escreva", "eu", "ele", "nós", "eles", "os",
    "as", "um", "uma", "e", "mas", "hoje", "amanhã", "aqui", "cumprimentos", "pessoal",
];

/// Every word's flags, by the word's 64-bit [`key`] rather than by the word itself: one table of
/// 16-byte entries instead of a `String` per word (about 0.4 MB for some 17,000 words, a third of
/// the map of strings), and a lookup touches one entry instead of following it to the text.
///
/// Keys do not collide: a word of up to eight bytes is one zero-padded word times an odd
/// constant, which is a bijection, and a test checks that every longer lexicon word has a key of
/// its own (debug builds check every word as it is added). A word outside the lexicon taken for
/// one would need a 64-bit key collision with it.
#[derive(Default)]
pub(super) struct Words {
    flags: HashMap<u64, u32, BuildHasherDefault<Mix>>,
    /// Debug builds: the word each key was made from.
    #[cfg(debug_assertions)]
    text: HashMap<u64, String>,
}

impl Words {
    /// The flags of `word` (lower-cased, as [`lower_into`] gives it), if the lexicon has it.
    pub fn get(&self, word: &str) -> Option<u32> {
        self.flags.get(&key(word)).copied()
    }

    pub fn len(&self) -> usize {
        self.flags.len()
    }

    fn add(&mut self, word: &str, flag: u32) {
        let k = key(word);
        #[cfg(debug_assertions)]
        {
            let first = self.text.entry(k).or_insert_with(|| word.to_owned());
            assert_eq!(first, word, "two lexicon words share a key");
        }
        *self.flags.entry(k).or_insert(0) |= flag;
    }
}

/// A word's key: [`Fnv`] over its bytes, seeded with its length.
fn key(word: &str) -> u64 {
    let mut h = Fnv(word.len() as u64);
    h.write(word.as_bytes());
    h.finish()
}

/// Spreads a [`key`] over the table's buckets: the table indexes by the low bits, which a
/// product keeps from the word's first bytes only (murmur3's finaliser, its first half).
#[derive(Default)]
pub(super) struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^ (x >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The lexicon: every word's flags, plus the multi-word entries.
pub(super) struct Lex {
    pub words: Words,
    /// Places of several words, lower-case, single-spaced.
    pub places: HashSet<String, Build>,
    /// Greetings and sign-offs of several words.
    pub phrases: HashSet<&'static str, Build>,
}

pub(super) static LEX: LazyLock<Lex> = LazyLock::new(build);

fn entries(txt: &str) -> impl Iterator<Item = &str> {
    txt.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Lower-cases `word` into `buf` (reused, so no allocation per word once it has grown), with the
/// typographic apostrophe folded to `'`.
pub(super) fn lower_into<'b>(word: &str, buf: &'b mut String) -> &'b str {
    buf.clear();
    if word.is_ascii() {
        buf.push_str(word);
        buf.make_ascii_lowercase();
    } else {
        for c in word.chars() {
            if c == '\u{2019}' {
                buf.push('\'');
            } else {
                buf.extend(c.to_lowercase());
            }
        }
    }
    buf
}

fn build() -> Lex {
    let mut words = Words::default();
    let mut places: HashSet<String, Build> = HashSet::default();
    let mut phrases: HashSet<&'static str, Build> = HashSet::default();
    let mut buf = String::new();
    let mut add = |w: &str, flag: u32, words: &mut Words| {
        words.add(lower_into(w, &mut buf), flag);
    };
    for g in entries(GIVEN_TXT) {
        add(g, GIVEN, &mut words);
    }
    for s in entries(SURNAMES_TXT) {
        // "van den Berg": the last word carries the surname, the particles are found as such.
        if let Some(last) = s.rsplit(' ').next() {
            add(last, SURNAME, &mut words);
        }
    }
    for p in entries(PLACES_TXT) {
        if p.contains(' ') {
            let mut k = String::new();
            for c in p.chars() {
                k.extend(c.to_lowercase());
            }
            if let Some(head) = p.split(' ').next() {
                add(head, PLACE_HEAD, &mut words);
            }
            places.insert(k);
        } else {
            add(p, PLACE, &mut words);
        }
    }
    for t in entries(TOWNS_TXT) {
        add(t, TOWN, &mut words);
    }
    let lists: [(&[&str], u32); 12] = [
        (TITLES, TITLE),
        (VERBS, VERB),
        (PARTICLES, PARTICLE),
        (PREPS, PREP),
        (STREET_POST, ST_POST),
        (STREET_PRE, ST_PRE),
        (UNITS, UNIT),
        (ST_WORDS, ST_WORD),
        (DIRECTIONS, DIRECTION),
        (TIMES, TIME),
        (PRODUCTS, PRODUCT),
        (STOPS, STOP),
    ];
    for (list, flag) in lists {
        for w in list {
            add(w, flag, &mut words);
        }
    }
    for w in entries(COMMON_TXT) {
        add(w, COMMON, &mut words);
    }
    for (list, flag) in [(GREETINGS, GREET), (SIGNOFFS, SIGNOFF)] {
        for p in list {
            if let Some(head) = p.split(' ').next() {
                add(head, flag, &mut words);
            }
            phrases.insert(p);
        }
    }
    Lex {
        words,
        places,
        phrases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Building the lexicon checks each word's key against the words before it (debug builds).
    #[test]
    fn every_lexicon_word_has_a_key_of_its_own() {
        assert!(LEX.words.len() > 10_000, "{}", LEX.words.len());
        #[cfg(debug_assertions)]
        assert_eq!(LEX.words.text.len(), LEX.words.len());
        assert!(LEX.words.get("anna").is_some_and(|f| f & GIVEN != 0));
        assert!(
            LEX.words.get("annа").is_none(),
            "a Cyrillic а is another word"
        );
        assert_eq!(LEX.words.get(""), None);
    }

    /// Words of up to eight bytes never share a key: one padded word times an odd constant.
    #[test]
    fn short_words_never_share_a_key() {
        let mut seen = HashSet::new();
        for a in b'a'..=b'z' {
            for b in b'a'..=b'z' {
                for c in [None, Some(b'\''), Some(b'z')] {
                    let mut w = vec![a, b];
                    w.extend(c);
                    assert!(seen.insert(key(std::str::from_utf8(&w).unwrap())));
                }
            }
        }
    }
}
