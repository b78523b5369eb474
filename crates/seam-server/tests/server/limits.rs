//! Limits and budgets through the HTTP surface, in process: tokens per minute reconciled with
//! usage, budgets in USD, team, org and subject scopes, and budgets that survive a restart.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::TempDir;
use super::auth::{APP_KEY, LIMITED_KEY, build_with, chat, limited_key, send};

/// Echo is free; this prices it at $1000 per million tokens, so every answer costs something.
const PRICED: &str = "[pricing.\"echo/echo\"]\ninput_per_mtok = 1000\noutput_per_mtok = 1000\n";

async fn post(
    app: &axum::Router,
    key: &str,
    body: Value,
) -> (StatusCode, axum::http::HeaderMap, String) {
    send(app, "POST", "/v1/chat/completions", Some(key), Some(body)).await
}

fn with_max_tokens(n: u64) -> Value {
    let mut c = chat("chat");
    c["max_tokens"] = json!(n);
    c
}

#[tokio::test]
async fn tokens_per_minute_reserve_max_tokens_and_reconcile_with_usage() {
    let d = TempDir::new("limits");
    let app = build_with(d.path(), true, &limited_key("tpm = 100"));
    // Asking for more than the whole minute's tokens can never fit, and says so.
    let (status, headers, body) = post(&app, LIMITED_KEY, with_max_tokens(200)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body.contains("tokens_limited") && body.contains("lower max_tokens"),
        "{body}"
    );
    assert!(headers.get("retry-after").is_none());
    // Each request reserves ~55 (prompt + max_tokens 50) but uses only a few: reconciled with the
    // reported usage, many fit in a minute where unreconciled reservations would allow one.
    let mut used = 0;
    let mut served = 0;
    loop {
        let (status, headers, body) = post(&app, LIMITED_KEY, with_max_tokens(50)).await;
        if status != StatusCode::OK {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
            assert!(body.contains("tokens_limited"), "{body}");
            let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&wait));
            break;
        }
        let v: Value = serde_json::from_str(&body).unwrap();
        used += v["usage"]["total_tokens"].as_u64().unwrap();
        served += 1;
        assert!(served < 100, "tpm never refused");
    }
    assert!(served >= 2, "reservations were not reconciled with usage");
    // The refused one reserved 55: its prompt estimate (5) plus max_tokens.
    assert!(used + 55 > 100, "refused with room left: used {used}");
}

/// Sends until refused; returns (answers served, their summed x-seam-cost-usd, the refusal).
async fn spend_until_refused(
    app: &axum::Router,
    key: &str,
) -> (u32, f64, axum::http::HeaderMap, String) {
    let mut spent = 0.0;
    for served in 0..200 {
        let (status, headers, body) = post(app, key, with_max_tokens(16)).await;
        if status != StatusCode::OK {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
            return (served, spent, headers, body);
        }
        spent += headers["x-seam-cost-usd"]
            .to_str()
            .unwrap()
            .parse::<f64>()
            .unwrap();
    }
    panic!("the budget never refused");
}

#[tokio::test]
async fn a_daily_budget_refuses_before_it_is_overspent_and_survives_a_restart() {
    let d = TempDir::new("limits");
    let extra = format!(
        "{PRICED}{}",
        limited_key("budget_usd = 0.1\nbudget_period = \"day\"")
    );
    let app = build_with(d.path(), true, &extra);
    let (served, spent, headers, body) = spend_until_refused(&app, LIMITED_KEY).await;
    assert!(
        body.contains("budget_exceeded") && body.contains("today (UTC)"),
        "{body}"
    );
    assert!(
        served >= 2 && spent <= 0.1 + 1e-9,
        "served {served} for ${spent}"
    );
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (1..=86_400).contains(&wait),
        "seconds to midnight UTC: {wait}"
    );
    // Other keys have no budget.
    assert_eq!(
        post(&app, APP_KEY, with_max_tokens(16)).await.0,
        StatusCode::OK
    );
    drop(app);
    // A restarted server reads the day's spend back from the ledger (written within a second).
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let app = build_with(d.path(), true, &extra);
    let (status, _, body) = post(&app, LIMITED_KEY, with_max_tokens(16)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.contains("budget_exceeded"), "{body}");
}

