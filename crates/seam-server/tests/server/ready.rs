//! `GET /readyz` tells the truth: 503 with every reason while the audit writer cannot commit or
//! spool, while Redis is unreachable and limits fail closed, or while the store's keys cannot be
//! read; 200 again once the cause is gone, without traffic. `/healthz` stays liveness only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use seam_testkit::MockUpstream;
use serde_json::{Value, json};

use super::{TempDir, call, state_in};

struct Setup {
    app: axum::Router,
    state: Arc<seam_server::AppState>,
    dir: TempDir,
}

impl Setup {
    fn db(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.dir.path().join("seam.db")).unwrap();
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c
    }
}

fn setup(mock: &MockUpstream, extra: &str) -> Setup {
    let dir = TempDir::new("ready");
    let toml = format!(
        r#"
[storage]
url = "sqlite://seam.db"
{extra}
[providers.mock]
kind = "openai"
base_url = "{url}"
[models.gpt]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
"#,
        url = mock.openai_base_url(),
    );
    let state = state_in(&toml, dir.path(), &[]);
    Setup {
        app: seam_server::app(state.clone()),
        state,
        dir,
    }
}

async fn ready(app: &axum::Router) -> (StatusCode, Value) {
    let (status, _, body) = call(app, "GET", "/readyz", None).await;
    (status, serde_json::from_str(&body).unwrap())
}

async fn ask(app: &axum::Router) -> StatusCode {
    let body = json!({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]});
    call(app, "POST", "/v1/chat/completions", Some(body))
        .await
        .0
}

/// Waits (a few writer probes at most) until `/readyz` answers `want`.
async fn ready_within(app: &axum::Router, want: StatusCode) -> Value {
    let deadline = Instant::now() + seam_store::PROBE_EVERY * 5;
    loop {
        let (status, body) = ready(app).await;
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "still {status}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn reasons(body: &Value) -> Vec<String> {
    body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_healthy_server_is_ready() {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock, "");
    assert_eq!(ask(&s.app).await, StatusCode::OK);
    let (status, body) = ready(&s.app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "ready", "models": 1}));
}

#[tokio::test]
async fn failing_audit_commits_make_it_unready_until_they_work_again() {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock, "");
    // As a full disk would: no commit can move the chain head.
    s.db()
        .execute_batch(
            "CREATE TRIGGER seam_fail BEFORE UPDATE ON audit_head \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    assert_eq!(ask(&s.app).await, StatusCode::SERVICE_UNAVAILABLE);
    let (status, body) = ready(&s.app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    let why = reasons(&body);
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0].starts_with("audit records cannot be committed"),
        "{why:?}"
    );
    // Liveness is not readiness.
    assert_eq!(
        call(&s.app, "GET", "/healthz", None).await.0,
        StatusCode::OK
    );

    // Mended, it recovers with no request sent (a balancer sends none to an unready server).
    s.db().execute_batch("DROP TRIGGER seam_fail").unwrap();
    ready_within(&s.app, StatusCode::OK).await;
    assert_eq!(ask(&s.app).await, StatusCode::OK);
}

#[tokio::test]
async fn a_failing_spool_makes_it_unready() {
    let mock = MockUpstream::start().await.unwrap();
    let dir_file = format!("spool-parent-{}", std::process::id());
    let s = setup(
        &mock,
        &format!("[audit]\ndurability = \"async\"\nqueue = 1\nspool_dir = \"{dir_file}/spool\"\n"),
    );
    // The spool's folder cannot be made: its parent is a file.
    std::fs::write(s.dir.path().join(&dir_file), "x").unwrap();
    // Another process holds the write lock: the writer stalls, the queue fills, records spill.
    let holder = s.db();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    for _ in 0..4 {
        assert_eq!(
            ask(&s.app).await,
            StatusCode::OK,
            "async: answers do not wait"
        );
    }
    let (status, body) = ready(&s.app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        reasons(&body)
            .iter()
            .any(|r| r.starts_with("audit spool: records cannot be spooled")),
        "{body}"
    );
    holder.execute_batch("COMMIT").unwrap();
}

#[tokio::test]
async fn unreachable_redis_makes_it_unready_only_when_limits_fail_closed() {
    let mock = MockUpstream::start().await.unwrap();
    // Nothing listens on port 1.
    let closed = setup(
        &mock,
        "redis_url = \"redis://127.0.0.1:1\"\n[limits]\non_error = \"closed\"",
    );
    let (status, body) = ready(&closed.app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let why = reasons(&body);
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(why[0].starts_with("redis (storage.redis_url)"), "{why:?}");
    assert!(!why[0].contains("127.0.0.1:1"), "never the URL: {why:?}");

    let open = setup(
        &mock,
        "redis_url = \"redis://127.0.0.1:1\"\n[limits]\non_error = \"open\"",
    );
    let (status, body) = ready(&open.app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_unreadable_key_store_makes_it_unready() {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock, "");
    assert_eq!(ask(&s.app).await, StatusCode::OK, "the store exists");
    s.state.keyring.refresh_now().await.unwrap();
    assert_eq!(ready(&s.app).await.0, StatusCode::OK);

    s.db()
        .execute_batch("ALTER TABLE api_keys RENAME TO api_keys_away")
        .unwrap();
    s.state.keyring.refresh_now().await.unwrap();
    let (status, body) = ready(&s.app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let why = reasons(&body);
    assert!(
        why.iter()
            .any(|r| r.starts_with("the key store cannot be read")),
        "{why:?}"
    );

    s.db()
        .execute_batch("ALTER TABLE api_keys_away RENAME TO api_keys")
        .unwrap();
    s.state.keyring.refresh_now().await.unwrap();
    assert_eq!(ready(&s.app).await.0, StatusCode::OK);
}
