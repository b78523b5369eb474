//! The semantic cache: after an exact miss, a request whose last user message means nearly the
//! same as a stored one's is answered with the stored answer (`x-seam-cache: semantic-hit`).
//!
//! What must match exactly is the request's *partition*: the exact cache's scope and config
//! fingerprint (route, policy, key policy, placement), the embedder, and the canonical request
//! with the last user message's text left out (model, parameters, system prompt, earlier turns).
//! Only that text is compared, by the cosine of its embedding with each stored one's; the best at
//! or above the rule's threshold wins. So nothing crosses scopes, and another system prompt or
//! earlier turn never matches.
//!
//! Never semantic: tools, functions or tool turns; `n > 1`; a last message that is not the user's
//! text (images, audio); a client's own body (`native`, whose text Seam does not take apart);
//! a last message over [`MAX_TEXT_BYTES`] (an embedder reads a bounded prefix, so two long texts
//! with one beginning would look the same); and any text in which the policy or Seam's scanner
//! finds anything ([`seam_gateway::Gateway::input_findings`]): "reset the password of a@b.com"
//! and "… of c@d.com" are close in meaning and must never share an answer. Such a request is
//! neither looked up nor stored. Answers with tool calls are not stored.
//!
//! The index lives in this process, also with `storage.redis_url` (each replica keeps its own;
//! exact entries still go to Redis): per partition at most [`PER_PARTITION`] entries (the least
//! recently used goes), all together at most `[cache] semantic_max_bytes` (likewise), each
//! until its TTL. An embedding that fails or times out is a miss, never the client's error.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use axum::response::Response;
use metrics::{counter, histogram};
use seam_config::{Placement, SemanticRule};
use seam_gateway::Gateway;
use seam_types::chat::{ChatCompletion, ChatRequest, Content, Role};

use super::key::{self, Key};
use super::{Answer, Cache, ENTRY_OVERHEAD, EVENT_OVERHEAD, Plan, REQUESTS, Stored};
use crate::embedders::Embedders;

/// `x-seam-cache-similarity`: the cosine similarity of a semantic hit, 4 decimals.
pub const SIMILARITY_HEADER: &str = "x-seam-cache-similarity";
pub const EMBED_SECONDS: &str = "seam_cache_embed_seconds";
pub const STORES: &str = "seam_cache_semantic_stores_total";
/// The most entries one partition keeps; a lookup compares against all of them.
pub const PER_PARTITION: usize = 256;
/// The longest last user message (in bytes) the semantic cache considers.
pub const MAX_TEXT_BYTES: usize = 1024;
/// Vectors this close are the same text: a new answer replaces the old one.
const SAME: f32 = 1.0 - 1e-6;
/// An embedding slower than this is a miss (the request goes on upstream).
const EMBED_TIMEOUT: Duration = Duration::from_secs(5);

/// A request's semantic side: where it may be answered from, and (after a miss) the vector its
/// answer is stored under.
#[derive(Clone, Debug)]
pub struct Ask {
    partition: Key,
    threshold: f32,
    embedder: Arc<str>,
    /// The last user message, whitespace collapsed.
    text: Arc<str>,
    /// Set by a lookup that missed: the answer is stored under it.
    vector: Option<Arc<[f32]>>,
}

/// The semantic side of `req` under `rule`, or `None` when the request is never semantic.
pub(super) fn ask(
    req: &ChatRequest,
    scope: &str,
    fingerprint: &[u8; 32],
    rule: &SemanticRule,
) -> Option<Ask> {
    let text = eligible_text(req)?;
    let mut rest = req.clone();
    if let Some(last) = rest.messages.last_mut() {
        last.content = None;
    }
    let scope = format!("semantic\0{scope}\0{}", rule.embedder);
    Some(Ask {
        partition: key::derive(&rest, &scope, fingerprint)?,
        threshold: rule.threshold,
        embedder: Arc::clone(&rule.embedder),
        text: text.into(),
        vector: None,
    })
}

