"""OpenTelemetry traces as a collector sees them: `seam` with `[telemetry]` pointing at
seam-testkit's `seam-otlp` (an OTLP/HTTP protobuf receiver), driven by the real `openai` and
`anthropic` SDKs. Spans follow the GenAI semantic conventions, hang off the client's
`traceparent`, and the upstream attempt's span id is the one the upstream received. Content is
on spans only with `capture_content`, and then as sent upstream (after policy). A collector
that is down or slow costs requests nothing: they stay fast, the spans are dropped and counted.
"""

import json
import os
import time
import urllib.request

import anthropic
import openai
import pytest

from conftest import ROOT, config_file, start_helper, start_seam, stop, wait_for
from test_passthrough import marker, received  # noqa: F401 (marker is a fixture)

MOCK_MCP = os.environ.get("SEAM_MOCK_MCP_BIN", str(ROOT / "target" / "debug" / "seam-mock-mcp"))
OTLP = os.environ.get("SEAM_OTLP_BIN", str(ROOT / "target" / "debug" / "seam-otlp"))
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
EMAIL = "jane.doe@example.com"

CONFIG = """
[telemetry]
endpoint = "{otlp}"
capture_content = {capture}
timeout_ms = {timeout_ms}
queue = {queue}
batch = {batch}
resource = {{ "deployment.environment" = "conformance" }}

[providers.echo]
kind = "echo"

[providers.mock]
kind = "openai"
base_url = "{mock}/v1"
api_key = "env:SEAM_TEST_MOCK_KEY"
timeout_ms = 1500

[providers.mockanth]
kind = "anthropic"
base_url = "{mock}"
api_key = "env:SEAM_TEST_MOCK_KEY"
timeout_ms = 1500

[models.gpt]
targets = [{{ provider = "mock", model = "gpt-mock" }}]

[models.claude]
targets = [{{ provider = "mockanth", model = "claude-mock" }}]

[models.embed]
targets = [{{ provider = "echo", model = "embed" }}]

[models.broken]
targets = [{{ provider = "mock", model = "fault-500" }}]

[models.guarded]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "mask"

[policies.mask.input]
pii = {{ action = "redact" }}
"""


def get_json(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def collector():
    proc = start_helper(OTLP)
    yield proc
    stop(proc)


def gateway(mock_url, collector, extra="", **opts):
    values = dict(capture="false", timeout_ms=2000, queue=2048, batch=512)
    values.update(opts)
    cfg = config_file("seam-otel-", CONFIG.format(mock=mock_url, otlp=collector.url, **values) + extra)
    env = dict(os.environ, SEAM_TEST_MOCK_KEY="sk-mock-secret-value", SEAM_LOG="info")
    proc = start_seam(cfg, env)
    return proc


@pytest.fixture(scope="module")
def seam(mock_url, collector):
    proc = gateway(mock_url, collector)
    yield proc
    stop(proc)
    log = "".join(proc.log)
    assert "sk-mock-secret-value" not in log


@pytest.fixture(scope="module")
def capturing(mock_url, collector):
    proc = gateway(mock_url, collector, capture="true")
    yield proc
    stop(proc)


def spans_of(collector, trace_id, at_least=1):
    """The spans of one trace, once the exporter has sent at least `at_least` of them."""
    found = []

    def check():
        found[:] = [s for s in get_json(collector.url + "/spans") if s["trace_id"] == trace_id]
        return len(found) >= at_least

    wait_for(check, timeout=10)
    return found


def root_of(spans):
    [root] = [s for s in spans if s["kind"] == "server"]
    return root


def oai(url):
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=20)


