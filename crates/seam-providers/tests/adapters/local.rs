//! `kind = "local"`: embeddings from the in-process all-MiniLM-L6-v2 model, no network. Skipped
//! unless the model is installed (`seam models fetch minilm`), failing then when
//! `SEAM_REQUIRE_MODELS=1`; the missing-model answer is checked either way.

use base64::Engine as _;
use seam_providers::ProviderError;
use serde_json::json;

use crate::{ask, embed, provider};

fn installed_dir() -> Option<std::path::PathBuf> {
    let wheel = seam_ner::fetch::WHEEL_MINILM;
    let dir = wheel.default_dir().filter(|d| wheel.is_installed(d));
    if dir.is_none() {
        assert!(
            std::env::var("SEAM_REQUIRE_MODELS").as_deref() != Ok("1"),
            "SEAM_REQUIRE_MODELS=1 but no model in {:?}",
            wheel.default_dir()
        );
        eprintln!(
            "skipped: no model installed; run `seam models fetch minilm` (or set SEAM_MODELS_DIR)"
        );
    }
    dir
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[tokio::test]
async fn local_embeddings_rank_similar_sentences_higher() {
    let Some(dir) = installed_dir() else { return };
    let p = provider(
        &format!(
            "kind = \"local\"\nmodel_dir = {:?}",
            dir.display().to_string()
        ),
        &[],
    );
    let r = p
        .embeddings(
            "all-minilm-l6-v2",
            &embed(json!({"model": "e", "input": [
                "A man is eating food.",
                "A man is eating a piece of bread.",
                "The stock market fell sharply on Monday.",
            ]})),
        )
        .await
        .unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["model"], "all-minilm-l6-v2");
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
    let e: Vec<Vec<f32>> = (0..3).map(|i| floats(&v["data"][i]["embedding"])).collect();
    assert!(e.iter().all(|x| x.len() == 384));
    assert!((cosine(&e[0], &e[0]) - 1.0).abs() < 1e-4);
    assert!(cosine(&e[0], &e[1]) > cosine(&e[0], &e[2]) + 0.3);
    // 6, 9 and 8 WordPiece tokens (Hugging Face's tokenizer counts the same).
    assert_eq!(v["usage"]["prompt_tokens"], 6 + 9 + 8);

    // base64, as the openai SDK asks: the same floats.
    let r = p
        .embeddings(
            "all-minilm-l6-v2",
            &embed(json!({"model": "e", "input": "A man is eating food.", "encoding_format": "base64"})),
        )
        .await
        .unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(r.data[0].embedding.as_str().unwrap())
        .unwrap();
    let b: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(b.len(), 384);
    assert!(cosine(&b, &e[0]) > 0.9999);

    let err = p.chat("all-minilm-l6-v2", &ask("hi")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unsupported(_)), "{err}");
}

#[tokio::test]
async fn a_missing_local_model_is_a_503_that_says_how_to_install_it() {
    let p = provider(
        "kind = \"local\"\nmodel_dir = \"/nonexistent/seam-minilm\"",
        &[],
    );
    let err = p
        .embeddings("m", &embed(json!({"model": "e", "input": "hello"})))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 503);
    assert!(err.is_retryable());
    let api = err.to_api_error("local/m");
    assert!(
        api.message.contains("run `seam models fetch minilm`"),
        "{}",
        api.message
    );
}