/// The last user message's text when the request may be answered semantically.
fn eligible_text(req: &ChatRequest) -> Option<String> {
    let tools = req.tools.is_some()
        || req.tool_choice.is_some()
        || ["functions", "function_call"]
            .iter()
            .any(|f| req.extra.contains_key(*f));
    let tool_turns = req.messages.iter().any(|m| {
        matches!(m.role, Role::Tool | Role::Function)
            || m.tool_calls.is_some()
            || m.tool_call_id.is_some()
    });
    if tools || tool_turns || req.n.is_some_and(|n| n > 1) || req.native.is_some() {
        return None;
    }
    let last = req.messages.last().filter(|m| m.role == Role::User)?;
    let text = match last.content.as_ref()? {
        Content::Text(t) => t.clone(),
        Content::Parts(parts) => {
            let mut texts = Vec::with_capacity(parts.len());
            for p in parts {
                match (&*p.kind, &p.text) {
                    ("text", Some(t)) => texts.push(t.as_str()),
                    _ => return None,
                }
            }
            texts.join("\n")
        }
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty() && text.len() <= MAX_TEXT_BYTES).then_some(text)
}

impl Plan {
    /// Whether a semantic lookup follows an exact miss.
    pub fn is_semantic(&self) -> bool {
        self.semantic.is_some()
    }
}

/// What a semantic lookup needs of the request beyond its plan.
pub struct Lookup<'a> {
    pub gateway: &'a Arc<Gateway>,
    pub embedders: &'a Embedders,
    /// The request's `model`, whose route's policy decides whether its text is clean.
    pub model: &'a str,
    pub placement: &'a Placement,
    pub key_policy: Option<&'a str>,
}

impl Cache {
    /// After an exact miss: the stored answer to the closest question in the partition, with its
    /// similarity, counting the result (`semantic_hit` or `miss`). A miss keeps the request's
    /// vector in `plan` so its answer is stored under it; a request whose text is not clean (or
    /// that could not be embedded) is left out of the semantic cache altogether.
    pub async fn semantic(&self, plan: &mut Plan, cx: Lookup<'_>) -> Option<(Stored, f32)> {
        let ask = plan.semantic.as_mut()?;
        let found = self.embed_and_find(ask, &cx).await;
        let result = match &found {
            Ok(Some(_)) => "semantic_hit",
            _ => "miss",
        };
        counter!(REQUESTS, "result" => result, "alias" => plan.alias.clone()).increment(1);
        match found {
            Ok(found) => found,
            Err(()) => {
                plan.semantic = None;
                None
            }
        }
    }

    /// `Err` when the request must not be semantic after all (its text is not clean, or no
    /// vector could be had); `Ok(None)` a miss, its vector kept in `ask`.
    async fn embed_and_find(
        &self,
        ask: &mut Ask,
        cx: &Lookup<'_>,
    ) -> Result<Option<(Stored, f32)>, ()> {
        if cx
            .gateway
            .input_findings(cx.model, cx.key_policy, &ask.text)
            .await
        {
            return Err(());
        }
        let embedder = cx
            .embedders
            .resolve(&ask.embedder, cx.gateway, cx.placement, cx.key_policy)
            .await
            .map_err(|_| ())?;
        let t0 = Instant::now();
        let texts = [ask.text.to_string()];
        let out = tokio::time::timeout(EMBED_TIMEOUT, embedder.embed(&texts)).await;
        histogram!(EMBED_SECONDS, "embedder" => embedder.name().to_owned())
            .record(t0.elapsed().as_secs_f64());
        let vector = match out {
            Ok(Ok(mut v)) if v.len() == 1 => normalised(v.swap_remove(0)),
            Ok(Ok(_)) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "semantic cache: embedding failed; treated as a miss");
                None
            }
            Err(_) => {
                tracing::warn!("semantic cache: embedding timed out; treated as a miss");
                None
            }
        }
        .ok_or(())?;
        let found = self
            .semantic
            .best(&ask.partition, &vector, ask.threshold, Instant::now());
        ask.vector = Some(vector.into());
        Ok(found)
    }

    /// Stores `stored` under the plan's vector, when its lookup missed and the answer calls no
    /// tools. `weight` is what the exact store counts for it.
    pub(super) fn put_semantic(&self, plan: &Plan, stored: &Stored, weight: usize) {
        let Some(ask) = &plan.semantic else {
            return;
        };
        let Some(vector) = &ask.vector else {
            return;
        };
        if calls_tools(&stored.answer) {
            return;
        }
        let weight = weight + vector.len() * (size_of::<f32>() + size_of::<u16>());
        let expires = Instant::now() + plan.ttl;
        if self
            .semantic
            .insert(ask.partition, vector, stored.clone(), weight, expires)
        {
            counter!(STORES, "alias" => plan.alias.clone()).increment(1);
        }
    }
}

