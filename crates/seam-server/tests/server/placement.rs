//! Placement a client asks for (`x-seam-placement`) and a key is held to (`[keys.NAME]
//! placement`, `POST /admin/keys`), as a client sees it: which target answers, what is refused
//! before any upstream call, what the route reason and the audit trail say, and that the exact
//! cache never answers across placements. Two providers on one mock: `private` (trust private,
//! region eu) and `vendor` (trust vendor, region us); every alias lists the vendor first, so an
//! unconstrained request goes to the vendor.

use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use seam_store::keys::hash_secret;
use seam_testkit::MockUpstream;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{TempDir, events, state_in};

const EU_KEY: &str = "sk-seam-placement-test-eu-0123456789";
const OPEN_KEY: &str = "sk-seam-placement-test-open-01234567";
const ADMIN_KEY: &str = "placement-admin-key-0123456789";
const HEADER: &str = "x-seam-placement";

struct Setup {
    app: axum::Router,
    _dir: TempDir,
}

fn setup(mock: &MockUpstream) -> Setup {
    let dir = TempDir::new("placement");
    let toml = format!(
        r#"
[storage]
url = "sqlite://seam.db"
[audit]
default_class = "metadata"
[admin]
key = "env:SEAM_ADMIN_KEY"
[providers.private]
kind = "openai"
base_url = "{url}"
trust = "private"
region = "eu"
[providers.vendor]
kind = "openai"
base_url = "{url}"
trust = "vendor"
region = "us"
[models.chat]
targets = [{{ provider = "vendor", model = "m-vendor" }}, {{ provider = "private", model = "m-private" }}]
[models.cached]
targets = [{{ provider = "vendor", model = "m-vendor" }}, {{ provider = "private", model = "m-private" }}]
cache = {{ ttl_s = 60, scope = "org" }}
[models.embed]
targets = [{{ provider = "vendor", model = "e-vendor" }}, {{ provider = "private", model = "e-private" }}]
[models.eu-only]
placement = {{ regions = ["eu"] }}
targets = [{{ provider = "vendor", model = "m-vendor" }}, {{ provider = "private", model = "m-private" }}]
[keys.eu]
hash = "{eu}"
models = ["*"]
placement = "trust=private;region=eu"
[keys.open]
hash = "{open}"
models = ["*"]
"#,
        url = mock.openai_base_url(),
        eu = hash_secret(EU_KEY),
        open = hash_secret(OPEN_KEY),
    );
    let state = state_in(&toml, dir.path(), &[("SEAM_ADMIN_KEY", ADMIN_KEY)]);
    Setup {
        app: seam_server::app(state),
        _dir: dir,
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or(""))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

async fn send(
    app: &axum::Router,
    method: &str,
    path: &str,
    key: &str,
    placement: &[&str],
    body: Option<Value>,
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {key}"));
    for p in placement {
        req = req.header(HEADER, *p);
    }
    let body = body.map_or(axum::body::Body::empty(), |b| {
        axum::body::Body::from(b.to_string())
    });
    let resp = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn chat(model: &str, stream: bool, text: &str) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]})
}

async fn ask(app: &axum::Router, key: &str, placement: &[&str], model: &str) -> Reply {
    send(
        app,
        "POST",
        "/v1/chat/completions",
        key,
        placement,
        Some(chat(model, false, "where does this go")),
    )
    .await
}

/// The newest audit record.
async fn last_record(app: &axum::Router) -> Value {
    let r = send(app, "GET", "/admin/audit?limit=1000", ADMIN_KEY, &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let records = r.json()["records"].as_array().unwrap().clone();
    records
        .into_iter()
        .max_by_key(|r| r["seq"].as_i64().unwrap())
        .unwrap()
}

#[tokio::test]
async fn the_header_narrows_to_the_private_target_and_says_so() {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock);
    let r = ask(&s.app, OPEN_KEY, &[], "chat").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("x-seam-route"), "vendor/m-vendor");
    assert!(!r.header("x-seam-route-reason").contains("placement"));
    assert_eq!(last_record(&s.app).await["placement"], Value::Null);

    for asked in [
        "trust=private",
        " region = eu ",
        "trust=private;region=eu,ch",
    ] {
        let r = ask(&s.app, OPEN_KEY, &[asked], "chat").await;
        assert_eq!(r.status, StatusCode::OK, "{asked}: {}", r.body);
        assert_eq!(r.header("x-seam-route"), "private/m-private", "{asked}");
    }
    assert_eq!(mock.hits("m-vendor"), 1, "only the unconstrained request");
    let r = ask(&s.app, OPEN_KEY, &["trust=private"], "chat").await;
    assert!(
        r.header("x-seam-route-reason")
            .ends_with("; placement trust=private"),
        "{}",
        r.header("x-seam-route-reason")
    );
    let rec = last_record(&s.app).await;
    assert_eq!(
        (&rec["placement"], &rec["route"]),
        (&json!("trust=private"), &json!("private/m-private"))
    );
}

