"""The audit trail as a user of the OpenAI SDK leaves it: every request — answered, streamed,
refused or failed — has a record in `GET /admin/audit`, committed before the response completes
(`durability = "sync"`), with its subject, tags, route and attempts, and never a value a policy
kept from the vendor.

Every test names its own subject (or model) and reads back only its records, so the tests do not
depend on each other or on order. The session's `seam` keeps `redacted` payloads by default
(conftest.py); the aliases `chat-full` and `chat-meta` keep everything and nothing.
"""

import json
import random
import string
import urllib.parse
import urllib.request

import openai
import pytest

EMAIL = "grace.hopper.1906@example.com"
CARD = "4111 1111 1111 1111"  # Luhn-valid Visa test number


@pytest.fixture()
def subject():
    """A data subject no other test uses."""
    return "subj-" + "".join(random.choices(string.ascii_lowercase, k=12))


def audit(seam_url, **params):
    """`GET /admin/audit` with `params`: the records, oldest first."""
    url = seam_url + "/admin/audit?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url) as r:
        assert r.status == 200
        return json.loads(r.read())["records"]


def the_record(seam_url, request_id, **params):
    """The one record with `request_id` among those `params` select."""
    found = [r for r in audit(seam_url, **params) if r["id"] == request_id]
    assert len(found) == 1, f"no record {request_id} for {params}"
    return found[0]


def ask(client, model, text, **kwargs):
    """A non-streamed chat request; returns (request id, parsed completion)."""
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], **kwargs
    )
    return raw.headers["x-seam-request-id"], raw.parse()


def test_subject_and_tags_headers_are_recorded_with_route_and_attempts(client, seam_url):
    rid, answer = ask(client, "chat", "hello audit", extra_headers={"x-seam-subject": "user-7", "x-seam-tags": "a,b"})
    assert answer.choices[0].message.content == "echo: hello audit"
    # Committed before the response completed: readable at once, no waiting.
    r = the_record(seam_url, rid, subject="user-7")
    assert r["subject"] == "user-7"
    assert r["tags"] == ["a", "b"]
    assert r["status"] == 200
    assert r["error_code"] is None
    assert r["endpoint"] == "chat"
    assert r["model"] == "chat"
    assert r["route"] == "echo/echo"
    assert [(a["target"], a["status"], a["error"]) for a in r["attempts"]] == [("echo/echo", 200, None)]
    assert r["usage"]["prompt_tokens"] == answer.usage.prompt_tokens
    assert r["usage"]["completion_tokens"] == answer.usage.completion_tokens
    assert r["latency_ms"] >= 0
    assert r["time"].endswith("Z")
    # The default class, `redacted`: what went upstream and the answer, not the client's own body.
    assert r["class"] == "redacted"
    assert r["payload_state"] == "kept"
    assert r["payload"]["client_request"] is None
    assert r["payload"]["upstream_request"]["messages"][0]["content"] == "hello audit"
    assert r["payload"]["response"]["choices"][0]["message"]["content"] == "echo: hello audit"


def test_the_body_user_is_the_subject_when_no_header_names_one(client, seam_url, subject):
    rid, _ = ask(client, "chat", "who am i", user=subject)
    assert the_record(seam_url, rid, subject=subject)["subject"] == subject

    # The header wins over the body.
    other = subject + "-header"
    rid, _ = ask(client, "chat", "who am i", user=subject, extra_headers={"x-seam-subject": other})
    assert the_record(seam_url, rid, subject=other)["subject"] == other
    assert rid not in [r["id"] for r in audit(seam_url, subject=subject)]


