//! The exact response cache through the HTTP surface, in process and in Redis: what is a hit,
//! who shares entries, what is never stored, and what a hit looks like to a client, the audit
//! trail and the metrics. The upstream is the testkit mock, which numbers its answers, so a
//! replayed body is told apart from a fresh one and its request count proves the upstream was
//! not called.
//!
//! Redis tests print a note and pass when Redis is unreachable, unless `SEAM_REQUIRE_REDIS=1`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use seam_config::Resolver;
use seam_store::keys::hash_secret;
use seam_testkit::MockUpstream;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::events;

const PAY_A: &str = "sk-seam-cache-test-pay-a-0123456789";
const PAY_B: &str = "sk-seam-cache-test-pay-b-0123456789";
const OPS: &str = "sk-seam-cache-test-ops-0123456789ab";
const SOLO: &str = "sk-seam-cache-test-solo-0123456789a";
const ORG_KEY: &str = "sk-seam-cache-test-org-key-0123456";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    Local,
    Redis,
}

const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Whether the Redis variant runs: Redis answers, or the run insists it must.
async fn redis_ready() -> bool {
    let up = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect("127.0.0.1:6379"),
    )
    .await
    .is_ok_and(|c| c.is_ok());
    if !up {
        assert!(
            std::env::var("SEAM_REQUIRE_REDIS").as_deref() != Ok("1"),
            "SEAM_REQUIRE_REDIS=1 but Redis is not reachable at 127.0.0.1:6379"
        );
        eprintln!(
            "note: Redis is not reachable at 127.0.0.1:6379; the Redis cache test is skipped"
        );
    }
    up
}

/// A string no earlier run (or other test) has asked, so entries left in Redis never answer.
fn nonce() -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}-{t}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

