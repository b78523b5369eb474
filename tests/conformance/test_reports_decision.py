"""`seam report exit|matrix|quality` as people read them (issue 21): traffic with tools and a
JSON schema response format sent through the real `openai` SDK to a running `seam serve`, then
the reports written as HTML and opened in headless Chromium (no console error, no page error)
and as JSON, where the features the SDK used show up against the alternative that lacks one.

Without Chromium (or Playwright) the browser tests skip, as in test_reports.py;
SEAM_REQUIRE_BROWSER=1 makes that a failure.
"""

import json
import os

import openai
import pytest

from conftest import ROOT, config_file, start_seam, stop
from test_reports import browser, open_report, report  # noqa: F401 (browser is a fixture)

WEIGHTS = ROOT / "docs" / "examples" / "weights.toml"

CONFIG = """
[storage]
url = "sqlite://decision.db"

[providers.mock]
kind = "openai"
base_url = "{mock}/v1"
api_key = "env:SEAM_TEST_MOCK_KEY"
timeout_ms = 1500

[providers.claude]
kind = "anthropic"
api_key = "env:SEAM_TEST_MOCK_KEY"

[models.gpt]
targets = [
  {{ provider = "mock", model = "gpt-mock" }},
  {{ provider = "claude", model = "claude-sonnet-4-5" }},
]

[models.solo]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
"""

TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "description": "Finds an order by id",
        "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
    },
}

SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "schema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    },
}


@pytest.fixture(scope="module")
def store(mock_url):
    """A `seam serve` that recorded tool and structured-output requests on `gpt`, plain and
    streamed ones on `solo`; its config."""
    cfg = config_file("seam-decision-", CONFIG.format(mock=mock_url))
    # The reports load the same config, so its `env:` secret must resolve for them too.
    os.environ.setdefault("SEAM_TEST_MOCK_KEY", "sk-mock-secret-value")
    proc = start_seam(cfg, dict(os.environ))
    client = openai.OpenAI(base_url=proc.url + "/v1", api_key="unused", max_retries=0, timeout=20)
    say = [{"role": "user", "content": "where is order 42?"}]
    try:
        for _ in range(2):
            client.chat.completions.create(model="gpt", messages=say, tools=[TOOL])
        # In JSON mode the mock answers with the user's JSON, which meets the schema.
        as_json = [{"role": "user", "content": json.dumps({"text": "order 42"})}]
        client.chat.completions.create(model="gpt", messages=as_json, response_format=SCHEMA)
        client.chat.completions.create(model="solo", messages=say)
        stream = client.chat.completions.create(model="solo", messages=say, stream=True)
        for _ in stream:
            pass
    finally:
        stop(proc)
    yield cfg


def test_the_exit_report_shows_the_features_the_sdk_used(store):
    data = json.loads(report(store, "exit", "json").read_text())["data"]
    rows = {r["alias"]: r for r in data["rows"]}
    assert rows["gpt"]["features"] == {"tools": 2, "json_schema": 1}
    assert rows["solo"]["features"] == {"streaming": 1}
    assert data["single_provider"] == ["solo"]
    alt = rows["gpt"]["alternatives"][0]
    assert alt["target"] == "claude/claude-sonnet-4-5"
    assert alt["lacks"] == ["json_schema"]
    assert rows["gpt"]["status"] == "blocked"


def test_the_exit_report_renders_in_chromium(store, browser):  # noqa: F811
    page, errors = open_report(browser, report(store, "exit", "html"))
    assert errors == []
    text = page.inner_text("body")
    for want in ["Exit", "json_schema (1)", "tools (2)", "claude/claude-sonnet-4-5", "blocked"]:
        assert want in text, want


def test_the_matrix_renders_in_chromium(store, browser):  # noqa: F811
    page, errors = open_report(browser, report(store, "matrix", "html", "--weights", str(WEIGHTS)))
    assert errors == []
    text = page.inner_text("body")
    for want in ["Decision matrix", "Vendor dependence and exit", "judged (weights file)", "burst"]:
        assert want in text, want


def test_the_matrix_counts_one_vendor_for_all_traffic(store):
    data = json.loads(report(store, "matrix", "json", "--weights", str(WEIGHTS)).read_text())["data"]
    assert data["facts"]["requests"] == 5
    assert data["facts"]["v"] == 1.0
    assert data["facts"]["top_vendor"] == "mock"
    assert [p["path"] for p in data["paths"]] == ["buy", "build", "hybrid", "burst"]
