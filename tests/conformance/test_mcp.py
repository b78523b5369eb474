"""Seam's MCP gateway as an agent sees it through the real `mcp` SDK.

A `seam` of its own fronts two upstream servers written with the SDK (mcp_servers/): `files`, a
process Seam starts and supervises over stdio, and `crm`, a streamable HTTP server this module
starts first, which refuses any `Authorization` but the one Seam's config names. Clients connect
to `/mcp` with the SDK's streamable HTTP client and a Seam key, and see both servers' tools,
prompts and resources under `server__name`. A key's `tools` globs (and placement) decide what it
sees and may call; the `tools` policy blocks secrets in `crm` arguments and redacts personal data
and secrets in its results, resources and prompts; `files__read_file` tokenizes; every call is
one audit record of kind `tool_call`; timeouts, the result cap and a tool's rpm are JSON-RPC
errors after which the session goes on; servers that die come back under a live session; a
reload tells open sessions; and an `openai` agent loop runs a model's tool call through `/mcp`.
The last two tests start a keyless `seam` of their own (Origin checks, stopping with SIGTERM).

Every SDK session records the HTTP status of each response Seam sent it: an error a client is
owed is a JSON-RPC error, never an HTTP 5xx. Error codes are docs/mcp.md's table.
"""

import asyncio
import contextlib
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import httpx2
import openai
import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from conftest import AUDIT_MASTER_KEY, SEAM, _start, start_seam

SERVERS = pathlib.Path(__file__).resolve().parent / "mcp_servers"

FULL_KEY = "sk-seam-conformance-mcp-full-0123456789"
NARROW_KEY = "sk-seam-conformance-mcp-narrow-0123456789"
CHAT_KEY = "sk-seam-conformance-mcp-chat-only-0123456789"
PRIVATE_KEY = "sk-seam-conformance-mcp-private-only-0123456789"
ADMIN_KEY = "conformance-mcp-admin-key-0123456789"
MOCK_KEY = "sk-mock-mcp-secret-value"
# The whole `Authorization` value Seam sends `crm` (from env:), and the one `crm` accepts.
CRM_AUTHORIZATION = "Bearer crm-upstream-token-0123456789"

# What `crm`'s lookup_customer answers with (mcp_servers/http_server.py).
EMAIL = "ada@example.com"
CARD = "4111 1111 1111 1111"
CRM_SECRET = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5kL7n"
# A secret a client puts in arguments; the input policy must keep it from `crm`.
ARG_SECRET = "sk-proj-" + "Zx8cV6bN4mQ2wE0rT8yU6iO4pA2sD0fG8hJ6kL4z"

README = "Files server readme: every path reads as the same fixed text."

HANDSHAKE_VERSIONS = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

ALL_TOOLS = {
    "files__read_file",
    "files__pid",
    "files__crash",
    "files__last_path",
    "files__env_names",
    "crm__lookup_customer",
    "crm__lookup_order",
    "crm__delete_customer",
    "crm__echo",
    "crm__search_orders",
    "crm__count_up",
    "crm__slow",
    "crm__big",
    "crm__fail_order",
    "crm__quota",
}

CONFIG = """
[audit]
master_key = "env:SEAM_TEST_AUDIT_KEY"
default_class = "redacted"
durability = "sync"

[admin]
key = "env:SEAM_TEST_ADMIN_KEY"

[providers.mock]
kind = "openai"
base_url = "{mock}/v1"
api_key = "env:SEAM_TEST_MOCK_KEY"
timeout_ms = 5000

[models.agent]
targets = [{{ provider = "mock", model = "gpt-mock" }}]

[policies.tools.input]
secrets = {{ action = "block" }}
[policies.tools.output]
pii = {{ action = "redact" }}
secrets = {{ action = "redact" }}

[mcp]
max_result_bytes = 65536
# Lists are read again after a second (test_an_http_server_that_goes_down_and_comes_back).
list_ttl_ms = 1000

[policies.tokenize.input]
pii = {{ action = "tokenize" }}

[mcp.servers.files]
command = "{python}"
args = ["{stdio}"]
trust = "private"

[mcp.servers.files.tools.read_file]
policy = "tokenize"

[mcp.servers.crm]
url = "{crm}"
headers = {{ Authorization = "env:SEAM_TEST_CRM_TOKEN" }}
policy = "tools"

[mcp.servers.crm.tools.slow]
timeout_ms = 500

[mcp.servers.crm.tools.quota]
rpm = 2

[keys.full]
hash = "sha256:{full}"
tools = ["*"]
models = ["*"]

[keys.narrow]
hash = "sha256:{narrow}"
tools = ["crm__lookup_*"]
models = ["*"]

[keys.chat-only]
hash = "sha256:{chat}"
models = ["*"]

[keys.private-only]
hash = "sha256:{private}"
tools = ["*"]
placement = "trust=private"
"""