/// Marks a response served from a semantic hit: `x-seam-cache: semantic-hit` and the
/// similarity. A response that is not a hit (the replay failed) is left alone.
pub fn mark(resp: &mut Response, similarity: f32) {
    let h = resp.headers_mut();
    if h.get(super::HEADER).is_none_or(|v| v != "hit") {
        return;
    }
    h.insert(super::HEADER, HeaderValue::from_static("semantic-hit"));
    let shown = format!("{:.4}", similarity.clamp(-1.0, 1.0));
    if let Ok(v) = HeaderValue::from_str(&shown) {
        h.insert(SIMILARITY_HEADER, v);
    }
}

/// Whether an answer calls a tool (or a legacy function): such answers are never stored here.
/// An answer that cannot be read counts as calling one.
fn calls_tools(answer: &Answer) -> bool {
    let completion = match answer {
        Answer::Unary(body) => serde_json::from_slice::<ChatCompletion>(body).ok(),
        Answer::Stream(events) => crate::sse::assemble(&crate::sse::parse(events)).to_completion(),
    };
    let Some(c) = completion else {
        return true;
    };
    c.choices.iter().any(|ch| {
        ch.message
            .tool_calls
            .as_ref()
            .is_some_and(|t| !t.is_empty())
            || ch.message.extra.contains_key("function_call")
    })
}

/// `v` scaled to length 1, so a dot product is the cosine; `None` for a zero or non-finite one.
fn normalised(mut v: Vec<f32>) -> Option<Vec<f32>> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return None;
    }
    for x in &mut v {
        *x /= norm;
    }
    Some(v)
}

/// What the first pass may leave out besides its bound: the `f32` rounding of the dot products
/// (about `2 · dims · 2⁻²⁴` for unit vectors; this stays safe to 8,000 dimensions).
const ROUNDING_MARGIN: f64 = 1e-3;

/// The dimensions a lookup scores first: the leading quarter (at least one).
fn head_len(dim: usize) -> usize {
    (dim / 4).clamp(1, dim.max(1))
}

/// The Euclidean length of `v`, in `f64`.
fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt()
}

/// The dot product, in eight lanes so the compiler vectorises it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The in-process semantic index: partitions of (vector, answer) entries, bounded per partition
/// and in total bytes, least recently used evicted first, TTL checked on read.
pub struct Index {
    inner: RwLock<Inner>,
    per_partition: usize,
}

struct Inner {
    partitions: HashMap<Key, Partition>,
    /// Every entry by its last use (a sequence number) and partition: the first is evicted first.
    order: BTreeMap<u64, Key>,
    next: u64,
    bytes: usize,
    max_bytes: usize,
}

/// One partition's entries, their vectors split in two matrices: the leading quarter of each
/// vector's dimensions side by side in `heads` (`head` floats each), the rest in `rests`. A lookup
/// is one pass over `heads`, contiguous memory: by Cauchy–Schwarz,
/// `x·q ≤ x_head·q_head + |x_rest| · |q_rest|`, so an entry whose bound (with `tails`, each
/// entry's `|x_rest|` rounded up) stays under the threshold cannot match and is skipped; the few
/// others are scored on their rest too. Exact, and a quarter of the bytes and multiply-adds for
/// the entries that are not near the query.
struct Partition {
    dim: usize,
    head: usize,
    heads: Vec<f32>,
    rests: Vec<f32>,
    tails: Vec<f32>,
    entries: Vec<Entry>,
}

impl Partition {
    fn rest(&self) -> usize {
        self.dim - self.head
    }

    /// Entry `i`'s similarity with `query` (all `dim` dimensions).
    fn score(&self, i: usize, query: &[f32]) -> f32 {
        let (h, r) = (self.head, self.rest());
        dot(&self.heads[i * h..(i + 1) * h], &query[..h])
            + dot(&self.rests[i * r..(i + 1) * r], &query[h..])
    }
}