def test_a_stream_has_its_record_once_the_sdk_has_consumed_it(client, seam_url, subject):
    raw = client.chat.completions.with_raw_response.create(
        model="chat",
        messages=[{"role": "user", "content": "stream me"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-seam-subject": subject},
    )
    rid = raw.headers["x-seam-request-id"]
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == "echo: stream me"
    r = the_record(seam_url, rid, subject=subject)
    assert r["status"] == 200
    assert r["error_code"] is None
    assert r["route"] == "echo/echo"
    assert r["ttft_ms"] is not None and r["ttft_ms"] <= r["latency_ms"]
    # The stream is assembled into one completion.
    assert r["payload"]["response"]["choices"][0]["message"]["content"] == text


def test_audit_classes_per_alias(client, seam_url, subject):
    full, _ = ask(client, "chat-full", "keep all of it", extra_headers={"x-seam-subject": subject})
    meta, _ = ask(client, "chat-meta", "keep none of it", extra_headers={"x-seam-subject": subject})
    records = {r["id"]: r for r in audit(seam_url, subject=subject)}
    assert records[full]["class"] == "full"
    assert records[full]["payload"]["client_request"]["messages"][0]["content"] == "keep all of it"
    assert records[meta]["class"] == "metadata"
    assert records[meta]["payload_state"] == "not_kept"
    assert records[meta]["payload"] is None
    assert "keep none of it" not in json.dumps(records[meta])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_policy_block_is_recorded_with_its_finding_never_the_value(client, seam_url, subject, stream):
    prompt = f"mail {EMAIL} or charge {CARD}"
    with pytest.raises(openai.UnprocessableEntityError) as e:
        client.chat.completions.create(
            model="strict",
            messages=[{"role": "user", "content": prompt}],
            stream=stream,
            extra_headers={"x-seam-subject": subject},
        )
    rid = e.value.response.headers["x-seam-request-id"]
    r = the_record(seam_url, rid, subject=subject)
    assert r["status"] == 422
    assert r["error_code"] == "policy_violation"
    assert r["route"] is None
    assert r["attempts"] == []
    assert {"stage": "input", "entity": "EMAIL_ADDRESS", "action": "block", "count": 1} in r["findings"]
    # Also found by the finding filter.
    assert rid in [x["id"] for x in audit(seam_url, subject=subject, finding="EMAIL_ADDRESS", status=422)]
    text = json.dumps(r)
    for value in [EMAIL, "grace.hopper", CARD, CARD.replace(" ", ""), prompt]:
        assert value not in text, value


def test_an_unknown_model_is_recorded_as_404_without_the_prompt(client, seam_url):
    model = "no-such-model-" + "".join(random.choices(string.ascii_lowercase, k=8))
    prompt = f"secret plan {EMAIL}"
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])
    rid = e.value.response.headers["x-seam-request-id"]
    r = the_record(seam_url, rid, model=model)
    assert r["status"] == 404
    assert r["error_code"] == "model_not_found"
    assert r["route"] is None
    assert r["attempts"] == []
    assert rid in [x["id"] for x in audit(seam_url, model=model, status=404)]
    text = json.dumps(r)
    assert EMAIL not in text and "secret plan" not in text


def test_a_tokenized_value_stays_out_of_a_redacted_record(client, mock_url, seam_url, subject):
    rid, answer = ask(
        client, "guarded", f"please write to {EMAIL}", extra_headers={"x-seam-subject": subject}
    )
    # The client gets its value back; the vendor only ever saw a token.
    assert answer.choices[0].message.content.endswith(EMAIL)
    r = the_record(seam_url, rid, subject=subject)
    assert {"stage": "input", "entity": "EMAIL_ADDRESS", "action": "tokenize", "count": 1} in r["findings"]
    assert EMAIL not in json.dumps(r["payload"]["upstream_request"])
    assert EMAIL not in json.dumps(r), "a `redacted` record keeps the value the policy tokenized"


def test_admin_audit_rejects_a_bad_filter(seam_url):
    with pytest.raises(urllib.error.HTTPError) as e:
        audit(seam_url, status="two-hundred")
    assert e.value.code == 400
    body = json.loads(e.value.read())
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["param"] == "status"
