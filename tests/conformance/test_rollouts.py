"""Rollouts as an operator and an SDK user see them, on a `seam` of their own: a canary's candidate
answers a sticky share of subjects (`x-seam-variant`), a failing candidate is rolled back by its
error guard and a sound one promoted — each decision an audit record with its evidence — a shadow
candidate answers copies that are recorded and never returned, and operators pause, abort and
restart through the admin API.
"""

import hashlib
import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import openai
import pytest

from conftest import AUDIT_MASTER_KEY, SEAM, config_file, start_seam, stop, wait_for

GREET = "---\nmodel: greeter\n---\nHello {{ name }}\n"

CONFIG = """
[audit]
master_key = "env:SEAM_TEST_AUDIT_KEY"

[providers.echo]
kind = "echo"

[providers.mock]
kind = "openai"
base_url = "{mock}/v1"
api_key = "env:SEAM_TEST_MOCK_KEY"

[models.support]
targets = [{{ provider = "echo", model = "echo" }}]
[models.flaky]
targets = [{{ provider = "echo", model = "echo" }}]
[models.shadowed]
targets = [{{ provider = "echo", model = "echo" }}]
[models.ops]
targets = [{{ provider = "echo", model = "echo" }}]

[rollouts.good]
alias = "support"
mode = "canary"
candidate = {{ targets = [{{ provider = "mock", model = "gpt-4o-mini" }}] }}
steps = [50, 100]
min_samples_per_step = 10
sticky = "subject"
guard = ["error_rate"]

[rollouts.bad]
alias = "flaky"
mode = "canary"
candidate = {{ targets = [{{ provider = "mock", model = "fault-500" }}] }}
steps = [50, 100]
min_samples_per_step = 100000
guard = ["error_rate"]

[rollouts.copy]
alias = "shadowed"
mode = "shadow"
candidate = {{ targets = [{{ provider = "mock", model = "gpt-4o-mini" }}] }}

[rollouts.ops]
alias = "ops"
mode = "ab"
candidate = {{ targets = [{{ provider = "mock", model = "gpt-4o-mini" }}] }}
min_samples_per_step = 100000
goal = ["feedback:resolved >= -0.5", "eval:says-echo >= -1"]

[models.greeter]
targets = [{{ provider = "echo", model = "echo" }}]

# A prompt rolled out: half the subjects get the other template.
[rollouts.wording]
prompt = "greet"
mode = "ab"
candidate = {{ prompt = "greet-v2" }}
min_samples_per_step = 100000

# Every answer of `ops` graded off the request path; the echo control passes, the mock fails.
[evaluators.says-echo]
alias = "ops"
assert = [{{ type = "icontains", value = "echo" }}]
"""


@pytest.fixture(scope="module")
def ready(mock_url):
    cfg = config_file("seam-rollouts-", CONFIG.format(mock=mock_url))
    tmp = cfg.parent
    (tmp / "prompts").mkdir()
    (tmp / "prompts" / "greet.prompt").write_text(GREET)
    (tmp / "prompts" / "greet-v2.prompt").write_text("---\nmodel: greeter\n---\nHi there, {{ name }}!\n")
    env = dict(os.environ, SEAM_TEST_MOCK_KEY="sk-mock", SEAM_TEST_AUDIT_KEY=AUDIT_MASTER_KEY, SEAM_LOG="info")
    proc = start_seam(cfg, env)
    proc.cfg, proc.env = cfg, env
    # The rollouts start with the server's first tick.
    wait_for(lambda: all(r["status"] == "running" for r in admin(proc.url, "GET", "/admin/rollouts")[1]["rollouts"]))
    yield proc
    stop(proc)


def admin(url, method, path):
    req = urllib.request.Request(url + path, data=b"" if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def rollout(url, name):
    return admin(url, "GET", f"/admin/rollouts/{name}")[1]


def records(url, **params):
    return admin(url, "GET", "/admin/audit?" + urllib.parse.urlencode(params))[1]["records"]


def client(url):
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=20)


def ask(c, model, subject):
    """(x-seam-variant or None, status code)."""
    try:
        raw = c.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "hello"}], user=subject
        )
        return raw.headers.get("x-seam-variant"), 200, raw.headers.get("x-seam-route")
    except openai.APIStatusError as e:
        return e.response.headers.get("x-seam-variant"), e.status_code, None


