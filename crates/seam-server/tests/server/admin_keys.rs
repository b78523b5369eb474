//! `/admin/keys`: keys created and revoked over HTTP take effect on this server at once, are
//! listed without their secrets, and are checked exactly as `seam keys create` checks them.

use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{ADMIN_KEY, TempDir, state_in};

fn build(dir: &std::path::Path) -> axum::Router {
    build_on("sqlite://keys.db", dir)
}

fn build_on(storage: &str, dir: &std::path::Path) -> axum::Router {
    let toml = format!(
        r#"
[storage]
url = "{storage}"
[admin]
key = "env:SEAM_ADMIN_KEY"
[providers.echo]
kind = "echo"
[models.chat]
targets = [{{ provider = "echo", model = "echo" }}]
[policies.strict]
"#
    );
    seam_server::app(state_in(&toml, dir, &[("SEAM_ADMIN_KEY", ADMIN_KEY)]))
}

async fn send(
    app: &axum::Router,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let body = body.map_or(axum::body::Body::empty(), |b| {
        axum::body::Body::from(b.to_owned())
    });
    let resp = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes))),
    )
}

async fn admin(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let body = body.map(|b| b.to_string());
    send(app, method, path, Some(ADMIN_KEY), body.as_deref()).await
}

async fn chat(app: &axum::Router, key: &str) -> StatusCode {
    let body = json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
    send(
        app,
        "POST",
        "/v1/chat/completions",
        Some(key),
        Some(&body.to_string()),
    )
    .await
    .0
}

