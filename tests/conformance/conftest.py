"""Starts a mock upstream (seam-mock) and a `seam` configured against it, once per session.

Binaries come from SEAM_BIN / SEAM_MOCK_BIN, else target/debug/. Every test gets an `openai.OpenAI`
client with retries off, so each error reaches the test exactly as Seam sent it.
"""

import os
import pathlib
import re
import subprocess
import tempfile
import threading
import time
import urllib.request

import openai
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEAM = os.environ.get("SEAM_BIN", str(ROOT / "target" / "debug" / "seam"))
MOCK = os.environ.get("SEAM_MOCK_BIN", str(ROOT / "target" / "debug" / "seam-mock"))

# The credentials seam-mock's Bedrock routes verify SigV4 signatures with: seam-testkit's
# BEDROCK_TEST_ACCESS_KEY_ID, BEDROCK_TEST_SECRET_ACCESS_KEY and BEDROCK_TEST_SESSION_TOKEN.
AWS_ENV = {
    "SEAM_TEST_AWS_ACCESS_KEY_ID": "AKIDSEAMTESTKIT00001",
    "SEAM_TEST_AWS_SECRET_ACCESS_KEY": "seam/testkit+SECRET/key0000000000000000000",
    "SEAM_TEST_AWS_SESSION_TOKEN": "seam-testkit-session-token",
}

# The audit trail's master key (test_audit.py reads payloads back): 32 bytes in base64.
AUDIT_MASTER_KEY = "Y29uZm9ybWFuY2UtYXVkaXQta2V5LTMyLWJ5dGVzISE="

