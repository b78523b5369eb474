//! The audit trail as a property over outcomes (issue 13): whatever happened to a request, a
//! `redacted` or `metadata` record never keeps a value the input policy acted on; the record's
//! `model` is the client's string only after the scanner saw it; refusals before any upstream call
//! keep no payload and, past `refusals_per_second`, are counted; a stream under sync durability
//! commits its opening before its first byte. Records are read back from the store itself,
//! decrypted with the master key.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use seam_store::{
    AuditLog, BackendConfig, PayloadState, Query, RecordKind, StoreConfig, StoredRecord,
};
use seam_testkit::MockUpstream;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{TempDir, events, state_in};

const KEY_B64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes, base64
const APP_KEY: &str = "sk-seam-outcomes-app-key-0123456789";
const LIMITED_KEY: &str = "sk-seam-outcomes-limited-key-012345";

const EMAIL: &str = "ada.canary@example.com";
const CARD: &str = "4111 1111 1111 1111";

/// The canary values in every form a record could hold them.
fn raw_forms() -> [&'static str; 4] {
    [EMAIL, "ada.canary", CARD, "4111111111111111"]
}

fn text() -> String {
    format!("write to {EMAIL}, card {CARD}")
}

struct Server {
    app: axum::Router,
    state: std::sync::Arc<seam_server::AppState>,
    dir: TempDir,
}

fn server(mock: &MockUpstream, audit: &str) -> Server {
    let dir = TempDir::new("audit-outcomes");
    let toml = format!(
        r#"
[storage]
url = "sqlite://audit.db"
[audit]
master_key = "env:SEAM_MASTER_KEY"
{audit}
[routing]
max_attempts = 1
[providers.mock]
kind = "openai"
base_url = "{url}"
timeout_ms = 500
first_token_timeout_ms = 1000
[policies.default.input]
pii = {{ action = "tokenize" }}
[policies.strict.input]
pii = {{ action = "block" }}
[policies.masking.input]
pii = {{ action = "redact" }}
[models.ok]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
[models.slow]
targets = [{{ provider = "mock", model = "fault-slow-stream-150" }}]
[models.cut]
targets = [{{ provider = "mock", model = "fault-abort-stream-1" }}]
[models.blocked]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "strict"
[models.broken]
targets = [{{ provider = "mock", model = "fault-500" }}]
[models.reset]
targets = [{{ provider = "mock", model = "fault-reset" }}]
[models.stalled]
targets = [{{ provider = "mock", model = "fault-slow-first-byte-3000" }}]
[models.cached]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "masking"
cache = {{ ttl_s = 60 }}
[keys.app]
hash = "{app}"
models = ["*"]
direct = true
[keys.limited]
hash = "{limited}"
models = ["*"]
rpm = 1
"#,
        url = mock.openai_base_url(),
        app = seam_store::keys::hash_secret(APP_KEY),
        limited = seam_store::keys::hash_secret(LIMITED_KEY),
    );
    let state = state_in(&toml, dir.path(), &[("SEAM_MASTER_KEY", KEY_B64)]);
    Server {
        app: seam_server::app(state.clone()),
        state,
        dir,
    }
}

/// [`KEY_B64`] decoded.
fn master_key() -> [u8; 32] {
    *b"0123456789abcdef0123456789abcdef"
}

/// Every record in the store, payloads decrypted.
fn stored(dir: &Path) -> Vec<StoredRecord> {
    let mut log = AuditLog::open(&StoreConfig {
        backend: BackendConfig::Sqlite {
            path: dir.join("audit.db"),
        },
        master_key: Some(master_key()),
        retention: Vec::new(),
    })
    .unwrap();
    let all = log
        .search(&Query {
            limit: Some(1_000_000),
            ..Query::default()
        })
        .unwrap();
    assert!(log.verify(&mut |_| {}).unwrap().ok(), "the chain verifies");
    all
}