#[tokio::test]
async fn a_key_created_over_http_works_at_once_and_a_revoked_one_stops_at_once() {
    let d = TempDir::new("admin-keys");
    let app = build(d.path());
    let (status, created) = admin(
        &app,
        "POST",
        "/admin/keys",
        Some(
            json!({"name": "billing", "models": ["chat"], "team": "payments", "rpm": 100,
                    "expires": "2099-01-01T00:00:00Z"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk-seam-"));
    assert_eq!(created["state"], "active");
    assert_eq!(created["scope"]["team"], "payments");
    assert_eq!(created["expires"], "2099-01-01T00:00:00.000Z");
    assert_eq!(created["prefix"].as_str().unwrap(), &secret[..12]);

    assert_eq!(chat(&app, &secret).await, StatusCode::OK);

    // Listings and lookups never carry the secret or its hash.
    let (status, list) = admin(&app, "GET", "/admin/keys", None).await;
    assert_eq!(status, StatusCode::OK);
    let text = list.to_string();
    assert!(!text.contains(&secret) && !text.contains("sha256:") && !text.contains("\"key\""));
    assert_eq!(list["keys"][0]["id"], id.as_str());
    let (status, shown) = admin(&app, "GET", &format!("/admin/keys/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["name"], "billing");
    assert!(shown.get("key").is_none());

    let (status, revoked) = admin(&app, "DELETE", &format!("/admin/keys/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["state"], "revoked");
    assert_eq!(chat(&app, &secret).await, StatusCode::UNAUTHORIZED);

    // Revoking again changes nothing and still answers with the record.
    let (status, again) = admin(&app, "DELETE", &format!("/admin/keys/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["revoked"], revoked["revoked"]);

    let (_, list) = admin(&app, "GET", "/admin/keys", None).await;
    assert_eq!(list["keys"], json!([]));
    let (_, list) = admin(&app, "GET", "/admin/keys?include_revoked=true", None).await;
    assert_eq!(list["keys"][0]["state"], "revoked");
    let (status, e) = admin(&app, "GET", "/admin/keys?include_revoked=yes", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["param"], "include_revoked");
}

#[tokio::test]
async fn unknown_ids_are_404_in_openais_shape() {
    let d = TempDir::new("admin-keys");
    let app = build(d.path());
    for method in ["GET", "DELETE"] {
        let (status, e) = admin(&app, method, "/admin/keys/key_nope", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(e["error"]["code"], "not_found");
        assert_eq!(e["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn the_admin_key_is_required() {
    let d = TempDir::new("admin-keys");
    let app = build(d.path());
    let body = json!({"name": "x", "models": ["chat"]}).to_string();
    for key in [
        None,
        Some("admin-key-wrong-0123456789"),
        Some("sk-seam-anything"),
    ] {
        let (status, e) = send(&app, "POST", "/admin/keys", key, Some(&body)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(e["error"]["code"], "invalid_api_key");
        let (status, _) = send(&app, "GET", "/admin/keys", key, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Nothing was created.
    let (_, list) = admin(&app, "GET", "/admin/keys?include_revoked=true", None).await;
    assert_eq!(list["keys"], json!([]));
}

#[tokio::test]
async fn invalid_keys_are_400_naming_the_field() {
    let d = TempDir::new("admin-keys");
    let app = build(d.path());
    for (body, code, param) in [
        (
            json!({"name": "a", "models": ["chat"], "policy": "nope"}),
            "invalid_request",
            Some("policy"),
        ),
        (
            json!({"name": "a", "models": ["chat"], "policy": "strict", "modles": []}),
            "invalid_request",
            Some("modles"),
        ),
        (json!({"name": "a"}), "invalid_request", Some("models")),
        (json!({"models": ["chat"]}), "invalid_request", Some("name")),
        (
            json!({"name": "a", "models": ["chat"], "budget_usd": 5}),
            "invalid_request",
            Some("budget_period"),
        ),
        (
            json!({"name": "a", "models": ["chat"], "budget_usd": 5, "budget_period": "week"}),
            "invalid_request",
            Some("budget_period"),
        ),
        (
            json!({"name": "a", "models": ["chat"], "expires": "2001-01-01"}),
            "invalid_request",
            Some("expires"),
        ),
        (
            json!({"name": "a", "models": ["chat"], "expires": "tomorrow"}),
            "invalid_request",
            Some("expires"),
        ),
        (
            json!({"name": "a", "models": ["chat"], "audit_class": "full"}),
            "invalid_request",
            Some("audit_class"),
        ),
        (
            json!({"name": "a", "models": ["chat"], "rpm": 0}),
            "invalid_request",
            Some("rpm"),
        ),
        (
            json!({"name": "a", "models": "chat"}),
            "invalid_request",
            Some("models"),
        ),
        (
            json!({"name": "a", "tools": ["crm__*", ""]}),
            "invalid_request",
            Some("tools"),
        ),
    ] {
        let (status, e) = admin(&app, "POST", "/admin/keys", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {e}");
        assert_eq!(e["error"]["code"], code, "{body}");
        assert_eq!(e["error"]["param"].as_str(), param, "{body}: {e}");
    }
    let (status, e) = send(&app, "POST", "/admin/keys", Some(ADMIN_KEY), Some("{")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], "invalid_json");
    // None of them was stored.
    let (_, list) = admin(&app, "GET", "/admin/keys?include_revoked=true", None).await;
    assert_eq!(list["keys"], json!([]));
    // A policy the config has is fine.
    let (status, _) = admin(
        &app,
        "POST",
        "/admin/keys",
        Some(json!({"name": "a", "models": ["chat"], "policy": "strict"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_key_may_be_scoped_to_tools_alone() {
    let d = TempDir::new("admin-keys");
    let app = build(d.path());
    let (status, created) = admin(
        &app,
        "POST",
        "/admin/keys",
        Some(json!({"name": "agent", "tools": ["crm__lookup_*", "files__read"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["scope"]["tools"],
        json!(["crm__lookup_*", "files__read"])
    );
    assert_eq!(created["scope"]["models"], json!([]));
    // Tools are not models: the key may use none.
    let secret = created["key"].as_str().unwrap();
    assert_eq!(chat(&app, secret).await, StatusCode::FORBIDDEN);
}

/// A fresh PostgreSQL database, or `None` (the test is skipped) when none is reachable and none
/// is required.
fn postgres_database() -> Option<String> {
    let admin = std::env::var("SEAM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!(
        "seam_admin_keys_test_{}_{}",
        std::process::id(),
        seam_server::audit::now_ms()
    );
    // The synchronous client runs its own runtime: keep it off this one.
    let (admin2, name2) = (admin.clone(), name.clone());
    let created = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&admin2, postgres::NoTls)?;
        c.batch_execute(&format!("CREATE DATABASE {name2}"))
    })
    .join()
    .unwrap();
    if let Err(e) = created {
        if std::env::var("SEAM_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("PostgreSQL is required but unreachable: {e}");
        }
        eprintln!("skipping: PostgreSQL unreachable ({e})");
        return None;
    }
    let base = admin.split('?').next().unwrap();
    Some(format!("{}/{name}", &base[..base.rfind('/').unwrap()]))
}

/// Waits up to 10 s (twice the keyring's refresh) for `key` to get `want` on `app`.
async fn eventually(app: &axum::Router, key: &str, want: StatusCode) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = chat(app, key).await;
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {got}, wanted {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn replicas_sharing_postgresql_follow_the_admin_api_within_the_refresh() {
    let Some(url) = postgres_database() else {
        return;
    };
    let d = TempDir::new("admin-keys");
    let (a, b) = (build_on(&url, d.path()), build_on(&url, d.path()));
    let (status, created) = admin(
        &a,
        "POST",
        "/admin/keys",
        Some(json!({"name": "shared", "models": ["chat"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["key"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(chat(&a, secret).await, StatusCode::OK);
    eventually(&b, secret, StatusCode::OK).await;
    let (_, shown) = admin(&b, "GET", &format!("/admin/keys/{id}"), None).await;
    assert_eq!(shown["name"], "shared");

    let (status, _) = admin(&b, "DELETE", &format!("/admin/keys/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(chat(&b, secret).await, StatusCode::UNAUTHORIZED);
    eventually(&a, secret, StatusCode::UNAUTHORIZED).await;
}
