//! Metric labels come only from names a config chose: a client's model string under direct
//! addressing — personal data, a raw CR, a quote — is the fixed label `direct`.

use axum::http::StatusCode;
use serde_json::json;

use super::{TempDir, call, state_in};

#[tokio::test]
async fn client_model_names_never_become_metric_labels() {
    let dir = TempDir::new("labels");
    let toml = r#"
[audit]
enabled = false
[providers.echo]
kind = "echo"
[models.chat]
targets = [{ provider = "echo", model = "echo" }]
"#;
    let app = seam_server::app(state_in(toml, dir.path(), &[]));
    let hostile = [
        "echo/card-0-john.doe@example.org",
        "echo/line\rbreak-4111111111111111",
        "echo/quote\"brace}",
    ];
    for model in hostile.iter().copied().chain(["chat"]) {
        for stream in [false, true] {
            let body = json!({"model": model, "stream": stream,
                "messages": [{"role": "user", "content": "hi"}]});
            let (status, _, text) = call(&app, "POST", "/v1/chat/completions", Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{model:?}: {text}");
        }
    }
    let (status, _, metrics) = call(&app, "GET", "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    // Labels only: metric names and help texts are Seam's own words ("online" holds "line").
    let labels: String = metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('{').map(|(_, labels)| labels))
        .collect::<Vec<_>>()
        .join("\n");
    for needle in [
        "john.doe",
        "example.org",
        "4111111111111111",
        "line",
        "quote",
        "\r",
    ] {
        assert!(
            !labels.contains(needle),
            "{needle:?} reached /metrics:\n{}",
            labels
                .lines()
                .filter(|l| l.contains(needle))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(metrics.contains("model=\"direct\""), "{metrics}");
    // Configured names stay labels.
    assert!(metrics.contains("model=\"echo\""), "{metrics}");
}
