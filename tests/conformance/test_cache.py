"""The exact response cache as an application sees it through the `openai` SDK: the second identical
call is answered from the cache (`x-seam-cache: hit`, the same completion), a streamed hit yields the
same text as a real stream, an alias without a rule sends no cache header, and `seam keys create`
takes the cache flags.
"""

import json
import os
import pathlib
import subprocess
import tempfile
import uuid

import openai
import pytest

from conftest import SEAM, _start

CONFIG = """
[storage]
url = "sqlite://cache.db"

[audit]
enabled = false

[providers.mock]
kind = "openai"
base_url = "{mock}/v1"
api_key = "env:SEAM_TEST_MOCK_KEY"

[models.faq]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
cache = {{ ttl_s = 600, scope = "org" }}

[models.plain]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
"""


@pytest.fixture(scope="module")
def cached(mock_url):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="seam-cache-"))
    cfg = tmp / "seam.toml"
    cfg.write_text(CONFIG.format(mock=mock_url))
    env = dict(os.environ, SEAM_TEST_MOCK_KEY="sk-mock-secret-value")
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


def client(url):
    return openai.OpenAI(base_url=url + "/v1", api_key="unused-without-keys", max_retries=0, timeout=20)


def question():
    # Unique per run, so nothing cached by an earlier run answers.
    return f"What is the refund window? ({uuid.uuid4()})"


def test_the_second_identical_call_is_a_hit_with_the_same_completion(cached):
    c = client(cached.url)
    messages = [{"role": "user", "content": question()}]
    first = c.chat.completions.with_raw_response.create(model="faq", messages=messages, temperature=0)
    second = c.chat.completions.with_raw_response.create(model="faq", messages=messages, temperature=0)
    assert first.headers["x-seam-cache"] == "miss"
    assert second.headers["x-seam-cache"] == "hit"
    assert second.headers["x-seam-route"] == "mock/gpt-mock"
    assert float(second.headers["x-seam-cost-usd"]) == 0.0
    a, b = first.parse(), second.parse()
    assert b.choices[0].message.content == a.choices[0].message.content
    assert b.id == a.id, "the stored completion, not a new one"
    # `user` names who asks; it does not make another question.
    third = c.chat.completions.with_raw_response.create(
        model="faq", messages=messages, temperature=0, user="someone-else"
    )
    assert third.headers["x-seam-cache"] == "hit"
    other = c.chat.completions.with_raw_response.create(model="faq", messages=messages, temperature=0.5)
    assert other.headers["x-seam-cache"] == "miss"


def test_a_streamed_hit_yields_the_same_text(cached):
    c = client(cached.url)
    messages = [{"role": "user", "content": question()}]

    first = c.chat.completions.with_raw_response.create(model="faq", messages=messages, stream=True)
    first_text = "".join(ch.choices[0].delta.content or "" for ch in first.parse() if ch.choices)
    second = c.chat.completions.with_raw_response.create(model="faq", messages=messages, stream=True)
    second_text = "".join(ch.choices[0].delta.content or "" for ch in second.parse() if ch.choices)
    assert first.headers["x-seam-cache"] == "miss"
    assert second.headers["x-seam-cache"] == "hit"
    assert second.headers["content-type"].startswith("text/event-stream")
    assert first_text.startswith("mock: ") and second_text == first_text


def test_an_alias_without_a_rule_sends_no_cache_header(cached):
    c = client(cached.url)
    messages = [{"role": "user", "content": question()}]
    for _ in range(2):
        r = c.chat.completions.with_raw_response.create(model="plain", messages=messages)
        assert "x-seam-cache" not in r.headers


def test_keys_create_takes_the_cache_flags(tmp_path):
    cfg = tmp_path / "seam.toml"
    cfg.write_text('[storage]\nurl = "sqlite://keys.db"\n[providers.echo]\nkind = "echo"\n'
                   '[models.faq]\ntargets = [{ provider = "echo", model = "echo" }]\n')
    made = subprocess.run(
        [SEAM, "keys", "create", "--config", str(cfg), "--name", "faq-bot", "--models", "faq",
         "--cache-ttl", "3600", "--cache-scope", "team", "--team", "support", "--json"],
        capture_output=True, text=True,
    )
    assert made.returncode == 0, made.stderr
    scope = json.loads(made.stdout)["scope"]
    assert (scope["cache_ttl_s"], scope["cache_scope"]) == (3600, "team")
    bad = subprocess.run(
        [SEAM, "keys", "create", "--config", str(cfg), "--name", "x", "--models", "faq",
         "--cache-ttl", "60", "--cache-scope", "world"],
        capture_output=True, text=True,
    )
    assert bad.returncode != 0
    assert bad.stderr.count("\n") == 1 and "cache scope" in bad.stderr


def test_a_hit_answers_in_the_surface_that_asks(cached):
    """The cache keeps the pipeline's answer, not a surface's bytes: Messages and Responses hits
    come back in their own shape and stream events, a Responses hit with an id of its own."""
    import anthropic

    q = question()
    claude = anthropic.Anthropic(base_url=cached.url, api_key="unused-without-keys", max_retries=0)
    msg = [{"role": "user", "content": q}]
    first = claude.messages.with_raw_response.create(model="faq", max_tokens=64, messages=msg)
    second = claude.messages.with_raw_response.create(model="faq", max_tokens=64, messages=msg)
    assert (first.headers["x-seam-cache"], second.headers["x-seam-cache"]) == ("miss", "hit")
    assert second.parse().content[0].text == first.parse().content[0].text
    with claude.messages.stream(model="faq", max_tokens=64, messages=msg) as s:
        assert s.response.headers["x-seam-cache"] == "miss"  # a stream is its own entry
        streamed = s.get_final_message().content[0].text
    with claude.messages.stream(model="faq", max_tokens=64, messages=msg) as s:
        assert s.response.headers["x-seam-cache"] == "hit"
        assert s.get_final_message().content[0].text == streamed

    c = client(cached.url)
    a = c.responses.with_raw_response.create(model="faq", input=q, store=False)
    b = c.responses.with_raw_response.create(model="faq", input=q, store=False)
    assert (a.headers["x-seam-cache"], b.headers["x-seam-cache"]) == ("miss", "hit")
    assert b.parse().output_text == a.parse().output_text
    assert b.parse().id != a.parse().id
    events = [e.type for e in c.responses.create(model="faq", input=q, store=False, stream=True)]
    again = [e.type for e in c.responses.create(model="faq", input=q, store=False, stream=True)]
    assert again == events and events[-1] == "response.completed"