#[tokio::test]
async fn a_placement_nothing_satisfies_is_503_before_any_upstream_call() {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock);
    for (model, asked, shown) in [
        ("chat", "region=mars", "region=mars"),
        // The alias allows eu only: asking for us leaves nothing, it does not reach us.
        ("eu-only", "region=us", "region="),
        ("eu-only", "trust=vendor", "trust=vendor;region=eu"),
    ] {
        let r = ask(&s.app, OPEN_KEY, &[asked], model).await;
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{asked}: {}",
            r.body
        );
        let e = &r.json()["error"];
        assert_eq!(e["code"], "no_eligible_target", "{asked}");
        assert!(
            e["message"].as_str().unwrap().contains(shown),
            "{asked}: {e}"
        );
        assert_eq!(r.header("x-seam-attempts"), "0");
        assert!(
            r.header("x-seam-route-reason")
                .ends_with(&format!("; placement {shown}")),
            "{}",
            r.header("x-seam-route-reason")
        );
        let rec = last_record(&s.app).await;
        assert_eq!(
            (&rec["status"], &rec["error_code"], &rec["placement"]),
            (&json!(503), &json!("no_eligible_target"), &json!(shown))
        );
    }
    assert!(mock.requests().is_empty(), "the mock received nothing");
}

#[tokio::test]
async fn a_keys_placement_holds_every_request_and_the_header_cannot_widen_it() {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock);
    let r = ask(&s.app, EU_KEY, &[], "chat").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("x-seam-route"), "private/m-private");
    assert_eq!(
        last_record(&s.app).await["placement"],
        "trust=private;region=eu"
    );
    for widen in [
        "trust=vendor",
        "trust=vendor,private;region=us",
        "region=us",
    ] {
        let r = ask(&s.app, EU_KEY, &[widen], "chat").await;
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{widen}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["code"], "no_eligible_target");
    }
    // Narrowing within the key's placement is fine.
    let r = ask(&s.app, EU_KEY, &["region=eu,us"], "chat").await;
    assert_eq!(r.header("x-seam-route"), "private/m-private");
    assert_eq!(mock.hits("m-vendor"), 0, "the key never reached a vendor");
}

