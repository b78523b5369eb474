//! The audit trail as an auditor works it: `seam serve` writes records, `seam audit` verifies,
//! exports, shows, erases and purges them; tampering is caught; a `kill -9` loses no record of
//! an answered request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// 32 bytes (0, 1, …, 31) in base64: the master key every test log is written with.
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// Another valid key (100, 101, …, 131).
const OTHER_KEY: &str = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";
const DAY_MS: i64 = 86_400_000;

/// A temp dir with `seam.toml` (echo provider, SQLite log `audit.db` beside it, keyed audit).
struct Env {
    dir: PathBuf,
    config: PathBuf,
    key: &'static str,
}

impl Env {
    fn new(name: &str, audit_extra: &str) -> Env {
        let dir =
            std::env::temp_dir().join(format!("seam-audit-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("seam.toml");
        std::fs::write(
            &config,
            format!(
                "[storage]\nurl = \"sqlite://audit.db\"\n\
                 [audit]\nmaster_key = \"env:SEAM_MASTER_KEY\"\ndefault_class = \"full\"\n{audit_extra}\n\
                 [providers.e]\nkind = \"echo\"\n\
                 [models.chat]\ntargets = [{{ provider = \"e\", model = \"echo\" }}]\n"
            ),
        )
        .unwrap();
        Env {
            dir,
            config,
            key: KEY,
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.join("audit.db")
    }

    fn seam(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_seam"));
        c.current_dir(&self.dir)
            .env("SEAM_MASTER_KEY", self.key)
            .env_remove("SEAM_CONFIG")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY");
        c
    }

    /// `seam audit ARGS --config seam.toml`.
    fn audit(&self, args: &[&str]) -> Output {
        self.seam()
            .arg("audit")
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .unwrap()
    }

    /// `seam audit export ARGS`: the records, parsed.
    fn export(&self, args: &[&str]) -> Vec<Value> {
        let out = self.audit(&[&["export"], args].concat());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn show(&self, id: &str) -> Value {
        let out = self.audit(&["show", id]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `seam audit verify`, which must pass; returns its stdout.
    fn verify_ok(&self) -> String {
        let out = self.audit(&["verify"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    fn serve(&self) -> Server {
        let mut child = self
            .seam()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&self.config)
            .env("SEAM_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Drain stderr for the server's whole life so a full pipe never blocks it.
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("seam exited or did not listen in time");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        Server { child, addr }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    /// SIGKILL: nothing is flushed on the way out.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Resp {
    status: u16,
    id: Option<String>,
    body: String,
}

/// One request on its own connection; `None` when the connection failed (the server is gone).
fn post(addr: &str, body: &Value, headers: &[(&str, &str)]) -> Option<Resp> {
    let body = body.to_string();
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let id = lines.find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("x-seam-request-id")
            .then(|| v.trim().to_owned())
    });
    Some(Resp {
        status,
        id,
        body: body.to_owned(),
    })
}

fn chat(addr: &str, text: &str, user: Option<&str>, headers: &[(&str, &str)]) -> Resp {
    let mut body = json!({"model": "chat", "messages": [{"role": "user", "content": text}]});
    if let Some(u) = user {
        body["user"] = json!(u);
    }
    let r = post(addr, &body, headers).expect("the request failed");
    assert_eq!(r.status, 200, "{}", r.body);
    r
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Writes records straight into the log, as `seam serve` would have `age_days` ago (the CLI
/// cannot move the clock, and retention needs old records).
fn seed(db: &Path, records: &[(&str, i64)]) {
    seed_kinds(
        db,
        &records
            .iter()
            .map(|&(id, age)| (id, age, seam_store::RecordKind::Request))
            .collect::<Vec<_>>(),
    );
}

/// [`seed`], each record of the kind given.
fn seed_kinds(db: &Path, records: &[(&str, i64, seam_store::RecordKind)]) {
    let mut log = seam_store::AuditLog::open(&seam_store::StoreConfig {
        backend: seam_store::BackendConfig::Sqlite {
            path: db.to_owned(),
        },
        master_key: Some(std::array::from_fn(|i| i as u8)),
        retention: Vec::new(),
    })
    .unwrap();
    let batch: Vec<_> = records
        .iter()
        .map(|&(id, age_days, kind)| seam_store::AuditRecord {
            id: id.to_owned(),
            time_ms: now_ms() - age_days * DAY_MS,
            key_id: None,
            subject: Some("old-user".to_owned()),
            tags: Vec::new(),
            endpoint: "chat".to_owned(),
            model: Some("chat".to_owned()),
            route: Some("e/echo".to_owned()),
            status: 200,
            error_code: None,
            attempts: Vec::new(),
            findings: Vec::new(),
            usage: None,
            cost_usd: None,
            latency_ms: 1.0,
            ttft_ms: None,
            cache_hit: false,
            placement: None,
            kind,
            count: None,
            prompt: None,
            variant: None,
            trace_id: None,
            citations: Vec::new(),
            features: Vec::new(),
            class: seam_store::RetentionClass::Full,
            payload: seam_store::Payload {
                client_request: Some(json!({"old": id})),
                upstream_request: None,
                response: None,
            },
        })
        .collect();
    log.append(&batch).unwrap();
}

/// The auditor's commands end to end: verify, export (and its filters), show, erase, purge.
#[test]
fn verify_export_show_erase_and_purge_a_served_log() {
    let env = Env::new(
        "commands",
        "[[audit.retention]]\nclass = \"full\"\npayload_days = 10\nrecord_days = 30\n",
    );
    // seq 1 is past record_days, seq 2 only past payload_days.
    seed(&env.db(), &[("old-40d", 40), ("old-20d", 20)]);
    let server = env.serve();
    let mut alice = Vec::new();
    for i in 0..3 {
        let text = format!("hello alice {i}");
        let r = chat(
            &server.addr,
            &text,
            None,
            &[("x-seam-subject", "alice"), ("x-seam-tags", "t1,t2")],
        );
        alice.push((r.id.unwrap(), text));
    }
    let mut bob = Vec::new();
    for i in 0..2 {
        bob.push(
            chat(&server.addr, &format!("hi bob {i}"), Some("bob"), &[])
                .id
                .unwrap(),
        );
    }
    server.kill();

    let ok = env.verify_ok();
    assert!(ok.starts_with("ok: 7 records intact (seq 1..=7)"), "{ok}");

    let all = env.export(&[]);
    assert_eq!(all.len(), 7);
    for r in &all {
        for field in [
            "id",
            "time",
            "subject",
            "key_id",
            "model",
            "route",
            "status",
            "attempts",
            "findings",
            "usage",
            "cost_usd",
            "latency_ms",
            "payload",
        ] {
            assert!(r.get(field).is_some(), "no `{field}` in {r}");
        }
    }
    let seqs: Vec<_> = all.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>(), "exported in chain order");

    let only_alice = env.export(&["--subject", "alice"]);
    let ids: Vec<_> = only_alice
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        alice.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>()
    );
    for (r, (_, text)) in only_alice.iter().zip(&alice) {
        assert_eq!(r["subject"], "alice");
        assert_eq!(r["tags"], json!(["t1", "t2"]));
        assert_eq!(r["model"], "chat");
        assert_eq!(r["route"], "e/echo");
        assert_eq!(r["status"], 200);
        assert_eq!(r["attempts"].as_array().unwrap().len(), 1, "{r}");
        assert_eq!(r["class"], "full");
        assert_eq!(
            r["payload"]["client_request"]["messages"][0]["content"],
            *text
        );
    }
    let from_body = env.export(&["--subject", "bob"]);
    assert_eq!(from_body.len(), 2, "the body's `user` is the subject");
    assert!(env.export(&["--subject", "nobody"]).is_empty());

    // --since and -o: the live records only, to a file.
    let file = env.dir.join("out.jsonl");
    let since = (now_ms() - DAY_MS).to_string();
    let out = env.audit(&["export", "--since", &since, "-o", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(stderr(&out).trim(), "seam: exported 5 records");
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 5);

    let (first, text) = &alice[0];
    let shown = env.show(first);
    assert_eq!(shown["id"], *first);
    assert_eq!(shown["payload_state"], "kept");
    assert_eq!(
        shown["payload"]["client_request"]["messages"][0]["content"],
        *text
    );
    let answer = shown["payload"]["response"]["choices"][0]["message"]["content"].clone();
    assert_eq!(answer, format!("echo: {text}"), "{shown}");

    let out = env.audit(&["erase", "--subject", "alice"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with(
            "erased: 3 records' payloads made unreadable (key destroyed: yes); tombstone at seq 8"
        ),
        "{said}"
    );
    for (id, text) in &alice {
        let r = env.show(id);
        assert_eq!(r["payload"], Value::Null, "{r}");
        assert_eq!(r["payload_state"], "erased");
        assert!(!r.to_string().contains(text.as_str()), "{r}");
    }
    assert_eq!(env.show(&bob[0])["payload_state"], "kept");
    let ok = env.verify_ok();
    assert!(ok.starts_with("ok: 8 records intact (seq 1..=8)"), "{ok}");

    let out = env.audit(&["purge"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "purged: 2 payloads, 1 records; the chain now starts at seq 2"
    );
    let ok = env.verify_ok();
    assert!(ok.starts_with("ok: 7 records intact (seq 2..=8)"), "{ok}");
    let gone = env.audit(&["show", "old-40d"]);
    assert_eq!(gone.status.code(), Some(1));
    let kept = env.show("old-20d");
    assert_eq!(kept["payload_state"], "purged", "{kept}");
    assert_eq!(kept["payload"], Value::Null);
    assert_eq!(
        env.show(&bob[1])["payload_state"],
        "kept",
        "recent payloads stay"
    );

    // Nothing left to do: a second purge changes nothing and the chain stays intact.
    let out = env.audit(&["purge"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "purged: 0 payloads, 0 records"
    );
    env.verify_ok();
}

/// Edits made to the database behind Seam's back are named by `seq` on one stderr line, exit 3.
/// `seam audit erase` deletes the subject's stored Responses API conversations and says how
/// many; `seam audit purge` drops expired ones.
#[test]
fn erase_and_purge_reach_stored_responses() {
    let env = Env::new("responses", "");
    let mut store = seam_store::ResponseStore::open(&seam_store::StoreConfig {
        backend: seam_store::BackendConfig::Sqlite { path: env.db() },
        master_key: Some(std::array::from_fn(|i| i as u8)),
        retention: Vec::new(),
    })
    .unwrap();
    let now = now_ms() / 1000;
    for (id, subject, expires) in [
        ("resp_1", Some("carol"), now + 3600),
        ("resp_2", Some("carol"), now + 3600),
        ("resp_3", None, now + 3600),
        ("resp_4", None, now - 1),
    ] {
        let r = seam_store::StoredResponse {
            id: id.to_owned(),
            key_id: None,
            subject: subject.map(str::to_owned),
            created_at: now - 10,
            input_items: vec![json!({"id": "msg_1", "content": "hi"})],
            response: json!({"id": id, "object": "response"}),
        };
        store.put(&r, expires).unwrap();
    }
    drop(store);
    let out = env.audit(&["erase", "--subject", "carol"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.trim_end().ends_with("; 2 stored responses deleted"),
        "{said}"
    );
    let out = env.audit(&["purge"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "purged: 0 payloads, 0 records, 1 expired stored responses"
    );
}

#[test]
fn verify_names_the_first_tampered_record() {
    let env = Env::new("tamper", "");
    let server = env.serve();
    let ids: Vec<_> = (0..5)
        .map(|i| {
            chat(&server.addr, &format!("record {i}"), None, &[])
                .id
                .unwrap()
        })
        .collect();
    server.kill();
    env.verify_ok();
    let src = rusqlite::Connection::open(env.db()).unwrap();

    let cases: &[(&str, &str, &str)] = &[
        (
            "status",
            "UPDATE audit_log SET status = 500 WHERE seq = 3",
            "seq 3 (id {3}): hash mismatch: a column of this record was changed",
        ),
        (
            "subject",
            "UPDATE audit_log SET subject_hash = 'x' WHERE seq = 2",
            "seq 2 (id {2}): hash mismatch",
        ),
        (
            "delete",
            "DELETE FROM audit_log WHERE seq = 3",
            "seq 4 (id {4}): seq gap: records before this one were deleted",
        ),
        (
            "swap",
            "UPDATE audit_log SET seq = -1 WHERE seq = 2; \
             UPDATE audit_log SET seq = 2 WHERE seq = 3; \
             UPDATE audit_log SET seq = 3 WHERE seq = -1;",
            "seq 2 (id {3}): prev_hash does not link to the previous record",
        ),
        (
            "payload",
            "UPDATE audit_log SET payload = zeroblob(length(payload)) WHERE seq = 4",
            "seq 4 (id {4}): the payload does not match its digest",
        ),
        (
            "truncate",
            "DELETE FROM audit_log WHERE seq = 5",
            "records were deleted from the end",
        ),
    ];
    for (name, sql, expect) in cases {
        let copy = Env::new(&format!("tamper-{name}"), "");
        let dest = copy.db();
        src.execute("VACUUM INTO ?1", [dest.to_str().unwrap()])
            .unwrap();
        rusqlite::Connection::open(&dest)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        let out = copy.audit(&["verify"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{name}: {err}");
        assert!(out.stdout.is_empty(), "{name}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        let mut expect = (*expect).to_owned();
        for (i, id) in ids.iter().enumerate() {
            expect = expect.replace(&format!("{{{}}}", i + 1), id);
        }
        assert!(
            err.starts_with("seam: the audit log is NOT intact: ") && err.contains(&expect),
            "{name}: expected `{expect}` in {err}"
        );
    }
}

/// With sync durability an answered request has its record: SIGKILL under load loses none, the
/// log verifies, and a restarted server appends to the same chain.
#[test]
fn kill_9_under_load_loses_no_answered_request() {
    let env = Env::new("kill", "durability = \"sync\"");
    let server = env.serve();
    let addr = server.addr.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let clients: Vec<_> = (0..8)
        .map(|t| {
            let (addr, stop, tx) = (addr.clone(), stop.clone(), tx.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"model": "chat", "messages": [{"role": "user", "content": format!("t{t} n{i}")}]});
                    // After the kill, connections fail or are cut: those requests were never answered.
                    if let Some(r) = post(&addr, &body, &[])
                        && r.status == 200
                        && r.body.contains("echo: ")
                    {
                        let _ = tx.send(r.id.unwrap());
                    }
                    i += 1;
                }
            })
        })
        .collect();
    drop(tx);
    // Collect answers for 1.5 s of load, then kill while requests are in flight.
    let mut answered = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(1500);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Ok(id) = rx.recv_timeout(left) {
            answered.push(id);
        }
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    answered.extend(rx.try_iter());
    assert!(
        answered.len() >= 8,
        "too few answers to mean anything: {}",
        answered.len()
    );

    let ok = env.verify_ok();
    let logged: std::collections::HashSet<String> = env
        .export(&[])
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<_> = answered.iter().filter(|id| !logged.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered requests have no record: {missing:?}",
        missing.len(),
        answered.len()
    );
    assert!(
        ok.contains(&format!("ok: {} records intact", logged.len())),
        "{ok}"
    );

    // The same database serves again and the chain continues.
    let server = env.serve();
    let more: Vec<_> = (0..3)
        .map(|i| {
            chat(&server.addr, &format!("after {i}"), None, &[])
                .id
                .unwrap()
        })
        .collect();
    server.kill();
    let after = env.export(&[]);
    assert_eq!(after.len(), logged.len() + 3);
    let tail: Vec<_> = after[logged.len()..]
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tail, more);
    let ok = env.verify_ok();
    assert!(
        ok.contains(&format!("ok: {} records intact", logged.len() + 3)),
        "{ok}"
    );
}

/// `export --kind` selects one kind of record: the MCP tool calls apart from the requests.
#[test]
fn export_selects_records_by_kind() {
    use seam_store::RecordKind::{Request, ToolCall};
    let env = Env::new("kinds", "");
    seed_kinds(
        &env.db(),
        &[("r1", 0, Request), ("t1", 0, ToolCall), ("r2", 0, Request)],
    );
    let ids = |kind: &str| -> Vec<String> {
        env.export(&["--kind", kind])
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("tool_call"), ["t1"]);
    assert_eq!(ids("request"), ["r1", "r2"]);
    assert!(ids("erasure").is_empty());
    let tool = env.export(&["--kind", "tool_call"]);
    assert_eq!(tool[0]["kind"], "tool_call");
    assert_eq!(tool[0]["payload"]["client_request"], json!({"old": "t1"}));
    let out = env.audit(&["export", "--kind", "call"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses it");
    assert!(stderr(&out).contains("tool_call"), "{}", stderr(&out));
}

/// Every `seam audit` failure is one line on stderr and a non-zero exit.
#[test]
fn audit_errors_are_one_line() {
    let env = Env::new("errors", "");
    seed(&env.db(), &[("r1", 0)]);

    let out = env.audit(&["show", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "seam: error: no audit record with id nope\n");
    assert!(out.stdout.is_empty());

    let mut wrong = Env::new("errors-wrong-key", "");
    wrong.key = OTHER_KEY;
    std::fs::copy(env.db(), wrong.db()).unwrap();
    for args in [&["verify"][..], &["show", "r1"], &["export"], &["purge"]] {
        let out = wrong.audit(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("the master key does not match the one this audit log was written with"),
            "{args:?}: {err}"
        );
        assert!(!err.contains(OTHER_KEY) && !err.contains(KEY), "{err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }

    let out = env
        .seam()
        .env_remove("SEAM_MASTER_KEY")
        .args(["audit", "verify", "--config"])
        .arg(&env.config)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("SEAM_MASTER_KEY"), "{err}");

    let out = env.audit(&["export", "--since", "yesterday"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot read the time \"yesterday\""), "{err}");
}

/// Deleting the signed checkpoints removes the only evidence an attacker without the master key
/// cannot forge (every hash can be recomputed): `verify` must notice a missing one.
#[test]
fn verify_notices_a_deleted_checkpoint() {
    let env = Env::new("checkpoint", "");
    let ids: Vec<String> = (0..1001).map(|i| format!("r{i}")).collect();
    let batch: Vec<_> = ids.iter().map(|id| (id.as_str(), 0)).collect();
    seed(&env.db(), &batch);
    let ok = env.verify_ok();
    assert!(
        ok.contains("1 signed checkpoints, 1 records after the last"),
        "{ok}"
    );
    rusqlite::Connection::open(env.db())
        .unwrap()
        .execute_batch("DELETE FROM audit_checkpoints")
        .unwrap();
    let out = env.audit(&["verify"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("seq 1000"), "{err}");
}

/// A mistyped `[storage] url` must not verify as an empty, intact log.
#[test]
fn verify_refuses_a_log_that_does_not_exist() {
    let env = Env::new("missing", "");
    let out = env.audit(&["verify"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("audit.db"), "{err}");
    assert!(!env.db().exists(), "verify created the database");
}

/// `export --format parquet` holds what `--format jsonl` does, typed where flat, one row group
/// per 10,000 records; to stdout it is refused in one line.
#[test]
fn parquet_export_matches_the_json_lines() {
    use parquet::basic::Type as Physical;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    let env = Env::new("parquet", "");
    // Past 10,000 rows, so the file needs a second row group.
    let ids: Vec<String> = (0..10_000).map(|i| format!("old-{i}")).collect();
    let batch: Vec<_> = ids.iter().map(|id| (id.as_str(), 1)).collect();
    seed(&env.db(), &batch);
    let server = env.serve();
    chat(
        &server.addr,
        "hello",
        None,
        &[("x-seam-subject", "alice"), ("x-seam-tags", "t1,t2")],
    );
    chat(&server.addr, "hi", Some("bob"), &[]);
    server.kill();
    let out = env.audit(&["erase", "--subject", "bob"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = env.audit(&["export", "--format", "parquet"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("-o FILE"), "{err}");
    assert!(out.stdout.is_empty());

    let lines = env.export(&[]);
    let path = env.dir.join("audit.parquet");
    let out = env.audit(&[
        "export",
        "--format",
        "parquet",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "seam: exported 10003 records\n");

    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let meta = reader.metadata();
    assert_eq!(meta.file_metadata().num_rows(), 10_003);
    assert_eq!(meta.num_row_groups(), 2);
    let schema = meta.file_metadata().schema_descr();
    let physical = |name: &str| {
        (0..schema.num_columns())
            .map(|i| schema.column(i))
            .find(|c| c.name() == name)
            .unwrap()
            .physical_type()
    };
    assert_eq!(physical("seq"), Physical::INT64);
    assert_eq!(physical("status"), Physical::INT32);
    assert_eq!(physical("latency_ms"), Physical::DOUBLE);
    assert_eq!(physical("payload"), Physical::BYTE_ARRAY);

    let rows: Vec<_> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), lines.len());
    for (row, line) in rows.iter().zip(&lines) {
        let line = line.as_object().unwrap();
        assert_eq!(row.len(), line.len(), "a column per JSON key: {line:?}");
        for (name, field) in row.get_column_iter() {
            let want = &line[name.as_str()];
            let same = match field {
                Field::Null => want.is_null(),
                Field::Bool(b) => want.as_bool() == Some(*b),
                Field::Int(n) => want.as_i64() == Some(i64::from(*n)),
                Field::Long(n) => want.as_i64() == Some(*n),
                Field::Double(x) => want.as_f64() == Some(*x),
                // Text columns hold the string; the nested ones hold JSON text.
                Field::Str(s) => match want {
                    Value::String(w) => w == s,
                    _ => serde_json::from_str::<Value>(s).ok().as_ref() == Some(want),
                },
                other => panic!("`{name}` read back as {other:?}"),
            };
            assert!(same, "`{name}`: parquet {field:?}, jsonl {want}");
        }
    }
    let alice = &rows[10_000];
    let text = |name: &str| {
        let (_, f) = alice.get_column_iter().find(|(n, _)| *n == name).unwrap();
        match f {
            Field::Str(s) => s.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(text("subject"), "alice");
    assert_eq!(text("tags"), r#"["t1","t2"]"#);
    assert!(text("payload").contains("hello"));
    // Bob's payload is erased, and the erasure itself is the last row.
    assert_eq!(lines[10_001]["payload_state"], "erased");
    assert_eq!(lines[10_002]["kind"], "erasure");
}
