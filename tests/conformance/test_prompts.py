"""Prompts from the registry as an SDK user calls them: `model="prompt:NAME[@REF]"` with variables
in `extra_body={"seam": {"vars": …}}`, on chat completions, Messages and Responses. The prompt is
rendered before the input policy, named in `x-seam-prompt` and the audit record, refused with a 400
naming the variable, served by version after the file changed, and by tag.

The prompt files are written beside the session's config (conftest.py's PROMPTS); the test that
edits a file uses one of its own.
"""

import hashlib
import json
import urllib.error
import urllib.request

import anthropic
import openai
import pytest

from conftest import PROMPTS

VARS = {"company": "Acme", "ticket": "My order is late"}


def version(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def admin(seam_url, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        seam_url + path, data=data, method=method, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def records(seam_url, **params):
    return admin(seam_url, "GET", "/admin/audit?" + urllib.parse.urlencode(params))[1]["records"]


def test_a_prompt_renders_with_its_variables_and_defaults(client, seam_url):
    raw = client.chat.completions.with_raw_response.create(
        model="prompt:support-answer", messages=[], extra_body={"seam": {"vars": VARS}}
    )
    answer = raw.parse()
    # The echo provider answers the last user message: the rendered template.
    assert answer.choices[0].message.content == "echo: Ticket: My order is late"
    v = version(PROMPTS["support-answer"])
    assert raw.headers["x-seam-prompt"] == f"support-answer@{v}"
    rid = raw.headers["x-seam-request-id"]
    [r] = [r for r in records(seam_url, prompt="support-answer") if r["id"] == rid]
    assert r["prompt"] == f"support-answer@{v}"
    # The record's model is the alias the prompt runs on; what went upstream is the rendering,
    # with the schema's default filled in and the prompt's params.
    assert r["model"] == "chat"
    sent = r["payload"]["upstream_request"]
    assert sent["messages"][0] == {
        "role": "system",
        "content": "You are Acme's support agent. Answer in English.",
    }
    assert sent["messages"][1] == {"role": "user", "content": "Ticket: My order is late"}
    assert sent["temperature"] == 0.2
    assert "seam" not in sent


def test_the_clients_messages_follow_the_prompt_and_its_params_win(client):
    answer = client.chat.completions.create(
        model="prompt:support-answer",
        messages=[{"role": "user", "content": "and where is it now?"}],
        max_tokens=5,
        extra_body={"seam": {"vars": VARS}},
    )
    # The echo provider honours max_tokens: the client's 5, not the prompt's 64.
    assert answer.choices[0].message.content == "echo: and where is it"


def test_a_missing_or_invalid_variable_is_a_400_naming_it(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="prompt:support-answer", messages=[], extra_body={"seam": {"vars": {"company": "Acme"}}}
        )
    assert e.value.code == "invalid_request"
    assert e.value.param == "seam.vars.ticket"
    assert "ticket" in e.value.message
    secret = "x" * 150 + " card 4111 1111 1111 1111 " + "y" * 50
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="prompt:support-answer",
            messages=[],
            extra_body={"seam": {"vars": {"company": "Acme", "ticket": secret}}},
        )
    assert e.value.param == "seam.vars.ticket"
    # The reason, never the value.
    assert "4111" not in e.value.message and "xxxx" not in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="prompt:support-answer", messages=[], extra_body={"seam": {"vars": VARS, "var": 1}}
        )
    assert e.value.param == "seam.var"


def test_unknown_prompts_versions_and_tags_are_404(client):
    for model in ["prompt:nope", "prompt:support-answer@000000000000", "prompt:support-answer@nosuchtag"]:
        with pytest.raises(openai.NotFoundError) as e:
            client.chat.completions.create(model=model, messages=[], extra_body={"seam": {"vars": VARS}})
        assert e.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="prompt:Bad Name", messages=[{"role": "user", "content": "x"}])
    assert e.value.param == "model"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="prompt:no-model", messages=[], extra_body={"seam": {"vars": {"name": "a"}}})
    assert "names no model" in e.value.message


def test_variables_pass_the_input_policy_like_any_text(client, seam_url):
    email = "ada.lovelace.1815@example.com"
    raw = client.chat.completions.with_raw_response.create(
        model="prompt:guarded-note", messages=[], extra_body={"seam": {"vars": {"who": "Ada", "note": f"write to {email}"}}}
    )
    # The guarded alias tokenizes e-mail addresses on the way in and restores them on the way out.
    assert email in raw.parse().choices[0].message.content
    rid = raw.headers["x-seam-request-id"]
    [r] = [r for r in records(seam_url, prompt="guarded-note") if r["id"] == rid]
    assert email not in json.dumps(r["payload"]["upstream_request"])
    assert any(f["entity"] == "EMAIL_ADDRESS" for f in r["findings"])