#[tokio::test]
async fn a_team_limit_is_shared_by_the_teams_keys_only() {
    let d = TempDir::new("limits");
    // The app key is in team payments; so is `limited`; `other` is not.
    let extra = format!(
        "{}team = \"payments\"\n[keys.other]\nhash = \"{}\"\nmodels = [\"chat\"]\n[limits.team.payments]\nrpm = 3\n",
        limited_key(""),
        seam_store::keys::hash_secret("sk-seam-test-other-key-0123456789"),
    );
    let app = build_with(d.path(), true, &extra);
    for key in [APP_KEY, LIMITED_KEY, APP_KEY] {
        assert_eq!(post(&app, key, chat("chat")).await.0, StatusCode::OK);
    }
    let (status, _, body) = post(&app, LIMITED_KEY, chat("chat")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("the team payments"), "{body}");
    let (status, _, _) = post(&app, "sk-seam-test-other-key-0123456789", chat("chat")).await;
    assert_eq!(status, StatusCode::OK);
    // Counted in /metrics by code, scope kind, key id, team and alias.
    let (_, _, text) = send(&app, "GET", "/metrics", None, None).await;
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("seam_limit_rejections_total{")
                && l.contains("scope=\"team\"")
                && l.contains("key=\"limited\"")
        })
        .unwrap_or_else(|| panic!("no rejection metric in {text}"));
    for label in [
        "code=\"rate_limited\"",
        "team=\"payments\"",
        "model=\"chat\"",
    ] {
        assert!(line.contains(label), "{line}");
    }
    assert!(!text.contains(LIMITED_KEY));
}

#[tokio::test]
async fn org_limits_cover_every_endpoint_and_key() {
    let d = TempDir::new("limits");
    let app = build_with(
        d.path(),
        true,
        &format!("{}[limits.org]\nrpm = 3\n", limited_key("")),
    );
    assert_eq!(
        send(&app, "GET", "/v1/models", Some(APP_KEY), None).await.0,
        StatusCode::OK
    );
    let emb = json!({"model": "chat", "input": "hello"});
    let (status, _, body) =
        send(&app, "POST", "/v1/embeddings", Some(LIMITED_KEY), Some(emb)).await;
    assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(post(&app, APP_KEY, chat("chat")).await.0, StatusCode::OK);
    for key in [APP_KEY, LIMITED_KEY] {
        let (status, _, body) = post(&app, key, chat("chat")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert!(body.contains("the gateway"), "{body}");
    }
}

#[tokio::test]
async fn subject_limits_apply_per_subject_and_never_echo_it() {
    let d = TempDir::new("limits");
    let app = build_with(d.path(), true, "[limits.subject]\nrpm = 1\n");
    let as_user = |user: &str| {
        let mut c = chat("chat");
        c["user"] = json!(user);
        c
    };
    assert_eq!(
        post(&app, APP_KEY, as_user("alice@example.com")).await.0,
        StatusCode::OK
    );
    let (status, _, body) = post(&app, APP_KEY, as_user("alice@example.com")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        body.contains("this subject") && !body.contains("alice"),
        "{body}"
    );
    assert_eq!(
        post(&app, APP_KEY, as_user("bob@example.com")).await.0,
        StatusCode::OK
    );
    // Requests without a subject are not subject-limited.
    assert_eq!(post(&app, APP_KEY, chat("chat")).await.0, StatusCode::OK);
    assert_eq!(post(&app, APP_KEY, chat("chat")).await.0, StatusCode::OK);
}

/// A Redis that refuses connections, or accepts them and never answers, costs a request at most
/// `limits.redis_timeout_ms` and, once the breaker has opened, nothing: `limits.on_error`
/// applies at once (before: +0.55 s and +6.5 s per request).
#[tokio::test]
async fn a_redis_that_is_down_or_silent_costs_at_most_a_deadline() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("redis://{}", silent.local_addr().unwrap());
    // Accepts every connection and holds it without a byte in answer.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let cases = [
        ("redis://127.0.0.1:1", "open", StatusCode::OK),
        (silent_url.as_str(), "open", StatusCode::OK),
        (
            silent_url.as_str(),
            "closed",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ];
    for (url, on_error, want) in cases {
        let dir = super::TempDir::new("redis-down");
        let toml = format!(
            r#"
[storage]
url = "sqlite://seam.db"
redis_url = "{url}"
[limits]
on_error = "{on_error}"
redis_timeout_ms = 50
[limits.org]
rpm = 100000
[providers.echo]
kind = "echo"
[models.chat]
targets = [{{ provider = "echo", model = "echo" }}]
"#
        );
        let app = seam_server::app(super::state_in(&toml, dir.path(), &[]));
        let started = std::time::Instant::now();
        for _ in 0..20 {
            let (status, _, body) =
                super::call(&app, "POST", "/v1/chat/completions", Some(chat("chat"))).await;
            assert_eq!(status, want, "{url} {on_error}: {body}");
            if want == StatusCode::SERVICE_UNAVAILABLE {
                assert!(body.contains("limits_unavailable"), "{body}");
                assert!(!body.contains("127.0.0.1"), "never the URL: {body}");
            }
        }
        // 20 requests: a few deadlines of 50 ms, then the breaker; 20 × 0.55 s before.
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(4),
            "{url} {on_error}: 20 requests took {took:?}"
        );
    }
    holder.abort();
}