/// The records of one request (its opening included), waiting up to 5 s for them (a client that
/// left mid-stream is recorded in the background).
async fn records_of(dir: &Path, id: &str) -> Vec<StoredRecord> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found: Vec<StoredRecord> = stored(dir)
            .into_iter()
            .filter(|r| r.id == id || r.id == format!("{id}:open"))
            .collect();
        if found.iter().any(|r| r.kind == RecordKind::Request) {
            return found;
        }
        assert!(Instant::now() < deadline, "no record of {id}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn request(key: Option<&str>, body: String) -> Request<axum::body::Body> {
    let mut req = Request::builder()
        .method("POST")
        .uri("/v1/chat/completions")
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    req.body(axum::body::Body::from(body)).unwrap()
}

/// Sends; returns the status, the request id, the `x-seam-cache` header and the body.
async fn send(app: &axum::Router, key: &str, body: String) -> (StatusCode, String, String, String) {
    let resp = app.clone().oneshot(request(Some(key), body)).await.unwrap();
    let status = resp.status();
    let h = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let get = |n: &str| {
        h.get(n)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    (
        status,
        get("x-seam-request-id"),
        get("x-seam-cache"),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn chat(model: &str, stream: bool) -> String {
    json!({"model": model, "stream": stream,
        "messages": [{"role": "user", "content": text()}]})
    .to_string()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    Answered,
    Streamed,
    ClientGoneMidStream,
    StreamInterrupted,
    RefusedBeforeParsing,
    BlockedByPolicy,
    Limited,
    UpstreamFailed,
    ConnectionReset,
    TimedOut,
    CacheHit,
}

const OUTCOMES: [Outcome; 11] = [
    Outcome::Answered,
    Outcome::Streamed,
    Outcome::ClientGoneMidStream,
    Outcome::StreamInterrupted,
    Outcome::RefusedBeforeParsing,
    Outcome::BlockedByPolicy,
    Outcome::Limited,
    Outcome::UpstreamFailed,
    Outcome::ConnectionReset,
    Outcome::TimedOut,
    Outcome::CacheHit,
];

/// Brings the outcome about with a request carrying the canaries; returns its request id.
async fn bring_about(s: &Server, o: Outcome) -> String {
    let expect = |got: StatusCode, want: StatusCode, body: &str| {
        assert_eq!(got, want, "{o:?}: {body}");
    };
    match o {
        Outcome::Answered => {
            let (st, id, _, body) = send(&s.app, APP_KEY, chat("ok", false)).await;
            expect(st, StatusCode::OK, &body);
            // The client gets its values back: the record must not.
            assert!(body.contains(EMAIL), "{body}");
            id
        }
        Outcome::Streamed | Outcome::StreamInterrupted => {
            let model = if o == Outcome::Streamed { "ok" } else { "cut" };
            let (st, id, _, body) = send(&s.app, APP_KEY, chat(model, true)).await;
            expect(st, StatusCode::OK, &body);
            let (_, done) = events(&body);
            assert_eq!(done, o == Outcome::Streamed, "{o:?}: {body}");
            id
        }
        Outcome::ClientGoneMidStream => {
            let resp = s
                .app
                .clone()
                .oneshot(request(Some(APP_KEY), chat("slow", true)))
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let id = resp.headers()["x-seam-request-id"]
                .to_str()
                .unwrap()
                .to_owned();
            let mut body = resp.into_body();
            assert!(body.frame().await.is_some());
            drop(body);
            id
        }
        Outcome::RefusedBeforeParsing => {
            let bad = format!("{{\"model\": \"ok\", \"messages\": \"{}", text());
            let (st, id, _, body) = send(&s.app, APP_KEY, bad).await;
            expect(st, StatusCode::BAD_REQUEST, &body);
            id
        }
        Outcome::BlockedByPolicy => {
            let (st, id, _, body) = send(&s.app, APP_KEY, chat("blocked", false)).await;
            expect(st, StatusCode::UNPROCESSABLE_ENTITY, &body);
            id
        }
        Outcome::Limited => {
            let first = send(&s.app, LIMITED_KEY, chat("ok", false)).await;
            expect(first.0, StatusCode::OK, &first.3);
            let (st, id, _, body) = send(&s.app, LIMITED_KEY, chat("ok", false)).await;
            expect(st, StatusCode::TOO_MANY_REQUESTS, &body);
            id
        }
        Outcome::UpstreamFailed => {
            let (st, id, _, body) = send(&s.app, APP_KEY, chat("broken", false)).await;
            expect(st, StatusCode::BAD_GATEWAY, &body);
            id
        }
        Outcome::ConnectionReset => {
            let (st, id, _, body) = send(&s.app, APP_KEY, chat("reset", false)).await;
            assert!(st.is_server_error(), "{o:?}: {st} {body}");
            id
        }
        Outcome::TimedOut => {
            let (st, id, _, body) = send(&s.app, APP_KEY, chat("stalled", false)).await;
            expect(st, StatusCode::GATEWAY_TIMEOUT, &body);
            id
        }
        Outcome::CacheHit => {
            let (st, _, cache, body) = send(&s.app, APP_KEY, chat("cached", false)).await;
            expect(st, StatusCode::OK, &body);
            assert_eq!(cache, "miss");
            let (st, id, cache, body) = send(&s.app, APP_KEY, chat("cached", false)).await;
            expect(st, StatusCode::OK, &body);
            assert_eq!(cache, "hit", "a redacted answer is stored and served again");
            id
        }
    }
}

fn leaks(r: &StoredRecord) -> Vec<&'static str> {
    let text = r.to_json().to_string();
    raw_forms()
        .into_iter()
        .filter(|v| text.contains(v))
        .collect()
}

/// The property, per class: `redacted` and `metadata` records keep no raw value the input policy
/// acted on, whatever the outcome. `full` keeps the client's request (so the canaries are seen by
/// this very check, which would catch a leak).
#[tokio::test]
async fn no_outcome_keeps_a_value_the_input_policy_acted_on() {
    let mock = MockUpstream::start().await.unwrap();
    for class in ["full", "redacted", "metadata"] {
        let s = server(&mock, &format!("default_class = \"{class}\""));
        for o in OUTCOMES {
            let id = bring_about(&s, o).await;
            let recs = records_of(s.dir.path(), &id).await;
            let rec = recs.iter().find(|r| r.kind == RecordKind::Request).unwrap();
            assert_eq!(
                recs.len(),
                1 + usize::from(matches!(
                    o,
                    Outcome::Streamed | Outcome::ClientGoneMidStream | Outcome::StreamInterrupted
                )),
                "{class} {o:?}: a stream has its opening, nothing else does"
            );
            for r in &recs {
                if class != "full" || r.kind == RecordKind::Opening {
                    assert_eq!(
                        leaks(r),
                        Vec::<&str>::new(),
                        "{class} {o:?}: {}",
                        r.to_json()
                    );
                }
            }
            let payload = match &rec.payload {
                PayloadState::Kept(p) => Some(p),
                PayloadState::NotKept => None,
                other => panic!("{class} {o:?}: {other:?}"),
            };
            let refused = matches!(
                o,
                Outcome::RefusedBeforeParsing | Outcome::BlockedByPolicy | Outcome::Limited
            );
            // Refusals before any upstream call keep nothing, whatever the class.
            assert_eq!(
                payload.is_some(),
                class != "metadata" && !refused,
                "{class} {o:?}: {}",
                rec.to_json()
            );
            let Some(p) = payload else { continue };
            let attempted = !matches!(o, Outcome::CacheHit);
            // What went upstream is recorded, and it is what the vendor got: tokenized (or
            // redacted), never the client's text.
            assert_eq!(p.upstream_request.is_some(), attempted, "{class} {o:?}");
            if let Some(up) = &p.upstream_request {
                let up = up.to_string();
                assert!(
                    !up.contains(EMAIL) && up.contains("[EMAIL_ADDRESS"),
                    "{class} {o:?}: {up}"
                );
                // With the model of the target it went to, not the alias.
                let alias = &p.client_request.as_ref().map(|c| c["model"].clone());
                assert_ne!(
                    Some(&p.upstream_request.as_ref().unwrap()["model"]),
                    alias.as_ref(),
                    "{class} {o:?}"
                );
            }
            if class == "full" && o == Outcome::Answered {
                let client = p.client_request.as_ref().unwrap().to_string();
                assert!(client.contains(EMAIL), "full keeps the client's request");
            }
        }
    }
}

/// A client-chosen model under direct addressing reaches the record masked; aliases and
/// configured targets are kept as they are.
#[tokio::test]
async fn the_records_model_is_the_clients_only_after_the_scanner_saw_it() {
    let mock = MockUpstream::start().await.unwrap();
    let s = server(&mock, "default_class = \"metadata\"");
    for (model, recorded) in [
        ("ok", "ok"),
        ("mock/gpt-mock", "mock/gpt-mock"),
        ("mock/card-0-john.doe@example.org", "mock/[EMAIL_ADDRESS]"),
        ("mock/x\ry", "mock/x?y"),
    ] {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
        let (_, id, _, _) = send(&s.app, APP_KEY, body.to_string()).await;
        let recs = records_of(s.dir.path(), &id).await;
        assert_eq!(recs[0].model.as_deref(), Some(recorded), "{model:?}");
    }
}

/// Refusals before any upstream call, past the rate: a bounded number of records whose counts
/// add up to the refusals; under the rate, one metadata record each. The chain verifies.
#[tokio::test]
async fn a_refusal_flood_is_counted_not_written_one_by_one() {
    let mock = MockUpstream::start().await.unwrap();
    let s = server(&mock, "default_class = \"full\"\nrefusals_per_second = 5");
    let n = 300;
    let start = Instant::now();
    for i in 0..n {
        // Alternating reasons: two counts per second, not one.
        let (st, ..) = if i % 2 == 0 {
            send(&s.app, APP_KEY, "{not json".to_owned()).await
        } else {
            send(&s.app, "sk-wrong", chat("ok", false)).await
        };
        assert!(st.is_client_error());
    }
    let seconds = start.elapsed().as_secs() + 2;
    s.state.auditor.as_ref().unwrap().flush().await.unwrap();
    let recs = stored(s.dir.path());
    let total: u64 = recs.iter().map(|r| u64::from(r.count.unwrap_or(1))).sum();
    assert_eq!(total, n, "every refusal is counted once");
    assert!(
        (recs.len() as u64) <= seconds * (5 + 2),
        "{} records for {n} refusals in {seconds} s",
        recs.len()
    );
    assert!(recs.iter().any(|r| r.count.unwrap_or(1) > 1));
    for r in &recs {
        assert_eq!(r.payload, PayloadState::NotKept, "{}", r.to_json());
        assert!(r.status == 400 || r.status == 401);
        if r.count.is_some() {
            assert!(r.id.ends_with(":refusals"));
            assert!(r.subject.is_none() && r.model.is_none());
        }
    }
}

#[tokio::test]
async fn refusals_under_the_rate_are_one_metadata_record_each() {
    let mock = MockUpstream::start().await.unwrap();
    let s = server(&mock, "default_class = \"full\"");
    let mut ids = Vec::new();
    for model in ["nosuch", "ok"] {
        for _ in 0..5 {
            let body = if model == "ok" {
                "{not json".to_owned()
            } else {
                chat(model, false)
            };
            let (st, id, ..) = send(&s.app, APP_KEY, body).await;
            assert!(st.is_client_error());
            ids.push(id);
        }
    }
    let recs = stored(s.dir.path());
    assert_eq!(recs.len(), ids.len());
    for (r, id) in recs.iter().zip(&ids) {
        assert_eq!(&r.id, id);
        assert_eq!((r.count, r.kind), (None, RecordKind::Request));
        assert_eq!(r.class.as_str(), "metadata");
        assert_eq!(r.payload, PayloadState::NotKept);
    }
    // The unknown model's record keeps its (harmless) name: metadata, not payload.
    assert_eq!(recs[0].model.as_deref(), Some("nosuch"));
}

/// Makes every commit fail as a full disk would: the chain head cannot move.
fn break_commits(dir: &Path) {
    rusqlite::Connection::open(dir.join("audit.db"))
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER seam_fail BEFORE UPDATE ON audit_head \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
}

fn stream_body() -> String {
    json!({"model": "ok", "stream": true,
        "messages": [{"role": "user", "content": "one two three"}]})
    .to_string()
}

#[tokio::test]
async fn a_stream_under_sync_commits_its_opening_then_its_record() {
    let mock = MockUpstream::start().await.unwrap();
    let s = server(&mock, "");
    let (st, id, _, body) = send(&s.app, APP_KEY, stream_body()).await;
    assert_eq!(st, StatusCode::OK);
    let (chunks, done) = events(&body);
    assert!(done && !chunks.is_empty(), "{body}");
    let recs = records_of(s.dir.path(), &id).await;
    let kinds: Vec<_> = recs.iter().map(|r| (r.id.clone(), r.kind)).collect();
    assert_eq!(
        kinds,
        [
            (format!("{id}:open"), RecordKind::Opening),
            (id.clone(), RecordKind::Request)
        ],
        "the opening comes first in the chain"
    );
    let open = &recs[0];
    assert_eq!(open.payload, PayloadState::NotKept);
    assert_eq!(
        (open.status, open.route.as_deref()),
        (200, Some("mock/gpt-mock"))
    );
    assert_eq!(open.attempts.len(), 1);
    assert!(open.ttft_ms.is_some());
    assert_eq!(open.to_json()["kind"], "opening");
}

#[tokio::test]
async fn a_stream_whose_opening_cannot_be_committed_is_refused_before_any_byte() {
    let mock = MockUpstream::start().await.unwrap();
    let s = server(&mock, "");
    break_commits(s.dir.path());
    let resp = s
        .app
        .clone()
        .oneshot(request(Some(APP_KEY), stream_body()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"]["code"], "audit_unavailable", "{v}");
    assert!(
        !String::from_utf8_lossy(&bytes).contains("mock:"),
        "no content"
    );
}

#[tokio::test]
async fn a_stream_whose_end_cannot_be_committed_leaves_its_opening_alone() {
    let mock = MockUpstream::start().await.unwrap();
    let s = server(&mock, "");
    let resp = s
        .app
        .clone()
        .oneshot(request(Some(APP_KEY), stream_body()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let id = resp.headers()["x-seam-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // The opening is committed; now the disk fills.
    break_commits(s.dir.path());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let (chunks, done) = events(&String::from_utf8_lossy(&bytes));
    assert!(!done, "no [DONE] without the record");
    assert_eq!(chunks.last().unwrap()["error"]["code"], "audit_unavailable");
    rusqlite::Connection::open(s.dir.path().join("audit.db"))
        .unwrap()
        .execute_batch("DROP TRIGGER seam_fail")
        .unwrap();
    let recs: Vec<_> = stored(s.dir.path())
        .into_iter()
        .filter(|r| r.id.starts_with(&id))
        .collect();
    assert_eq!(recs.len(), 1, "only the opening");
    assert_eq!(recs[0].kind, RecordKind::Opening);
}

#[tokio::test]
async fn async_durability_writes_no_opening() {
    let mock = MockUpstream::start().await.unwrap();
    let s = server(&mock, "durability = \"async\"\nspool_dir = \"spool\"");
    let (st, id, _, _) = send(&s.app, APP_KEY, stream_body()).await;
    assert_eq!(st, StatusCode::OK);
    let recs = records_of(s.dir.path(), &id).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].kind, RecordKind::Request);
}
