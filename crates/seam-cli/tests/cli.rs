//! The `seam` binary as users run it: exit codes, one-line errors, and the quickstart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should abort loudly

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn seam() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seam"));
    // The embedded default keeps its audit log under ./seam-data: keep it out of the source tree.
    let dir = std::env::temp_dir().join(format!("seam-cli-test-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    c.current_dir(dir);
    c.env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("SEAM_CONFIG");
    c
}

fn write_config(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("seam-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn config_check_accepts_a_valid_file() {
    let p = write_config(
        "ok.toml",
        "[providers.e]\nkind = \"echo\"\n[models.m]\ntargets = [{ provider = \"e\", model = \"x\" }]\n",
    );
    let out = seam()
        .args(["config", "check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (1 providers, 1 models, 0 prompts)"));
}

#[test]
fn config_check_prints_each_error_with_its_path_and_exits_2() {
    let p = write_config(
        "bad.toml",
        "[server]\nlisten = \"x\"\nport = 1\n[providers.e]\nkind = \"nope\"\n",
    );
    let out = seam()
        .args(["config", "check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.port: unknown key"), "{err}");
    let p2 = write_config(
        "bad2.toml",
        "[server]\nlisten = \"x\"\n[providers.e]\nkind = \"nope\"\n",
    );
    let out = seam()
        .args(["config", "check", "--config"])
        .arg(&p2)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err.contains("server.listen:"), "{err}");
    assert!(err.contains("providers.e.kind:"), "{err}");
}

#[test]
fn the_embedded_default_is_a_valid_config() {
    let out = seam().args(["config", "default"]).output().unwrap();
    assert!(out.status.success());
    let p = write_config("default.toml", &String::from_utf8_lossy(&out.stdout));
    let out = seam()
        .args(["config", "check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_refuses_a_public_address_without_keys() {
    let out = seam()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("refusing to listen on 0.0.0.0:0"), "{err}");
    assert!(err.contains("loopback"), "{err}");
}

#[test]
fn serve_with_a_broken_config_is_one_line() {
    let p = write_config(
        "broken.toml",
        "[providers.o]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\napi_key = \"env:SEAM_TEST_SURELY_UNSET\"\n",
    );
    let out = seam()
        .arg("serve")
        .arg("--config")
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("environment variable SEAM_TEST_SURELY_UNSET is not set"),
        "{err}"
    );
}

/// The README's quickstart: `seam serve` with no config answers from the echo provider.
#[test]
fn quickstart_serves_echo_with_no_config_and_no_key() {
    let mut child = seam()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SEAM_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("seam exited before listening").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let body = r#"{"model":"chat","messages":[{"role":"user","content":"hi there"}]}"#;
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("\"content\":\"echo: hi there\""), "{resp}");
    assert!(
        resp.to_lowercase().contains("x-seam-route: echo/echo"),
        "{resp}"
    );
}

/// `SIGHUP` reloads the config file: a new alias is served, a broken file changes nothing.
#[cfg(unix)]
#[test]
fn sighup_reloads_the_config_and_a_broken_one_is_ignored() {
    let one = "[providers.e]\nkind = \"echo\"\n[models.first]\ntargets = [{ provider = \"e\", model = \"x\" }]\n";
    let p = write_config("reload.toml", one);
    let mut child = seam()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&p)
        .env("SEAM_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut wait_for = |needle: &str| loop {
        let line = lines.next().expect("seam exited").unwrap();
        if line.contains(needle) {
            return line;
        }
    };
    let listening = wait_for("listening on http://");
    let addr = listening
        .split("listening on http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let models = |addr: &str| {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET /v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp
    };
    assert!(models(&addr).contains("\"first\""));
    let hup = |pid: u32| {
        let ok = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };

    std::fs::write(&p, one.replace("first", "second")).unwrap();
    hup(child.id());
    wait_for("config reloaded");
    let now = models(&addr);
    assert!(
        now.contains("\"second\"") && !now.contains("\"first\""),
        "{now}"
    );

    std::fs::write(
        &p,
        "[models.broken]\ntargets = [{ provider = \"nope\", model = \"x\" }]\n",
    )
    .unwrap();
    hup(child.id());
    wait_for("config reload refused");
    assert!(
        models(&addr).contains("\"second\""),
        "the previous config keeps serving"
    );
    child.kill().unwrap();
    let _ = child.wait();
}

fn redact(args: &[&str], stdin: &str) -> std::process::Output {
    let mut all = vec!["redact"];
    all.extend_from_slice(args);
    with_stdin(&all, stdin)
}

