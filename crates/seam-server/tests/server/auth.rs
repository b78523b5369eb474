//! API keys through the HTTP surface: who may call, which models, what the admin API needs, and
//! that the audit trail names the key.

use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use seam_store::keys::{KeyScope, KeyStore, hash_secret};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{ADMIN_KEY, TempDir, state_in};

pub(crate) const APP_KEY: &str = "sk-seam-test-app-key-0123456789abcdef";

fn build(dir: &std::path::Path, admin: bool) -> axum::Router {
    build_with(dir, admin, "")
}

pub(crate) fn build_with(dir: &std::path::Path, admin: bool, extra: &str) -> axum::Router {
    let toml = format!(
        r#"
[storage]
url = "sqlite://keys.db"
{admin}
[providers.echo]
kind = "echo"
[models.chat]
targets = [{{ provider = "echo", model = "echo" }}]
[models.gpt-small]
targets = [{{ provider = "echo", model = "echo" }}]
[models.secret-model]
targets = [{{ provider = "echo", model = "echo" }}]
[keys.app]
hash = "{hash}"
models = ["chat", "gpt-*"]
team = "payments"
{extra}
"#,
        hash = hash_secret(APP_KEY),
        admin = if admin {
            "[admin]\nkey = \"env:SEAM_ADMIN_KEY\""
        } else {
            ""
        },
    );
    seam_server::app(state_in(&toml, dir, &[("SEAM_ADMIN_KEY", ADMIN_KEY)]))
}

