"""Two `seam` replicas sharing PostgreSQL (keys, spend ledger, rollouts) and Redis (counters), as
an application sees them through the `openai` SDK: one key's requests per minute and one key's daily
budget hold across both replicas together, never once per replica, and one rollout is one: a
subject's side, the tallies and the decision are shared.

Needs PostgreSQL on 127.0.0.1:5432 (each run gets a fresh database) and Redis on :6379; skipped
when either is down unless SEAM_REQUIRE_POSTGRES / SEAM_REQUIRE_REDIS is set.
"""

import hashlib
import json
import os
import pathlib
import secrets
import socket
import subprocess
import tempfile
import urllib.request

import openai
import pytest

from conftest import SEAM, _start, wait_for

FAST_KEY = "sk-seam-replicas-fast-" + secrets.token_hex(8)
SPENDER_KEY = "sk-seam-replicas-spender-" + secrets.token_hex(8)
ROLL_KEY = "sk-seam-replicas-roll-" + secrets.token_hex(8)
ADMIN_KEY = "replicas-admin-" + secrets.token_hex(8)
# Key names are unique per run: counters in a shared Redis outlive a run.
RUN = secrets.token_hex(4)

CONFIG = """
[storage]
url = "{pg}"
redis_url = "redis://127.0.0.1:6379"

[audit]
enabled = false

# The default deadline (50 ms) is for production; a loaded 2-core CI box can miss it, and a
# missed call would be served uncounted (on_error = open), which these tests count.
[limits]
redis_timeout_ms = 2000

[providers.echo]
kind = "echo"

# Echo is free; price it so the budget has something to count ($1000 per million tokens).
[pricing."echo/echo"]
input_per_mtok = 1000
output_per_mtok = 1000

[models.chat]
targets = [{{ provider = "echo", model = "echo" }}]

[admin]
key = "env:SEAM_TEST_ADMIN_KEY"

# Nothing listens on port 9: the candidate fails at once.
[providers.dead]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"

[models.split]
targets = [{{ provider = "echo", model = "echo" }}]

[rollouts.split]
alias = "split"
mode = "canary"
candidate = {{ targets = [{{ provider = "dead", model = "m" }}] }}
steps = [50, 100]
min_samples_per_step = 100000
guard = ["error_rate"]

# A rollout that never decides (nothing to show, no samples enough): where stickiness is checked.
[providers.echo2]
kind = "echo"

[models.steady]
targets = [{{ provider = "echo", model = "echo" }}]

[rollouts.steady]
alias = "steady"
mode = "canary"
candidate = {{ targets = [{{ provider = "echo2", model = "echo" }}] }}
steps = [50, 100]
min_samples_per_step = 100000
guard = []

[keys.roll-{run}]
hash = "sha256:{roll}"
models = ["split", "steady"]

[keys.fast-{run}]
hash = "sha256:{fast}"
models = ["chat"]
rpm = 5

[keys.spender-{run}]
hash = "sha256:{spender}"
models = ["chat"]
budget_usd = 0.1
budget_period = "day"
"""


def _up(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def replicas():
    for port, var in ((5432, "SEAM_REQUIRE_POSTGRES"), (6379, "SEAM_REQUIRE_REDIS")):
        if not _up(port):
            if os.environ.get(var):
                pytest.fail(f"127.0.0.1:{port} is required ({var}) but down")
            pytest.skip(f"nothing on 127.0.0.1:{port}")
    db = f"seam_replicas_{RUN}"
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {db}"], check=True
    )
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="seam-replicas-"))
    cfg = tmp / "seam.toml"
    cfg.write_text(
        CONFIG.format(
            pg=f"postgres://postgres@127.0.0.1:5432/{db}",
            run=RUN,
            fast=hashlib.sha256(FAST_KEY.encode()).hexdigest(),
            spender=hashlib.sha256(SPENDER_KEY.encode()).hexdigest(),
            roll=hashlib.sha256(ROLL_KEY.encode()).hexdigest(),
        )
    )
    procs = []
    for _ in range(2):
        proc, m = _start(
            [SEAM, "serve", "--config", str(cfg), "--listen", "127.0.0.1:0"],
            r"listening on (http://[0-9.:]+)",
            env=dict(os.environ, SEAM_TEST_ADMIN_KEY=ADMIN_KEY),
        )
        proc.url = m.group(1)
        procs.append(proc)
    yield procs
    for p in procs:
        p.terminate()
        p.wait(timeout=10)
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE {db}"])