struct Entry {
    seq: u64,
    expires: Instant,
    weight: usize,
    stored: Stored,
}

impl Index {
    /// An index of at most `max_bytes` (answers, vectors and bookkeeping) and `per_partition`
    /// entries in each partition.
    pub fn new(max_bytes: usize, per_partition: usize) -> Self {
        Index {
            inner: RwLock::new(Inner {
                partitions: HashMap::new(),
                order: BTreeMap::new(),
                next: 0,
                bytes: 0,
                max_bytes,
            }),
            per_partition: per_partition.max(1),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock loses at worst the cache's consistency: keep serving.
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry of `partition` closest to `query` (unit length) with a similarity of at least
    /// `threshold`, unexpired at `now`; it becomes the most recently used.
    pub fn best(
        &self,
        partition: &Key,
        query: &[f32],
        threshold: f32,
        now: Instant,
    ) -> Option<(Stored, f32)> {
        let (stored, similarity, seq) = {
            let g = self.read();
            let p = g.partitions.get(partition)?;
            if p.dim != query.len() {
                return None;
            }
            let mut best: Option<(usize, f32)> = None;
            let (q_head, q_rest) = query.split_at(p.head);
            let q_tail = norm(q_rest);
            let floor = f64::from(threshold) - ROUNDING_MARGIN;
            for (i, v) in p.heads.chunks_exact(p.head).enumerate() {
                let partial = f64::from(dot(v, q_head));
                if partial + f64::from(p.tails[i]) * q_tail < floor {
                    continue;
                }
                let s = p.score(i, query);
                if s >= threshold && best.is_none_or(|(_, b)| s > b) && p.entries[i].expires > now {
                    best = Some((i, s));
                }
            }
            let (i, s) = best?;
            (p.entries[i].stored.clone(), s, p.entries[i].seq)
        };
        self.write().touch(partition, seq);
        Some((stored, similarity))
    }

    /// Stores `stored` under `vector` (unit length) in `partition` until `expires`, evicting to
    /// stay within the bounds. `false` when it is larger than the whole index.
    pub fn insert(
        &self,
        partition: Key,
        vector: &[f32],
        stored: Stored,
        weight: usize,
        expires: Instant,
    ) -> bool {
        let mut g = self.write();
        if weight > g.max_bytes || vector.is_empty() {
            return false;
        }
        let now = Instant::now();
        if let Some(p) = g.partitions.get(&partition) {
            // A partition's vectors come from one embedder; one that changed its size (another
            // model behind the alias) starts the partition again.
            // An expired entry goes, and so does one for the same text (its answer is replaced).
            let stale: Vec<u64> = p
                .entries
                .iter()
                .enumerate()
                .filter(|(i, e)| {
                    p.dim != vector.len() || e.expires <= now || p.score(*i, vector) >= SAME
                })
                .map(|(_, e)| e.seq)
                .collect();
            for seq in stale {
                g.remove(&partition, seq);
            }
        }
        let full = g
            .partitions
            .get(&partition)
            .filter(|p| p.entries.len() >= self.per_partition)
            .and_then(|p| p.entries.iter().map(|e| e.seq).min());
        if let Some(oldest) = full {
            g.remove(&partition, oldest);
        }
        while g.bytes + weight > g.max_bytes {
            let Some((&seq, &key)) = g.order.iter().next() else {
                break;
            };
            g.remove(&key, seq);
        }
        let seq = g.next;
        g.next += 1;
        let p = g.partitions.entry(partition).or_insert_with(|| Partition {
            dim: vector.len(),
            head: head_len(vector.len()),
            heads: Vec::new(),
            rests: Vec::new(),
            tails: Vec::new(),
            entries: Vec::new(),
        });
        let (head, rest) = vector.split_at(p.head);
        p.heads.extend_from_slice(head);
        p.rests.extend_from_slice(rest);
        let tail = norm(rest);
        p.tails.push((tail * (1.0 + 1e-6)) as f32 + f32::EPSILON);
        p.entries.push(Entry {
            seq,
            expires,
            weight,
            stored,
        });
        g.order.insert(seq, partition);
        g.bytes += weight;
        true
    }

    /// (bytes, entries) held now.
    pub fn usage(&self) -> (usize, usize) {
        let g = self.read();
        (g.bytes, g.order.len())
    }
}

impl Inner {
    /// Makes the entry `seq` of `partition` (if still there) the most recently used.
    fn touch(&mut self, partition: &Key, seq: u64) {
        let next = self.next;
        let Some(e) = self
            .partitions
            .get_mut(partition)
            .and_then(|p| p.entries.iter_mut().find(|e| e.seq == seq))
        else {
            return;
        };
        e.seq = next;
        self.next += 1;
        self.order.remove(&seq);
        self.order.insert(next, *partition);
    }

    fn remove(&mut self, partition: &Key, seq: u64) {
        self.order.remove(&seq);
        let Some(p) = self.partitions.get_mut(partition) else {
            return;
        };
        let Some(i) = p.entries.iter().position(|e| e.seq == seq) else {
            return;
        };
        let e = p.entries.swap_remove(i);
        p.tails.swap_remove(i);
        let last = p.entries.len();
        let (h, r) = (p.head, p.rest());
        if i != last {
            p.heads.copy_within(last * h..(last + 1) * h, i * h);
            p.rests.copy_within(last * r..(last + 1) * r, i * r);
        }
        p.heads.truncate(last * h);
        p.rests.truncate(last * r);
        self.bytes -= e.weight;
        if p.entries.is_empty() {
            self.partitions.remove(partition);
        }
    }
}

/// What a semantic entry weighs against `semantic_max_bytes`, besides its vector.
pub(super) fn weight(stored: &Stored) -> usize {
    let events = match &stored.answer {
        Answer::Unary(_) => 0,
        Answer::Stream(e) => e.len(),
    };
    stored.payload_bytes() + ENTRY_OVERHEAD + events * EVENT_OVERHEAD
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use bytes::Bytes;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    const FP: [u8; 32] = [7; 32];

    fn rule(embedder: &str) -> SemanticRule {
        SemanticRule {
            threshold: 0.9,
            embedder: embedder.into(),
        }
    }

    fn ask_of(body: &Value, scope: &str, fp: &[u8; 32], embedder: &str) -> Option<Ask> {
        let req: ChatRequest = serde_json::from_value(body.clone()).unwrap();
        ask(&req, scope, fp, &rule(embedder))
    }

    type FnEdit = fn(&mut Value);
    /// A named change to a request body.
    type Edit = (&'static str, Box<dyn Fn(&mut Value)>);

    fn partition(body: &Value) -> Key {
        ask_of(body, "org", &FP, "local-minilm").unwrap().partition
    }

    fn base(last: &str) -> Value {
        json!({
            "model": "faq", "temperature": 0.2,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "I use the app"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": last},
            ],
        })
    }

    #[test]
    fn only_the_last_user_text_is_left_out_of_the_partition() {
        let p = partition(&base("how do I reset my password?"));
        assert_eq!(p, partition(&base("password reset, please")));
        let a = ask_of(&base("  two\n words "), "org", &FP, "local-minilm").unwrap();
        assert_eq!(&*a.text, "two words", "whitespace collapsed");
        let edits: Vec<(&str, FnEdit)> = vec![
            ("system prompt", |b| {
                b["messages"][0]["content"] = json!("be long")
            }),
            ("earlier turn", |b| {
                b["messages"][1]["content"] = json!("I use the web")
            }),
            ("earlier answer", |b| {
                b["messages"][2]["content"] = json!("fine")
            }),
            ("dropped turn", |b| {
                b["messages"].as_array_mut().unwrap().remove(1);
            }),
            ("model", |b| b["model"] = json!("other")),
            ("temperature", |b| b["temperature"] = json!(0.3)),
            ("max_tokens", |b| b["max_tokens"] = json!(5)),
            ("stream", |b| b["stream"] = json!(true)),
            ("name", |b| b["messages"][3]["name"] = json!("ann")),
        ];
        for (what, edit) in edits {
            let mut b = base("how do I reset my password?");
            edit(&mut b);
            assert_ne!(partition(&b), p, "{what}");
        }
        let b = base("how do I reset my password?");
        let other =
            |scope: &str, fp: &[u8; 32], emb: &str| ask_of(&b, scope, fp, emb).unwrap().partition;
        assert_ne!(other("key:k1", &FP, "local-minilm"), p, "scope");
        assert_ne!(other("org", &[8; 32], "local-minilm"), p, "fingerprint");
        assert_ne!(other("org", &FP, "emb"), p, "embedder");
    }

    #[test]
    fn tool_requests_and_what_is_not_a_user_text_are_never_semantic() {
        let tool = json!([{"type": "function", "function": {"name": "f"}}]);
        let edits: Vec<Edit> = vec![
            ("tools", Box::new(move |b| b["tools"] = tool.clone())),
            (
                "tool_choice",
                Box::new(|b| b["tool_choice"] = json!("none")),
            ),
            (
                "functions",
                Box::new(|b| b["functions"] = json!([{"name": "f"}])),
            ),
            (
                "function_call",
                Box::new(|b| b["function_call"] = json!("auto")),
            ),
            ("n", Box::new(|b| b["n"] = json!(2))),
            (
                "a tool turn",
                Box::new(|b| {
                    b["messages"][2] = json!({"role": "assistant", "content": null,
                        "tool_calls": [{"id": "c1", "type": "function",
                                        "function": {"name": "f", "arguments": "{}"}}]});
                    b["messages"].as_array_mut().unwrap().insert(
                        3,
                        json!({"role": "tool", "tool_call_id": "c1", "content": "x"}),
                    );
                }),
            ),
            (
                "an image",
                Box::new(|b| {
                    b["messages"][3]["content"] = json!([
                        {"type": "text", "text": "what is this"},
                        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
                    ]);
                }),
            ),
            (
                "the assistant last",
                Box::new(|b| b["messages"][3]["role"] = json!("assistant")),
            ),
            (
                "blank",
                Box::new(|b| b["messages"][3]["content"] = json!(" \n ")),
            ),
            (
                "no content",
                Box::new(|b| b["messages"][3]["content"] = json!(null)),
            ),
            (
                "too long",
                Box::new(|b| b["messages"][3]["content"] = json!("word ".repeat(300))),
            ),
        ];
        for (what, edit) in edits {
            let mut b = base("how do I reset my password?");
            edit(&mut b);
            assert!(ask_of(&b, "org", &FP, "local-minilm").is_none(), "{what}");
        }
        let mut n1 = base("q");
        n1["n"] = json!(1);
        assert!(ask_of(&n1, "org", &FP, "local-minilm").is_some(), "n = 1");
        let mut parts = base("q");
        parts["messages"][3]["content"] =
            json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]);
        assert_eq!(&*ask_of(&parts, "org", &FP, "x").unwrap().text, "a b");
        let mut native: ChatRequest = serde_json::from_value(base("q")).unwrap();
        native.native = Some(seam_types::chat::Native {
            wire: seam_types::chat::Wire::AnthropicMessages,
            body: Arc::new(serde_json::Map::new()),
            headers: Vec::new(),
            requires: None,
        });
        assert!(
            ask(&native, "org", &FP, &rule("x")).is_none(),
            "a client's own body"
        );
    }