def test_a_subject_stays_on_its_side_and_both_sides_serve(ready):
    c = client(ready.url)
    seen = {}
    for i in range(30):
        variant, status, route = ask(c, "ops", f"user-{i}")
        assert status == 200
        seen[f"user-{i}"] = variant
        assert route == ("mock/gpt-4o-mini" if variant == "ops:candidate" else "echo/echo")
    assert set(seen.values()) == {"ops:control", "ops:candidate"}
    for subject, variant in list(seen.items())[:10]:
        assert ask(c, "ops", subject)[0] == variant
    # The variant is on the record; the synthetic alias is no model a client can name or list.
    rec = [r for r in records(ready.url, model="ops") if r["kind"] == "request"][-1]
    assert rec["variant"] in {"ops:control", "ops:candidate"}
    assert all(not m.id.startswith("rollout:") for m in c.models.list().data)
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="rollout:ops", messages=[{"role": "user", "content": "x"}])


def test_a_prompt_rollout_renders_the_candidates_prompt_for_its_side(ready):
    c = client(ready.url)
    seen = set()
    for i in range(20):
        raw = c.chat.completions.with_raw_response.create(
            model="prompt:greet", messages=[], user=f"p-{i}", extra_body={"seam": {"vars": {"name": "Ada"}}}
        )
        text = raw.parse().choices[0].message.content
        variant, prompt = raw.headers["x-seam-variant"], raw.headers["x-seam-prompt"]
        if variant == "wording:candidate":
            assert (text, prompt.split("@")[0]) == ("echo: Hi there, Ada!", "greet-v2")
        else:
            assert (variant, text, prompt.split("@")[0]) == ("wording:control", "echo: Hello Ada", "greet")
        seen.add(variant)
    assert seen == {"wording:control", "wording:candidate"}
    # A client that pins a version opts out of the rollout: its subject's side does not matter.
    version = hashlib.sha256(GREET.encode()).hexdigest()[:12]
    for i in range(6):
        raw = c.chat.completions.with_raw_response.create(
            model=f"prompt:greet@{version}", messages=[], user=f"p-{i}", extra_body={"seam": {"vars": {"name": "Ada"}}}
        )
        assert raw.parse().choices[0].message.content == "echo: Hello Ada"
        assert raw.headers["x-seam-prompt"] == f"greet@{version}"


def test_a_failing_candidate_is_rolled_back_by_its_error_guard(ready):
    c = client(ready.url)
    statuses = {}
    for i in range(80):
        variant, status, _ = ask(c, "flaky", f"f-{i}")
        statuses.setdefault(variant, set()).add(status)
        if rollout(ready.url, "bad")["status"] != "running":
            break
    # Upstream errors, then the candidate's breaker opens (503): every candidate request failed.
    assert statuses["bad:candidate"] <= {502, 503}
    wait_for(lambda: rollout(ready.url, "bad")["status"] == "rolled_back")
    r = rollout(ready.url, "bad")
    assert "error_rate" in r["reason"]
    # Rolled back: the control serves everyone, with no variant (from the decider's next read on).
    wait_for(lambda: ask(c, "flaky", "f-0")[0] is None, timeout=5.0)
    for i in range(10):
        assert ask(c, "flaky", f"f-{i}")[:2] == (None, 200)
    def rollbacks():
        return [d for d in records(ready.url, kind="rollout_decision", model="bad") if "decision=rollback" in d["tags"]]

    wait_for(lambda: len(rollbacks()) == 1)
    [decision] = rollbacks()
    assert any(t.startswith("guard error_rate") or "error_rate" in t for t in decision["tags"][4:])


def test_a_sound_candidate_is_promoted(ready):
    c = client(ready.url)
    for i in range(200):
        ask(c, "support", f"s-{i}")
        if rollout(ready.url, "good")["status"] == "promoted":
            break
    wait_for(lambda: rollout(ready.url, "good")["status"] == "promoted")
    for i in range(5):
        variant, status, route = ask(c, "support", f"new-{i}")
        assert (variant, status, route) == ("good:candidate", 200, "mock/gpt-4o-mini")
    wait_for(
        lambda: [d["tags"][0] for d in records(ready.url, kind="rollout_decision", model="good")]
        == ["decision=start", "decision=promote"]
    )


def test_a_shadow_answers_copies_that_are_recorded_and_never_returned(ready):
    c = client(ready.url)
    raw = c.chat.completions.with_raw_response.create(
        model="shadowed", messages=[{"role": "user", "content": "shadow me"}]
    )
    assert raw.parse().choices[0].message.content == "echo: shadow me"
    assert raw.headers["x-seam-route"] == "echo/echo"
    assert raw.headers["x-seam-variant"] == "copy:control"
    rid = raw.headers["x-seam-request-id"]

    def shadow():
        return [r for r in records(ready.url, kind="shadow", model="shadowed") if r["id"] == f"{rid}:shadow"]

    wait_for(lambda: len(shadow()) == 1)
    [s] = shadow()
    assert s["route"] == "mock/gpt-4o-mini"
    assert s["variant"] == "copy:shadow"
    assert s["status"] == 200
    wait_for(lambda: rollout(ready.url, "copy")["samples"]["candidate"] >= 1)