struct Setup {
    app: axum::Router,
    dir: std::path::PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn setup(mock: &MockUpstream, backend: Backend, extra: &str) -> Setup {
    let dir = std::env::temp_dir().join(format!("seam-cache-test-{}", nonce()));
    std::fs::create_dir_all(&dir).unwrap();
    let redis = match backend {
        Backend::Local => String::new(),
        // A generous deadline: a lookup that misses it is a miss, and these tests count hits.
        Backend::Redis => {
            format!("redis_url = \"{REDIS_URL}\"\n[limits]\nredis_timeout_ms = 2000")
        }
    };
    let toml = format!(
        r#"
[storage]
url = "sqlite://seam.db"
{redis}
[audit]
enabled = false
[providers.mock]
kind = "openai"
base_url = "{url}"
stream_idle_timeout_ms = 400
[models.keyed]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
cache = {{ ttl_s = 60 }}
[models.team]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
cache = {{ ttl_s = 60, scope = "team" }}
[models.org]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
cache = {{ ttl_s = 60, scope = "org" }}
[models.short]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
cache = {{ ttl_s = 1, scope = "org" }}
[models.plain]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
[models.flaky]
targets = [{{ provider = "mock", model = "fault-abort-stream-3" }}]
cache = {{ ttl_s = 60, scope = "org" }}
[models.broken]
targets = [{{ provider = "mock", model = "fault-500" }}]
cache = {{ ttl_s = 60, scope = "org" }}
[keys.pay_a]
hash = "{pay_a}"
models = ["*"]
team = "pay"
[keys.pay_b]
hash = "{pay_b}"
models = ["*"]
team = "pay"
[keys.ops]
hash = "{ops}"
models = ["*"]
team = "ops"
[keys.solo]
hash = "{solo}"
models = ["*"]
[keys.org_key]
hash = "{org_key}"
models = ["*"]
cache = {{ ttl_s = 60, scope = "org" }}
{extra}
"#,
        url = mock.openai_base_url(),
        pay_a = hash_secret(PAY_A),
        pay_b = hash_secret(PAY_B),
        ops = hash_secret(OPS),
        solo = hash_secret(SOLO),
        org_key = hash_secret(ORG_KEY),
    );
    app_from(&toml, dir)
}

fn app_from(toml: &str, dir: std::path::PathBuf) -> Setup {
    let env = |_: &str| None;
    let r = Resolver {
        env: &env,
        base_dir: dir.clone(),
    };
    let cfg = seam_config::from_toml(toml, &r).unwrap_or_else(|e| panic!("{e:?}"));
    let state =
        Arc::new(seam_server::AppState::new(&cfg, None, seam_server::metrics::install()).unwrap());
    Setup {
        app: seam_server::app(state),
        dir,
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    /// `x-seam-cache`, or `-` when the response has none.
    fn cache(&self) -> &str {
        self.headers
            .get("x-seam-cache")
            .map_or("-", |v| v.to_str().unwrap())
    }
}

async fn ask(app: &axum::Router, key: Option<&str>, body: &Value) -> Answer {
    let mut req = Request::builder()
        .method("POST")
        .uri("/v1/chat/completions")
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(axum::body::Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

fn streamed(model: &str, text: &str) -> Value {
    json!({"model": model, "stream": true, "messages": [{"role": "user", "content": text}]})
}

/// Runs a test body once in process and once against Redis.
macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn in_process() {
                super::$body(super::Backend::Local).await;
            }

            #[tokio::test]
            async fn redis() {
                if super::redis_ready().await {
                    super::$body(super::Backend::Redis).await;
                }
            }
        }
    };
}

both!(a_repeated_request_is_a_hit, repeated_request_is_a_hit);
async fn repeated_request_is_a_hit(backend: Backend) {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock, backend, "");
    let q = format!("what is the refund policy? {}", nonce());
    let first = ask(&s.app, Some(PAY_A), &chat("keyed", &q)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.cache(), "miss");
    // Field order and `user` do not make another question.
    let reordered =
        json!({"messages": [{"content": q, "role": "user"}], "user": "ann", "model": "keyed"});
    let second = ask(&s.app, Some(PAY_A), &reordered).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.cache(), "hit");
    assert_eq!(second.body, first.body, "the stored answer, byte for byte");
    assert_eq!(second.headers["x-seam-route"], "mock/gpt-mock");
    assert_eq!(second.headers["x-seam-cost-usd"], "0.00000000");
    assert_eq!(second.headers["x-seam-attempts"], "0");
    assert_eq!(second.headers["content-type"], "application/json");
    assert_eq!(mock.hits("gpt-mock"), 1, "the upstream saw one call");

    // Another question, or the same one with other parameters, is another entry.
    let other = ask(&s.app, Some(PAY_A), &chat("keyed", &format!("{q}?"))).await;
    let mut hotter = chat("keyed", &q);
    hotter["temperature"] = json!(0.7);
    let hotter = ask(&s.app, Some(PAY_A), &hotter).await;
    let mut capped = chat("keyed", &q);
    capped["max_tokens"] = json!(5);
    let capped = ask(&s.app, Some(PAY_A), &capped).await;
    let streamed_too = ask(&s.app, Some(PAY_A), &streamed("keyed", &q)).await;
    for (what, a) in [
        ("messages", &other),
        ("temperature", &hotter),
        ("max_tokens", &capped),
        ("stream", &streamed_too),
    ] {
        assert_eq!(a.cache(), "miss", "{what}");
    }
    assert_eq!(mock.hits("gpt-mock"), 5);

    // An alias without a rule, asked by a key without one: no caching, no header.
    let plain = ask(&s.app, Some(PAY_A), &chat("plain", &q)).await;
    let again = ask(&s.app, Some(PAY_A), &chat("plain", &q)).await;
    assert_eq!((plain.cache(), again.cache()), ("-", "-"));
    assert_ne!(plain.body, again.body);
}

