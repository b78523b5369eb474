//! Stored Responses API conversations over HTTP: `GET`/`DELETE /v1/responses/{id}` and
//! `GET /v1/responses/{id}/input_items`, scoped by the key that stored them, in the store
//! (with a master key) and in memory (without one).

use std::sync::Arc;

use axum::http::StatusCode;
use seam_server::conversations::StoredResponse;
use seam_store::keys::hash_secret;
use serde_json::{Value, json};

use super::auth::send;
use super::{TempDir, state_in};

const KEY_A: &str = "sk-seam-test-owner-0123456789abcdef";
const KEY_B: &str = "sk-seam-test-other-0123456789abcdef";
const KEY_B64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes, base64

fn state(dir: &std::path::Path, extra: &str) -> Arc<seam_server::AppState> {
    let toml = format!(
        r#"
[storage]
url = "sqlite://seam.db"
[providers.echo]
kind = "echo"
[models.chat]
targets = [{{ provider = "echo", model = "echo" }}]
[keys.owner]
hash = "{a}"
models = ["*"]
[keys.other]
hash = "{b}"
models = ["*"]
{extra}
"#,
        a = hash_secret(KEY_A),
        b = hash_secret(KEY_B),
    );
    state_in(&toml, dir, &[("SEAM_MASTER_KEY", KEY_B64)])
}

fn stored(id: &str, key_id: &str) -> StoredResponse {
    StoredResponse {
        id: id.to_owned(),
        key_id: Some(key_id.to_owned()),
        subject: Some("alice".to_owned()),
        created_at: seam_server::audit::now_ms() / 1000,
        input_items: (1..=3)
            .map(|i| {
                json!({"id": format!("msg_{i}"), "type": "message", "role": "user",
                            "content": [{"type": "input_text", "text": format!("turn {i}")}]})
            })
            .collect(),
        response: json!({"id": id, "object": "response", "status": "completed",
                         "output": [{"type": "message", "id": "msg_out", "role": "assistant",
                                     "content": [{"type": "output_text", "text": "hello"}]}]}),
    }
}

fn body(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The owner reads, lists and deletes; the other key sees `404` exactly like an unknown id.
async fn scoped_by_key(state: Arc<seam_server::AppState>) {
    let conv = state.conversations.clone().expect("responses are kept");
    let app = seam_server::app(state);
    let r = stored("resp_test1", "owner");
    conv.put(r.clone()).await.unwrap();

    let (status, _, text) = send(&app, "GET", "/v1/responses/resp_test1", Some(KEY_A), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(body(&text), r.response);

    let (status, _, other) = send(&app, "GET", "/v1/responses/resp_test1", Some(KEY_B), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{other}");
    let (_, _, unknown) = send(&app, "GET", "/v1/responses/resp_nope", Some(KEY_A), None).await;
    assert_eq!(other, unknown, "another key's response looks unknown");
    assert_eq!(body(&other)["error"]["code"], "not_found");
    let (status, _, _) = send(&app, "GET", "/v1/responses/resp_test1", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _, text) = send(
        &app,
        "GET",
        "/v1/responses/resp_test1/input_items?order=asc&limit=2",
        Some(KEY_A),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let page = body(&text);
    assert_eq!(page["object"], "list");
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        (&page["first_id"], &page["last_id"], &page["has_more"]),
        (&json!("msg_1"), &json!("msg_2"), &json!(true))
    );
    let (status, _, text) = send(
        &app,
        "GET",
        "/v1/responses/resp_test1/input_items",
        Some(KEY_B),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    let (status, _, text) = send(
        &app,
        "GET",
        "/v1/responses/resp_test1/input_items?limit=0",
        Some(KEY_A),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert_eq!(body(&text)["error"]["param"], "limit");

    let (status, _, _) = send(
        &app,
        "DELETE",
        "/v1/responses/resp_test1",
        Some(KEY_B),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, text) = send(
        &app,
        "DELETE",
        "/v1/responses/resp_test1",
        Some(KEY_A),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        body(&text),
        json!({"id": "resp_test1", "object": "response", "deleted": true})
    );
    let (status, _, _) = send(&app, "GET", "/v1/responses/resp_test1", Some(KEY_A), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stored_sealed_and_scoped_by_key() {
    let dir = TempDir::new("conversations");
    let st = state(dir.path(), "[audit]\nmaster_key = \"env:SEAM_MASTER_KEY\"");
    scoped_by_key(st).await;
    // It was the store that held it: the table exists in the configured database.
    let db = rusqlite::Connection::open(dir.path().join("seam.db")).unwrap();
    let n: i64 = db
        .query_row("SELECT COUNT(*) FROM responses", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "deleted over HTTP");
}

#[tokio::test]
async fn in_memory_without_a_master_key() {
    let dir = TempDir::new("conversations-mem");
    scoped_by_key(state(dir.path(), "")).await;
}

#[tokio::test]
async fn not_kept_when_store_is_off() {
    let dir = TempDir::new("conversations-off");
    let st = state(dir.path(), "[responses]\nstore = false");
    assert!(st.conversations.is_none());
    let app = seam_server::app(st);
    let (status, _, text) = send(&app, "GET", "/v1/responses/resp_x", Some(KEY_A), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
}