def hello(url, key):
    c = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    return c.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "hello there"}], max_tokens=16
    )


def test_one_keys_rpm_holds_across_both_replicas(replicas):
    a, b = replicas
    for i in range(5):
        hello((a, b)[i % 2].url, FAST_KEY)
    for r in (a, b):
        with pytest.raises(openai.RateLimitError) as e:
            hello(r.url, FAST_KEY)
        assert e.value.code == "rate_limited"
        assert 1 <= int(e.value.response.headers["retry-after"]) <= 60


def test_one_keys_daily_budget_holds_across_both_replicas(replicas):
    a, b = replicas
    spent = 0.0
    served = 0
    with pytest.raises(openai.RateLimitError) as e:
        for i in range(100):
            raw = hello((a, b)[i % 2].url, SPENDER_KEY)
            spent += float(raw.headers["x-seam-cost-usd"])
            served += 1
    assert e.value.code == "budget_exceeded"
    assert "budget" in str(e.value)
    # Each answer cost what it reserved or less, so spend never passes the budget.
    assert served >= 2 and spent <= 0.1 + 1e-9, (served, spent)
    # The other replica refuses too: the budget is one, not one per replica.
    with pytest.raises(openai.RateLimitError) as e2:
        hello(b.url, SPENDER_KEY)
    assert e2.value.code == "budget_exceeded"
    # Whole seconds to midnight UTC.
    assert 1 <= int(e2.value.response.headers["retry-after"]) <= 86400


def rollout(url, name="split"):
    req = urllib.request.Request(url + f"/admin/rollouts/{name}", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def test_one_rollout_is_shared_by_both_replicas(replicas):
    a, b = replicas
    wait_for(lambda: rollout(a.url).get("status") == "running" and rollout(b.url).get("status") == "running")
    assert rollout(a.url)["run"] == rollout(b.url)["run"] == 1
    clients = [openai.OpenAI(base_url=r.url + "/v1", api_key=ROLL_KEY, max_retries=0) for r in replicas]

    def ask(i, subject, model="split"):
        try:
            raw = clients[i % 2].chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": "hi"}], user=subject
            )
            return raw.headers.get("x-seam-variant")
        except openai.APIStatusError as e:
            return e.response.headers.get("x-seam-variant")

    # Each replica assigns once its own tick has read the rollout's state.
    wait_for(lambda: ask(0, "probe", "steady") is not None and ask(1, "probe", "steady") is not None)
    # A subject is on the same side on either replica (on a rollout that cannot end meanwhile).
    sides = [ask(0, f"same-{i}", "steady") for i in range(12)]
    assert sides == [ask(1, f"same-{i}", "steady") for i in range(12)]
    assert set(sides) == {"steady:control", "steady:candidate"}
    sent = 0
    while rollout(a.url)["status"] == "running" and sent < 200:
        ask(sent, f"s-{sent}")
        sent += 1
    # Decided once, on both replicas' requests together; both follow it.
    wait_for(lambda: rollout(a.url)["status"] == rollout(b.url)["status"] == "rolled_back")
    # Both read one set of tallies, which counts the requests both served (they went to each in
    # turn; requests a replica served after it saw the rollback are not counted).
    wait_for(lambda: rollout(a.url)["samples"] == rollout(b.url)["samples"])
    samples = rollout(b.url)["samples"]
    assert samples["candidate"] >= 1 and samples["control"] >= 1
    # Each replica stops assigning within a tick of the decision, whichever replica made it.
    wait_for(lambda: all(ask(i, f"after-{i}") is None for i in range(4)), timeout=5.0)