both!(scopes_decide_who_shares, who_shares);
async fn who_shares(backend: Backend) {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock, backend, "");
    let q = format!("shared? {}", nonce());
    let order = |answers: &[Answer]| {
        answers
            .iter()
            .map(|a| a.cache().to_owned())
            .collect::<Vec<_>>()
    };

    // scope = "key": two keys never share, even of one team.
    let mut seen = Vec::new();
    for key in [PAY_A, PAY_B, PAY_A, PAY_B, SOLO] {
        seen.push(ask(&s.app, Some(key), &chat("keyed", &q)).await);
    }
    assert_eq!(order(&seen), ["miss", "miss", "hit", "hit", "miss"]);
    assert_ne!(seen[0].body, seen[1].body);

    // scope = "team": shared within a team only; a key without a team keeps its own.
    let mut seen = Vec::new();
    for key in [PAY_A, PAY_B, OPS, SOLO, SOLO] {
        seen.push(ask(&s.app, Some(key), &chat("team", &q)).await);
    }
    assert_eq!(order(&seen), ["miss", "hit", "miss", "miss", "hit"]);
    assert_eq!(seen[0].body, seen[1].body);

    // scope = "org": every caller.
    let mut seen = Vec::new();
    for key in [PAY_A, OPS, SOLO, ORG_KEY] {
        seen.push(ask(&s.app, Some(key), &chat("org", &q)).await);
    }
    assert_eq!(order(&seen), ["miss", "hit", "hit", "hit"]);

    // A key's rule applies to an alias without one; other keys there stay uncached.
    let mut seen = Vec::new();
    for key in [ORG_KEY, ORG_KEY, PAY_A] {
        seen.push(ask(&s.app, Some(key), &chat("plain", &q)).await);
    }
    assert_eq!(order(&seen), ["miss", "hit", "-"]);
    // With both, the narrower scope: the org key's entries on a key-scoped alias stay its own.
    let q2 = format!("narrow {q}");
    let mut seen = Vec::new();
    for key in [ORG_KEY, PAY_A, ORG_KEY] {
        seen.push(ask(&s.app, Some(key), &chat("keyed", &q2)).await);
    }
    assert_eq!(order(&seen), ["miss", "miss", "hit"]);
}

both!(entries_expire_after_their_ttl, expiry);
async fn expiry(backend: Backend) {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock, backend, "");
    let q = format!("brief {}", nonce());
    assert_eq!(
        ask(&s.app, Some(PAY_A), &chat("short", &q)).await.cache(),
        "miss"
    );
    assert_eq!(
        ask(&s.app, Some(PAY_A), &chat("short", &q)).await.cache(),
        "hit"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        ask(&s.app, Some(PAY_A), &chat("short", &q)).await.cache(),
        "miss"
    );
    assert_eq!(mock.hits("gpt-mock"), 2);
}

both!(streams_are_replayed_as_streams, stream_replay);
async fn stream_replay(backend: Backend) {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock, backend, "");
    let q = format!("tell me a story in many words {}", nonce());
    let first = ask(&s.app, Some(PAY_A), &streamed("org", &q)).await;
    assert_eq!(first.cache(), "miss");
    let (chunks, done) = events(&first.body);
    assert!(done && chunks.len() > 2, "{}", first.body);
    let second = ask(&s.app, Some(OPS), &streamed("org", &q)).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.cache(), "hit");
    assert_eq!(second.headers["content-type"], "text/event-stream");
    assert_eq!(second.headers["x-seam-route"], "mock/gpt-mock");
    assert_eq!(second.body, first.body, "the same events, the same framing");
    assert!(second.body.ends_with("data: [DONE]\n\n"));
    assert_eq!(mock.hits("gpt-mock"), 1);
    // A unary request for the same question is not answered with a stream.
    assert_eq!(
        ask(&s.app, Some(OPS), &chat("org", &q)).await.cache(),
        "miss"
    );
}

