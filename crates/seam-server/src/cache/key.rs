//! The cache key: SHA-256 over the scope, the route's config fingerprint and a canonical form of
//! the request, so the same question asked with fields in another order, or by another `user`,
//! finds the same entry, and any change that could change the answer does not.

use ring::digest;
use seam_types::chat::ChatRequest;
use serde_json::Value;

pub type Key = [u8; 32];

/// Request fields that never change the answer: who asks (`user`; the scope already says whose
/// entry it is) and what the vendor stores about the call.
const IGNORED: &[&str] = &["user", "metadata", "store"];

/// Bumped whenever the canonical form changes, so old entries (in Redis) are never misread.
const VERSION: &[u8] = b"seam-cache-v2\0";

/// The key of `req` asked within `scope` (`key:ID`, `team:NAME`, `org`) of a route whose
/// answer-relevant config hashes to `fingerprint`.
pub fn derive(req: &ChatRequest, scope: &str, fingerprint: &[u8; 32]) -> Option<Key> {
    let Ok(Value::Object(mut body)) = serde_json::to_value(req) else {
        return None;
    };
    for f in IGNORED {
        body.remove(*f);
    }
    // A client's own body goes to targets of its format as it is: what it holds beyond the chat
    // form (`thinking`, `top_k`, `cache_control`, beta headers) can change the answer.
    if let Some(native) = &req.native {
        let mut own = (*native.body).clone();
        for f in IGNORED.iter().chain(&["stream", "model"]) {
            own.remove(*f);
        }
        let headers = native
            .headers
            .iter()
            .map(|(k, v)| Value::String(format!("{k}: {v}")))
            .collect();
        body.insert(
            "\u{0}native".into(),
            serde_json::json!({"body": own, "headers": Value::Array(headers)}),
        );
    }
    // `stream: false` and no `stream` ask the same; `stream_options` only shapes a stream.
    body.remove("stream");
    let stream = req.is_stream();
    if !stream {
        body.remove("stream_options");
    }
    let mut buf = Vec::with_capacity(1024);
    buf.extend_from_slice(VERSION);
    buf.extend_from_slice(scope.as_bytes());
    buf.push(0);
    buf.extend_from_slice(fingerprint);
    buf.push(u8::from(stream));
    canonical(&Value::Object(body), &mut buf);
    let d = digest::digest(&digest::SHA256, &buf);
    let mut key = [0u8; 32];
    key.copy_from_slice(d.as_ref());
    Some(key)
}

/// JSON with every object's keys sorted, whatever order the map keeps them in.
fn canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(k, out);
                out.push(b':');
                canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(v, out);
            }
            out.push(b']');
        }
        Value::String(s) => string(s, out),
        other => {
            // Numbers, booleans and null: serde_json writes them one way only.
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const FP: [u8; 32] = [7; 32];

    fn key_of(body: &Value, scope: &str) -> Key {
        let req: ChatRequest = serde_json::from_value(body.clone()).unwrap();
        derive(&req, scope, &FP).unwrap()
    }

    fn base() -> Value {
        json!({
            "model": "faq", "temperature": 0.2, "seed": 3,
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"},
            "x_vendor": {"b": 1, "a": [1, 2]}
        })
    }

    #[test]
    fn what_does_not_change_the_answer_does_not_change_the_key() {
        let k = key_of(&base(), "org");
        let same = [
            json!({"x_vendor": {"a": [1, 2], "b": 1}, "seed": 3, "response_format": {"type": "json_object"},
                   "messages": [{"content": "be brief", "role": "system"}, {"content": "hi", "role": "user"}],
                   "temperature": 0.2, "model": "faq"}),
            {
                let mut b = base();
                b["user"] = json!("ann");
                b["metadata"] = json!({"trace": "1"});
                b["store"] = json!(true);
                b["stream"] = json!(false);
                b["stream_options"] = json!({"include_usage": true});
                b
            },
        ];
        for body in same {
            assert_eq!(key_of(&body, "org"), k, "{body}");
        }
    }

    #[test]
    fn what_can_change_the_answer_changes_the_key() {
        let k = key_of(&base(), "org");
        let edits: Vec<fn(&mut Value)> = vec![
            |b| b["model"] = json!("other"),
            |b| b["temperature"] = json!(0.3),
            |b| b["seed"] = json!(4),
            |b| b["top_p"] = json!(0.9),
            |b| b["max_tokens"] = json!(10),
            |b| b["n"] = json!(2),
            |b| b["stop"] = json!(["\n"]),
            |b| b["response_format"] = json!({"type": "text"}),
            |b| b["tool_choice"] = json!("none"),
            |b| b["x_vendor"]["b"] = json!(2),
            |b| b["messages"][1]["content"] = json!("hi!"),
            |b| b["messages"][0]["role"] = json!("user"),
            |b| b["stream"] = json!(true),
            |b| b["messages"].as_array_mut().unwrap().reverse(),
        ];
        for (i, edit) in edits.into_iter().enumerate() {
            let mut b = base();
            edit(&mut b);
            assert_ne!(key_of(&b, "org"), k, "edit {i}: {b}");
        }
        assert_ne!(key_of(&base(), "key:a"), k, "the scope is part of the key");
        let req: ChatRequest = serde_json::from_value(base()).unwrap();
        assert_ne!(derive(&req, "org", &[8; 32]), Some(k), "so is the config");
    }

    #[test]
    fn stream_options_matter_only_to_streams() {
        let mut a = base();
        a["stream"] = json!(true);
        let mut b = a.clone();
        b["stream_options"] = json!({"include_usage": true});
        assert_ne!(key_of(&a, "org"), key_of(&b, "org"));
    }

    proptest! {
        #[test]
        fn any_change_to_a_message_changes_the_key(
            text in "\\PC{0,40}",
            edit in "\\PC{1,4}",
            at in 0usize..41,
        ) {
            let mut b = base();
            b["messages"][1]["content"] = json!(text.clone());
            let before = key_of(&b, "org");
            let cut = text.char_indices().map(|(i, _)| i).chain([text.len()]).nth(at).unwrap_or(text.len());
            let changed = format!("{}{}{}", &text[..cut], edit, &text[cut..]);
            b["messages"][1]["content"] = json!(changed);
            prop_assert_ne!(key_of(&b, "org"), before);
        }

        #[test]
        fn field_order_never_matters(seed in any::<u64>()) {
            // The same fields, inserted in an order drawn from the seed.
            let fields = [
                ("model", json!("faq")), ("seed", json!(3)), ("temperature", json!(0.2)),
                ("messages", json!([{"role": "user", "content": "hi"}])),
                ("top_p", json!(0.5)), ("x_a", json!({"k": [1, {"z": 1, "y": 2}]})),
            ];
            let mut order: Vec<usize> = (0..fields.len()).collect();
            let mut s = seed;
            for i in (1..order.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (s >> 33) as usize % (i + 1));
            }
            let text = |idx: &[usize]| {
                let parts: Vec<String> = idx.iter().map(|&i| format!("{:?}:{}", fields[i].0, fields[i].1)).collect();
                format!("{{{}}}", parts.join(","))
            };
            let natural: Vec<usize> = (0..fields.len()).collect();
            let a: ChatRequest = serde_json::from_str(&text(&natural)).unwrap();
            let b: ChatRequest = serde_json::from_str(&text(&order)).unwrap();
            prop_assert_eq!(derive(&a, "org", &FP), derive(&b, "org", &FP));
        }
    }
}
