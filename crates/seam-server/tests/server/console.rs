//! `/console`: the embedded app under its security headers, and the API behind a signed-in
//! session: sign-in by key, the cookie, CSRF and Origin checks, roles.

use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use seam_config::Resolver;

use super::{ADMIN_KEY, TempDir, state_in};
use serde_json::{Value, json};
use tower::ServiceExt;

const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes, base64
const VIEWER_KEY: &str = "viewer-key-0123456789";
const PLAIN_KEY: &str = "plain-key-0123456789";

/// A server with an admin key, an audit trail that keeps payloads (`chat`), a config key with
/// the console scope (`VIEWER_KEY`) and one without (`PLAIN_KEY`).
fn build(dir: &std::path::Path, extra: &str) -> axum::Router {
    let viewer = seam_store::keys::hash_secret(VIEWER_KEY);
    let plain = seam_store::keys::hash_secret(PLAIN_KEY);
    let toml = format!(
        r#"
[storage]
url = "sqlite://console.db"
[audit]
master_key = "env:SEAM_MASTER_KEY"
durability = "sync"
[admin]
key = "env:SEAM_ADMIN_KEY"
[providers.echo]
kind = "echo"
[models.chat]
targets = [{{ provider = "echo", model = "echo" }}]
audit_class = "full"
[keys.watcher]
hash = "{viewer}"
console = true
[keys.plain]
hash = "{plain}"
models = ["*"]
{extra}
"#
    );
    build_toml(&toml, dir)
}

/// `build` without extras in a fresh folder, which lives as long as the returned guard.
fn console_app() -> (TempDir, axum::Router) {
    let dir = TempDir::new("console");
    let app = build(dir.path(), "");
    (dir, app)
}

fn build_toml(toml: &str, dir: &std::path::Path) -> axum::Router {
    seam_server::app(state_in(
        toml,
        dir,
        &[
            ("SEAM_ADMIN_KEY", ADMIN_KEY),
            ("SEAM_MASTER_KEY", MASTER_KEY),
        ],
    ))
}