def sha256(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


@pytest.fixture(scope="module")
def crm():
    """The streamable HTTP upstream: `.url`, and `.log` (one `call TOOL {args}` line per call)."""
    env = dict(os.environ, CRM_EXPECTED_AUTHORIZATION=CRM_AUTHORIZATION)
    proc, m = _start(
        [sys.executable, str(SERVERS / "http_server.py"), "0"], r"listening on (http://\S+)", env=env
    )
    proc.url = m.group(1)
    yield proc
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def gateway(mock_url, crm):
    """A `seam` with `[mcp.servers]`: `.url`, `.cfg`, `.env`, `.log`."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="seam-mcp-"))
    cfg = tmp / "seam.toml"
    cfg.write_text(
        CONFIG.format(
            mock=mock_url,
            python=sys.executable,
            stdio=SERVERS / "stdio_server.py",
            crm=crm.url,
            full=sha256(FULL_KEY),
            narrow=sha256(NARROW_KEY),
            chat=sha256(CHAT_KEY),
            private=sha256(PRIVATE_KEY),
        )
    )
    env = dict(
        os.environ,
        SEAM_TEST_AUDIT_KEY=AUDIT_MASTER_KEY,
        SEAM_TEST_ADMIN_KEY=ADMIN_KEY,
        SEAM_TEST_MOCK_KEY=MOCK_KEY,
        SEAM_TEST_CRM_TOKEN=CRM_AUTHORIZATION,
        SEAM_LOG="info",
    )
    check = subprocess.run([SEAM, "config", "check", "--config", str(cfg)], capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    proc = start_seam(cfg, env)
    proc.cfg, proc.env = cfg, env
    yield proc
    proc.terminate()
    proc.wait(timeout=10)
    # Keys, upstream credentials and what the policy kept from clients never reach a log line.
    log = "".join(proc.log)
    for secret in [FULL_KEY, NARROW_KEY, CHAT_KEY, PRIVATE_KEY, ADMIN_KEY, MOCK_KEY, CRM_AUTHORIZATION, AUDIT_MASTER_KEY, EMAIL, CARD, CRM_SECRET, ARG_SECRET]:
        assert secret not in log, f"{secret!r} in seam's log"


@pytest.fixture(scope="module")
def ready(gateway):
    """The gateway once both upstream servers' tools are listed (the stdio one may still be starting)."""
    asyncio.run(_wait_for_tools(gateway.url))
    return gateway


async def _wait_for_tools(url):
    deadline = time.monotonic() + 15
    names = set()
    while time.monotonic() < deadline:
        async with session(url, FULL_KEY) as c:
            names = {t.name for t in (await c.list_tools()).tools}
        if ALL_TOOLS <= names:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"after 15 s /mcp lists {sorted(names)}")


@contextlib.asynccontextmanager
async def session(url, key, statuses=None, headers=None, **client_options):
    """An SDK client on Seam's `/mcp` with `key` (and `headers`); fails if any response Seam sent
    it was a 5xx."""
    statuses = [] if statuses is None else statuses

    async def record(response):
        statuses.append((response.request.method, response.status_code))

    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}", **(headers or {})},
        timeout=httpx2.Timeout(20, read=30),
        event_hooks={"response": [record]},
    )
    async with http:
        transport = streamable_http_client(url + "/mcp", http_client=http)
        async with Client(transport, read_timeout_seconds=15, **client_options) as c:
            yield c
    assert not [s for s in statuses if s[1] >= 500], f"Seam answered with a 5xx: {statuses}"


def run(coro):
    return asyncio.run(coro)


def text_of(result):
    """The text of a tool result's content blocks."""
    return "\n".join(b.text for b in result.content if getattr(b, "type", None) == "text")


def dump(model):
    return json.dumps(model.model_dump(mode="json", by_alias=True))


# ---- raw HTTP, for what the SDK hides ----


