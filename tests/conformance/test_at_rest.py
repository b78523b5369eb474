"""Nothing raw at rest: a forensic read of the store's files after a run.

A `seam` of its own (sync audit, a tokenize policy, every audit class) is sent canary values in
every place a client can put them — prompts (answered, streamed, failed upstream, refused), the
body's `user` and unknown fields, `x-seam-subject`, `x-seam-tags`, a direct-addressed model
name — then stopped, one subject is erased, and every file under its data folder (the SQLite
database, its WAL and shared memory) is read as bytes: no canary may appear in clear.
"""

import os
import pathlib
import subprocess
import tempfile

import urllib.error
import urllib.request
import openai
import pytest

from conftest import AUDIT_MASTER_KEY, SEAM, _start

CONFIG = """
[audit]
master_key = "env:SEAM_TEST_AUDIT_KEY"
default_class = "redacted"
durability = "sync"

[providers.mock]
kind = "openai"
base_url = "{mock}/v1"
timeout_ms = 1500
first_token_timeout_ms = 1500

[policies.pii.input]
pii = {{ action = "tokenize" }}
[policies.pii.output]
pii = {{ action = "redact" }}

[models.red]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "pii"

[models.full]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "pii"
audit_class = "full"

[models.meta]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "pii"
audit_class = "metadata"

[models.broken]
targets = [{{ provider = "mock", model = "fault-500" }}]
policy = "pii"
"""

# Canaries: each appears once in what the client sends and must appear nowhere on disk.
EMAIL = "ada.atrest@example.com"
CARD = "4539148803436467"
USER = "carol.atrest@example.net"
SUBJECT = "zelda.atrest@example.org"
ERASED = "erin.atrest@example.org"
TAG = "tag-victor.atrest@example.net"
META = "meta-quinn.atrest@example.net"
MODEL = "mock/model-oscar.atrest@example.net"
CANARIES = [EMAIL, CARD, USER, SUBJECT, ERASED, TAG, META, MODEL.split("/", 1)[1]]


@pytest.fixture(scope="module")
def run(mock_url):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="seam-at-rest-"))
    cfg = tmp / "seam.toml"
    cfg.write_text(CONFIG.format(mock=mock_url))
    env = dict(os.environ, SEAM_TEST_AUDIT_KEY=AUDIT_MASTER_KEY)
    proc, m = _start(
        [SEAM, "serve", "--config", str(cfg), "--listen", "127.0.0.1:0"],
        r"listening on (http://[0-9.:]+)",
        env=env,
    )
    url = m.group(1)
    try:
        send_everything(url)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    erased = subprocess.run(
        [SEAM, "audit", "erase", "--subject", ERASED, "--config", str(cfg)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert erased.returncode == 0, erased.stderr
    return tmp, cfg, env, "".join(proc.log)


def send_everything(url):
    prompt = f"Write to {EMAIL}, card {CARD}."
    for subject in (SUBJECT, ERASED):
        client = openai.OpenAI(
            base_url=url + "/v1",
            api_key="unused",
            max_retries=0,
            default_headers={"x-seam-subject": subject, "x-seam-tags": f"run,{TAG}"},
        )
        for model in ("red", "full", "meta"):
            client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": prompt}],
                user=USER,
                metadata={"note": META},
                extra_body={"custom_field": META},
            )
            stream = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": prompt}],
                user=USER,
                stream=True,
            )
            for _ in stream:
                pass
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(
                model="broken", messages=[{"role": "user", "content": prompt}], user=USER
            )
        # Direct addressing: the mock answers whatever model it is asked for.
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": prompt}], user=USER
        )
        # Refused before parsing: the body is not JSON; the headers still count.
        req = urllib.request.Request(
            url + "/v1/chat/completions",
            data=b"{not json " + prompt.encode(),
            headers={
                "content-type": "application/json",
                "x-seam-subject": subject,
                "x-seam-tags": TAG,
            },
        )
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 400


def test_no_canary_is_in_clear_in_any_store_file(run):
    tmp, _, _, _ = run
    files = [p for p in tmp.rglob("*") if p.is_file() and p.name != "seam.toml"]
    assert any(p.name.endswith(".db") for p in files), files
    for p in files:
        data = p.read_bytes()
        for canary in CANARIES:
            assert canary.encode() not in data, f"{canary!r} in clear in {p.name}"


def test_the_log_holds_no_canary(run):
    *_, log = run
    for canary in CANARIES:
        assert canary not in log, f"{canary!r} in seam's log"


def test_records_remain_readable_with_the_key(run):
    _, cfg, env, _ = run
    out = subprocess.run(
        [SEAM, "audit", "export", "--config", str(cfg), "--subject", SUBJECT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    # 3 classes × (unary + stream) + failed + unknown model + not JSON.
    assert len(lines) >= 9, out.stdout
    verify = subprocess.run(
        [SEAM, "audit", "verify", "--config", str(cfg)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
