//! Scanning throughput on ~8 MB of mixed text: prose, code, logs and numbers with a sprinkle of
//! personal data, split into prompt-sized documents (some with non-ASCII text, which takes the
//! normalisation slow path). Prints MB/s for `Scanner::all().scan` and each detector's share, then
//! the same documents with every personal value percent-encoded and `&amp;`/`%20` sprinkled in
//! (the escape-decoding path), as a ratio to the plain ones measured in the same run.
//!
//! `cargo run --release -p seam-policy --example throughput`

use std::hint::black_box;
use std::time::Instant;

use seam_policy::{Scanner, detectors};

const TARGET_BYTES: usize = 8 << 20;
const DOC_BYTES: usize = 16 << 10;
const ROUNDS: usize = 5;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

const WORDS: &[&str] = &[
    "the",
    "model",
    "request",
    "answer",
    "please",
    "summarise",
    "following",
    "customer",
    "data",
    "order",
    "shipping",
    "invoice",
    "account",
    "meeting",
    "report",
    "quarter",
    "revenue",
    "team",
    "could",
    "would",
    "should",
    "with",
    "from",
    "about",
    "their",
    "which",
    "there",
    "because",
    "function",
    "return",
    "value",
    "error",
    "latency",
    "gateway",
    "deployment",
    "version",
];

const CODE: &[&str] = &[
    "fn main() { let x = vec![1, 2, 3]; println!(\"{:?}\", x); }\n",
    "    if resp.status() == 429 { retry_after = Duration::from_secs(30); }\n",
    "{\"id\": \"550e8400-e29b-41d4-a716-446655440000\", \"count\": 1234567, \"ok\": true}\n",
    "2024-03-15T10:32:11.123Z INFO request_id=7f3a9c21 latency_ms=42 status=200\n",
    "const MAX: usize = 1_048_576; // 1 MiB, see v1.2.3 and 10.5.0-rc1\n",
    "SELECT * FROM orders WHERE id IN (4412983, 4412984) AND total > 99.95;\n",
    "commit 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39 Merge branch 'main'\n",
    "std::io::Result<()> and a::b::c with ratio 16:9 at 12:30:45\n",
];

const NUMBERS: &[&str] = &[
    "$1,234.56",
    "€99.90",
    "order #4412983",
    "ticket 2024-000123",
    "v2.10.4",
    "1.0.0.1234",
    "10:32:11",
    "2023-04-05",
    "1700000000000",
    "3.14159",
    "ISBN 978-3-16-148410-0",
    "x86_64",
];

fn entity(rng: &mut Rng) -> String {
    let fixed = [
        "john.doe@example.com",
        "+44 20 7946 0958",
        "(415) 555-2671",
        "4111 1111 1111 1111",
        "GB82 WEST 1234 5698 7654 32",
        "192.168.10.20",
        "2001:db8::8a2e:370:7334",
        "00:1A:2B:3C:4D:5E",
        "https://example.org/path?q=1",
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "SSN 536-90-6789",
        "born 12 March 1985",
        "NHS 943 476 5919",
        "AB123456C",
        "12345678Z",
        "RSSMRA85T10A562S",
        "2341 2341 2346",
        "S1234567D",
    ];
    match rng.below(4) {
        0 => format!("call {}", rng.digits(10)),
        _ => fixed[rng.below(fixed.len())].to_string(),
    }
}

fn document(rng: &mut Rng) -> String {
    let mut doc = String::with_capacity(DOC_BYTES + 256);
    let accented = rng.below(10) == 0;
    while doc.len() < DOC_BYTES {
        match rng.below(100) {
            0..=59 => {
                for _ in 0..12 {
                    doc.push_str(rng.pick(WORDS));
                    doc.push(' ');
                }
                doc.push_str(if accented {
                    "café naïve — 東京. "
                } else {
                    "end. "
                });
            }
            60..=84 => doc.push_str(rng.pick(CODE)),
            85..=97 => {
                doc.push_str(rng.pick(NUMBERS));
                doc.push(' ');
                let n = 3 + rng.below(14);
                doc.push_str(&rng.digits(n));
                doc.push(' ');
            }
            _ => {
                doc.push_str(&entity(rng));
                doc.push_str(". ");
            }
        }
    }
    doc
}

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn main() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut docs = Vec::new();
    let mut total = 0;
    while total < TARGET_BYTES {
        let d = document(&mut rng);
        total += d.len();
        docs.push(d);
    }
    let scanner = Scanner::all();
    let found: usize = docs.iter().map(|d| scanner.scan(d).len()).sum();

    let start = Instant::now();
    for _ in 0..ROUNDS {
        for d in &docs {
            black_box(scanner.scan(black_box(d)));
        }
    }
    let secs = start.elapsed().as_secs_f64() / ROUNDS as f64;
    println!(
        "Scanner::all().scan: {:.1} MB/s ({} docs, {:.1} MB, {} findings)",
        mb_per_s(total, secs),
        docs.len(),
        total as f64 / 1e6,
        found
    );

    // The same documents written the way URLs and HTML carry them: values percent-encoded,
    // prose joined with `&amp;` and `%20`, so normalisation decodes and maps every document.
    let encoded: Vec<String> = docs
        .iter()
        .map(|d| {
            d.replace('@', "%40")
                .replace("1111 ", "1111%20")
                .replace(" the ", " the&amp;")
                .replace(" data ", "%20data%20")
        })
        .collect();
    let encoded_total: usize = encoded.iter().map(String::len).sum();
    let timed = |docs: &[String]| {
        let start = Instant::now();
        for _ in 0..ROUNDS {
            for d in docs {
                black_box(scanner.scan(black_box(d)));
            }
        }
        start.elapsed().as_secs_f64() / ROUNDS as f64
    };
    let (plain_s, encoded_s) = (timed(&docs), timed(&encoded));
    println!(
        "plain {:.2} µs/KiB, encoded {:.2} µs/KiB ({:.2}x plain; {} findings)",
        plain_s * 1e6 / (total as f64 / 1024.0),
        encoded_s * 1e6 / (encoded_total as f64 / 1024.0),
        (encoded_s / encoded_total as f64) / (plain_s / total as f64),
        encoded.iter().map(|d| scanner.scan(d).len()).sum::<usize>(),
    );

    for d in detectors::all() {
        let mut out = Vec::new();
        let start = Instant::now();
        for doc in &docs {
            out.clear();
            d.detect(black_box(doc), &mut out);
        }
        let secs = start.elapsed().as_secs_f64();
        println!("  {:<10} {:>8.0} MB/s", d.name(), mb_per_s(total, secs));
    }
}