/// Runs `seam ARGS` with `stdin` written to it; stdout and stderr captured.
fn with_stdin(args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = seam()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn redact_with_no_policy_redacts_every_entity_it_finds() {
    let input =
        "Mail ada.lovelace@example.com or call +44 20 7946 0958.\nCard 4111 1111 1111 1111\n";
    let out = redact(&[], input);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Mail <EMAIL_ADDRESS> or call <PHONE_NUMBER>.\nCard <CREDIT_CARD>\n"
    );
}

#[test]
fn redact_json_reports_findings_with_offsets_into_the_input() {
    let input = "é ada@example.com";
    let out = redact(&["--format", "json", "-"], input);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["text"], "é <EMAIL_ADDRESS>");
    let f = &v["findings"][0];
    assert_eq!(f["entity"], "EMAIL_ADDRESS");
    let (s, e) = (
        f["start"].as_u64().unwrap() as usize,
        f["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&input[s..e], "ada@example.com");
    assert!(f["score"].as_f64().unwrap() >= 0.5);
}

#[test]
fn redact_applies_a_named_policy_and_exits_3_when_it_blocks() {
    let p = write_config(
        "redact.toml",
        "[providers.e]\nkind = \"echo\"\n[policies.mask.input]\npii = { action = \"tokenize\" }\nsecrets = { action = \"block\" }\n",
    );
    let p = p.to_str().unwrap();
    let out = redact(
        &["--config", p, "--policy", "mask"],
        "a@example.com b@example.com a@example.com\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[EMAIL_ADDRESS_1] [EMAIL_ADDRESS_2] [EMAIL_ADDRESS_1]\n"
    );
    let key = "sk-proj-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV";
    let out = redact(
        &["--config", p, "--policy", "mask"],
        &format!("key {key}\n"),
    );
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SECRET_OPENAI_KEY") && !err.contains(key),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn redact_errors_are_one_line() {
    for (args, input, needle) in [
        (vec!["--policy", "nope"], "x", "no policy named `nope`"),
        (vec!["/no/such/file"], "", "cannot read /no/such/file"),
        (vec![], "\u{0}ok", ""),
    ] {
        let out = redact(&args, input);
        let err = String::from_utf8_lossy(&out.stderr);
        if needle.is_empty() {
            assert_eq!(out.status.code(), Some(0), "{err}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn redact_streams_a_large_input_and_keeps_a_pem_block_whole() {
    let mut input = String::new();
    for i in 0..5000 {
        input.push_str(&format!("line {i} mail user{i}@example.com\n"));
    }
    input.push_str("-----BEGIN RSA PRIVATE KEY-----\n");
    for _ in 0..20 {
        input.push_str("MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n");
    }
    input.push_str("-----END RSA PRIVATE KEY-----\n");
    let out = redact(&[], &input);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("<EMAIL_ADDRESS>").count(), 5000);
    assert!(
        !text.contains("MIIEowIBAAKCAQEA"),
        "the key is redacted whole"
    );
}

#[test]
fn config_check_reports_policy_errors_with_their_path() {
    let p = write_config(
        "badpolicy.toml",
        "[providers.e]\nkind = \"echo\"\n[policies.p.input.entities]\nNOT_AN_ENTITY = \"block\"\n[models.m]\ntargets = [{ provider = \"e\", model = \"x\" }]\npolicy = \"missing\"\n",
    );
    let out = seam()
        .args(["config", "check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("models.m.policy: no policy named \"missing\""),
        "{err}"
    );
    let p = write_config(
        "badentity.toml",
        "[providers.e]\nkind = \"echo\"\n[policies.p.input.entities]\nNOT_AN_ENTITY = \"block\"\n",
    );
    let out = seam()
        .args(["config", "check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("policies.p.input.entities.NOT_AN_ENTITY: unknown entity"),
        "{err}"
    );
}

/// Online evaluators' assertions are parsed by `check` as by `serve`: each problem at its path.
#[test]
fn config_check_reports_evaluator_assertion_errors_with_their_path() {
    let p = write_config(
        "badevaluator.toml",
        "[providers.e]\nkind = \"echo\"\n[models.m]\ntargets = [{ provider = \"e\", model = \"x\" }]\n\
         [evaluators.polite]\nalias = \"m\"\nassert = [{ type = \"llm-rubric\", value = \"polite\" }, { type = \"not-contians\", value = \"x\" }]\n",
    );
    let out = seam()
        .args(["config", "check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("evaluators.polite.assert[1].type: unknown assertion type `not-contians`"),
        "{err}"
    );
    assert!(
        err.contains(
            "evaluators.polite.judge: is required: assert[0] (llm-rubric) is graded by a model"
        ),
        "{err}"
    );
}

/// A key held to a placement shows it, and a placement the parser refuses creates nothing: one
/// line, a non-zero exit. The same for MCP tool globs.
#[test]
fn keys_create_takes_a_placement_and_tools_and_refuses_bad_ones_in_one_line() {
    let dir = std::env::temp_dir().join(format!("seam-cli-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("seam.toml");
    std::fs::write(
        &cfg,
        "[storage]\nurl = \"sqlite://keys.db\"\n[providers.e]\nkind = \"echo\"\n\
         [models.m]\ntargets = [{ provider = \"e\", model = \"x\" }]\n",
    )
    .unwrap();
    let keys = |args: &[&str]| {
        seam()
            .arg("keys")
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap()
    };
    let made = keys(&[
        "create",
        "--name",
        "eu-app",
        "--models",
        "m",
        "--placement",
        "region=eu,ch; trust=private",
        "--json",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let made: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    let id = made["id"].as_str().unwrap();
    let shown = keys(&["show", id]);
    assert!(shown.status.success());
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["scope"]["placement"], "trust=private;region=ch,eu");

    let before = keys(&["list", "--json"]).stdout;
    for bad in ["trust=public", "zone=eu", "trust=private;trust=vendor", ""] {
        let out = keys(&["create", "--name", "x", "--models", "m", "--placement", bad]);
        assert_ne!(out.status.code(), Some(0), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{bad}: {err}");
        assert!(err.contains("placement"), "{bad}: {err}");
    }
    assert_eq!(keys(&["list", "--json"]).stdout, before, "nothing created");

    // MCP tools alone, as globs; `list` shows them beside the models.
    let made = keys(&[
        "create",
        "--name",
        "agent",
        "--tools",
        "crm__lookup_*,files__read",
        "--json",
    ]);
    let err = String::from_utf8_lossy(&made.stderr);
    assert!(made.status.success(), "{err}");
    let made: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    assert_eq!(
        made["scope"]["tools"],
        serde_json::json!(["crm__lookup_*", "files__read"])
    );
    let list = keys(&["list"]);
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines().any(|l| l.contains("\tagent\t")
            && l.ends_with("\tmodels=\ttools=crm__lookup_*,files__read")),
        "{list}"
    );
    let out = keys(&["create", "--name", "x", "--tools", "crm__*,,files__read"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("`tools` must not contain an empty pattern"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 23: every subcommand reports an error the same way, from one place: exactly one stderr
/// line, `seam: error: …`, and exit 1. Clap's own usage errors are clap's (exit 2).
#[test]
fn every_subcommand_reports_an_error_as_one_line_and_exit_1() {
    let missing = "/nonexistent/seam.toml";
    for (args, stdin, needle) in [
        (vec!["serve", "-c", missing], "", missing),
        (vec!["audit", "verify", "-c", missing], "", missing),
        (vec!["audit", "export", "-c", missing], "", missing),
        (vec!["keys", "list", "-c", missing], "", missing),
        (vec!["keys", "hash"], "", "no key on stdin"),
        (vec!["rollout", "list", "-c", missing], "", missing),
        (vec!["report", "cost", "-c", missing], "", missing),
        (
            vec!["export", "--to", "/nonexistent/out", "-c", missing],
            "",
            missing,
        ),
        (
            vec!["import", "--from", "/nonexistent/in", "-c", missing],
            "",
            missing,
        ),
        (
            vec!["ingest", "docs", "/nonexistent/file.txt", "-c", missing],
            "",
            missing,
        ),
        (
            vec!["eval", "/nonexistent/suite.yaml"],
            "",
            "/nonexistent/suite.yaml",
        ),
        (
            vec!["redteam", "--list", "--pass-threshold", "2"],
            "",
            "--pass-threshold",
        ),
        (
            vec!["models", "fetch", "all", "--dir", "/nonexistent"],
            "",
            "--dir and --wheel",
        ),
        (
            vec!["prompts", "show", "nope", "--dir", "/nonexistent"],
            "",
            "nope",
        ),
        (
            vec!["redact", "--policy", "nope"],
            "x",
            "no policy named `nope`",
        ),
    ] {
        let out = with_stdin(&args, stdin);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("seam: error: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = seam().args(["export", "--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: unexpected argument"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
