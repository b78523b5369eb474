"""The web console as people use it: headless Chromium (Debian's, driven by Playwright) against a
`seam serve` with an admin key, a console (viewer) key and an audit store that keeps payloads,
filled with traffic from the mock upstream. Every page must render with data and without a browser
console error, page error or CSP violation; keys are created and revoked in the UI and used with the
`openai` SDK; payloads are masked until an admin reveals them and never reach a viewer's page.
The HTTP tests check the session, CSRF and Origin rules and the security headers without a browser.

Without Chromium (or Playwright) the browser tests skip; SEAM_REQUIRE_BROWSER=1 makes that a failure.
Screenshots land in tests/conformance/artifacts/console/.
"""

import hashlib
import http.cookies
import json
import os
import pathlib
import shutil
import subprocess
import urllib.error
import urllib.request

import openai
import pytest

from conftest import AUDIT_MASTER_KEY, ROOT, SEAM, config_file, start_seam, stop, wait_for

ADMIN_KEY = "console-admin-key-0123456789abcdef"
APP_KEY = "sk-seam-console-app-key-0123456789"
BATCH_KEY = "sk-seam-console-batch-key-0123456789"
VIEWER_KEY = "sk-seam-console-viewer-key-0123456789"
EMAIL = "alice.console@example.com"
CHROMIUM = os.environ.get("SEAM_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "conformance" / "artifacts" / "console"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

CONFIG = """
[storage]
url = "sqlite://console.db"

[admin]
key = "env:SEAM_TEST_ADMIN_KEY"

[audit]
master_key = "env:SEAM_TEST_AUDIT_KEY"
# `full` keeps what the client sent (the e-mail address the payload tests look for).
default_class = "full"

[providers.echo]
kind = "echo"

[providers.mock]
kind = "openai"
base_url = "{mock}/v1"
api_key = "env:SEAM_TEST_MOCK_KEY"
timeout_ms = 1500
breaker = {{ consecutive_failures = 50 }}

[models.chat]
targets = [{{ provider = "echo", model = "echo" }}]

[models.gpt]
targets = [{{ provider = "mock", model = "gpt-mock" }}]

[models.broken]
targets = [{{ provider = "mock", model = "fault-500" }}]

[models.guarded]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
policy = "mask-pii"

[policies.mask-pii.input]
pii = {{ action = "tokenize" }}

[keys.app]
hash = "sha256:{app}"
models = ["*"]
team = "support"

[keys.batch]
hash = "sha256:{batch}"
models = ["chat", "gpt"]
team = "research"

[keys.viewer]
hash = "sha256:{viewer}"
models = ["chat"]
console = true
"""

SUITE = """
description: console suite {n}
prompts:
  - "Say {{{{word}}}}"
providers:
  - seam:chat
tests:
  - vars: {{word: [alpha, beta, gamma]}}
    assert:
      - type: contains
        value: "{expect}"
"""


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


@pytest.fixture(scope="module")
def console(mock_url):
    cfg = config_file(
        "seam-console-", CONFIG.format(mock=mock_url, app=sha(APP_KEY), batch=sha(BATCH_KEY), viewer=sha(VIEWER_KEY))
    )
    env = dict(
        os.environ,
        SEAM_TEST_ADMIN_KEY=ADMIN_KEY,
        SEAM_TEST_AUDIT_KEY=AUDIT_MASTER_KEY,
        SEAM_TEST_MOCK_KEY="sk-mock-secret-value",
        SEAM_LOG="info",
    )
    proc = start_seam(cfg, env)
    proc.tmp = cfg.parent
    fill(proc.url)
    yield proc
    stop(proc)
    log = "".join(proc.log)
    for secret in [ADMIN_KEY, APP_KEY, VIEWER_KEY, AUDIT_MASTER_KEY, EMAIL]:
        assert secret not in log


def fill(url):
    """Traffic of two keys over four models: answers, upstream errors, a stream, an e-mail address."""
    app = openai.OpenAI(base_url=url + "/v1", api_key=APP_KEY, max_retries=0, timeout=20)
    batch = openai.OpenAI(base_url=url + "/v1", api_key=BATCH_KEY, max_retries=0, timeout=20)
    say = [{"role": "user", "content": "hello there"}]
    for _ in range(5):
        app.chat.completions.create(model="gpt", messages=say)
    for _ in range(3):
        batch.chat.completions.create(model="chat", messages=say)
    for _ in range(2):
        with pytest.raises(openai.APIStatusError):
            app.chat.completions.create(model="broken", messages=say)
    app.chat.completions.create(
        model="guarded", messages=[{"role": "user", "content": f"Please write to {EMAIL} about the invoice."}]
    )
    for _ in app.chat.completions.create(model="gpt", messages=say, stream=True):
        pass


# ---- HTTP: sessions, CSRF, headers (no browser) ----


def call(url, path, method="GET", body=None, headers=None):
    """(status, headers, JSON or None) of one request; errors are answers too."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            raw = r.read()
            return r.status, r.headers, json.loads(raw) if raw and "json" in r.headers.get("content-type", "") else raw
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, e.headers, json.loads(raw)
        except ValueError:
            return e.code, e.headers, raw


def session(url, key):
    """Signs in over HTTP: the cookie header to send back and the CSRF token."""
    status, headers, body = call(url, "/console/api/session", "POST", {"key": key})
    assert status == 200, body
    jar = http.cookies.SimpleCookie(headers["set-cookie"])
    return {"cookie": "seam_console=" + jar["seam_console"].value}, body


def test_the_app_shell_carries_the_security_headers_and_no_data(console):
    status, headers, body = call(console.url, "/console/")
    assert status == 200
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    html = body.decode()
    assert "<script>" not in html and "style=" not in html
    for word in ["support", "research", "gpt-mock", "guarded", EMAIL, APP_KEY, ADMIN_KEY]:
        assert word not in html
    for asset in ["app.js", "app.css", "favicon.svg"]:
        s, _, _ = call(console.url, "/console/assets/" + asset)
        assert s == 200


def test_api_routes_refuse_without_a_session(console):
    for path in ["/session", "/overview", "/spend", "/routes", "/policy", "/audit", "/chain", "/keys", "/evals", "/reports/cost"]:
        status, headers, body = call(console.url, "/console/api" + path)
        assert status == 401, path
        assert body["error"]["code"] == "invalid_api_key"
    status, _, _ = call(console.url, "/console/api/keys", "POST", {"name": "x", "models": ["chat"]})
    assert status == 401
    status, _, body = call(console.url, "/console/api/session", "POST", {"key": "not-the-admin-key-at-all"})
    assert status == 401 and "not-the-admin-key-at-all" not in json.dumps(body)


def test_a_write_needs_the_csrf_header_and_our_own_origin(console):
    cookie, s = session(console.url, ADMIN_KEY)
    assert s["role"] == "admin" and s["csrf"]
    new = {"name": "csrf-probe", "models": ["chat"]}
    status, _, body = call(console.url, "/console/api/keys", "POST", new, cookie)
    assert status == 403 and body["error"]["code"] == "csrf_failed"
    wrong = dict(cookie, **{"x-seam-csrf": "A" * len(s["csrf"])})
    status, _, body = call(console.url, "/console/api/keys", "POST", new, wrong)
    assert status == 403 and body["error"]["code"] == "csrf_failed"
    foreign = dict(cookie, **{"x-seam-csrf": s["csrf"], "origin": "http://evil.example"})
    status, _, body = call(console.url, "/console/api/keys", "POST", new, foreign)
    assert status == 403 and body["error"]["code"] == "csrf_failed"
    # The same request from our own page goes through: the refusals above were CSRF's.
    good = dict(cookie, **{"x-seam-csrf": s["csrf"], "origin": console.url})
    status, headers, body = call(console.url, "/console/api/keys", "POST", new, good)
    assert status == 201, body
    assert headers["cache-control"] == "no-store"
    key_id = body["key"]["id"] if isinstance(body.get("key"), dict) else body["id"]
    status, _, _ = call(console.url, "/console/api/keys/" + key_id, "DELETE", None, good)
    assert status == 200
    # Signed out, the cookie is worth nothing.
    status, _, _ = call(console.url, "/console/api/session", "DELETE", None, good)
    assert status == 204
    status, _, _ = call(console.url, "/console/api/overview", "GET", None, cookie)
    assert status == 401


# Sign-ins are rate limited (10 a minute per address): the tests share one session per role, and
# only test_sign_in_refuses_a_wrong_key_and_signs_out goes through the form.
@pytest.fixture(scope="module")
def sessions(console):
    return {"admin": session(console.url, ADMIN_KEY), "viewer": session(console.url, VIEWER_KEY)}


def test_a_viewer_reads_but_cannot_write_or_see_payloads(console, sessions):
    cookie, s = sessions["viewer"]
    assert s["role"] == "viewer" and s["name"] == "viewer"
    h = dict(cookie, **{"x-seam-csrf": s["csrf"]})
    status, _, body = call(console.url, "/console/api/keys", "POST", {"name": "nope", "models": ["chat"]}, h)
    assert status == 403 and body["error"]["code"] == "console_forbidden"
    status, _, body = call(console.url, "/console/api/audit?model=guarded", "GET", None, cookie)
    assert status == 200 and body["records"]
    rid = body["records"][0]["id"]
    status, _, body = call(console.url, f"/console/api/audit/{rid}?reveal=1", "GET", None, cookie)
    assert status == 200 and body["payload"] is None and body["payload_note"]
    assert EMAIL not in json.dumps(body)


# ---- the browser ----
# Waits poll from Python: Playwright's wait_for_function evaluates strings, which the CSP forbids.


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
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


class Console:
    """One browser tab on the console, recording every console error, page error and CSP violation."""

    def __init__(self, browser, url):
        self.url = url
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        # Runs before the app; CSP violations are reported to the page as events.
        self.page.add_init_script(
            "window.__csp = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )

    def _console(self, msg):
        if msg.type != "error":
            return
        # Asking whether a session exists (before sign-in) and a refused key are answered 401:
        # Chromium reports every 4xx fetch; those two are expected.
        where = (msg.location or {}).get("url", "")
        if "status of 401" in msg.text and where.endswith("/console/api/session"):
            return
        self.errors.append(f"console: {msg.text} ({where})")

    def sign_in(self, key, role):
        """Through the form."""
        self.page.goto(self.url + "/console/")
        self.page.fill("#key", key)
        self.page.click("button[type=submit]")
        self._signed_in(role)

    def resume(self, sessions, role):
        """With the role's session cookie: the app finds its session (and CSRF token) on load."""
        cookie, _ = sessions[role]
        name, value = cookie["cookie"].split("=", 1)
        self.context.add_cookies([{"name": name, "value": value, "url": self.url + "/console"}])
        self.page.goto(self.url + "/console/")
        self._signed_in(role)

    def _signed_in(self, role):
        self.page.wait_for_selector(".who .badge")
        assert self.page.text_content(".who .badge") == role
        self.wait()

    def wait(self):
        self.page.wait_for_selector(".page[aria-busy=false]", timeout=15000)
        assert self.page.locator(".error-box").count() == 0, self.page.text_content(".error-box")

    def open(self, route):
        self.page.goto(f"{self.url}/console/#/{route}")
        self.page.wait_for_selector(f'.page[data-route="#/{route}"]')
        self.wait()

    def shot(self, name):
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def clean(self):
        csp = self.page.evaluate("window.__csp")
        assert csp == [], csp
        assert self.errors == [], self.errors

    def close(self):
        self.context.close()


@pytest.fixture()
def tab(browser, console, request):
    t = Console(browser, console.url)
    yield t
    # The page as the test left it: what to look at when one fails.
    t.shot("last-" + request.node.name)
    t.close()


def test_sign_in_refuses_a_wrong_key_and_signs_out(tab):
    tab.page.goto(tab.url + "/console/")
    tab.page.fill("#key", "sk-seam-wrong-key-000000000000")
    tab.page.click("button[type=submit]")
    tab.page.wait_for_selector(".form-error")
    assert "not accepted" in tab.page.text_content(".form-error")
    tab.shot("sign-in")
    tab.sign_in(ADMIN_KEY, "admin")
    assert "sk-seam-wrong-key" not in tab.page.content()
    tab.page.click("#signout")
    tab.page.wait_for_selector("#key")
    tab.page.reload()
    tab.page.wait_for_selector("#key")
    tab.clean()


def test_an_ended_session_returns_to_the_sign_in_form(tab, console):
    tab.sign_in(ADMIN_KEY, "admin")
    cookie = next(c for c in tab.context.cookies() if c["name"] == "seam_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # Signed out elsewhere (another tab, or the session expired): the next page load sends the
    # app back to the form with a word on why, and nothing breaks.
    status, _, s = call(console.url, "/console/api/session", "GET", None, {"cookie": "seam_console=" + cookie["value"]})
    h = {"cookie": "seam_console=" + cookie["value"], "x-seam-csrf": s["csrf"]}
    assert call(console.url, "/console/api/session", "DELETE", None, h)[0] == 204
    tab.page.click("nav a[data-page=spend]")
    tab.page.wait_for_selector("#key")
    assert "session has ended" in tab.page.text_content(".form-error")
    assert [e for e in tab.errors if "/console/api/spend" not in e] == []


def test_every_page_renders_with_data(tab, sessions):
    tab.resume(sessions, "admin")
    page = tab.page

    # Overview: the totals count the traffic; charts are drawn; the top models name ours.
    wait_for(lambda: (tab.open("overview") or True) and page.text_content(".tile .tile-value") not in ("0", "—"), 30)
    assert int(page.text_content(".tile .tile-value").replace(",", "")) >= 10
    assert page.locator("svg.chart").count() >= 4
    assert "gpt" in page.text_content(".page")
    assert page.locator("#chain .badge").count() == 1
    # A hover shows the chart's tooltip.
    box = page.locator("svg.chart .overlay").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + box["height"] / 2)
    page.wait_for_selector(".tip.on")
    tab.shot("overview")
    for w in ["7d", "30d", "365d", "24h"]:
        page.click(f".windows button[data-window='{w}']")
        tab.wait()
        assert page.locator("svg.chart").count() >= 4

    tab.open("spend")
    assert "support" in page.text_content(".page") and "research" in page.text_content(".page")
    tab.shot("spend")

    tab.open("routes")
    text = page.text_content(".page")
    assert "guarded" in text and "gpt-mock" in text and "fault-500" in text
    tab.shot("routes")

    tab.open("policy")
    assert "EMAIL" in page.text_content(".page")
    assert EMAIL not in page.content()
    tab.shot("policy")

    tab.open("audit")
    assert page.locator(".results tbody tr").count() >= 10
    tab.shot("audit")

    tab.open("keys")
    assert page.locator("#create-key").count() == 1
    tab.shot("keys")

    tab.open("evals")
    tab.shot("evals")
    tab.clean()


def test_a_key_made_in_the_ui_works_until_revoked_there(tab, sessions):
    tab.resume(sessions, "admin")
    page = tab.page
    tab.open("keys")
    page.fill("#k-name", "made-in-ui")
    page.fill("#k-models", "gpt, chat")
    page.fill("#k-rpm", "100")
    page.fill("#k-team", "web")
    page.click("#create-key button[type=submit]")
    page.wait_for_selector("#secret")
    secret = page.text_content("#secret")
    assert secret.startswith("sk-seam-")
    assert "once" in page.text_content(".secret-panel")
    tab.shot("key-created")
    row = page.locator("tbody tr", has_text="made-in-ui")
    row.wait_for()
    assert "100 rpm" in row.text_content()

    c = openai.OpenAI(base_url=tab.url + "/v1", api_key=secret, max_retries=0)
    answer = c.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "echo: hi"

    # Shown once: the page, opened again, does not have it.
    page.click("#secret-done")
    tab.open("keys")
    assert secret not in page.content()

    row = page.locator("tbody tr", has_text="made-in-ui")
    row.locator("button", has_text="Revoke").click()
    row.locator("button", has_text="Yes, revoke").click()
    row.wait_for(state="detached")
    with pytest.raises(openai.AuthenticationError):
        c.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    tab.clean()


def test_the_audit_trail_is_searched_and_a_payload_revealed_by_an_admin(tab, sessions):
    tab.resume(sessions, "admin")
    page = tab.page
    tab.open("audit")
    page.fill("#f-model", "guarded")
    page.click("form.filters button[type=submit]")
    wait_for(lambda: page.locator(".results tbody tr").count() == 1)
    page.locator(".results tbody tr a").first.click()
    tab.wait()
    assert "guarded" in page.text_content(".meta")
    page.wait_for_selector("pre[data-part=client_request]")
    assert EMAIL not in page.content()
    page.locator("pre[data-part=client_request]").scroll_into_view_if_needed()
    tab.shot("audit-record")
    page.click("#reveal")
    page.wait_for_selector("#reveal[aria-pressed=true]")
    assert EMAIL in page.text_content("pre[data-part=client_request]")
    page.click("#reveal")
    page.wait_for_selector("#reveal[aria-pressed=false]")
    assert EMAIL not in page.content()

    page.click("#verify")
    wait_for(lambda: page.text_content(".chain-row .badge") == "Audit chain intact", 30)
    tab.clean()


def test_a_viewer_sees_no_forms_and_no_payloads(tab, sessions):
    tab.resume(sessions, "viewer")
    page = tab.page
    tab.open("keys")
    assert page.locator("#create-key").count() == 0
    assert page.locator("button", has_text="Revoke").count() == 0
    tab.open("evals")
    assert page.locator("#upload").count() == 0
    tab.open("audit")
    assert page.locator("#f-subject").count() == 0  # subjects are for admins
    page.fill("#f-model", "guarded")
    page.click("form.filters button[type=submit]")
    wait_for(lambda: page.locator(".results tbody tr").count() == 1)
    page.locator(".results tbody tr a").first.click()
    tab.wait()
    assert page.locator("#reveal").count() == 0 and page.locator("pre").count() == 0
    assert page.locator("#verify").count() == 0
    html = page.content()
    for secret in [EMAIL, ADMIN_KEY, APP_KEY, VIEWER_KEY, "sk-mock-secret-value"]:
        assert secret not in html
    tab.shot("viewer-record")
    for route in ["overview", "spend", "routes", "policy"]:
        tab.open(route)
        assert EMAIL not in page.content()
    tab.clean()


def test_eval_reports_are_uploaded_listed_and_compared(tab, console, sessions):
    reports = []
    for n, expect in [(1, "echo"), (2, "alpha")]:
        d = console.tmp / f"eval{n}"
        d.mkdir()
        (d / "suite.yaml").write_text(SUITE.format(n=n, expect=expect))
        env = dict(os.environ, OPENAI_API_KEY=APP_KEY)
        env.pop("OPENAI_BASE_URL", None)
        out = subprocess.run(
            [SEAM, "eval", "suite.yaml", "--base-url", console.url + "/v1", "-o", "r.json"],
            cwd=d, env=env, capture_output=True, text=True,
        )
        assert (d / "r.json").exists(), out.stderr
        reports.append(d / "r.json")

    tab.resume(sessions, "admin")
    page = tab.page
    for path, name in zip(reports, ["baseline", "candidate"]):
        tab.open("evals")
        page.set_input_files("#ev-file", str(path))
        page.fill("#ev-name", name)
        page.click("#upload button[type=submit]")
        page.wait_for_selector('.page[data-route^="#/evals/"]')
        tab.wait()
    # The candidate's run: two of three cases fail, and say why.
    assert "Failures (2)" in page.text_content(".page")
    tab.shot("eval-run")
    tab.open("evals")
    assert page.locator("tbody tr", has_text="baseline").count() == 1
    assert page.locator("svg.meter .whisker").count() >= 2
    page.select_option("#cmp-a", label="baseline")
    page.select_option("#cmp-b", label="candidate")
    page.click("#compare button")
    page.wait_for_selector(".verdict")
    assert "2 cases passed in the baseline and fail in the candidate" in page.text_content(".page")
    tab.shot("evals")

    # Not JSON: a clear message, no upload.
    bad = console.tmp / "bad.json"
    bad.write_text("not json")
    page.set_input_files("#ev-file", str(bad))
    page.click("#upload button[type=submit]")
    page.wait_for_selector("#upload + .form-error")
    tab.clean()


def test_reports_are_built_rendered_and_downloaded(tab, sessions):
    """The build/buy/hybrid reports (issue 21) in the console: built by the server from the traffic
    this module sent, drawn as the page's own tables and charts, downloaded as the CLI's files."""
    tab.resume(sessions, "viewer")
    page = tab.page
    tab.open("reports/cost")
    assert page.text_content(".report-head h2") == "Cost report"
    assert page.locator(".report .card").count() >= 3
    text = page.text_content(".report")
    assert "gpt" in text and "chat" in text
    assert EMAIL not in page.content()
    page.wait_for_selector(".report svg.chart")
    tab.shot("report-cost")
    for fmt, start in [("html", "<!doctype html>"), ("md", "# cost report"), ("json", "{")]:
        with page.expect_download() as d:
            page.click(f"button[data-format={fmt}]")
        body = pathlib.Path(d.value.path()).read_text()
        assert body.lower().startswith(start), body[:80]
        assert d.value.suggested_filename == f"seam-cost-report.{fmt}"

    # What-if waits for a scenario file; the worked example builds; a wrong one says where.
    tab.open("reports/whatif")
    assert page.locator(".report .empty").count() == 1
    page.fill("#rp-file", (ROOT / "docs" / "examples" / "scenarios.toml").read_text())
    page.click("#rp-build")
    page.wait_for_selector(".report .report-head")
    assert page.text_content(".report-head h2") == "What-if report"
    assert "self-hosted 8B" in page.text_content(".report")
    tab.shot("report-whatif")
    page.fill("#rp-file", "[[paths]]\nname = 'x'\nkind = 'teleport'\n")
    page.click("#rp-build")
    page.wait_for_selector("#report-form + .form-error")
    assert "paths" in page.text_content(".form-error")
    # Chromium logs the refused request; it is the answer this step expects.
    tab.errors = [e for e in tab.errors if not ("status of 400" in e and "/reports/whatif" in e)]

    for kind, title in [("quality", "Quality"), ("matrix", "Decision matrix"), ("exit", "Exit")]:
        tab.open(f"reports/{kind}")
        assert page.text_content(".report-head h2").startswith(title), kind
        assert page.locator(".report .card").count() >= 1, kind
        tab.shot(f"report-{kind}")
    tab.clean()