def post(url, body, key=FULL_KEY, headers=None):
    """POSTs `body` (bytes, or JSON-encoded) to `/mcp`; returns (status, headers, parsed JSON-RPC or None)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    h.update(headers or {})
    req = urllib.request.Request(url + "/mcp", data=data, headers=h, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers, parse_body(r.headers, r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, parse_body(e.headers, e.read())


def parse_body(headers, raw):
    """A JSON body, or the last `data:` of an SSE body; None when empty or neither."""
    text = raw.decode(errors="replace")
    if not text.strip():
        return None
    if (headers.get("content-type") or "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = data[-1] if data else ""
    try:
        return json.loads(text)
    except ValueError:
        return None


def raw_session(url, version="2025-06-18", key=FULL_KEY):
    """A handshake by hand: returns the session id Seam issued."""
    status, headers, body = post(
        url,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
        },
        key=key,
    )
    assert status == 200, (status, body)
    assert body["id"] == 1 and body["result"]["protocolVersion"] == version, body
    sid = headers.get("mcp-session-id")
    assert sid, "initialize answered without Mcp-Session-Id"
    status, _, _ = post(
        url,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        key=key,
        headers={"Mcp-Session-Id": sid, "MCP-Protocol-Version": version},
    )
    assert status == 202, status
    return sid


def admin_audit(url, **params):
    req = urllib.request.Request(
        url + "/admin/audit?" + urllib.parse.urlencode(params), headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    with urllib.request.urlopen(req, timeout=20) as r:
        assert r.status == 200
        return json.loads(r.read())["records"]


# ---- the tests ----


def test_one_session_lists_and_calls_tools_of_both_servers(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            # mode "auto": the 2026 probe is refused, the handshake era is negotiated.
            assert c.protocol_version in HANDSHAKE_VERSIONS
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert set(tools) == ALL_TOOLS
            # The server's schemas arrive as it wrote them.
            assert tools["crm__echo"].input_schema["properties"]["text"]["type"] == "string"
            assert tools["crm__echo"].input_schema["required"] == ["text"]
            assert tools["files__read_file"].description == "Reads a file (every path holds the same fixed text)."

            r = await c.call_tool("files__read_file", {"path": "notes.txt"})
            assert not r.is_error
            assert text_of(r) == "contents of notes.txt: hello from the files server"
            r = await c.call_tool("crm__lookup_order", {"id": "42"})
            assert not r.is_error
            assert text_of(r) == "order 42: shipped"
            assert r.structured_content == {"result": "order 42: shipped"}

    run(body())


def test_the_documented_client_session_path(ready):
    """docs/mcp.md's snippet: a `ClientSession` over the transport's streams, `initialize()` by hand."""

    async def body():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {FULL_KEY}"}) as http:
            async with streamable_http_client(ready.url + "/mcp", http_client=http) as (read, write, *_):
                async with ClientSession(read, write, read_timeout_seconds=15) as s:
                    init = await s.initialize()
                    # The SDK asks for the newest handshake revision; Seam speaks it.
                    assert init.protocol_version == "2025-11-25"
                    assert ALL_TOOLS <= {t.name for t in (await s.list_tools()).tools}
                    r = await s.call_tool("crm__lookup_order", {"id": "c-42"})
                    assert text_of(r) == "order c-42: shipped"

    run(body())


def test_a_tool_that_does_not_exist_is_a_jsonrpc_error(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            # No such server, or no namespace at all: Seam cannot route it (docs/mcp.md: -32602).
            for name in ["nosuchserver__echo", "echo"]:
                with pytest.raises(MCPError) as refused:
                    await c.call_tool(name, {"text": "x"})
                assert refused.value.code == -32602, (name, refused.value.error)
            # A server's unknown tool fails, as a JSON-RPC error or as the server's own error result.
            try:
                assert (await c.call_tool("crm__no_such_tool", {"text": "x"})).is_error
            except MCPError:
                pass
            # The session goes on.
            assert text_of(await c.call_tool("crm__echo", {"text": "still here"})) == "still here"

    run(body())


def test_read_a_resource(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            resources = {str(r.uri): r for r in (await c.list_resources()).resources}
            assert "docs://readme" in resources
            assert resources["docs://readme"].name == "files__readme"
            r = await c.read_resource("docs://readme")
            assert [(str(x.uri), x.text) for x in r.contents] == [("docs://readme", README)]

    run(body())


def test_get_a_prompt(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            prompts = {p.name: p for p in (await c.list_prompts()).prompts}
            assert "files__summarize" in prompts
            assert [a.name for a in prompts["files__summarize"].arguments] == ["text"]
            r = await c.get_prompt("files__summarize", {"text": "the quarterly report"})
            assert [(m.role, m.content.text) for m in r.messages] == [
                ("user", "Summarize in one line: the quarterly report")
            ]

    run(body())


def test_a_narrow_key_sees_and_calls_only_its_tools(ready, crm):
    async def body():
        async with session(ready.url, NARROW_KEY) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            assert names == {"crm__lookup_customer", "crm__lookup_order"}
            assert text_of(await c.call_tool("crm__lookup_order", {"id": "narrow-1"})) == "order narrow-1: shipped"
            # Refused exactly like a tool no server has (docs/mcp.md: -32602 Unknown tool).
            with pytest.raises(MCPError) as refused:
                await c.call_tool("crm__delete_customer", {"id": "narrow-7"})
            assert refused.value.code == -32602, refused.value.error
            with pytest.raises(MCPError) as refused:
                await c.call_tool("files__read_file", {"path": "narrow-secret.txt"})
            assert refused.value.code == -32602, refused.value.error
            with pytest.raises(MCPError) as unknown:
                await c.call_tool("crm__no_such_tool", {"id": "narrow-8"})
            assert unknown.value.message == refused.value.message.replace("files__read_file", "crm__no_such_tool")
            # Refused calls never reached the server.
            assert not [line for line in crm.log if "narrow-7" in line]

    run(body())


def test_a_narrow_key_sees_no_prompts_or_resources_outside_its_globs(ready):
    async def body():
        async with session(ready.url, NARROW_KEY) as c:
            assert [p.name for p in (await c.list_prompts()).prompts] == []
            assert [r.name for r in (await c.list_resources()).resources] == []
            with pytest.raises(MCPError) as refused:
                await c.get_prompt("files__summarize", {"text": "x"})
            assert refused.value.code == -32602, refused.value.error
            with pytest.raises(MCPError) as refused:
                await c.read_resource("docs://readme")
            assert refused.value.code == -32002, refused.value.error

    run(body())


def test_a_tool_result_arrives_redacted(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            r = await c.call_tool("crm__lookup_customer", {"id": "7"})
            assert not r.is_error
            everything = dump(r)
            for raw in [EMAIL, CARD, CRM_SECRET]:
                assert raw not in everything, f"{raw!r} reached the client"
            text = text_of(r)
            # The customer's name is personal data too (PERSON), and the output rule redacts it.
            assert text.startswith("customer 7: <PERSON>")
            assert "Ada" not in everything and "Lovelace" not in everything
            for placeholder in ["<EMAIL_ADDRESS>", "<CREDIT_CARD>", "<SECRET_OPENAI_KEY>"]:
                assert placeholder in text
            # The structured copy of the same text is redacted the same way.
            assert r.structured_content in (None, {"result": text})

    run(body())


def test_a_secret_in_arguments_is_refused_before_the_server(ready, crm):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            with pytest.raises(MCPError) as refused:
                await c.call_tool("crm__echo", {"text": f"please store {ARG_SECRET}"})
            assert refused.value.code == -32001, refused.value.error
            said = json.dumps([refused.value.message, refused.value.data], default=str)
            assert ARG_SECRET not in said
            assert "SECRET_OPENAI_KEY" in said, said
            # Clean arguments pass.
            assert text_of(await c.call_tool("crm__echo", {"text": "nothing to hide"})) == "nothing to hide"
        assert not [line for line in crm.log if ARG_SECRET in line], "the secret reached the server"

    run(body())


def test_a_stdio_server_inherits_none_of_seams_environment(ready):
    """docs/mcp.md: a clean environment, `PATH`, `HOME`, `LANG`, `TMPDIR` and the configured `env`."""

    async def body():
        async with session(ready.url, FULL_KEY) as c:
            r = await c.call_tool("files__env_names", {})
            names = r.structured_content["result"]
            assert not [n for n in names if n.startswith("SEAM")], names
            assert set(names) <= {"PATH", "HOME", "LANG", "TMPDIR", "LC_CTYPE"}, names

    run(body())


def test_a_key_without_tools_sees_none(ready):
    async def body():
        async with session(ready.url, CHAT_KEY) as c:
            assert (await c.list_tools()).tools == []
            assert (await c.list_prompts()).prompts == []
            assert (await c.list_resources()).resources == []
            with pytest.raises(MCPError) as refused:
                await c.call_tool("crm__echo", {"text": "x"})
            assert refused.value.code == -32602, refused.value.error

    run(body())


def test_a_private_only_key_sees_only_private_servers(ready):
    async def body():
        async with session(ready.url, PRIVATE_KEY) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            assert names == {n for n in ALL_TOOLS if n.startswith("files__")}
            assert text_of(await c.call_tool("files__read_file", {"path": "p.txt"})).startswith("contents of p.txt")
            with pytest.raises(MCPError) as refused:
                await c.call_tool("crm__echo", {"text": "x"})
            assert refused.value.code == -32602, refused.value.error

    run(body())


def admin(url, method, path, body=None):
    req = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def test_a_stored_key_with_tools_and_its_revocation_mid_session(ready):
    created = admin(ready.url, "POST", "/admin/keys", {"name": "mcp-temp", "tools": ["crm__echo"]})

    async def body():
        statuses = []
        async with session(ready.url, created["key"], statuses) as c:
            assert [t.name for t in (await c.list_tools()).tools] == ["crm__echo"]
            assert text_of(await c.call_tool("crm__echo", {"text": "before"})) == "before"
            admin(ready.url, "DELETE", f"/admin/keys/{created['id']}")
            # Revoked takes effect at once (docs/http.md), open sessions included.
            with pytest.raises(MCPError) as refused:
                await c.call_tool("crm__echo", {"text": "after"})
            assert refused.value.code == -32011, refused.value.error
        assert ("POST", 401) in statuses

    run(body())


def test_tokenized_arguments_reach_the_tool_as_tokens_and_come_back_restored(ready):
    """`files__read_file` runs under a tokenize policy: the server gets `[EMAIL_ADDRESS_1]`, the
    client gets its own value back, and the record keeps neither the value nor a way back to it."""
    subject = "mcp-tokenize-subject"

    async def body():
        async with session(ready.url, FULL_KEY, headers={"x-seam-subject": subject}) as c:
            r = await c.call_tool("files__read_file", {"path": f"inbox of {EMAIL}"})
            assert text_of(r) == f"contents of inbox of {EMAIL}: hello from the files server"
            # What the server itself got (no policy on `last_path`, so its answer is as written).
            got = text_of(await c.call_tool("files__last_path", {}))
            assert got == "inbox of [EMAIL_ADDRESS_1]"

    run(body())
    records = admin_audit(ready.url, kind="tool_call", subject=subject)
    assert [r["model"] for r in records] == ["files__read_file", "files__last_path"]
    assert [(f["entity"], f["action"]) for f in records[0]["findings"]] == [("EMAIL_ADDRESS", "tokenize")]
    # docs/audit.md: a `redacted` record keeps the response "with the values the policy tokenized
    # masked again", and never holds a value the input policy acted on.
    assert records[0]["payload"]["upstream_request"]["arguments"] == {"path": "inbox of [EMAIL_ADDRESS_1]"}
    assert EMAIL not in json.dumps(records), json.dumps(records[0]["payload"]["response"])


def test_each_call_is_one_tool_call_audit_record_without_raw_values(ready):
    subject = "mcp-audit-subject"

    async def body():
        async with session(ready.url, FULL_KEY, headers={"x-seam-subject": subject, "x-seam-tags": "agent,mcp"}) as c:
            await c.list_tools()  # a list is not a call: no record
            await c.call_tool("crm__lookup_customer", {"id": "audit-1"})
            await c.call_tool("files__read_file", {"path": "audit.txt"})
            with pytest.raises(MCPError):
                await c.call_tool("crm__echo", {"text": f"audit {ARG_SECRET}"})
            assert (await c.call_tool("crm__fail_order", {"id": "audit-2"})).is_error

    run(body())
    records = admin_audit(ready.url, kind="tool_call", subject=subject)
    assert all(r["kind"] == "tool_call" for r in records), {r["kind"] for r in records}
    # docs/mcp.md: endpoint mcp_tool, model the namespaced tool, route mcp:SERVER; a refusal
    # has no route; a tool's own failure is `tool_error`.
    seen = sorted((r["model"], r["endpoint"], r["route"], r["status"], r["error_code"]) for r in records)
    assert seen == [
        ("crm__echo", "mcp_tool", None, 422, "policy_violation"),
        ("crm__fail_order", "mcp_tool", "mcp:crm", 200, "tool_error"),
        ("crm__lookup_customer", "mcp_tool", "mcp:crm", 200, None),
        ("files__read_file", "mcp_tool", "mcp:files", 200, None),
    ], json.dumps(records, indent=1)
    by_model = {r["model"]: r for r in records}
    assert all(r["key_id"] == "full" and r["subject"] == subject and r["tags"] == ["agent", "mcp"] for r in records)
    # What the policy found, by entity type and action, never a value.
    found = {(f["entity"], f["action"], f["stage"]) for f in by_model["crm__lookup_customer"]["findings"]}
    assert found == {
        ("PERSON", "redact", "output"),
        ("EMAIL_ADDRESS", "redact", "output"),
        ("CREDIT_CARD", "redact", "output"),
        ("SECRET_OPENAI_KEY", "redact", "output"),
    }
    assert [(f["entity"], f["action"], f["stage"]) for f in by_model["crm__echo"]["findings"]] == [
        ("SECRET_OPENAI_KEY", "block", "input")
    ]
    # The `redacted` class keeps the arguments as the server got them and the result as the
    # client got it.
    kept = by_model["crm__lookup_customer"]["payload"]
    assert kept["upstream_request"]["arguments"] == {"id": "audit-1"}
    assert "<EMAIL_ADDRESS>" in json.dumps(kept["response"])
    everything = json.dumps(records)
    for raw in [EMAIL, CARD, CRM_SECRET, ARG_SECRET]:
        assert raw not in everything, f"{raw!r} in an audit record"

    export = subprocess.run(
        [SEAM, "audit", "export", "--config", str(ready.cfg), "--kind", "tool_call", "--subject", subject],
        env=ready.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert export.returncode == 0, export.stderr
    exported = [json.loads(line) for line in export.stdout.splitlines() if line.strip()]
    assert sorted(r["id"] for r in exported) == sorted(r["id"] for r in records)
    for raw in [EMAIL, CARD, CRM_SECRET, ARG_SECRET]:
        assert raw not in export.stdout, f"{raw!r} in `seam audit export`"

    verify = subprocess.run(
        [SEAM, "audit", "verify", "--config", str(ready.cfg)],
        env=ready.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_metrics_count_calls_by_server_and_tool(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            await c.call_tool("crm__lookup_customer", {"id": "metrics-1"})

    run(body())
    with urllib.request.urlopen(ready.url + "/metrics", timeout=10) as r:
        metrics = r.read().decode()
    calls = [line for line in metrics.splitlines() if line.startswith("seam_mcp_calls_total{")]
    assert [line for line in calls if 'server="crm"' in line and 'tool="crm__lookup_customer"' in line], calls
    assert [line for line in metrics.splitlines() if line.startswith("seam_mcp_sessions")]
    for raw in [EMAIL, CARD, CRM_SECRET, ARG_SECRET, FULL_KEY, "metrics-1"]:
        assert raw not in metrics


def test_handshake_by_hand(gateway):
    sid = raw_session(gateway.url, "2025-06-18")
    status, _, body = post(
        gateway.url,
        {"jsonrpc": "2.0", "id": "list-1", "method": "tools/list"},
        headers={"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"},
    )
    assert status == 200
    assert body["id"] == "list-1"
    assert isinstance(body["result"]["tools"], list)
    # A version Seam does not speak is answered with one it does.
    status, _, body = post(
        gateway.url,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "initialize",
            "params": {"protocolVersion": "2099-01-01", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
        },
    )
    assert status == 200
    assert body["result"]["protocolVersion"] in HANDSHAKE_VERSIONS
    # An unsupported MCP-Protocol-Version header on a session's request is a 400.
    status, _, _ = post(
        gateway.url,
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        headers={"Mcp-Session-Id": sid, "MCP-Protocol-Version": "1999-01-01"},
    )
    assert status == 400


def test_an_unknown_session_is_404(gateway):
    status, _, body = post(
        gateway.url,
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Mcp-Session-Id": "no-such-session-0123456789", "MCP-Protocol-Version": "2025-06-18"},
    )
    assert status == 404
    assert body["error"]["code"] == -32600 and body["id"] == 1, body
    for method in ["GET", "DELETE"]:
        req = urllib.request.Request(
            gateway.url + "/mcp",
            headers={
                "Authorization": f"Bearer {FULL_KEY}",
                "Accept": "text/event-stream",
                "Mcp-Session-Id": "no-such-session-0123456789",
                "MCP-Protocol-Version": "2025-06-18",
            },
            method=method,
        )
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 404, method


def test_a_deleted_session_is_gone(gateway):
    sid = raw_session(gateway.url)
    req = urllib.request.Request(
        gateway.url + "/mcp",
        headers={"Authorization": f"Bearer {FULL_KEY}", "Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"},
        method="DELETE",
    )
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    # A server may refuse to end sessions on request (405); one that ends them forgets them.
    assert status in (200, 202, 204, 405)
    if status != 405:
        status, _, _ = post(
            gateway.url,
            {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"},
        )
        assert status == 404


def test_no_key_or_a_bad_key_is_401(gateway):
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
    }
    for key in [None, "sk-not-a-seam-key-0123456789", CRM_AUTHORIZATION.split()[1]]:
        status, _, body = post(gateway.url, init, key=key)
        assert status == 401, key
        assert body["error"]["code"] == -32011, body

    # Through the SDK: the connection fails, and nothing answered with a 5xx.
    async def body():
        statuses = []
        with pytest.raises(BaseException):
            async with session(gateway.url, "sk-not-a-seam-key-0123456789", statuses):
                pass
        assert statuses and all(s == 401 for _, s in statuses), statuses

    run(body())


def test_malformed_jsonrpc(gateway):
    sid = raw_session(gateway.url)
    headers = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"}
    # Not JSON: a parse error, id null, HTTP 400.
    status, _, body = post(gateway.url, b'{"jsonrpc": "2.0", "id": 5, "method": "tools/li', headers=headers)
    assert status == 400
    assert body["error"]["code"] == -32700
    assert body["id"] is None
    # JSON but not a request: invalid request, with the id it carried.
    for bad in [
        {"jsonrpc": "2.0", "id": 6, "method": 42},
        {"jsonrpc": "1.0", "id": 6, "method": "tools/list"},
    ]:
        status, _, body = post(gateway.url, bad, headers=headers)
        assert status in (200, 400), (bad, status)
        assert body["error"]["code"] == -32600, (bad, body)
        assert body["id"] == 6, (bad, body)
    # The same before any session exists.
    status, _, body = post(gateway.url, b"not json at all")
    assert status == 400
    assert body["error"]["code"] == -32700


async def files_pid(c):
    r = await c.call_tool("files__pid", {})
    assert not r.is_error, text_of(r)
    return int(text_of(r))


async def until_restarted(c, old_pid, within=10):
    """Polls `files__pid` until a process other than `old_pid` answers; returns its pid and the
    errors seen meanwhile."""
    deadline = time.monotonic() + within
    errors = []
    while True:
        try:
            pid = await files_pid(c)
            if pid != old_pid:
                return pid, errors
        except MCPError as e:
            errors.append(e)
        if time.monotonic() > deadline:
            raise AssertionError(f"the files server was not restarted within {within} s: {[e.error for e in errors]}")
        await asyncio.sleep(0.2)


def test_a_crashed_stdio_server_is_restarted_under_the_same_session(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            first = await files_pid(c)
            # The call in flight when the process dies fails as a JSON-RPC error; it does not hang.
            with pytest.raises(MCPError):
                await asyncio.wait_for(c.call_tool("files__crash", {}), 10)
            # The other server is unaffected.
            assert text_of(await c.call_tool("crm__echo", {"text": "crm still up"})) == "crm still up"
            second, meanwhile = await until_restarted(c, first)
            r = await c.call_tool("files__read_file", {"path": "after.txt"})
            assert text_of(r) == "contents of after.txt: hello from the files server"
            # docs/mcp.md: calls while it restarts fail fast with -32005 (not "unknown tool",
            # which tells an agent the tool is gone).
            assert all(e.code == -32005 for e in meanwhile), [e.error for e in meanwhile]

    run(body())


def test_the_agent_loop_through_seam(ready, crm):
    """An `openai` agent: tools from `/mcp`, the model asks for one, `/mcp` runs it, the model answers."""

    async def body():
        async with session(ready.url, FULL_KEY) as c:
            tools = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description or "", "parameters": t.input_schema},
                }
                for t in (await c.list_tools()).tools
            ]
            llm = openai.AsyncOpenAI(base_url=ready.url + "/v1", api_key=FULL_KEY, max_retries=0, timeout=20)
            messages = [{"role": "user", "content": "orders of agent-ada"}]
            choice = {"type": "function", "function": {"name": "crm__search_orders"}}
            first = await llm.chat.completions.create(model="agent", messages=messages, tools=tools, tool_choice=choice)
            assert first.choices[0].finish_reason == "tool_calls"
            call = first.choices[0].message.tool_calls[0]
            assert call.function.name == "crm__search_orders"

            result = await c.call_tool(call.function.name, json.loads(call.function.arguments))
            assert not result.is_error
            output = text_of(result)
            assert output == "2 orders match orders of agent-ada: #41 shipped, #42 pending"

            messages += [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": call.function.arguments}}
                    ],
                },
                {"role": "tool", "tool_call_id": call.id, "content": output},
            ]
            final = await llm.chat.completions.create(model="agent", messages=messages, tools=tools)
            assert final.choices[0].finish_reason == "stop"
            assert final.choices[0].message.content == "mock: " + output
        assert [line for line in crm.log if "agent-ada" in line and "search_orders" in line]

    run(body())


def test_concurrent_calls_in_one_session_each_get_their_own_answer(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            texts = [f"concurrent {i}" for i in range(8)]
            results = await asyncio.gather(*(c.call_tool("crm__echo", {"text": t}) for t in texts))
            assert [text_of(r) for r in results] == texts

    run(body())


def test_progress_notifications_reach_the_client(ready):
    steps = []

    async def on_progress(progress, total, message):
        steps.append((progress, total, message))

    async def body():
        async with session(ready.url, FULL_KEY) as c:
            r = await c.call_tool("crm__count_up", {"n": 3}, progress_callback=on_progress)
            assert text_of(r) == "counted to 3"

    run(body())
    assert steps == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]


def test_a_slow_tool_times_out_and_the_session_goes_on(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            started = time.monotonic()
            with pytest.raises(MCPError) as timed_out:
                await c.call_tool("crm__slow", {"seconds": 3})
            # [mcp.servers.crm.tools.slow] timeout_ms = 500 (docs/mcp.md: -32006).
            assert timed_out.value.code == -32006, timed_out.value.error
            assert time.monotonic() - started < 2.5
            assert text_of(await c.call_tool("crm__echo", {"text": "after the timeout"})) == "after the timeout"

    run(body())


def test_an_oversized_result_is_refused(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            assert text_of(await c.call_tool("crm__big", {"n": 100})) == "x" * 100
            # [mcp] max_result_bytes = 65536 (docs/mcp.md: -32007).
            with pytest.raises(MCPError) as too_big:
                await c.call_tool("crm__big", {"n": 200_000})
            assert too_big.value.code == -32007, too_big.value.error
            assert text_of(await c.call_tool("crm__echo", {"text": "after the big one"})) == "after the big one"

    run(body())


def test_a_tools_own_rate_limit(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            for _ in range(2):
                assert text_of(await c.call_tool("crm__quota", {})) == "ok"
            # [mcp.servers.crm.tools.quota] rpm = 2 (docs/mcp.md: -32004, data.retry_after_ms).
            with pytest.raises(MCPError) as limited:
                await c.call_tool("crm__quota", {})
            assert limited.value.code == -32004, limited.value.error
            assert limited.value.data["code"] == "rate_limited"
            assert 0 < limited.value.data["retry_after_ms"] <= 60_000

    run(body())


def test_resources_and_prompts_go_through_the_policy(ready, crm):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            r = await c.read_resource("crm://customers/7")
            text = "\n".join(x.text for x in r.contents)
            assert text == "<PERSON> <<EMAIL_ADDRESS>>, card <CREDIT_CARD>"
            p = await c.get_prompt("crm__draft_reply", {"customer": "Ada"})
            assert [m.content.text for m in p.messages] == [
                "Write to <PERSON> at <EMAIL_ADDRESS> about card <CREDIT_CARD>."
            ]
            for raw in [EMAIL, CARD]:
                assert raw not in dump(r) + dump(p)
            # Prompt arguments get the input stage like tool arguments.
            with pytest.raises(MCPError) as refused:
                await c.get_prompt("crm__draft_reply", {"customer": f"key {ARG_SECRET}"})
            assert refused.value.code == -32001, refused.value.error

    run(body())
    assert not [line for line in crm.log if ARG_SECRET in line], "the secret reached the server"


def test_a_session_belongs_to_the_key_that_made_it(gateway):
    sid = raw_session(gateway.url)
    headers = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    status, _, _ = post(gateway.url, ping, key=NARROW_KEY, headers=headers)
    assert status == 404
    status, _, body = post(gateway.url, ping, headers=headers)
    assert status == 200 and body == {"jsonrpc": "2.0", "id": 1, "result": {}}, body


def test_jsonrpc_errors_for_what_a_session_cannot_do(gateway):
    sid = raw_session(gateway.url)
    headers = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"}
    # A request without the session id: 400, -32600, its id kept.
    status, _, body = post(gateway.url, {"jsonrpc": "2.0", "id": 11, "method": "tools/list"})
    assert status == 400 and body["error"]["code"] == -32600 and body["id"] == 11, (status, body)
    # A batch: 400, -32600.
    status, _, body = post(gateway.url, [{"jsonrpc": "2.0", "id": 12, "method": "ping"}], headers=headers)
    assert status == 400, status
    assert (body[0] if isinstance(body, list) else body)["error"]["code"] == -32600, body
    # An unknown method: -32601 in a 200.
    status, _, body = post(gateway.url, {"jsonrpc": "2.0", "id": 13, "method": "tasks/list"}, headers=headers)
    assert status == 200 and body["error"]["code"] == -32601 and body["id"] == 13, (status, body)
    # A cursor: lists are whole (-32602).
    status, _, body = post(
        gateway.url, {"jsonrpc": "2.0", "id": 14, "method": "tools/list", "params": {"cursor": "2"}}, headers=headers
    )
    assert status == 200 and body["error"]["code"] == -32602 and body["id"] == 14, (status, body)
    # The 2026 revision's probe, sent before any session: method not found, so clients fall back.
    status, _, body = post(
        gateway.url,
        {"jsonrpc": "2.0", "id": 15, "method": "server/discover", "params": {}},
        headers={"MCP-Protocol-Version": "2026-07-28"},
    )
    assert body["error"]["code"] == -32601 and body["id"] == 15, (status, body)


def test_a_stdio_server_killed_while_idle_is_restarted(ready):
    async def body():
        async with session(ready.url, FULL_KEY) as c:
            first = await files_pid(c)
            os.kill(first, signal.SIGKILL)
            _, meanwhile = await until_restarted(c, first)
            assert all(e.code == -32005 for e in meanwhile), [e.error for e in meanwhile]

    run(body())


def test_an_http_server_that_goes_down_and_comes_back(ready, crm):
    """The crm server stops (its sessions with it) and a new one starts on the same port: lists
    leave it out meanwhile, and calls work again without the client doing anything."""
    port = urllib.parse.urlparse(crm.url).port
    crm.terminate()
    crm.wait(timeout=10)
    env = dict(os.environ, CRM_EXPECTED_AUTHORIZATION=CRM_AUTHORIZATION)
    revived = None
    try:

        async def body():
            nonlocal revived
            async with session(ready.url, FULL_KEY) as c:
                # Lists are cached for [mcp] list_ttl_ms (1 s here): let the cached one expire.
                await asyncio.sleep(1.2)
                # A down server's tool is unavailable (-32005), not unknown (-32602): an agent
                # told "unknown tool" drops it, one told "unavailable" retries.
                with pytest.raises(MCPError) as down:
                    await c.call_tool("crm__echo", {"text": "anyone?"})
                assert down.value.code == -32005, down.value.error
                # A down server is left out of lists, and named in _meta.
                listed = await c.list_tools()
                assert {t.name for t in listed.tools} == {n for n in ALL_TOOLS if n.startswith("files__")}
                assert "crm" in (listed.meta or {}).get("seam/unavailable_servers", []), listed.meta
                revived, _ = _start([sys.executable, str(SERVERS / "http_server.py"), str(port)], r"listening on", env=env)
                deadline = time.monotonic() + 15
                while True:
                    try:
                        assert text_of(await c.call_tool("crm__echo", {"text": "back"})) == "back"
                        break
                    except MCPError as e:
                        assert e.code == -32005, e.error
                        assert time.monotonic() < deadline, "crm calls still fail 15 s after it came back"
                        await asyncio.sleep(0.3)
                assert ALL_TOOLS <= {t.name for t in (await c.list_tools()).tools}

        run(body())
    finally:
        if revived is not None:
            revived.terminate()
            revived.wait(timeout=10)


def test_a_reload_that_adds_a_server_tells_open_sessions(ready):
    """Last in the module: it edits the config (and puts it back)."""
    changed = asyncio.Event()

    async def on_message(message):
        if type(message).__name__ == "ToolListChangedNotification":
            changed.set()

    original = ready.cfg.read_text()
    added = original + f'\n[mcp.servers.more]\ncommand = "{sys.executable}"\nargs = ["{SERVERS / "stdio_server.py"}"]\n'

    def reload():
        req = urllib.request.Request(
            ready.url + "/admin/reload", data=b"", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=20) as r:
            assert r.status == 200

    async def body():
        statuses = []
        async with session(ready.url, FULL_KEY, statuses, message_handler=on_message) as c:
            # Notifications travel on the session's GET stream, which the SDK opens after the
            # handshake: wait for it, or the notification has nowhere to go.
            deadline = time.monotonic() + 5
            while ("GET", 200) not in statuses:
                assert time.monotonic() < deadline, f"no GET stream: {statuses}"
                await asyncio.sleep(0.05)
            ready.cfg.write_text(added)
            try:
                reload()
                await asyncio.wait_for(changed.wait(), 10)
                deadline = time.monotonic() + 10
                while "more__read_file" not in {t.name for t in (await c.list_tools()).tools}:
                    assert time.monotonic() < deadline, "more__read_file never listed"
                    await asyncio.sleep(0.2)
                r = await c.call_tool("more__read_file", {"path": "x"})
                assert text_of(r) == "contents of x: hello from the files server"
            finally:
                ready.cfg.write_text(original)
                reload()

    run(body())


def test_a_keyless_loopback_seam_refuses_other_origins():
    """Without API keys `/mcp` is open on loopback; a web page the browser was tricked into sending
    there (DNS rebinding: `evil.example` resolving to 127.0.0.1) must not reach the tools. The MCP
    transport spec: servers MUST validate `Origin`, and answer an invalid one with 403."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="seam-mcp-origin-"))
    cfg = tmp / "seam.toml"
    cfg.write_text(f'[mcp.servers.files]\ncommand = "{sys.executable}"\nargs = ["{SERVERS / "stdio_server.py"}"]\n')
    proc, m = _start([SEAM, "serve", "--config", str(cfg), "--listen", "127.0.0.1:0"], r"listening on (http://[0-9.:]+)")
    url = m.group(1)
    port = urllib.parse.urlparse(url).port
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "page", "version": "0"}},
    }
    try:
        status, _, _ = post(url, init, key=None, headers={"Origin": f"http://127.0.0.1:{port}"})
        assert status == 200
        status, _, _ = post(url, init, key=None, headers={"Origin": f"http://evil.example:{port}"})
        assert status == 403
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sigterm_stops_seam_while_a_client_holds_its_notification_stream():
    """Every SDK client keeps `GET /mcp` open for the life of its session; stopping Seam (Ctrl-C,
    a deploy's SIGTERM) must not wait for those streams to end, because they never do."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="seam-mcp-stop-"))
    cfg = tmp / "seam.toml"
    cfg.write_text(f'[mcp.servers.files]\ncommand = "{sys.executable}"\nargs = ["{SERVERS / "stdio_server.py"}"]\n')
    proc, m = _start([SEAM, "serve", "--config", str(cfg), "--listen", "127.0.0.1:0"], r"listening on (http://[0-9.:]+)")
    url = m.group(1)
    try:
        sid = raw_session(url, key=None)
        opened = threading.Event()

        def listen():
            req = urllib.request.Request(
                url + "/mcp",
                headers={"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18", "Accept": "text/event-stream"},
            )
            with contextlib.suppress(OSError), urllib.request.urlopen(req, timeout=30) as r:
                assert r.status == 200
                opened.set()
                for _ in r:
                    pass

        threading.Thread(target=listen, daemon=True).start()
        assert opened.wait(5), "GET /mcp did not open"
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("seam still running 10 s after SIGTERM while an MCP notification stream is open")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