CONFIG = """
[server]
max_body_bytes = 65536

# Records land in seam-data/seam.db beside this file. `redacted` keeps what went upstream and
# the answer, encrypted; test_audit.py reads them back through /admin/audit.
[audit]
master_key = "env:SEAM_TEST_AUDIT_KEY"
default_class = "redacted"

[providers.echo]
kind = "echo"

[providers.mock]
kind = "openai"
base_url = "{mock}/v1"
api_key = "env:SEAM_TEST_MOCK_KEY"
trust = "private"
timeout_ms = 1500
first_token_timeout_ms = 1500
# The suite hits the same faulty targets many times; keep breakers out of its way.
breaker = {{ consecutive_failures = 20 }}

[providers.mockanth]
kind = "anthropic"
base_url = "{mock}"
api_key = "env:SEAM_TEST_MOCK_KEY"
timeout_ms = 1500
first_token_timeout_ms = 1500
breaker = {{ consecutive_failures = 20 }}

[providers.mockgem]
kind = "gemini"
base_url = "{mock}"
api_key = "env:SEAM_TEST_MOCK_KEY"
timeout_ms = 1500
first_token_timeout_ms = 1500

[providers.mockaz]
kind = "azure"
base_url = "{mock}"
api_key = "env:SEAM_TEST_MOCK_KEY"
api_version = "2024-10-21"
timeout_ms = 1500
first_token_timeout_ms = 1500

[providers.mockbed]
kind = "bedrock"
base_url = "{mock}"
region = "us-east-1"
aws_access_key_id = "env:SEAM_TEST_AWS_ACCESS_KEY_ID"
aws_secret_access_key = "env:SEAM_TEST_AWS_SECRET_ACCESS_KEY"
aws_session_token = "env:SEAM_TEST_AWS_SESSION_TOKEN"
timeout_ms = 1500
first_token_timeout_ms = 1500

[providers.mockbedkey]
kind = "bedrock"
base_url = "{mock}"
region = "us-east-1"
api_key = "env:SEAM_TEST_MOCK_KEY"
timeout_ms = 1500

[providers.dead]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
connect_timeout_ms = 500

[models.chat]
targets = [{{ provider = "echo", model = "echo" }}]

[models.gpt]
targets = [{{ provider = "mock", model = "gpt-mock" }}]

[models.claude]
targets = [{{ provider = "mockanth", model = "claude-mock" }}]

[models.resilient]
targets = [
  {{ provider = "dead", model = "gpt-dead" }},
  {{ provider = "mock", model = "fault-500" }},
  {{ provider = "mock", model = "gpt-mock" }},
]

[models.embed]
targets = [{{ provider = "echo", model = "embed" }}]

[models.chat-full]
targets = [{{ provider = "echo", model = "echo" }}]
audit_class = "full"

[models.chat-meta]
targets = [{{ provider = "echo", model = "echo" }}]
audit_class = "metadata"

# ---- policies (test_policy.py) ----

[policies.mask-pii.input]
pii = {{ action = "tokenize" }}
secrets = {{ action = "block" }}
[policies.mask-pii.input.entities]
PHONE_NUMBER = "allow"
[policies.mask-pii.output]
pii = {{ action = "redact" }}

[policies.block-pii.input]
pii = {{ action = "block" }}

# test_names.py: names, places and street addresses only.
[policies.names.input]
pii = {{ action = "tokenize", entities = ["PERSON", "LOCATION", "STREET_ADDRESS"] }}

[policies.shield.input]
injection = {{ action = "block", threshold = 0.8 }}

# test_injection.py: the same rule, flagging.
[policies.watch.input]
injection = {{ action = "flag", threshold = 0.8 }}

[policies.small.input]
max_input_tokens = 60
on_overflow = "reject"

[policies.trim.input]
max_input_tokens = 60
on_overflow = "truncate"

[models.guarded]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "mask-pii"

[models.names-guarded]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "names"

[models.guarded-claude]
targets = [{{ provider = "mockanth", model = "claude-mock" }}]
policy = "mask-pii"

[models.strict]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "block-pii"

[models.shielded]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "shield"

[models.watched]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "watch"

[models.small]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "small"

[models.trim]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "trim"

# ---- lax upstreams (test_lax_upstreams.py): seam-mock answers like servers that leave fields out ----

[models.lax-minimal]
targets = [{{ provider = "mock", model = "lax-minimal" }}]
policy = "mask-pii"

[models.lax-no-id]
targets = [{{ provider = "mock", model = "lax-no-id" }}]
policy = "mask-pii"

[models.lax-no-done]
targets = [{{ provider = "mock", model = "lax-no-done" }}]
policy = "mask-pii"

[models.lax-embed]
targets = [{{ provider = "mock", model = "lax-minimal" }}]
policy = "mask-pii"

[models.contract]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
output_schema = {{ type = "object", required = ["name"], properties = {{ name = {{ type = "string" }} }} }}

# ---- placement (test_placement.py): a vendor target first, then a private one ----

[models.placed]
targets = [{{ provider = "mockanth", model = "claude-mock" }}, {{ provider = "mock", model = "gpt-mock" }}]

# --- responses surface --- (test_responses.py)

[models.guarded-gemini]
targets = [{{ provider = "mockgem", model = "gemini-mock" }}]
policy = "mask-pii"

# --- messages surface --- (test_messages.py: the `anthropic` SDK against each upstream format)

[models."claude-mock"]
targets = [{{ provider = "mockanth", model = "claude-mock" }}]

[models.msg-gpt]
targets = [{{ provider = "mock", model = "gpt-mock" }}]

[models.msg-gemini]
targets = [{{ provider = "mockgem", model = "gemini-mock" }}]

[models.msg-guarded]
targets = [{{ provider = "mockanth", model = "claude-mock" }}]
policy = "mask-pii"

[models.msg-cut]
targets = [{{ provider = "mock", model = "fault-cut-stream-3" }}]

# --- native responses --- (test_responses_native.py: Responses requests to a target that takes them)

[providers.mockresp]
kind = "openai"
base_url = "{mock}/v1"
api_key = "env:SEAM_TEST_MOCK_KEY"
responses_api = true
timeout_ms = 1500
first_token_timeout_ms = 1500
breaker = {{ consecutive_failures = 20 }}

[models.resp-native]
targets = [{{ provider = "mockresp", model = "gpt-resp" }}]

[models.resp-native-guarded]
targets = [{{ provider = "mockresp", model = "gpt-resp" }}]
policy = "mask-pii"
"""