pub(crate) async fn send(
    app: &axum::Router,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let resp = app
        .clone()
        .oneshot(
            req.body(body.map_or(axum::body::Body::empty(), |b| {
                axum::body::Body::from(b.to_string())
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

pub(crate) fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn once_a_key_exists_every_v1_request_needs_one() {
    let d = TempDir::new("auth");
    let app = build(d.path(), true);
    let (status, _, body) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        None,
        Some(chat("chat")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("invalid_api_key") && body.contains("authentication_error"));
    let (status, _, body) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some("sk-seam-wrong"),
        Some(chat("chat")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        !body.contains("sk-seam-wrong"),
        "the key is never echoed: {body}"
    );
    let (status, _, _) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(APP_KEY),
        Some(chat("chat")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Health stays open.
    let (status, _, _) = send(&app, "GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_key_reaches_only_its_models() {
    let d = TempDir::new("auth");
    let app = build(d.path(), true);
    let (status, _, _) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(APP_KEY),
        Some(chat("gpt-small")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(APP_KEY),
        Some(chat("secret-model")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("model_not_allowed") && body.contains("permission_error"));
    let (status, _, body) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(APP_KEY),
        Some(chat("echo/echo")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "direct addressing needs `direct`: {body}"
    );
    let (status, _, body) = send(
        &app,
        "POST",
        "/v1/embeddings",
        Some(APP_KEY),
        Some(json!({"model": "secret-model", "input": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, _, body) = send(&app, "GET", "/v1/models", Some(APP_KEY), None).await;
    let ids: Vec<String> = serde_json::from_str::<Value>(&body).unwrap()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["chat", "gpt-small"]);
    let (status, _, _) = send(&app, "GET", "/v1/models/secret-model", Some(APP_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The scheme of `Authorization` is case-insensitive; the credentials are not.
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let d = TempDir::new("auth");
    let app = build(d.path(), true);
    for header in [
        format!("bearer {APP_KEY}"),
        format!("BEARER {APP_KEY}"),
        format!("BeArEr  {APP_KEY} "),
    ] {
        let req = Request::builder()
            .method("POST")
            .uri("/v1/chat/completions")
            .header("content-type", "application/json")
            .header("authorization", &header)
            .body(axum::body::Body::from(chat("chat").to_string()))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{header:?}");
    }
    for header in [
        "Basic dXNlcjpwYXNz".to_owned(),
        "Bearer".to_owned(),
        APP_KEY.to_owned(),
        format!("Bearer {}", APP_KEY.to_uppercase()),
    ] {
        let req = Request::builder()
            .method("POST")
            .uri("/v1/chat/completions")
            .header("content-type", "application/json")
            .header("authorization", &header)
            .body(axum::body::Body::from(chat("chat").to_string()))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{header:?}");
    }
}

/// A model that does not exist is 404 whatever the key may use; 403 is for models that exist
/// but are not the key's.
#[tokio::test]
async fn a_missing_model_is_404_even_for_a_key_without_direct() {
    let d = TempDir::new("auth");
    let app = build(d.path(), true);
    for path in ["/v1/chat/completions", "/v1/embeddings"] {
        let body = if path.ends_with("embeddings") {
            json!({"model": "no-such-alias", "input": "x"})
        } else {
            chat("no-such-alias")
        };
        let (status, _, text) = send(&app, "POST", path, Some(APP_KEY), Some(body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"]["code"], "model_not_found", "{text}");
        assert_eq!(v["error"]["param"], "model", "{text}");
    }
}

#[tokio::test]
async fn the_admin_api_needs_the_admin_key_once_keys_exist() {
    let d = TempDir::new("auth");
    let open = build(d.path(), false);
    let (status, _, body) = send(&open, "GET", "/admin/targets", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("admin_forbidden"));
    let guarded = build(d.path(), true);
    let (status, _, _) = send(&guarded, "GET", "/admin/targets", Some(APP_KEY), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an API key is not the admin key"
    );
    let (status, _, _) = send(&guarded, "GET", "/admin/targets", Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn store_keys_work_and_the_audit_trail_names_the_key() {
    let d = TempDir::new("auth");
    // A key created the way `seam keys create` does, before the server starts.
    let store = seam_store::StoreConfig {
        backend: seam_store::BackendConfig::Sqlite {
            path: d.path().join("keys.db"),
        },
        master_key: None,
        retention: Vec::new(),
    };
    let (record, secret) = std::thread::spawn(move || {
        let mut ks = KeyStore::open(&store).unwrap();
        let scope = KeyScope {
            models: vec!["secret-model".into()],
            ..KeyScope::default()
        };
        ks.create("reporting", &scope, 0).unwrap()
    })
    .join()
    .unwrap();
    let app = build(d.path(), true);
    let (status, h, _) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(&secret),
        Some(chat("secret-model")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let id = h["x-seam-request-id"].to_str().unwrap().to_owned();
    let (status, _, _) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(&secret),
        Some(chat("chat")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, body) = send(
        &app,
        "GET",
        &format!("/admin/audit?key={}", record.id),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let records = v["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{body}");
    assert!(
        records
            .iter()
            .any(|r| r["id"] == id && r["key_id"] == record.id.as_str())
    );
    assert!(
        records
            .iter()
            .any(|r| r["status"] == 403 && r["error_code"] == "model_not_allowed")
    );
    assert!(!body.contains(&secret));
}

pub(crate) const LIMITED_KEY: &str = "sk-seam-test-limited-key-0123456789";

pub(crate) fn limited_key(extra: &str) -> String {
    format!(
        "[keys.limited]\nhash = \"{}\"\nmodels = [\"chat\"]\n{extra}",
        hash_secret(LIMITED_KEY)
    )
}

#[tokio::test]
async fn a_key_over_its_rpm_gets_429_with_retry_after() {
    let d = TempDir::new("auth");
    let app = build_with(d.path(), true, &limited_key("rpm = 3"));
    for _ in 0..3 {
        let (status, _, _) = send(
            &app,
            "POST",
            "/v1/chat/completions",
            Some(LIMITED_KEY),
            Some(chat("chat")),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, body) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(LIMITED_KEY),
        Some(chat("chat")),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.contains("rate_limited"));
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (55..=60).contains(&wait),
        "the first of the 3 leaves the window in about a minute: {wait}"
    );
    // Other keys are not affected.
    let (status, _, _) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(APP_KEY),
        Some(chat("chat")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_stream_holds_its_concurrency_slot_until_it_ends() {
    let d = TempDir::new("auth");
    let app = build_with(d.path(), true, &limited_key("max_concurrency = 1"));
    let mut stream_req = chat("chat");
    stream_req["stream"] = json!(true);
    let req = Request::builder()
        .method("POST")
        .uri("/v1/chat/completions")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {LIMITED_KEY}"))
        .body(axum::body::Body::from(stream_req.to_string()))
        .unwrap();
    // The stream's response is in hand but its body not read: the slot is taken.
    let open = app.clone().oneshot(req).await.unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    let (status, _, body) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(LIMITED_KEY),
        Some(chat("chat")),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Reading the stream to its end frees it.
    let text = open.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&text).contains("[DONE]"));
    let (status, _, _) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(LIMITED_KEY),
        Some(chat("chat")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_keys_policy_tightens_the_routes() {
    let d = TempDir::new("auth");
    let extra = format!(
        "{}\n[policies.strict.input]\npii = {{ action = \"block\" }}\n",
        limited_key("policy = \"strict\"")
    );
    let app = build_with(d.path(), true, &extra);
    let body =
        json!({"model": "chat", "messages": [{"role": "user", "content": "mail ada@example.com"}]});
    // The route's policy (default) lets it through; the key's blocks it.
    let (status, _, _) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(APP_KEY),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, text) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(LIMITED_KEY),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(
        text.contains("policy_violation") && text.contains("EMAIL_ADDRESS"),
        "{text}"
    );
    assert!(!text.contains("ada@example.com"));
}

/// A glob alias serves every name it matches under one config entry: a key names the alias (its
/// pattern), never each dated model a client may send, and the target gets the requested name.
#[tokio::test]
async fn a_glob_alias_serves_every_name_it_matches_to_keys_that_name_it() {
    let d = TempDir::new("auth");
    let extra = r#"
[models."claude-*"]
targets = [{ provider = "echo", model = "{model}" }]
[keys.agent]
hash = "HASH"
models = ["claude-*"]
"#
    .replace("HASH", &hash_secret("sk-seam-agent-key-0123456789abcdef"));
    let app = build_with(d.path(), true, &extra);
    let agent = Some("sk-seam-agent-key-0123456789abcdef");
    let (status, h, body) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        agent,
        Some(chat("claude-sonnet-4-5-20250929")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h["x-seam-route"], "echo/claude-sonnet-4-5-20250929");
    // The app key's globs (`chat`, `gpt-*`) do not name the alias `claude-*`.
    let (status, _, body) = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(APP_KEY),
        Some(chat("claude-sonnet-4-5-20250929")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, _) = send(&app, "GET", "/v1/models/claude-opus-4-1", agent, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(&app, "GET", "/v1/models/gpt-small", agent, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