both!(failures_are_never_stored, failures);
async fn failures(backend: Backend) {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock, backend, "");
    let q = format!("cut {}", nonce());
    for _ in 0..2 {
        let a = ask(&s.app, Some(PAY_A), &streamed("flaky", &q)).await;
        assert_eq!(a.cache(), "miss");
        let (chunks, done) = events(&a.body);
        assert!(!done, "{}", a.body);
        assert_eq!(
            chunks.last().unwrap()["error"]["code"],
            "stream_interrupted"
        );
    }
    assert_eq!(
        mock.hits("fault-abort-stream-3"),
        2,
        "a cut stream is not replayed"
    );
    let a = ask(&s.app, Some(PAY_A), &chat("broken", &q)).await;
    assert!(a.status.is_server_error(), "{}", a.body);
    let once = mock.hits("fault-500");
    let b = ask(&s.app, Some(PAY_A), &chat("broken", &q)).await;
    assert_eq!((a.cache(), b.cache()), ("miss", "miss"));
    assert_eq!(b.status, a.status);
    // The router may make fewer attempts once the breaker has seen failures; it made some.
    assert!(mock.hits("fault-500") > once, "an error is not replayed");
}

both!(answers_over_max_entry_bytes_are_not_stored, too_large);
async fn too_large(backend: Backend) {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock, backend, "[cache]\nmax_entry_bytes = 200\n");
    let q = format!("{} {}", "word ".repeat(60), nonce());
    for _ in 0..2 {
        assert_eq!(
            ask(&s.app, Some(PAY_A), &chat("org", &q)).await.cache(),
            "miss"
        );
    }
    assert_eq!(mock.hits("gpt-mock"), 2);
}

#[tokio::test]
async fn the_in_process_store_evicts_the_least_recently_used() {
    let mock = MockUpstream::start().await.unwrap();
    let n = nonce();
    let q = |i: usize| chat("org", &format!("question {i} {n}"));
    // Room for three answers and half of a fourth (each weighs its body, route and bookkeeping).
    let probe = setup(&mock, Backend::Local, "");
    let size = ask(&probe.app, Some(PAY_A), &q(0)).await.body.len() + "mock/gpt-mock".len() + 160;
    let max = 3 * size + size / 2;
    let s = setup(
        &mock,
        Backend::Local,
        &format!("[cache]\nmax_bytes = {max}\nmax_entry_bytes = {size}\n"),
    );
    for i in 0..3 {
        assert_eq!(ask(&s.app, Some(PAY_A), &q(i)).await.cache(), "miss");
    }
    assert_eq!(
        ask(&s.app, Some(PAY_A), &q(0)).await.cache(),
        "hit",
        "all three fit"
    );
    // Question 1 is now the least recently used; a fourth evicts it, and only it.
    assert_eq!(ask(&s.app, Some(PAY_A), &q(3)).await.cache(), "miss");
    assert_eq!(ask(&s.app, Some(PAY_A), &q(0)).await.cache(), "hit");
    assert_eq!(ask(&s.app, Some(PAY_A), &q(2)).await.cache(), "hit");
    assert_eq!(
        ask(&s.app, Some(PAY_A), &q(1)).await.cache(),
        "miss",
        "evicted"
    );
}

#[tokio::test]
async fn a_config_change_to_the_route_never_serves_old_entries() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("seam-cache-test-{}", nonce()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml = |model: &str| {
        format!(
            "[audit]\nenabled = false\n[limits]\nredis_timeout_ms = 2000\n\
             [storage]\nredis_url = \"{REDIS_URL}\"\n\
             [providers.mock]\nkind = \"openai\"\nbase_url = \"{}\"\n\
             [models.faq]\ntargets = [{{ provider = \"mock\", model = \"{model}\" }}]\n\
             cache = {{ ttl_s = 60, scope = \"org\" }}\n",
            mock.openai_base_url()
        )
    };
    if !redis_ready().await {
        return;
    }
    // Two servers sharing Redis: the second routes the alias elsewhere.
    let a = app_from(&toml("gpt-mock"), dir.clone());
    let b = app_from(&toml("gpt-other"), dir.join("b"));
    let same = app_from(&toml("gpt-mock"), dir.join("c"));
    let q = chat("faq", &format!("shared {}", nonce()));
    assert_eq!(ask(&a.app, None, &q).await.cache(), "miss");
    assert_eq!(
        ask(&same.app, None, &q).await.cache(),
        "hit",
        "another replica, one cache"
    );
    assert_eq!(
        ask(&b.app, None, &q).await.cache(),
        "miss",
        "another route config"
    );
}