    fn stored(n: u8) -> Stored {
        Stored {
            route: "p/m".into(),
            answer: Answer::Unary(Bytes::from(vec![n])),
        }
    }

    fn body(s: Option<(Stored, f32)>) -> Option<u8> {
        match s?.0.answer {
            Answer::Unary(b) => b.first().copied(),
            Answer::Stream(_) => None,
        }
    }

    /// A unit vector at `angle` radians in the first two dimensions (of `dim`).
    fn at(angle: f32, dim: usize) -> Vec<f32> {
        let mut v = vec![0.0; dim];
        v[0] = angle.cos();
        v[1] = angle.sin();
        v
    }

    #[test]
    fn the_closest_entry_at_or_over_the_threshold_wins() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let idx = Index::new(1 << 20, 16);
        let p = [1; 32];
        idx.insert(p, &at(0.0, 4), stored(1), 100, later);
        idx.insert(p, &at(0.5, 4), stored(2), 100, later);
        idx.insert(p, &at(1.5, 4), stored(3), 100, later);
        let q = at(0.4, 4);
        let (_, s) = idx.best(&p, &q, 0.9, now).unwrap();
        assert!((s - 0.1f32.cos()).abs() < 1e-6, "{s}");
        assert_eq!(
            body(idx.best(&p, &q, 0.9, now)),
            Some(2),
            "the closer of 1 and 2"
        );
        assert_eq!(
            body(idx.best(&p, &at(0.0, 4), 1.0, now)),
            Some(1),
            "cos 1 ≥ 1"
        );
        assert_eq!(
            body(idx.best(&p, &at(1.0, 4), 0.95, now)),
            None,
            "none that close"
        );
        assert_eq!(
            body(idx.best(&[2; 32], &q, 0.0, now)),
            None,
            "another partition"
        );
        assert_eq!(
            body(idx.best(&p, &at(0.4, 3), 0.0, now)),
            None,
            "another size"
        );
        assert_eq!(
            body(idx.best(&p, &at(0.0, 4), 0.5, later)),
            None,
            "expired at its ttl"
        );
    }

    #[test]
    fn partitions_keep_their_most_recently_used_entries() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let idx = Index::new(1 << 20, 3);
        let p = [1; 32];
        for i in 0..3u8 {
            idx.insert(p, &at(f32::from(i), 2), stored(i), 10, later);
        }
        assert_eq!(
            body(idx.best(&p, &at(0.0, 2), 0.99, now)),
            Some(0),
            "0 used"
        );
        idx.insert(p, &at(3.0, 2), stored(3), 10, later);
        assert_eq!(
            body(idx.best(&p, &at(1.0, 2), 0.99, now)),
            None,
            "1 evicted"
        );
        for (i, angle) in [(0, 0.0), (2, 2.0), (3, 3.0)] {
            assert_eq!(body(idx.best(&p, &at(angle, 2), 0.99, now)), Some(i));
        }
        assert_eq!(idx.usage(), (30, 3));
        // Another partition is not held to this one's count.
        idx.insert([2; 32], &at(0.0, 2), stored(9), 10, later);
        assert_eq!(idx.usage(), (40, 4));
        // A vector of another size (another model behind the alias) starts the partition again.
        idx.insert(p, &at(0.0, 3), stored(7), 10, later);
        assert_eq!(body(idx.best(&p, &at(0.0, 3), 0.99, now)), Some(7));
        assert_eq!(idx.usage(), (20, 2));
    }

    #[test]
    fn the_index_stays_within_its_bytes() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let idx = Index::new(300, 100);
        for i in 0..3u8 {
            idx.insert([i; 32], &at(0.0, 2), stored(i), 100, later);
        }
        assert_eq!(body(idx.best(&[0; 32], &at(0.0, 2), 0.5, now)), Some(0));
        idx.insert([3; 32], &at(0.0, 2), stored(3), 100, later);
        assert_eq!(idx.usage(), (300, 3));
        assert_eq!(
            body(idx.best(&[1; 32], &at(0.0, 2), 0.5, now)),
            None,
            "least recent"
        );
        assert_eq!(body(idx.best(&[0; 32], &at(0.0, 2), 0.5, now)), Some(0));
        assert!(
            !idx.insert([4; 32], &at(0.0, 2), stored(4), 301, later),
            "too large"
        );
        idx.insert([5; 32], &at(0.0, 2), stored(5), 250, later);
        assert_eq!(idx.usage(), (250, 1), "one large entry evicts several");
    }

    #[test]
    fn expired_entries_make_room_in_their_partition() {
        let now = Instant::now();
        let idx = Index::new(1 << 20, 2);
        let p = [1; 32];
        idx.insert(p, &at(0.0, 2), stored(0), 10, now);
        idx.insert(p, &at(1.0, 2), stored(1), 10, now + Duration::from_secs(60));
        idx.insert(p, &at(2.0, 2), stored(2), 10, now + Duration::from_secs(60));
        assert_eq!(idx.usage(), (20, 2), "the expired one went first");
        assert_eq!(body(idx.best(&p, &at(1.0, 2), 0.99, now)), Some(1));
    }

    #[test]
    fn answers_with_tool_calls_are_recognised() {
        let plain = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "hi"}}]});
        let mut tools = plain.clone();
        tools["choices"][0]["message"]["tool_calls"] = json!([{"id": "t", "type": "function",
            "function": {"name": "f", "arguments": "{}"}}]);
        let mut legacy = plain.clone();
        legacy["choices"][0]["message"]["function_call"] = json!({"name": "f", "arguments": "{}"});
        let unary = |v: &Value| Answer::Unary(Bytes::from(v.to_string()));
        assert!(!calls_tools(&unary(&plain)));
        assert!(calls_tools(&unary(&tools)));
        assert!(calls_tools(&unary(&legacy)));
        assert!(calls_tools(&Answer::Unary(Bytes::from_static(b"not json"))));
        let chunk = |delta: Value| {
            Bytes::from(format!(
                "data: {}\n\n",
                json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
            ))
        };
        let text =
            Answer::Stream(vec![chunk(json!({"role": "assistant", "content": "hi"}))].into());
        assert!(!calls_tools(&text));
        let call = Answer::Stream(
            vec![chunk(
                json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "t",
                "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
            )]
            .into(),
        );
        assert!(calls_tools(&call));
    }

    #[test]
    fn a_semantic_hit_is_marked_with_its_similarity() {
        let mut resp = Response::new(axum::body::Body::empty());
        resp.headers_mut()
            .insert(super::super::HEADER, HeaderValue::from_static("hit"));
        mark(&mut resp, 0.973_44);
        assert_eq!(resp.headers()[super::super::HEADER], "semantic-hit");
        assert_eq!(resp.headers()[SIMILARITY_HEADER], "0.9734");
        let mut failed = Response::new(axum::body::Body::empty());
        mark(&mut failed, 1.0);
        assert!(
            failed.headers().is_empty(),
            "a replay that failed is not a hit"
        );
    }

    proptest! {
        /// The lanes sum to the plain dot product, whatever the length.
        #[test]
        fn dot_is_the_dot_product(v in proptest::collection::vec((-1.0f32..1.0, -1.0f32..1.0), 0..70)) {
            let (a, b): (Vec<f32>, Vec<f32>) = v.into_iter().unzip();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            prop_assert!((dot(&a, &b) - plain).abs() < 1e-4);
        }

        /// The head's score plus the tails' lengths bounds the full score, on unit vectors.
        #[test]
        fn the_head_bound_holds(v in proptest::collection::vec((-1.0f32..1.0, -1.0f32..1.0), 1..400)) {
            let (a, b): (Vec<f32>, Vec<f32>) = v.into_iter().unzip();
            let (Some(a), Some(b)) = (normalised(a), normalised(b)) else {
                return Ok(());
            };
            let h = head_len(a.len());
            let bound = f64::from(dot(&a[..h], &b[..h]))
                + norm(&a[h..]) * (1.0 + 1e-6) * norm(&b[h..])
                + ROUNDING_MARGIN;
            prop_assert!(f64::from(dot(&a, &b)) <= bound);
        }

        /// Against a model: the bounds always hold, and a hit holds the answer stored under
        /// the vector it matched.
        #[test]
        fn behaves_like_a_bounded_map(ops in proptest::collection::vec((0u8..4, 0u8..6, 1usize..120, any::<bool>()), 1..150)) {
            let now = Instant::now();
            let later = now + Duration::from_secs(60);
            let idx = Index::new(300, 3);
            let mut last = HashMap::new();
            for (p, v, size, put) in ops {
                let vector = at(f32::from(v), 2);
                if put {
                    idx.insert([p; 32], &vector, stored(size as u8), size, later);
                    last.insert((p, v), size as u8);
                } else if let Some(got) = body(idx.best(&[p; 32], &vector, 0.999, now)) {
                    prop_assert_eq!(Some(&got), last.get(&(p, v)));
                }
                let (bytes, _) = idx.usage();
                prop_assert!(bytes <= 300);
                let g = idx.read();
                prop_assert!(g.partitions.values().all(|p| p.entries.len() <= 3 && p.heads.len() + p.rests.len() == p.entries.len() * p.dim && p.tails.len() == p.entries.len()));
            }
        }
    }
}