def test_a_chat_completion_is_one_server_span_with_an_attempt_under_it(seam, collector, mock_url, marker):
    raw = oai(seam.url).chat.completions.with_raw_response.create(
        model="gpt",
        messages=[{"role": "user", "content": marker}],
        max_tokens=32,
        temperature=0.5,
        top_p=0.9,
        extra_headers={"traceparent": f"00-{TRACE}-{PARENT}-01"},
    )
    rid = raw.headers["x-seam-request-id"]
    spans = [s for s in spans_of(collector, TRACE, 2) if s["attributes"].get("seam.request_id") == rid or s["kind"] != "server"]
    root = [s for s in spans if s["attributes"].get("seam.request_id") == rid]
    assert len(root) == 1
    root = root[0]
    a = root["attributes"]
    assert root["name"] == "chat gpt"
    assert root["parent_span_id"] == PARENT, "the client's span is the parent"
    assert root["status"] == "unset"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "gpt"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.max_tokens"] == 32
    assert a["gen_ai.request.temperature"] == 0.5
    assert a["gen_ai.request.top_p"] == 0.9
    assert a["gen_ai.request.stream"] is False
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["gen_ai.response.id"] == raw.parse().id
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["seam.route"] == "mock/gpt-mock"
    assert a["seam.endpoint"] == "chat_completions"
    assert a["server.address"] == "127.0.0.1"
    assert a["server.port"] == int(mock_url.rsplit(":", 1)[1])
    assert a["http.response.status_code"] == 200
    assert root["resource"]["service.name"] == "seam"
    assert root["resource"]["deployment.environment"] == "conformance"

    attempts = [s for s in spans if s["kind"] == "client" and s["parent_span_id"] == root["span_id"]]
    assert len(attempts) == 1
    att = attempts[0]
    assert att["name"] == "chat gpt-mock"
    assert att["attributes"]["gen_ai.provider.name"] == "openai"
    assert att["attributes"]["seam.target"] == "mock/gpt-mock"
    # The vendor's spans hang off Seam's attempt span: its id went upstream in `traceparent`.
    sent = {k.lower(): v for k, v in received(mock_url, marker)["headers"].items()}
    assert sent["traceparent"] == f"00-{TRACE}-{att['span_id']}-01"
    stages = {s["name"] for s in spans if s["parent_span_id"] == root["span_id"]}
    assert "seam.limits.reserve" in stages
    # No content by default.
    for s in spans:
        assert "gen_ai.input.messages" not in s["attributes"]
        assert marker not in json.dumps(s)


def test_a_stream_a_message_and_embeddings_each_make_their_span(seam, collector):
    stream = oai(seam.url).chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hi"}], stream=True,
        extra_headers={"traceparent": f"00-{'1' * 32}-{PARENT}-01"},
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    root = root_of(spans_of(collector, "1" * 32, 2))
    assert root["name"] == "chat gpt"
    assert root["attributes"]["gen_ai.request.stream"] is True
    assert root["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
    assert root["attributes"]["gen_ai.usage.output_tokens"] > 0

    claude = anthropic.Anthropic(base_url=seam.url, api_key="unused", max_retries=0)
    claude.messages.create(
        model="claude", max_tokens=16, messages=[{"role": "user", "content": "hi"}],
        extra_headers={"traceparent": f"00-{'2' * 32}-{PARENT}-01"},
    )
    root = root_of(spans_of(collector, "2" * 32, 2))
    assert root["name"] == "chat claude"
    assert root["attributes"]["gen_ai.provider.name"] == "anthropic"
    assert root["attributes"]["seam.endpoint"] == "messages"
    assert root["attributes"]["gen_ai.request.max_tokens"] == 16

    oai(seam.url).embeddings.create(
        model="embed", input="hello", extra_headers={"traceparent": f"00-{'3' * 32}-{PARENT}-01"}
    )
    spans = spans_of(collector, "3" * 32, 2)
    root = root_of(spans)
    assert root["name"] == "embeddings embed"
    assert root["attributes"]["gen_ai.operation.name"] == "embeddings"
    assert root["attributes"]["gen_ai.provider.name"] == "seam.echo"
    [att] = [s for s in spans if s["kind"] == "client"]
    assert att["name"] == "embeddings embed"


def test_a_failure_is_an_error_span_with_its_code(seam, collector):
    with pytest.raises(openai.APIStatusError) as e:
        oai(seam.url).chat.completions.create(
            model="broken", messages=[{"role": "user", "content": "hi"}],
            extra_headers={"traceparent": f"00-{'4' * 32}-{PARENT}-01"},
        )
    spans = spans_of(collector, "4" * 32, 2)
    root = root_of(spans)
    assert root["status"] == "error"
    assert root["attributes"]["error.type"] == e.value.code
    assert root["attributes"]["http.response.status_code"] == e.value.status_code
    attempts = [s for s in spans if s["kind"] == "client"]
    assert attempts and all(s["status"] == "error" for s in attempts)
    assert attempts[0]["attributes"]["error.type"] == "upstream_5xx"


def test_a_trace_seam_begins_is_exported_with_no_parent(seam, collector):
    raw = oai(seam.url).chat.completions.with_raw_response.create(
        model="gpt", messages=[{"role": "user", "content": "hi"}]
    )
    root = root_of(spans_of(collector, raw.headers["x-seam-trace-id"], 2))
    assert root["parent_span_id"] == ""


def test_content_is_captured_only_when_asked_and_only_after_policy(capturing, collector, marker):
    oai(capturing.url).chat.completions.create(
        model="guarded",
        messages=[{"role": "user", "content": f"{marker} write to {EMAIL}"}],
        extra_headers={"traceparent": f"00-{'5' * 32}-{PARENT}-01"},
    )
    spans = spans_of(collector, "5" * 32, 2)
    root = root_of(spans)
    sent = json.loads(root["attributes"]["gen_ai.input.messages"])
    assert marker in json.dumps(sent), "what went upstream is there"
    assert "gen_ai.output.messages" in root["attributes"]
    # The address was masked before it went upstream; the span keeps the masked text only.
    assert EMAIL not in json.dumps(spans)
    # The input policy ran as a span of its own, with its findings as counts.
    [policy] = [s for s in spans if s["name"] == "seam.policy.input"]
    [finding] = [e for e in policy["events"] if e["attributes"]["seam.policy.entity"] == "EMAIL_ADDRESS"]
    assert finding["name"] == "gen_ai.seam.policy.finding"
    assert finding["attributes"]["seam.policy.count"] == 1


def metric(url, name):
    with urllib.request.urlopen(url + "/metrics") as r:
        text = r.read().decode()
    return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name) and not l.startswith("#"))


