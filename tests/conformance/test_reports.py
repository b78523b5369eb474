"""`seam report` as people read it: a store filled through the real `openai` SDK against a
running `seam serve` (the session's mock upstream, priced in `[pricing]`), then each report
written with `--format html` and opened in headless Chromium (Debian's, driven by Playwright):
no console error, no page error, the charts drawn (inline SVG with data) and the totals shown.

Other reports add their tests beside these with `report(...)` and `open_report(browser, path)`.
Without Chromium (or Playwright) the browser tests skip; SEAM_REQUIRE_BROWSER=1 makes that a
failure. The HTML lands in tests/conformance/artifacts/reports/.
"""

import json
import os
import shutil
import subprocess

import openai
import pytest

from conftest import ROOT, SEAM, config_file, start_seam, stop

CHROMIUM = os.environ.get("SEAM_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "conformance" / "artifacts" / "reports"
SCENARIOS = ROOT / "docs" / "examples" / "scenarios.toml"

CONFIG = """
[storage]
url = "sqlite://reports.db"

[providers.mock]
kind = "openai"
base_url = "{mock}/v1"
api_key = "env:SEAM_TEST_MOCK_KEY"
timeout_ms = 1500
breaker = {{ consecutive_failures = 50 }}

[providers.echo]
kind = "echo"

[pricing."mock/gpt-mock"]
input_per_mtok = 2.0
output_per_mtok = 8.0

[models.gpt]
targets = [{{ provider = "mock", model = "gpt-mock" }}]

[models.chat]
targets = [{{ provider = "echo", model = "echo" }}]

[models.broken]
targets = [{{ provider = "mock", model = "fault-500" }}]
"""


@pytest.fixture(scope="module")
def store(mock_url):
    """A `seam serve` that recorded 6 answered requests and 2 upstream failures; its config."""
    cfg = config_file("seam-reports-", CONFIG.format(mock=mock_url))
    env = dict(os.environ, SEAM_TEST_MOCK_KEY="sk-mock-secret-value")
    proc = start_seam(cfg, env)
    client = openai.OpenAI(base_url=proc.url + "/v1", api_key="unused", max_retries=0, timeout=20)
    say = [{"role": "user", "content": "hello there"}]
    for _ in range(4):
        client.chat.completions.create(model="gpt", messages=say)
    for _ in range(2):
        client.chat.completions.create(model="chat", messages=say)
    for _ in range(2):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="broken", messages=say)
    stop(proc)
    yield cfg


def report(cfg, kind, fmt, *args):
    """Runs `seam report KIND --format FMT ARGS…` on `cfg`; the written file's path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / f"{kind}.{fmt}"
    done = subprocess.run(
        [SEAM, "report", kind, "--config", str(cfg), "--format", fmt, "-o", str(out), *args],
        capture_output=True,
        text=True,
        timeout=60,
        # The reports load the same config, so its `env:` secret must resolve for them too.
        env=dict(os.environ, SEAM_TEST_MOCK_KEY="sk-mock-secret-value"),
    )
    assert done.returncode == 0, done.stderr
    return out


def test_the_cost_report_counts_what_the_sdk_sent(store):
    data = json.loads(report(store, "cost", "json").read_text())["data"]
    assert data["totals"]["requests"] == 8
    assert data["totals"]["errors"] == 2
    assert data["totals"]["cost_usd"] > 0
    assert {a["name"] for a in data["by_alias"]} == {"gpt", "chat", "broken"}
    assert data["by_model"][0]["name"] == "mock/gpt-mock"


@pytest.fixture(scope="module")
def browser():
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "playwright is not installed (scripts/setup-test-env)"
    if why is None and not shutil.which(CHROMIUM):
        why = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if why:
        if os.environ.get("SEAM_REQUIRE_BROWSER") == "1":
            pytest.fail(why + " and SEAM_REQUIRE_BROWSER=1")
        pytest.skip(why)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def open_report(browser, path):
    """Opens a report's HTML file; returns (page, errors): every console error and page error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    page.screenshot(path=str(path.with_suffix(".png")), full_page=True)
    return page, errors


def drawn_charts(page):
    """SVG charts on the page that draw data: a line series (polyline) or a bar (a rect with a tooltip)."""
    return page.locator("svg").evaluate_all(
        "svgs => svgs.filter(s => s.querySelector('polyline, rect > title')).length"
    )


def test_the_cost_report_renders_in_chromium(store, browser):
    page, errors = open_report(browser, report(store, "cost", "html"))
    assert errors == []
    assert page.title()
    text = page.inner_text("body")
    assert "Cost report" in text
    assert "mock/gpt-mock" in text
    assert "Daily spend" in text
    assert drawn_charts(page) >= 1


def test_the_whatif_report_renders_in_chromium(store, browser):
    page, errors = open_report(browser, report(store, "whatif", "html", "--scenarios", str(SCENARIOS)))
    assert errors == []
    text = page.inner_text("body")
    for want in ["What-if report", "12-month TCO", "Break-even", "Sensitivity", "hybrid 2 GPUs + gpt-4o-mini"]:
        assert want in text, want
    assert drawn_charts(page) >= 1