#[tokio::test]
async fn bad_header_values_are_400_naming_the_header() {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock);
    let long = format!("region={}", "a".repeat(600));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["zone=eu"], "unknown dimension"),
        (vec!["trust=public"], "unknown trust"),
        (vec!["region="], "empty value"),
        (vec!["region=eu,,ch"], "empty value"),
        (vec![""], "is empty"),
        (vec!["trust=private;trust=vendor"], "twice"),
        (vec![long.as_str()], "longer than 512"),
        (vec!["trust=private", "region=eu"], "more than once"),
    ];
    for (values, says) in &cases {
        for (path, body) in [
            ("/v1/chat/completions", chat("chat", false, "hi")),
            ("/v1/chat/completions", chat("chat", true, "hi")),
            ("/v1/embeddings", json!({"model": "embed", "input": "hi"})),
        ] {
            let r = send(&s.app, "POST", path, OPEN_KEY, values, Some(body)).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{values:?} {path}: {}",
                r.body
            );
            let e = &r.json()["error"];
            assert_eq!(e["type"], "invalid_request_error", "{values:?}");
            assert_eq!(e["param"], HEADER, "{values:?}");
            assert!(
                e["message"].as_str().unwrap().contains(says),
                "{values:?}: {e}"
            );
        }
    }
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn streams_and_embeddings_honour_the_placement() {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock);
    let r = send(
        &s.app,
        "POST",
        "/v1/chat/completions",
        OPEN_KEY,
        &["trust=private"],
        Some(chat("chat", true, "stream it")),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("x-seam-route"), "private/m-private");
    assert!(
        r.header("x-seam-route-reason")
            .ends_with("; placement trust=private")
    );
    let (evs, done) = events(&r.body);
    assert!(done && !evs.is_empty(), "{}", r.body);
    assert_eq!(last_record(&s.app).await["placement"], "trust=private");
    let r = send(
        &s.app,
        "POST",
        "/v1/chat/completions",
        OPEN_KEY,
        &["region=mars"],
        Some(chat("chat", true, "stream it")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);

    let embed = json!({"model": "embed", "input": "vectors please"});
    let r = send(
        &s.app,
        "POST",
        "/v1/embeddings",
        OPEN_KEY,
        &[],
        Some(embed.clone()),
    )
    .await;
    assert_eq!(r.header("x-seam-route"), "vendor/e-vendor", "{}", r.body);
    let r = send(
        &s.app,
        "POST",
        "/v1/embeddings",
        OPEN_KEY,
        &["trust=private"],
        Some(embed.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("x-seam-route"), "private/e-private");
    assert_eq!(last_record(&s.app).await["placement"], "trust=private");
    let r = send(
        &s.app,
        "POST",
        "/v1/embeddings",
        EU_KEY,
        &["trust=vendor"],
        Some(embed),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(
        (
            mock.hits("m-vendor"),
            mock.hits("e-vendor"),
            mock.hits("e-private")
        ),
        (0, 1, 1)
    );
}

/// An org-wide cache entry answered by the vendor must not answer a request held to private
/// targets (by its header or by its key), and the other way round.
#[tokio::test]
async fn the_cache_never_answers_across_placements() {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock);
    let asked = |key: &'static str, placement: &'static [&'static str]| {
        let app = s.app.clone();
        async move {
            let r = send(
                &app,
                "POST",
                "/v1/chat/completions",
                key,
                placement,
                Some(chat("cached", false, "the same question")),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            (
                r.header("x-seam-cache").to_owned(),
                r.header("x-seam-route").to_owned(),
                // The mock numbers its answers: a replay carries the stored answer's id.
                r.json()["id"].clone(),
            )
        }
    };
    let (cache, route, vendor_answer) = asked(OPEN_KEY, &[]).await;
    assert_eq!(
        (cache.as_str(), route.as_str()),
        ("miss", "vendor/m-vendor")
    );
    let (cache, route, _) = asked(OPEN_KEY, &[]).await;
    assert_eq!((cache.as_str(), route.as_str()), ("hit", "vendor/m-vendor"));

    let (cache, route, private_answer) = asked(OPEN_KEY, &["trust=private"]).await;
    assert_eq!(
        (cache.as_str(), route.as_str()),
        ("miss", "private/m-private"),
        "a vendor's answer never serves a private request"
    );
    assert_ne!(private_answer, vendor_answer);
    let (cache, route, again) = asked(OPEN_KEY, &["trust=private"]).await;
    assert_eq!(
        (cache.as_str(), route.as_str()),
        ("hit", "private/m-private")
    );
    assert_eq!(again, private_answer);

    // The eu key shares the org scope, but not the placement.
    let (cache, route, _) = asked(EU_KEY, &[]).await;
    assert_eq!(
        (cache.as_str(), route.as_str()),
        ("miss", "private/m-private")
    );
    assert_eq!((mock.hits("m-vendor"), mock.hits("m-private")), (1, 2));
    assert_eq!(
        last_record(&s.app).await["placement"],
        "trust=private;region=eu"
    );
}

#[tokio::test]
async fn the_admin_api_takes_shows_and_checks_a_keys_placement() {
    let mock = MockUpstream::start().await.unwrap();
    let s = setup(&mock);
    let bad = send(
        &s.app,
        "POST",
        "/admin/keys",
        ADMIN_KEY,
        &[],
        Some(json!({"name": "x", "models": ["*"], "placement": "trust=nobody"})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert_eq!(bad.json()["error"]["param"], "placement");

    let made = send(
        &s.app,
        "POST",
        "/admin/keys",
        ADMIN_KEY,
        &[],
        Some(json!({"name": "eu-app", "models": ["*"], "placement": "region=eu; trust=private"})),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let made = made.json();
    let id = made["id"].as_str().unwrap();
    let shown = send(
        &s.app,
        "GET",
        &format!("/admin/keys/{id}"),
        ADMIN_KEY,
        &[],
        None,
    )
    .await;
    assert_eq!(
        shown.json()["scope"]["placement"],
        "trust=private;region=eu"
    );

    let secret = made["key"].as_str().unwrap();
    let r = ask(&s.app, secret, &[], "chat").await;
    assert_eq!(r.header("x-seam-route"), "private/m-private", "{}", r.body);
    let r = ask(&s.app, secret, &["trust=vendor"], "chat").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(mock.hits("m-vendor"), 0);
}