def test_a_collector_that_is_down_or_slow_costs_requests_nothing(mock_url, collector):
    proc = gateway(mock_url, collector, timeout_ms=300, queue=8, batch=4)
    try:
        client = oai(proc.url)
        get_json(collector.url + "/__otlp/mode", "POST", {"mode": "slow", "delay_ms": 5000})
        took = []
        for _ in range(30):
            t = time.perf_counter()
            client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
            took.append(time.perf_counter() - t)
        took.sort()
        assert took[len(took) // 2] < 0.5, took
        # The export timed out (an error) and what did not fit in the queue was dropped.
        wait_for(lambda: metric(proc.url, "seam_trace_export_errors_total") >= 1, timeout=10)
        assert metric(proc.url, "seam_trace_spans_dropped_total") > 0
        get_json(collector.url + "/__otlp/mode", "POST", {"mode": "fail"})
        before = metric(proc.url, "seam_trace_export_errors_total")
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
        wait_for(lambda: metric(proc.url, "seam_trace_export_errors_total") > before, timeout=10)
    finally:
        get_json(collector.url + "/__otlp/mode", "POST", {"mode": "ok"})
        stop(proc)


@pytest.fixture(scope="module")
def mcp_upstream():
    proc = start_helper(MOCK_MCP)
    yield proc
    stop(proc)


def test_a_tool_call_is_an_execute_tool_span_with_the_mcp_server_under_it(mock_url, collector, mcp_upstream):
    import asyncio

    from test_mcp import session, text_of

    extra = f"""
[mcp.servers.tk]
url = "{mcp_upstream.url}"
"""
    proc = gateway(mock_url, collector, extra=extra)
    trace = "6" * 32

    async def call():
        deadline = time.monotonic() + 15
        while True:
            async with session(proc.url, "unused") as c:
                if "tk__echo" in {t.name for t in (await c.list_tools()).tools}:
                    break
            assert time.monotonic() < deadline, "the tool was never listed"
            await asyncio.sleep(0.2)
        headers = {"traceparent": f"00-{trace}-{PARENT}-01"}
        async with session(proc.url, "unused", headers=headers) as c:
            return text_of(await c.call_tool("tk__echo", {"text": "ping"}))

    try:
        assert "ping" in asyncio.run(call())
        found = []

        def check():
            found[:] = [s for s in get_json(collector.url + "/spans") if s["trace_id"] == trace]
            return any(s["name"] == "execute_tool tk__echo" for s in found)

        wait_for(check, timeout=10)
        [root] = [s for s in found if s["name"] == "execute_tool tk__echo"]
        assert root["kind"] == "server" and root["parent_span_id"] == PARENT
        assert root["attributes"]["gen_ai.operation.name"] == "execute_tool"
        assert root["attributes"]["gen_ai.tool.name"] == "tk__echo"
        [up] = [s for s in found if s["parent_span_id"] == root["span_id"] and s["kind"] == "client"]
        assert up["name"] == "tools/call tk"
        assert up["status"] == "unset"
    finally:
        stop(proc)