def _start(cmd, pattern, env=None, timeout=30.0):
    """Runs `cmd`, waits for a line matching `pattern` on stdout or stderr, returns (proc, match)."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    found = {}
    ready = threading.Event()
    log = []

    def pump():
        for line in proc.stdout:
            log.append(line)
            m = re.search(pattern, line)
            if m and not ready.is_set():
                found["m"] = m
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout):
        proc.kill()
        raise RuntimeError(f"{cmd[0]} did not start:\n{''.join(log)}")
    proc.log = log
    return proc, found["m"]


def start_helper(binary):
    """A testkit server binary (`seam-mock`, `seam-otlp`, ...) on a free port, once it says where;
    `.url` is that address."""
    proc, m = _start([binary, "--listen", "127.0.0.1:0"], r"listening on (http://\S+)")
    proc.url = m.group(1)
    return proc


def stop(proc):
    """Ends a process `_start` began and waits for it."""
    proc.terminate()
    proc.wait(timeout=10)


def config_file(prefix, text):
    """`text` as `seam.toml` in a fresh temporary folder named `prefix...`; the file's path."""
    cfg = pathlib.Path(tempfile.mkdtemp(prefix=prefix)) / "seam.toml"
    cfg.write_text(text)
    return cfg


@pytest.fixture(scope="session")
def mock_url():
    proc = start_helper(MOCK)
    yield proc.url
    stop(proc)


def wait_for(check, timeout=15.0):
    """Polls `check` until it is true; fails after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def start_seam(cfg, env):
    """`seam serve` on `cfg` on a free port, once it answers `/readyz`; `.url` is its address."""
    proc, m = _start(
        [SEAM, "serve", "--config", str(cfg), "--listen", "127.0.0.1:0"],
        r"listening on (http://[0-9.:]+)",
        env=env,
    )
    proc.url = m.group(1)
    for _ in range(100):
        try:
            with urllib.request.urlopen(proc.url + "/readyz") as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.05)
    return proc


# Prompt files beside the session's config (test_prompts.py); `seam.prompts_dir` is their folder.
PROMPTS = {
    "support-answer": """---
description: Answers a support ticket.
model: chat
params: { temperature: 0.2, max_tokens: 64 }
system: You are {{ company }}'s support agent. Answer in {{ language }}.
vars:
  type: object
  required: [company, ticket]
  properties:
    company: { type: string }
    ticket: { type: string, maxLength: 200 }
    language: { type: string, default: English }
---
Ticket: {{ ticket }}
""",
    "guarded-note": """---
model: guarded
---
Note from {{ who }}: {{ note }}
""",
    "json-answer": """---
model: chat
output_schema: { type: object, required: [answer] }
---
Answer {{ q }} as JSON.
""",
    "no-model": """Hello {{ name }}
""",
}


@pytest.fixture(scope="session")
def seam(mock_url):
    """The running `seam`: `.url`, and `.log`, its output so far (one string per line)."""
    tmp = tempfile.mkdtemp(prefix="seam-conformance-")
    cfg = pathlib.Path(tmp) / "seam.toml"
    cfg.write_text(CONFIG.format(mock=mock_url))
    prompts = pathlib.Path(tmp) / "prompts"
    prompts.mkdir()
    for name, text in PROMPTS.items():
        (prompts / f"{name}.prompt").write_text(text)
    env = dict(
        os.environ,
        SEAM_TEST_MOCK_KEY="sk-mock-secret-value",
        SEAM_TEST_AUDIT_KEY=AUDIT_MASTER_KEY,
        SEAM_LOG="info",
        **AWS_ENV,
    )
    check = subprocess.run([SEAM, "config", "check", "--config", str(cfg)], capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stderr
    proc = start_seam(cfg, env)
    proc.prompts_dir = prompts
    yield proc
    proc.terminate()
    proc.wait(timeout=10)
    # Secrets never reach a log line.
    log = "".join(proc.log)
    for secret in ["sk-mock-secret-value", AUDIT_MASTER_KEY, *AWS_ENV.values()]:
        assert secret not in log


@pytest.fixture(scope="session")
def seam_url(seam):
    return seam.url


@pytest.fixture()
def client(seam_url):
    return openai.OpenAI(base_url=seam_url + "/v1", api_key="unused-without-keys", max_retries=0, timeout=20)