def test_feedback_counts_in_the_variant_that_served_the_request(ready):
    c = client(ready.url)
    sides = {}
    for i in range(20):
        raw = c.chat.completions.with_raw_response.create(
            model="ops", messages=[{"role": "user", "content": "hi"}], user=f"fb-{i}"
        )
        sides.setdefault(raw.headers["x-seam-variant"], raw.headers["x-seam-request-id"])
    assert set(sides) == {"ops:control", "ops:candidate"}
    for variant, rid in sides.items():
        body = json.dumps({"request_id": rid, "name": "resolved", "value": variant == "ops:candidate"}).encode()
        req = urllib.request.Request(
            ready.url + "/v1/feedback", data=body, method="POST", headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(req) as r:
            assert r.status == 201
            assert json.loads(r.read())["variant"] == variant

    def goal():
        [line] = [e for e in rollout(ready.url, "ops")["evidence"] if e.startswith("goal feedback:resolved")]
        return line

    # One rating per side has reached the shared tallies: the goal's evidence counts them.
    wait_for(lambda: "(n 1 vs 1)" in goal())


def test_online_evaluators_score_each_side_and_keep_the_scores(ready):
    c = client(ready.url)
    for i in range(10):
        c.chat.completions.create(model="ops", messages=[{"role": "user", "content": "hi"}], user=f"ev-{i}")

    def evidence():
        [line] = [e for e in rollout(ready.url, "ops")["evidence"] if e.startswith("goal eval:says-echo")]
        return line

    # The echo control passes (1), the mock candidate fails (0): the estimate is their difference.
    wait_for(lambda: "candidate - control -1.0000" in evidence())
    scores = [r for r in records(ready.url, kind="feedback", model="ops") if "eval:says-echo" in r["tags"]]
    assert scores and all(r["payload"] is None for r in scores)
    passed = {r["variant"]: "pass=true" in r["tags"] for r in scores}
    assert passed == {"ops:control": True, "ops:candidate": False}


def test_operators_pause_abort_and_start_again(ready):
    url = ready.url
    status, body = admin(url, "POST", "/admin/rollouts/ops/start")
    assert status == 409 and "already running" in body["error"]["message"]
    assert admin(url, "POST", "/admin/rollouts/ops/pause")[1]["status"] == "paused"
    assert admin(url, "POST", "/admin/rollouts/ops/start")[1]["status"] == "running"
    assert admin(url, "POST", "/admin/rollouts/ops/abort")[1]["status"] == "aborted"
    # Aborted: this server follows at once; everyone is on the control, unlabelled.
    c = client(url)
    wait_for(lambda: ask(c, "ops", "user-1")[0] is None)
    again = admin(url, "POST", "/admin/rollouts/ops/start")[1]
    assert (again["status"], again["run"], again["stage"]) == ("running", 2, 0)
    assert admin(url, "POST", "/admin/rollouts/ops/dance")[0] == 404
    assert admin(url, "POST", "/admin/rollouts/nope/start")[0] == 404
    # Commands' records are written without holding up the answer: read them as they land.
    def tags():
        return [d["tags"][0] for d in records(url, kind="rollout_decision", model="ops")]

    expected = ["decision=start", "decision=pause", "decision=start", "decision=abort", "decision=start"]
    wait_for(lambda: tags() == expected)


def test_the_cli_sees_and_steers_the_same_rollouts(ready):
    def seam(*args):
        return subprocess.run(
            [SEAM, "rollout", *args, "--config", str(ready.cfg)], capture_output=True, text=True, env=ready.env
        )

    listed = seam("list")
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == ["bad", "copy", "good", "ops", "wording"]
    assert "rolled_back" in listed.stdout.splitlines()[0]
    shown = seam("status", "bad", "--json")
    assert json.loads(shown.stdout)["status"] == "rolled_back"
    paused = seam("pause", "ops")
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.startswith("ops: paused")
    # The running server follows the shared state.
    wait_for(lambda: rollout(ready.url, "ops")["status"] == "paused")
    assert seam("start", "ops").stdout.startswith("ops: running")
    failed = seam("promote", "nope")
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1 and "no rollout" in failed.stderr
    tags = [d["tags"][0] for d in records(ready.url, kind="rollout_decision", model="ops")]
    assert tags[-2:] == ["decision=pause", "decision=start"]
