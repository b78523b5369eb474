//! `/console`: the embedded app under its security headers, and the API behind a signed-in
//! session: sign-in by key, the cookie, CSRF and Origin checks, roles.

use std::sync::Arc;

use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use seam_config::Resolver;
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN_KEY: &str = "admin-key-0123456789abcdef";

/// A server with an admin key, a store and a config key with the console scope (`viewer-key`).
fn build(dir: &std::path::Path, extra: &str) -> axum::Router {
    let viewer = seam_store::keys::hash_secret("viewer-key-0123456789");
    let plain = seam_store::keys::hash_secret("plain-key-0123456789");
    let toml = format!(
        r#"
[storage]
url = "sqlite://console.db"
[admin]
key = "env:SEAM_ADMIN_KEY"
[providers.echo]
kind = "echo"
[models.chat]
targets = [{{ provider = "echo", model = "echo" }}]
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

fn build_toml(toml: &str, dir: &std::path::Path) -> axum::Router {
    let env = |k: &str| (k == "SEAM_ADMIN_KEY").then(|| ADMIN_KEY.to_owned());
    let r = Resolver {
        env: &env,
        base_dir: dir.to_path_buf(),
    };
    let cfg = seam_config::from_toml(toml, &r).unwrap_or_else(|e| panic!("{e:?}"));
    let state =
        Arc::new(seam_server::AppState::new(&cfg, None, seam_server::metrics::install()).unwrap());
    seam_server::app(state)
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

    async fn sign_in(&mut self, key: &str) -> Answer {
        let a = send(
            &self.app,
            Request::post("/console/api/session")
                .header("host", "seam.test")
                .header("origin", "http://seam.test")
                .header("content-type", "application/json")
                .body(json!({ "key": key }).to_string().into())
                .unwrap(),
        )
        .await;
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

fn dir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "seam-console-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
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
    let d = dir();
    let app = build(&d, "");
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
    let _ = std::fs::remove_dir_all(d);
}

#[tokio::test]
async fn the_api_needs_a_session() {
    let d = dir();
    let app = build(&d, "");
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
    let _ = std::fs::remove_dir_all(d);
}

#[tokio::test]
async fn keys_sign_in_by_role_and_sessions_end() {
    let d = dir();
    let app = build(&d, "");
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
    let a = viewer.sign_in("viewer-key-0123456789").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["role"], "viewer");
    assert_eq!(a.json()["name"], "watcher");

    // A key without the console scope, and a wrong key, are refused alike.
    for key in ["plain-key-0123456789", "wrong", ""] {
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
    let _ = std::fs::remove_dir_all(d);
}

#[tokio::test]
async fn the_cookie_is_secure_behind_https() {
    let d = dir();
    let app = build(&d, "");
    let a = send(
        &app,
        Request::post("/console/api/session")
            .header("host", "seam.test")
            .header("origin", "https://seam.test")
            .header("x-forwarded-proto", "https")
            .header("content-type", "application/json")
            .body(json!({ "key": ADMIN_KEY }).to_string().into())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        a.headers["set-cookie"]
            .to_str()
            .unwrap()
            .ends_with("; Secure")
    );
    let _ = std::fs::remove_dir_all(d);
}

#[tokio::test]
async fn changes_need_the_csrf_token_and_this_origin() {
    let d = dir();
    let app = build(&d, "");
    let mut admin = Browser::new(&app);
    admin.sign_in(ADMIN_KEY).await;
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
    let a = send(
        &app,
        Request::post("/console/api/session")
            .header("host", "seam.test")
            .header("origin", "http://evil.test")
            .header("content-type", "application/json")
            .body(json!({ "key": ADMIN_KEY }).to_string().into())
            .unwrap(),
    )
    .await;
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
    let _ = std::fs::remove_dir_all(d);
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let d = dir();
    let app = build(&d, "");
    for i in 0..10 {
        let a = Browser::new(&app).sign_in("wrong").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // The eleventh in the minute is refused, even with the right key.
    let a = Browser::new(&app).sign_in(ADMIN_KEY).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.json()["error"]["code"], "rate_limited");
    assert!(a.headers.contains_key("retry-after"));
    let _ = std::fs::remove_dir_all(d);
}

#[tokio::test]
async fn an_open_server_signs_anyone_in_as_admin() {
    let d = dir();
    let app = build_open(&d);
    let mut b = Browser::new(&app);
    let a = b.sign_in("").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["role"], "admin");
    assert_eq!(a.json()["open"], true);
    let _ = std::fs::remove_dir_all(d);
}
