"""API keys as an application sees them through the `openai` SDK: a seam with keys refuses calls
without one (AuthenticationError), refuses models outside the key's scope (PermissionDeniedError),
lists only what the key may use, and takes keys created with `seam keys create` while it runs.
"""

import hashlib
import json
import os
import pathlib
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import openai
import pytest

from conftest import SEAM, _start

APP_KEY = "sk-seam-conformance-app-key-0123456789"
METERED_KEY = "sk-seam-conformance-metered-key-0123456789"
ADMIN_KEY = "conformance-admin-key-0123456789"
RATER_A = "sk-seam-conformance-rater-a-0123456789"
RATER_B = "sk-seam-conformance-rater-b-0123456789"

CONFIG = """
[storage]
url = "sqlite://keys.db"

[admin]
key = "env:SEAM_TEST_ADMIN_KEY"

[providers.echo]
kind = "echo"

[models.chat]
targets = [{{ provider = "echo", model = "echo" }}]

[models.gpt-small]
targets = [{{ provider = "echo", model = "echo" }}]

[models.internal]
targets = [{{ provider = "echo", model = "echo" }}]

[keys.app]
hash = "sha256:{hash}"
models = ["chat", "gpt-*"]

[keys.metered]
hash = "sha256:{metered}"
models = ["chat"]
rpm = 2

[keys.rater-a]
hash = "sha256:{rater_a}"
models = ["chat"]
team = "support"

[keys.rater-b]
hash = "sha256:{rater_b}"
models = ["chat"]
team = "support"
"""


@pytest.fixture(scope="module")
def keyed():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="seam-keys-"))
    cfg = tmp / "seam.toml"
    cfg.write_text(
        CONFIG.format(
            hash=hashlib.sha256(APP_KEY.encode()).hexdigest(),
            metered=hashlib.sha256(METERED_KEY.encode()).hexdigest(),
            rater_a=hashlib.sha256(RATER_A.encode()).hexdigest(),
            rater_b=hashlib.sha256(RATER_B.encode()).hexdigest(),
        )
    )
    env = dict(os.environ, SEAM_TEST_ADMIN_KEY=ADMIN_KEY)
    proc, m = _start(
        [SEAM, "serve", "--config", str(cfg), "--listen", "127.0.0.1:0"],
        r"listening on (http://[0-9.:]+)",
        env=env,
    )
    proc.url = m.group(1)
    proc.cfg = cfg
    proc.env = env
    yield proc
    proc.terminate()
    proc.wait(timeout=10)
    log = "".join(proc.log)
    assert APP_KEY not in log and ADMIN_KEY not in log


def client(url, key):
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def hello(c, model="chat"):
    return c.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello"}])


def test_a_wrong_or_missing_key_is_an_authentication_error(keyed):
    with pytest.raises(openai.AuthenticationError) as e:
        hello(client(keyed.url, "sk-seam-not-a-real-key"))
    assert e.value.status_code == 401
    assert e.value.code == "invalid_api_key"
    assert "sk-seam-not-a-real-key" not in str(e.value)


def test_a_key_reaches_its_models_and_no_others(keyed):
    c = client(keyed.url, APP_KEY)
    assert hello(c).choices[0].message.content == "echo: hello"
    assert hello(c, "gpt-small").choices[0].message.content == "echo: hello"
    with pytest.raises(openai.PermissionDeniedError) as e:
        hello(c, "internal")
    assert e.value.status_code == 403 and e.value.code == "model_not_allowed"
    with pytest.raises(openai.PermissionDeniedError):
        hello(c, "echo/echo")
    assert sorted(m.id for m in c.models.list()) == ["chat", "gpt-small"]