def test_a_streamed_prompt(client):
    with client.chat.completions.with_streaming_response.create(
        model="prompt:support-answer", messages=[], stream=True, extra_body={"seam": {"vars": VARS}}
    ) as resp:
        assert resp.headers["x-seam-prompt"].startswith("support-answer@")
        text = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
    assert text == "echo: Ticket: My order is late"


def test_the_prompts_output_schema_is_a_contract(client):
    # The echo answer is not JSON: the contract re-asks once, then refuses.
    with pytest.raises(openai.UnprocessableEntityError) as e:
        client.chat.completions.create(model="prompt:json-answer", messages=[], extra_body={"seam": {"vars": {"q": "why"}}})
    assert e.value.code == "contract_violation"


def test_messages_and_responses_take_prompts_too(seam_url):
    a = anthropic.Anthropic(base_url=seam_url, api_key="unused", max_retries=0)
    raw = a.messages.with_raw_response.create(
        model="prompt:support-answer", max_tokens=50, messages=[], extra_body={"seam": {"vars": VARS}}
    )
    assert raw.headers["x-seam-prompt"].startswith("support-answer@")
    assert raw.parse().content[0].text == "echo: Ticket: My order is late"
    o = openai.OpenAI(base_url=seam_url + "/v1", api_key="unused", max_retries=0)
    raw = o.responses.with_raw_response.create(
        model="prompt:support-answer", input="and now?", extra_body={"seam": {"vars": VARS}}
    )
    assert raw.headers["x-seam-prompt"].startswith("support-answer@")
    assert raw.parse().output_text == "echo: and now?"
    with pytest.raises(anthropic.BadRequestError) as e:
        a.messages.create(model="prompt:support-answer", max_tokens=50, messages=[], extra_body={"seam": {"vars": {}}})
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert "company" in e.value.body["error"]["message"]


def test_versions_survive_edits_and_tags_point_at_them(client, seam, seam_url):
    path = seam.prompts_dir / "evolving.prompt"
    v1_text = "---\nmodel: chat\n---\nfirst {{ x }}\n"
    v2_text = "---\nmodel: chat\n---\nsecond {{ x }}\n"
    path.write_text(v1_text)
    assert admin(seam_url, "POST", "/admin/reload", {})[0] == 200

    def ask(model):
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=[], extra_body={"seam": {"vars": {"x": "!"}}}
        )
        return raw.headers["x-seam-prompt"], raw.parse().choices[0].message.content

    v1, v2 = version(v1_text), version(v2_text)
    assert ask("prompt:evolving") == (f"evolving@{v1}", "echo: first !")
    status, tagged = admin(seam_url, "PUT", "/admin/prompts/evolving/tags/prod", {})
    assert status == 200 and tagged["version"] == v1 and tagged["previous"] is None
    path.write_text(v2_text)
    assert admin(seam_url, "POST", "/admin/reload", {})[0] == 200
    # The file moved on; the served version is still there, by version and by tag.
    assert ask("prompt:evolving") == (f"evolving@{v2}", "echo: second !")
    assert ask(f"prompt:evolving@{v1}") == (f"evolving@{v1}", "echo: first !")
    assert ask("prompt:evolving@prod") == (f"evolving@{v1}", "echo: first !")
    status, listed = admin(seam_url, "GET", "/admin/prompts")
    [p] = [p for p in listed["prompts"] if p["name"] == "evolving"]
    assert p["version"] == v2 and p["tags"] == {"prod": v1}
    assert [v["version"] for v in p["versions"]][0] == v1
    status, moved = admin(seam_url, "PUT", "/admin/prompts/evolving/tags/prod", {"version": v2})
    assert status == 200 and moved["previous"] == v1
    assert ask("prompt:evolving@prod") == (f"evolving@{v2}", "echo: second !")
    assert admin(seam_url, "PUT", "/admin/prompts/evolving/tags/prod", {"version": "0" * 12})[0] == 404
    assert admin(seam_url, "DELETE", "/admin/prompts/evolving/tags/prod")[0] == 200
    with pytest.raises(openai.NotFoundError):
        ask("prompt:evolving@prod")