#[tokio::test]
async fn a_hit_is_audited_as_a_free_hit_and_counted() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("seam-cache-test-{}", nonce()));
    std::fs::create_dir_all(&dir).unwrap();
    // No keys: one anonymous scope.
    let toml = format!(
        "[storage]\nurl = \"sqlite://audit.db\"\n\
         [providers.mock]\nkind = \"openai\"\nbase_url = \"{}\"\n\
         [models.metered]\ntargets = [{{ provider = \"mock\", model = \"gpt-mock\" }}]\n\
         cache = {{ ttl_s = 60 }}\n",
        mock.openai_base_url()
    );
    let s = app_from(&toml, dir);
    let q = format!("audited {}", nonce());
    let first = ask(&s.app, None, &chat("metered", &q)).await;
    let hit = ask(&s.app, None, &chat("metered", &q)).await;
    let hit_stream = {
        ask(&s.app, None, &streamed("metered", &q)).await;
        ask(&s.app, None, &streamed("metered", &q)).await
    };
    assert_eq!(
        (first.cache(), hit.cache(), hit_stream.cache()),
        ("miss", "hit", "hit")
    );
    let req = Request::builder()
        .uri("/admin/audit?limit=100")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = s.app.clone().oneshot(req).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    let record = |a: &Answer| {
        let id = a.headers["x-seam-request-id"].to_str().unwrap().to_owned();
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no record {id} in {v}"))
    };
    let miss = record(&first);
    assert_eq!(
        (
            miss["cache_hit"].clone(),
            miss["attempts"].as_array().unwrap().len()
        ),
        (json!(false), 1)
    );
    for r in [record(&hit), record(&hit_stream)] {
        assert_eq!(r["status"], 200, "{r}");
        assert_eq!(r["cache_hit"], true, "{r}");
        assert_eq!(r["cost_usd"], 0.0, "{r}");
        assert_eq!(r["attempts"], json!([]), "{r}");
        assert_eq!(r["route"], "mock/gpt-mock", "{r}");
    }
    let req = Request::builder()
        .uri("/metrics")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = s.app.clone().oneshot(req).await.unwrap();
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let count = |result: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("seam_cache_requests_total{")
                    && l.contains("alias=\"metered\"")
                    && l.contains(&format!("result=\"{result}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(count("hit").as_deref(), Some("2"), "{text}");
    assert_eq!(count("miss").as_deref(), Some("2"), "{text}");
    assert!(
        text.contains("seam_cache_stores_total{alias=\"metered\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn answers_the_policy_touched_are_not_stored() {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(
        &mock,
        Backend::Local,
        r#"
[policies.scrub.output]
pii = { action = "redact" }
[policies.vault.input]
pii = { action = "tokenize" }
[models.scrubbed]
targets = [{ provider = "mock", model = "gpt-mock" }]
policy = "scrub"
cache = { ttl_s = 60, scope = "org" }
[models.vaulted]
targets = [{ provider = "mock", model = "gpt-mock" }]
policy = "vault"
cache = { ttl_s = 60, scope = "org" }
"#,
    );
    let n = nonce();
    let email = format!("write to ann.lee.{}@example.org", n.replace('-', ""));
    let clean = format!("nothing personal {n}");
    for (alias, body) in [
        ("scrubbed", chat("scrubbed", &email)),
        ("scrubbed", streamed("scrubbed", &email)),
        ("vaulted", chat("vaulted", &email)),
        ("vaulted", streamed("vaulted", &email)),
    ] {
        let a = ask(&s.app, Some(PAY_A), &body).await;
        let b = ask(&s.app, Some(PAY_A), &body).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!((a.cache(), b.cache()), ("miss", "miss"), "{alias}: {body}");
    }
    // The same aliases cache what the policy left alone.
    for body in [chat("scrubbed", &clean), streamed("vaulted", &clean)] {
        ask(&s.app, Some(PAY_A), &body).await;
        assert_eq!(
            ask(&s.app, Some(PAY_A), &body).await.cache(),
            "hit",
            "{body}"
        );
    }
}

#[tokio::test]
async fn hits_count_against_request_rates_but_reserve_nothing() {
    const LIMITED: &str = "sk-seam-cache-test-limited-01234567";
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!(
        "[keys.limited]\nhash = \"{}\"\nmodels = [\"*\"]\nrpm = 3\n",
        hash_secret(LIMITED)
    );
    let s = setup(&mock, Backend::Local, &extra);
    let q = chat("org", &format!("limited {}", nonce()));
    let seen: Vec<(u16, String)> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            let a = ask(&s.app, Some(LIMITED), &q).await;
            v.push((a.status.as_u16(), a.cache().to_owned()));
        }
        v
    };
    assert_eq!(
        seen,
        [
            (200, "miss".to_owned()),
            (200, "hit".to_owned()),
            (200, "hit".to_owned()),
            (429, "-".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_keys_own_policy_keeps_its_entries_apart() {
    const STRICT: &str = "sk-seam-cache-test-strict-0123456789";
    let mock = MockUpstream::start().await.unwrap();
    let extra = format!(
        "[policies.strict.input]\npii = {{ action = \"block\" }}\n\
         [keys.strict]\nhash = \"{}\"\nmodels = [\"*\"]\nteam = \"pay\"\npolicy = \"strict\"\n",
        hash_secret(STRICT)
    );
    let s = setup(&mock, Backend::Local, &extra);
    // An answer PAY_A may have (its routes' policy lets the email through) ...
    let q = chat("org", &format!("mail ann.lee@example.org {}", nonce()));
    assert_eq!(ask(&s.app, Some(PAY_A), &q).await.cache(), "miss");
    assert_eq!(ask(&s.app, Some(PAY_B), &q).await.cache(), "hit");
    // ... is not served to a key whose own policy refuses the question.
    let strict = ask(&s.app, Some(STRICT), &q).await;
    assert_eq!(
        strict.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        strict.body
    );
    assert_eq!(strict.cache(), "miss");
}

both!(
    identical_requests_in_flight_ask_upstream_once,
    identical_in_flight
);
async fn identical_in_flight(backend: Backend) {
    let mock = MockUpstream::start().await.unwrap();
    let slow = "[models.slow]\ntargets = [{ provider = \"mock\", model = \"fault-slow-first-byte-300\" }]\ncache = { ttl_s = 60, scope = \"org\" }\n";
    let s = setup(&mock, backend, slow);
    for body in [
        chat("slow", &format!("stampede {}", nonce())),
        streamed("slow", &format!("stampede {}", nonce())),
    ] {
        mock.clear();
        let asks = (0..3).map(|_| {
            let (app, body) = (s.app.clone(), body.clone());
            tokio::spawn(async move { ask(&app, Some(SOLO), &body).await })
        });
        let mut answers = Vec::new();
        for a in asks {
            answers.push(a.await.unwrap());
        }
        assert!(answers.iter().all(|a| a.status == StatusCode::OK));
        assert_eq!(
            mock.hits("fault-slow-first-byte-300"),
            1,
            "three identical requests at once should ask upstream once"
        );
        let mut caches: Vec<&str> = answers
            .iter()
            .map(|a| a.headers["x-seam-cache"].to_str().unwrap())
            .collect();
        caches.sort_unstable();
        assert_eq!(caches, ["hit", "hit", "miss"]);
        let content = |a: &Answer| {
            if body["stream"] == true {
                events(&a.body)
                    .0
                    .iter()
                    .filter_map(|e| {
                        e["choices"][0]["delta"]["content"]
                            .as_str()
                            .map(str::to_owned)
                    })
                    .collect::<String>()
            } else {
                serde_json::from_str::<Value>(&a.body).unwrap()["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let first = content(&answers[0]);
        assert!(!first.is_empty());
        assert!(answers.iter().all(|a| content(a) == first));
    }
}