def test_a_key_created_while_serving_works_within_seconds_and_revocation_too(keyed):
    made = subprocess.run(
        [SEAM, "keys", "create", "--config", str(keyed.cfg), "--name", "late", "--models", "internal", "--json"],
        capture_output=True, text=True, env=keyed.env,
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    c = client(keyed.url, created["key"])
    deadline = time.time() + 15
    while True:
        try:
            assert hello(c, "internal").choices[0].message.content == "echo: hello"
            break
        except openai.AuthenticationError:
            assert time.time() < deadline, "the new key was never accepted"
            time.sleep(0.5)
    listed = subprocess.run(
        [SEAM, "keys", "list", "--config", str(keyed.cfg), "--json"], capture_output=True, text=True, env=keyed.env
    )
    assert created["id"] in listed.stdout and created["key"] not in listed.stdout
    revoked = subprocess.run(
        [SEAM, "keys", "revoke", created["id"], "--config", str(keyed.cfg)], capture_output=True, text=True, env=keyed.env
    )
    assert revoked.returncode == 0, revoked.stderr
    deadline = time.time() + 15
    while True:
        try:
            hello(c, "internal")
            assert time.time() < deadline, "the revoked key kept working"
            time.sleep(0.5)
        except openai.AuthenticationError:
            break


def test_the_admin_api_takes_the_admin_key_only(keyed):
    def get(key):
        req = urllib.request.Request(keyed.url + "/admin/targets", headers={"Authorization": f"Bearer {key}"})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert get(APP_KEY) == 401
    assert get(ADMIN_KEY) == 200


def test_a_key_over_its_rpm_is_a_rate_limit_error_with_retry_after(keyed):
    c = client(keyed.url, METERED_KEY)
    hello(c)
    hello(c)
    with pytest.raises(openai.RateLimitError) as e:
        hello(c)
    assert e.value.status_code == 429 and e.value.code == "rate_limited"
    assert 1 <= int(e.value.response.headers["retry-after"]) <= 60


def test_a_key_created_through_the_admin_api_works_at_once_and_its_revocation_too(keyed):
    def admin(method, path, body=None):
        req = urllib.request.Request(
            keyed.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    status, bad = admin("POST", "/admin/keys", {"name": "api", "models": ["internal"], "policy": "nope"})
    assert status == 400 and bad["error"]["param"] == "policy"

    status, created = admin("POST", "/admin/keys", {"name": "api", "models": ["internal"], "team": "ops"})
    assert status == 201, created
    c = client(keyed.url, created["key"])
    # No waiting: the server that created the key reads its keys again before answering.
    assert hello(c, "internal").choices[0].message.content == "echo: hello"
    with pytest.raises(openai.PermissionDeniedError):
        hello(c, "chat")

    status, listed = admin("GET", "/admin/keys")
    assert status == 200
    assert created["id"] in json.dumps(listed) and created["key"] not in json.dumps(listed)

    status, revoked = admin("DELETE", "/admin/keys/" + created["id"])
    assert status == 200 and revoked["state"] == "revoked"
    with pytest.raises(openai.AuthenticationError):
        hello(c, "internal")
    assert admin("GET", "/admin/keys/key_does_not_exist")[0] == 404


def test_a_key_created_with_console_signs_in_to_the_console_as_a_viewer(keyed):
    """`seam keys create --console` makes a key for the web console: it signs in there, read-only
    (a cookie session; the key itself never reaches the console's API), and calls no model."""
    made = subprocess.run(
        [SEAM, "keys", "create", "--config", str(keyed.cfg), "--name", "ops", "--console", "--json"],
        capture_output=True, text=True, env=keyed.env,
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["scope"]["console"] is True

    def sign_in(key):
        req = urllib.request.Request(
            keyed.url + "/console/api/session",
            method="POST",
            data=json.dumps({"key": key}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, r.headers, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, e.headers, json.loads(e.read())

    deadline = time.time() + 15
    while True:
        status, headers, body = sign_in(created["key"])
        if status == 200:
            break
        assert status == 401 and time.time() < deadline, body
        # The key table is read every 5 s; sign-ins are limited to 10 a minute.
        time.sleep(1)
    assert (body["role"], body["name"], body["open"]) == ("viewer", "ops", False)
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and created["key"] not in cookie
    session = urllib.request.Request(keyed.url + "/console/api/keys", headers={"Cookie": cookie.split(";")[0]})
    with urllib.request.urlopen(session) as r:
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert created["key"] not in r.read().decode()
    # A viewer changes nothing.
    req = urllib.request.Request(
        keyed.url + "/console/api/keys",
        method="POST",
        data=json.dumps({"name": "x", "models": ["chat"]}).encode(),
        headers={"Cookie": cookie.split(";")[0], "Content-Type": "application/json", "x-seam-csrf": body["csrf"]},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403 and json.loads(e.value.read())["error"]["code"] == "console_forbidden"
    # The app key is not a console key; the console key calls no model.
    assert sign_in(APP_KEY)[0] == 401
    with pytest.raises(openai.PermissionDeniedError):
        hello(client(keyed.url, created["key"]))


def test_the_anthropic_sdk_authenticates_with_x_api_key_or_a_bearer_token(keyed):
    """The `anthropic` SDK sends `x-api-key`; Claude Code with ANTHROPIC_AUTH_TOKEN sends a Bearer
    token. Both reach /v1/messages with the same Seam keys, and refusals raise the SDK's own
    exception classes from Anthropic-shaped errors."""
    import anthropic

    def ask(c, model="chat"):
        return c.messages.create(
            model=model, max_tokens=16, messages=[{"role": "user", "content": "hello"}]
        )

    by_header = anthropic.Anthropic(base_url=keyed.url, api_key=APP_KEY, max_retries=0)
    assert ask(by_header).content[0].text == "echo: hello"
    by_token = anthropic.Anthropic(base_url=keyed.url, auth_token=APP_KEY, max_retries=0)
    assert ask(by_token).content[0].text == "echo: hello"
    wrong = anthropic.Anthropic(base_url=keyed.url, api_key="sk-seam-not-a-real-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        ask(wrong)
    assert e.value.status_code == 401
    assert e.value.body["error"]["type"] == "authentication_error"
    assert "sk-seam-not-a-real-key" not in str(e.value)
    with pytest.raises(anthropic.PermissionDeniedError) as e:
        ask(by_header, "internal")
    assert e.value.body["error"]["type"] == "permission_error"
    with pytest.raises(anthropic.NotFoundError):
        by_header.post("/v1/messages/nope", body={}, cast_to=object)
    # x-api-key is the Messages surface's; the OpenAI surfaces take Bearer only.
    req = urllib.request.Request(
        keyed.url + "/v1/chat/completions",
        data=json.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}).encode(),
        headers={"content-type": "application/json", "x-api-key": APP_KEY},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 401


def test_the_responses_surface_takes_the_same_keys_and_scopes(keyed):
    c = client(keyed.url, APP_KEY)
    r = c.responses.create(model="chat", input="hello")
    assert r.output_text == "echo: hello"
    with pytest.raises(openai.PermissionDeniedError):
        c.responses.create(model="internal", input="hello")
    with pytest.raises(openai.AuthenticationError):
        client(keyed.url, "sk-seam-not-a-real-key").responses.create(model="chat", input="hi")
    # Stored under this key, read back with it (another key gets 404: tests/server/conversations.rs).
    assert c.responses.retrieve(r.id).id == r.id


def feedback(url, key, body):
    req = urllib.request.Request(
        url + "/v1/feedback",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_key_rates_its_own_and_its_teams_requests_only(keyed):
    raw = client(keyed.url, RATER_A).chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "rate me"}]
    )
    rid = raw.headers["x-seam-request-id"]
    rating = {"request_id": rid, "name": "resolved", "value": True, "comment": "fixed it"}
    status, body = feedback(keyed.url, RATER_A, rating)
    assert status == 201, body
    assert body["id"].startswith("fb_") and body["value"] == 1.0
    assert feedback(keyed.url, RATER_B, {**rating, "value": 0.5})[0] == 201
    # Another team's key (or a key of none) finds nothing to rate: the same 404 as an unknown id.
    for key in [APP_KEY]:
        status, body = feedback(keyed.url, key, rating)
        assert status == 404 and body["error"]["param"] == "request_id"
    assert feedback(keyed.url, RATER_A, {**rating, "request_id": "req-unknown"})[0] == 404
    status, body = feedback(keyed.url, RATER_A, {**rating, "value": 4})
    assert status == 400 and body["error"]["param"] == "value"
    status, body = feedback(keyed.url, RATER_A, {**rating, "stars": 4})
    assert status == 400
    assert feedback(keyed.url, "sk-seam-nope", rating)[0] == 401
    # In the audit trail beside the request.
    req = urllib.request.Request(
        keyed.url + "/admin/audit?kind=feedback", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    with urllib.request.urlopen(req) as r:
        records = json.loads(r.read())["records"]
    mine = [x for x in records if f"request:{rid}" in x["tags"]]
    assert [x["key_id"] for x in mine] == ["rater-a", "rater-b"]
    assert all("feedback:resolved" in x["tags"] and x["model"] == "chat" for x in mine)