/// The open default: no admin key, no API keys.
fn build_open(dir: &std::path::Path) -> axum::Router {
    build_toml(
        r#"
[storage]
url = "sqlite://console.db"
[providers.echo]
kind = "echo"
[models.chat]
targets = [{ provider = "echo", model = "echo" }]
"#,
        dir,
    )
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(app: &axum::Router, req: Request<axum::body::Body>) -> Answer {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str) -> Request<axum::body::Body> {
    Request::get(path)
        .header("host", "seam.test")
        .body(axum::body::Body::empty())
        .unwrap()
}

/// A sign-in as the app sends it from `origin`, with `extra` headers.
fn sign_in_request(origin: &str, key: &str, extra: &[(&str, &str)]) -> Request<axum::body::Body> {
    let mut b = Request::post("/console/api/session")
        .header("host", "seam.test")
        .header("origin", origin)
        .header("content-type", "application/json");
    for (name, value) in extra {
        b = b.header(*name, *value);
    }
    b.body(json!({ "key": key }).to_string().into()).unwrap()
}

/// A browser: its cookie and CSRF token once signed in.
struct Browser {
    app: axum::Router,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Browser {
    fn new(app: &axum::Router) -> Browser {
        Browser {
            app: app.clone(),
            cookie: None,
            csrf: None,
        }
    }

    /// A browser signed in with `key`; the sign-in must succeed.
    async fn signed_in(app: &axum::Router, key: &str) -> Browser {
        let mut b = Browser::new(app);
        let a = b.sign_in(key).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        b
    }

    async fn sign_in(&mut self, key: &str) -> Answer {
        let a = send(&self.app, sign_in_request("http://seam.test", key, &[])).await;
        if a.status == StatusCode::OK {
            let set = a.headers["set-cookie"].to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            self.cookie = Some(pair.to_owned());
            self.csrf = a.json()["csrf"].as_str().map(str::to_owned);
        }
        a
    }

    fn request(&self, method: &str, path: &str) -> axum::http::request::Builder {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "seam.test");
        if let Some(c) = &self.cookie {
            b = b.header("cookie", c);
        }
        b
    }

    async fn get(&self, path: &str) -> Answer {
        send(
            &self.app,
            self.request("GET", path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
    }

    /// A change as the app sends it: CSRF token, same origin, JSON.
    async fn change(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let mut b = self
            .request(method, path)
            .header("origin", "http://seam.test");
        if let Some(t) = &self.csrf {
            b = b.header("x-seam-csrf", t);
        }
        let body = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                axum::body::Body::from(v.to_string())
            }
            None => axum::body::Body::empty(),
        };
        send(&self.app, b.body(body).unwrap()).await
    }
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn assert_secure(a: &Answer, what: &str) {
    assert_eq!(a.headers["content-security-policy"], CSP, "{what}");
    assert_eq!(a.headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(a.headers["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(a.headers["x-frame-options"], "DENY", "{what}");
}

#[tokio::test]
async fn the_app_is_served_embedded_under_its_security_headers() {
    let (_dir, app) = console_app();
    for (path, kind) in [
        ("/console", "text/html; charset=utf-8"),
        ("/console/", "text/html; charset=utf-8"),
        ("/console/assets/app.js", "text/javascript; charset=utf-8"),
        ("/console/assets/app.css", "text/css; charset=utf-8"),
        ("/console/assets/favicon.svg", "image/svg+xml"),
    ] {
        let a = send(&app, get(path)).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert_eq!(a.headers["content-type"], kind, "{path}");
        assert_secure(&a, path);
        let etag = a.headers["etag"].to_str().unwrap().to_owned();
        // Revalidated: the same file again is a 304 without a body.
        let again = send(
            &app,
            Request::get(path)
                .header("if-none-match", &etag)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.body.is_empty());
        assert_secure(&again, path);
    }
    // The page holds no data and no inline script or style: the CSP would refuse them.
    let html = send(&app, get("/console")).await.body;
    assert!(!html.contains("<script>"), "inline script in index.html");
    assert!(!html.contains("style="), "inline style in index.html");
    assert!(!html.contains("<style"), "inline style in index.html");
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains(ADMIN_KEY));
    // Unknown console paths are console 404s, under the same headers.
    for path in [
        "/console/nope",
        "/console/assets/nope.js",
        "/console/assets/index.html",
    ] {
        let a = send(&app, get(path)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_secure(&a, path);
    }
}

#[tokio::test]
async fn the_api_needs_a_session() {
    let (_dir, app) = console_app();
    let nobody = Browser::new(&app);
    for path in ["/console/api/session", "/console/api/nope"] {
        let a = nobody.get(path).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(a.json()["error"]["code"], "invalid_api_key");
        assert_secure(&a, path);
        assert_eq!(a.headers["cache-control"], "no-store");
    }
    // The admin key as a Bearer token is not a session.
    let a = send(
        &app,
        Request::get("/console/api/session")
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // A forged cookie is not one either.
    let a = send(
        &app,
        Request::get("/console/api/session")
            .header(
                "cookie",
                "seam_console=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn keys_sign_in_by_role_and_sessions_end() {
    let (_dir, app) = console_app();
    let mut admin = Browser::new(&app);
    let a = admin.sign_in(ADMIN_KEY).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = a.json();
    assert_eq!(
        (v["role"].as_str(), v["name"].as_str()),
        (Some("admin"), Some("admin"))
    );
    assert_eq!(v["open"], false);
    assert_eq!(v["csrf"].as_str().unwrap().len(), 43, "256 bits, base64url");
    assert!(!a.body.contains(ADMIN_KEY));
    let cookie = a.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("seam_console="), "{cookie}");
    assert_eq!(
        cookie.split(';').next().unwrap().len(),
        "seam_console=".len() + 43
    );
    for attr in [
        "Path=/console",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let me = admin.get("/console/api/session").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json(), v);

    let mut viewer = Browser::new(&app);
    let a = viewer.sign_in(VIEWER_KEY).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["role"], "viewer");
    assert_eq!(a.json()["name"], "watcher");

    // A key without the console scope, and a wrong key, are refused alike.
    for key in [PLAIN_KEY, "wrong", ""] {
        let a = Browser::new(&app).sign_in(key).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{key}");
        assert_eq!(a.json()["error"]["code"], "invalid_api_key");
        assert!(a.headers.get("set-cookie").is_none());
    }

    // Signing out ends the session and clears the cookie.
    let out = admin.change("DELETE", "/console/api/session", None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        admin.get("/console/api/session").await.status,
        StatusCode::UNAUTHORIZED
    );
    // The viewer's session is untouched.
    assert_eq!(
        viewer.get("/console/api/session").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_cookie_is_secure_behind_https() {
    let (_dir, app) = console_app();
    let a = send(
        &app,
        sign_in_request(
            "https://seam.test",
            ADMIN_KEY,
            &[("x-forwarded-proto", "https")],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        a.headers["set-cookie"]
            .to_str()
            .unwrap()
            .ends_with("; Secure")
    );
}

#[tokio::test]
async fn changes_need_the_csrf_token_and_this_origin() {
    let (_dir, app) = console_app();
    let admin = Browser::signed_in(&app, ADMIN_KEY).await;
    let token = admin.csrf.clone().unwrap();
    // No token, a wrong one: 403 csrf_failed, and the session stays.
    for csrf in [None, Some("wrong"), Some(&token[1..])] {
        let mut b = admin.request("DELETE", "/console/api/session");
        if let Some(t) = csrf {
            b = b.header("x-seam-csrf", t);
        }
        let a = send(&app, b.body(axum::body::Body::empty()).unwrap()).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert_eq!(a.json()["error"]["code"], "csrf_failed");
    }
    // The right token from a foreign origin.
    for origin in ["http://evil.test", "null", "http://seam.test.evil.test"] {
        let a = send(
            &app,
            admin
                .request("DELETE", "/console/api/session")
                .header("x-seam-csrf", &token)
                .header("origin", origin)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{origin}");
        assert_eq!(a.json()["error"]["code"], "csrf_failed");
    }
    // Signing in from a foreign origin, or not as JSON.
    let a = send(&app, sign_in_request("http://evil.test", ADMIN_KEY, &[])).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = send(
        &app,
        Request::post("/console/api/session")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("key={ADMIN_KEY}").into())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        admin.get("/console/api/session").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let (_dir, app) = console_app();
    for i in 0..10 {
        let a = Browser::new(&app).sign_in("wrong").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // The eleventh in the minute is refused, even with the right key.
    let a = Browser::new(&app).sign_in(ADMIN_KEY).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.json()["error"]["code"], "rate_limited");
    assert!(a.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn an_open_server_signs_anyone_in_as_admin() {
    let d = TempDir::new("console");
    let app = build_open(d.path());
    let mut b = Browser::new(&app);
    let a = b.sign_in("").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["role"], "admin");
    assert_eq!(a.json()["open"], true);
}

/// A chat request through `/v1` with `key`, about a data subject, mentioning an email address.
async fn chat(app: &axum::Router, key: &str, text: &str) -> Answer {
    send(
        app,
        Request::post("/v1/chat/completions")
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("x-seam-subject", "subject-7")
            .body(
                json!({"model": "chat", "messages": [{"role": "user", "content": text}]})
                    .to_string()
                    .into(),
            )
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn every_api_route_needs_a_session() {
    let (_dir, app) = console_app();
    for (method, path) in [
        ("GET", "/console/api/session"),
        ("DELETE", "/console/api/session"),
        ("GET", "/console/api/audit"),
        ("GET", "/console/api/audit/some-id"),
        ("GET", "/console/api/chain"),
        ("POST", "/console/api/chain/verify"),
        ("GET", "/console/api/keys"),
        ("POST", "/console/api/keys"),
        ("DELETE", "/console/api/keys/key_1"),
        ("GET", "/console/api/evals"),
        ("POST", "/console/api/evals"),
        ("GET", "/console/api/evals/run_1"),
        ("GET", "/console/api/rollouts"),
        ("GET", "/console/api/overview"),
        ("GET", "/console/api/reports/cost"),
        ("POST", "/console/api/reports/whatif"),
    ] {
        let a = send(
            &app,
            Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {ADMIN_KEY}"))
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(
            a.json()["error"]["code"],
            "invalid_api_key",
            "{method} {path}"
        );
        assert_secure(&a, path);
    }
}

#[tokio::test]
async fn viewers_read_but_change_nothing_and_never_see_payloads_or_subjects() {
    let (_dir, app) = console_app();
    assert_eq!(
        chat(&app, PLAIN_KEY, "mail jane.doe@example.com")
            .await
            .status,
        StatusCode::OK
    );
    let viewer = Browser::signed_in(&app, VIEWER_KEY).await;
    // Admin-only actions: 403 console_forbidden, with the CSRF token and all.
    for (method, path, body) in [
        (
            "POST",
            "/console/api/keys",
            Some(json!({"name": "x", "models": ["*"]})),
        ),
        ("DELETE", "/console/api/keys/key_1", None),
        ("POST", "/console/api/evals", Some(json!({"totals": {}}))),
        ("POST", "/console/api/chain/verify", None),
    ] {
        let a = viewer.change(method, path, body).await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            a.body
        );
        assert_eq!(a.json()["error"]["code"], "console_forbidden");
    }
    // Reading: the list, and a record without payload or subject, even asking to reveal.
    let list = viewer.get("/console/api/audit").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let records = list.json()["records"].as_array().unwrap().clone();
    assert_eq!(records.len(), 1);
    assert!(!list.body.contains("jane.doe") && !list.body.contains("subject-7"));
    let id = records[0]["id"].as_str().unwrap();
    for q in ["", "?reveal=1"] {
        let one = viewer.get(&format!("/console/api/audit/{id}{q}")).await;
        assert_eq!(one.status, StatusCode::OK);
        let v = one.json();
        assert_eq!(v["payload"], Value::Null);
        assert_eq!(v["record"]["subject"], Value::Null);
        assert!(v["payload_note"].as_str().unwrap().contains("admins only"));
        assert!(
            !one.body.contains("jane.doe") && !one.body.contains("subject-7"),
            "{}",
            one.body
        );
    }
    // Searching by subject would say whom the trail knows.
    let a = viewer.get("/console/api/audit?subject=subject-7").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.json()["error"]["code"], "console_forbidden");
    // Keys: listed without secrets.
    let keys = viewer.get("/console/api/keys").await;
    assert_eq!(keys.status, StatusCode::OK);
    assert!(keys.json()["keys"].is_array());
}

#[tokio::test]
async fn admins_see_payloads_masked_unless_revealed() {
    let (_dir, app) = console_app();
    let text = "Write to jane.doe@example.com about card 4111 1111 1111 1111";
    assert_eq!(chat(&app, PLAIN_KEY, text).await.status, StatusCode::OK);
    let admin = Browser::signed_in(&app, ADMIN_KEY).await;
    let list = admin.get("/console/api/audit").await.json();
    let id = list["records"][0]["id"].as_str().unwrap().to_owned();
    let masked = admin.get(&format!("/console/api/audit/{id}")).await;
    assert_eq!(masked.status, StatusCode::OK);
    let v = masked.json();
    assert_eq!(v["record"]["subject"], "subject-7");
    assert_eq!(v["revealed"], false);
    let sent = v["payload"]["client_request"]["messages"][0]["content"]
        .as_str()
        .unwrap();
    assert!(sent.contains("<EMAIL"), "{sent}");
    assert!(sent.contains("<CREDIT_CARD"), "{sent}");
    assert!(sent.starts_with("Write to <"), "{sent}");
    assert!(!masked.body.contains("jane.doe"), "{}", masked.body);
    assert!(!masked.body.contains("4111 1111"), "{}", masked.body);
    let shown = admin
        .get(&format!("/console/api/audit/{id}?reveal=1"))
        .await
        .json();
    assert_eq!(shown["revealed"], true);
    assert_eq!(
        shown["payload"]["client_request"]["messages"][0]["content"],
        text
    );
    // The admin may search by subject.
    let by = admin
        .get("/console/api/audit?subject=subject-7")
        .await
        .json();
    assert_eq!(by["records"].as_array().unwrap().len(), 1);
    let none = admin
        .get("/console/api/audit?subject=someone-else")
        .await
        .json();
    assert!(none["records"].as_array().unwrap().is_empty());
    let missing = admin.get("/console/api/audit/no-such-record").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_audit_list_reads_newest_first_a_page_at_a_time() {
    let (_dir, app) = console_app();
    for i in 0..5 {
        assert_eq!(
            chat(&app, PLAIN_KEY, &format!("n{i}")).await.status,
            StatusCode::OK
        );
    }
    let admin = Browser::signed_in(&app, ADMIN_KEY).await;
    let first = admin.get("/console/api/audit?limit=2").await.json();
    let page = |v: &Value| -> Vec<i64> {
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["time"].as_i64().unwrap())
            .collect()
    };
    let (a, next) = (page(&first), first["next"].as_str().unwrap().to_owned());
    assert_eq!(a.len(), 2);
    assert!(a[0] >= a[1], "newest first: {a:?}");
    let second = admin
        .get(&format!("/console/api/audit?limit=2&cursor={next}"))
        .await
        .json();
    let third = admin
        .get(&format!(
            "/console/api/audit?limit=2&cursor={}",
            second["next"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(page(&third).len(), 1);
    assert_eq!(third["next"], Value::Null);
    let mut ids: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|v| v["records"].as_array().unwrap().clone())
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    for bad in ["?cursor=abc", "?limit=x", "?kind=nope", "?status=x"] {
        let a = admin.get(&format!("/console/api/audit{bad}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(a.json()["error"]["code"], "invalid_request");
    }
}

#[tokio::test]
async fn keys_created_in_the_console_work_once_shown_and_revoked_stop() {
    let (_dir, app) = console_app();
    let admin = Browser::signed_in(&app, ADMIN_KEY).await;
    let made = admin
        .change(
            "POST",
            "/console/api/keys",
            Some(json!({"name": "ci", "models": ["chat"], "rpm": 100})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let v = made.json();
    let secret = v["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk-seam-"));
    let id = v["key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["key"]["name"], "ci");
    assert_eq!(chat(&app, &secret, "hello").await.status, StatusCode::OK);
    // The secret is not retrievable afterwards: not in the list, nor in the audit trail.
    let list = admin.get("/console/api/keys").await;
    assert!(list.body.contains(&id));
    assert!(!list.body.contains(&secret));
    assert!(!admin.get("/console/api/audit").await.body.contains(&secret));
    // Checked as /admin/keys checks it.
    let bad = admin
        .change(
            "POST",
            "/console/api/keys",
            Some(json!({"name": "x", "models": []})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"]["param"], "models");
    let revoked = admin
        .change("DELETE", &format!("/console/api/keys/{id}"), None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(revoked.json()["key"]["state"], "revoked");
    assert_eq!(
        chat(&app, &secret, "hello").await.status,
        StatusCode::UNAUTHORIZED
    );
    let gone = admin
        .change("DELETE", "/console/api/keys/key_nope", None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_stored_console_key_signs_in_as_viewer_until_revoked() {
    let (_dir, app) = console_app();
    let admin = Browser::signed_in(&app, ADMIN_KEY).await;
    let made = admin
        .change(
            "POST",
            "/console/api/keys",
            Some(json!({"name": "ops", "console": true})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.json()["key"]["scope"]["console"], true);
    let secret = made.json()["secret"].as_str().unwrap().to_owned();
    let id = made.json()["key"]["id"].as_str().unwrap().to_owned();
    let mut ops = Browser::new(&app);
    let a = ops.sign_in(&secret).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        (a.json()["role"].as_str(), a.json()["name"].as_str()),
        (Some("viewer"), Some("ops"))
    );
    // A console-only key calls no model.
    assert_eq!(
        chat(&app, &secret, "hi").await.status,
        StatusCode::FORBIDDEN
    );
    admin
        .change("DELETE", &format!("/console/api/keys/{id}"), None)
        .await;
    // Its session ends with it.
    assert_eq!(
        ops.get("/console/api/session").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        Browser::new(&app).sign_in(&secret).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// An eval report as `seam eval -o r.json` writes it: `passed` of `cases` passing.
fn eval_report(cases: usize, passed: usize) -> Value {
    let results = (0..cases)
        .map(|i| seam_evals::runner::CaseResult {
            test: i,
            repeat: 0,
            description: Some(format!("case {i}")),
            vars: serde_json::Map::new(),
            prompt: "Answer: {{q}}".to_owned(),
            provider: "chat".to_owned(),
            output: None,
            error: None,
            pass: i < passed,
            score: if i < passed { 1.0 } else { 0.0 },
            grade: None,
        })
        .collect();
    let run = seam_evals::runner::Run {
        description: Some("support answers".to_owned()),
        started_unix_ms: 1_700_000_000_000,
        duration_ms: 10.0,
        results,
    };
    serde_json::from_str(&seam_evals::report::build(run, None, None, 7).to_json()).unwrap()
}

#[tokio::test]
async fn eval_reports_are_uploaded_listed_and_read_back() {
    let (_dir, app) = console_app();
    let admin = Browser::signed_in(&app, ADMIN_KEY).await;
    let report = eval_report(20, 17);
    let up = admin
        .change("POST", "/console/api/evals", Some(report.clone()))
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    let id = up.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(up.json()["name"], "support answers");
    let red = json!({
        "target": "chat", "base_url": "http://127.0.0.1:8700/v1", "seed": 1,
        "pass_threshold": 0.9, "passed": false,
        "summary": {"probes": 2, "passed": 1, "failed": 1, "errors": 0, "pass_rate": 0.5},
        "categories": [],
        "results": [
            {"id": "p1", "category": "injection", "description": "d", "status": "passed", "attempts": 1, "latency_ms": 1.0},
            {"id": "p2", "category": "injection", "description": "d", "status": "failed", "attempts": 1, "latency_ms": 1.0}
        ],
        "name": "nightly red team"
    });
    let up2 = admin.change("POST", "/console/api/evals", Some(red)).await;
    assert_eq!(up2.status, StatusCode::CREATED, "{}", up2.body);
    // Both roles list them, newest first, with the pass rate's Wilson interval.
    let viewer = Browser::signed_in(&app, VIEWER_KEY).await;
    let runs = viewer.get("/console/api/evals").await.json()["runs"].clone();
    assert_eq!(runs[0]["kind"], "redteam");
    assert_eq!(runs[0]["name"], "nightly red team");
    assert_eq!(
        (runs[0]["passed"].as_u64(), runs[0]["total"].as_u64()),
        (Some(1), Some(2))
    );
    let e = &runs[1];
    assert_eq!(
        (
            e["kind"].as_str(),
            e["passed"].as_u64(),
            e["total"].as_u64()
        ),
        (Some("eval"), Some(17), Some(20))
    );
    assert!((e["pass_rate"].as_f64().unwrap() - 0.85).abs() < 1e-9);
    let (lo, hi) = (e["lo"].as_f64().unwrap(), e["hi"].as_f64().unwrap());
    assert!(lo > 0.6 && lo < 0.7 && hi > 0.94 && hi < 0.97, "{lo} {hi}");
    let one = viewer.get(&format!("/console/api/evals/{id}")).await.json();
    assert_eq!(one["report"], report);
    assert_eq!(one["passed"], 17);
    assert_eq!(
        viewer.get("/console/api/evals/run_nope").await.status,
        StatusCode::NOT_FOUND
    );
    // Not a report, totals that lie, a bad name: 400.
    let mut lying = eval_report(3, 1);
    lying["totals"]["passed"] = json!(3);
    for bad in [
        json!({"hello": 1}),
        json!([1]),
        lying,
        json!({"totals": {}, "name": 5}),
    ] {
        let a = admin
            .change("POST", "/console/api/evals", Some(bad.clone()))
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}: {}", a.body);
    }
    // Too large.
    let big = json!({"totals": "x".repeat(6 * 1024 * 1024)});
    let a = admin.change("POST", "/console/api/evals", Some(big)).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_chain_is_verified_in_the_background() {
    let (_dir, app) = console_app();
    for i in 0..3 {
        chat(&app, PLAIN_KEY, &format!("n{i}")).await;
    }
    let admin = Browser::signed_in(&app, ADMIN_KEY).await;
    let before = admin.get("/console/api/chain").await.json();
    assert_eq!(before["status"], "unknown");
    assert_eq!(before["checked"], Value::Null);
    let started = admin
        .change("POST", "/console/api/chain/verify", None)
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let mut last = Value::Null;
    for _ in 0..200 {
        last = admin.get("/console/api/chain").await.json();
        if last["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(last["status"], "ok", "{last}");
    assert_eq!(last["records"], 3);
    assert!(last["checked"].as_str().is_some());
}

#[tokio::test]
async fn rollouts_are_shown_as_the_admin_api_shows_them() {
    let (_dir, app) = console_app();
    let viewer = Browser::signed_in(&app, VIEWER_KEY).await;
    let a = viewer.get("/console/api/rollouts").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json(), json!({"rollouts": []}));
}

/// Over a real socket: sign-in attempts count against the client's address, and a change with no
/// body (`Content-Length: 0`, as browsers send it) passes the JSON check.
#[tokio::test]
async fn over_a_socket_the_client_address_is_counted_and_bodiless_changes_pass() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let d = TempDir::new("console");
    let app = build(d.path(), "");
    let cfg = seam_config::from_toml(
        "",
        &Resolver {
            env: &|_| None,
            base_dir: d.path().to_path_buf(),
        },
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(seam_server::serve(
        listener,
        app,
        seam_server::listen::Limits::new(&cfg.server),
        async move {
            let _ = stopped.await;
        },
    ));
    let request = |method: &str, path: &str, headers: &str, body: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{headers}content-length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let exchange = |raw: String| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let status: u16 = head[9..12].parse().unwrap();
        (status, head.to_owned(), body.to_owned())
    };
    let sign_in = |key: &str| {
        request(
            "POST",
            "/console/api/session",
            &format!("origin: http://{addr}\r\ncontent-type: application/json\r\n"),
            &json!({ "key": key }).to_string(),
        )
    };
    let (status, head, body) = exchange(sign_in(ADMIN_KEY)).await;
    assert_eq!(status, 200, "{body}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: Value = serde_json::from_str(&body).unwrap();
    let csrf = body["csrf"].as_str().unwrap();
    let (status, _, body) = exchange(request(
        "POST",
        "/console/api/chain/verify",
        &format!("cookie: {cookie}\r\nx-seam-csrf: {csrf}\r\norigin: http://{addr}\r\n"),
        "",
    ))
    .await;
    assert_eq!(status, 202, "{body}");
    // Nine more attempts from 127.0.0.1 fit in the minute; the next does not.
    for _ in 0..9 {
        assert_eq!(exchange(sign_in("wrong")).await.0, 401);
    }
    let (status, head, _) = exchange(sign_in(ADMIN_KEY)).await;
    assert_eq!(status, 429);
    assert!(head.contains("retry-after: "), "{head}");
    // Another address is not held back by the first.
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut s = other.connect(addr).await.unwrap();
    s.write_all(sign_in(ADMIN_KEY).as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn reports_are_built_from_this_servers_store_for_any_session() {
    let (_dir, app) = console_app();
    for i in 0..4 {
        assert_eq!(
            chat(&app, PLAIN_KEY, &format!("hello {i}")).await.status,
            StatusCode::OK
        );
    }
    let viewer = Browser::signed_in(&app, VIEWER_KEY).await;

    // The document the page renders: the CLI's report, with its sections and numbers.
    let cost = viewer.get("/console/api/reports/cost").await;
    assert_eq!(cost.status, StatusCode::OK, "{}", cost.body);
    assert_secure(&cost, "cost report");
    let doc = cost.json();
    assert_eq!(doc["kind"], "cost");
    assert_eq!(doc["data"]["totals"]["requests"], 4, "{doc}");
    assert!(doc["sections"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(
        !cost.body.contains("hello 1"),
        "a report never carries a payload"
    );

    // The CLI's bytes, as downloads.
    for (format, mime, start) in [
        ("md", "text/markdown", "# "),
        ("html", "text/html", "<!doctype html>"),
        ("json", "application/json", "{"),
    ] {
        let a = viewer
            .get(&format!("/console/api/reports/cost?format={format}"))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{format}: {}", a.body);
        assert!(
            a.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(mime)
        );
        let disposition = a.headers["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert!(
            a.body.to_lowercase().starts_with(start),
            "{format}: {}",
            &a.body[..40.min(a.body.len())]
        );
    }

    // Period and kinds are checked before anything is read.
    for (path, param) in [
        (
            "/console/api/reports/cost?since=2026-12-02&until=2026-12-01",
            "since",
        ),
        ("/console/api/reports/cost?until=tomorrow", "until"),
        ("/console/api/reports/cost?format=pdf", "format"),
        ("/console/api/reports/whatif", "scenarios"),
    ] {
        let a = viewer.get(path).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {}", a.body);
        assert_eq!(a.json()["error"]["param"], param, "{path}");
    }
    assert_eq!(
        viewer.get("/console/api/reports/nope").await.status,
        StatusCode::NOT_FOUND
    );

    // What-if and the matrix take their files in the body; a wrong one says where.
    let scenarios = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/scenarios.toml"
    ))
    .unwrap();
    let w = viewer
        .change(
            "POST",
            "/console/api/reports/whatif",
            Some(json!({ "scenarios": scenarios })),
        )
        .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.body);
    assert_eq!(w.json()["kind"], "whatif");
    let bad = viewer
        .change(
            "POST",
            "/console/api/reports/whatif",
            Some(json!({ "scenarios": "[[paths]]\nname = \"x\"\nkind = \"teleport\"\n" })),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(
        bad.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("paths")
    );
    let m = viewer
        .change(
            "POST",
            "/console/api/reports/matrix",
            Some(json!({ "weights": "[weights]\ntime_to_value = 3\n" })),
        )
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    assert_eq!(m.json()["kind"], "matrix");
    for kind in ["quality", "exit", "matrix"] {
        let a = viewer.get(&format!("/console/api/reports/{kind}")).await;
        assert_eq!(a.status, StatusCode::OK, "{kind}: {}", a.body);
        assert_eq!(a.json()["kind"], kind);
    }

    // Without a session, nothing.
    let anon = Browser::new(&app);
    assert_eq!(
        anon.get("/console/api/reports/cost").await.status,
        StatusCode::UNAUTHORIZED
    );
}
