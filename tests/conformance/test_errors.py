"""Errors reach the SDK as the exception class a user expects, with Seam's stable codes."""

import json
import urllib.error
import urllib.request

import openai
import pytest

HI = [{"role": "user", "content": "hi"}]


def post(url, body: bytes):
    req = urllib.request.Request(url + "/v1/chat/completions", data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=HI)
    assert e.value.code == "model_not_found"
    assert e.value.param == "model"


def test_empty_messages_is_bad_request_naming_the_param(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="chat", messages=[])
    assert e.value.param == "messages"


def test_wrong_field_type_names_its_path(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="chat", messages=[{"role": "wizard", "content": "x"}])
    assert e.value.param == "messages[0].role"
    assert e.value.code == "invalid_request"


def test_malformed_json_is_400(seam_url):
    status, body = post(seam_url, b'{"model": "chat", "messages": [')
    assert status == 400
    assert body["error"]["code"] == "invalid_json"
    assert body["error"]["type"] == "invalid_request_error"


def test_missing_field_names_the_field(seam_url):
    status, body = post(seam_url, b'{"messages": [{"role": "user", "content": "x"}]}')
    assert status == 400
    assert body["error"]["param"] == "model"


def test_body_over_the_limit_is_413(client):
    with pytest.raises(openai.APIStatusError) as e:
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x" * 70_000}])
    assert e.value.status_code == 413
    assert e.value.code == "request_too_large"


def test_upstream_4xx_passes_through_with_its_message(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="mock/fault-400", messages=HI)
    assert "mock rejected the request" in e.value.message


def test_upstream_429_is_a_rate_limit_error_with_retry_after(client):
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="mock/fault-429", messages=HI)
    assert e.value.response.headers["retry-after"] == "1"


@pytest.mark.parametrize("model", ["mock/fault-500", "mock/fault-503", "mock/fault-reset", "dead/gpt"])
def test_upstream_failure_is_502(client, model):
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model=model, messages=HI)
    assert e.value.status_code == 502
    assert e.value.code == "upstream_error"


def test_upstream_credentials_rejected_is_502_not_401(client):
    # A 401 would make the SDK blame the caller's key; it is Seam's provider key that is wrong.
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="mock/fault-401", messages=HI)
    assert e.value.status_code == 502


def test_truncated_upstream_json_is_502(client):
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="mock/fault-truncated-json", messages=HI)
    assert e.value.code == "upstream_invalid_response"


@pytest.mark.parametrize("stream", [False, True])
def test_slow_upstream_is_504(client, stream):
    with pytest.raises(openai.InternalServerError) as e:
        r = client.chat.completions.create(model="mock/fault-slow-first-byte-3000", messages=HI, stream=stream)
        list(r) if stream else r
    assert e.value.status_code == 504
    assert e.value.code == "upstream_timeout"


@pytest.mark.parametrize("model", ["mock/fault-cut-stream-3", "mockanth/fault-cut-stream-3", "mock/fault-stream-error", "mockanth/fault-stream-error"])
def test_stream_failing_after_its_first_chunk_raises_never_truncates_silently(client, model):
    got = []
    with pytest.raises(openai.APIError) as e:
        for c in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "a b c d e f g h"}], stream=True):
            if c.choices and c.choices[0].delta.content:
                got.append(c.choices[0].delta.content)
    assert got, "some chunks arrived before the failure"
    assert "stream" in e.value.message


def test_stream_fails_before_first_chunk_is_a_status_error(client):
    with pytest.raises(openai.InternalServerError) as e:
        list(client.chat.completions.create(model="mock/fault-500", messages=HI, stream=True))
    assert e.value.status_code == 502


def test_anthropic_errors_map_to_sdk_classes(client):
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="mockanth/fault-429", messages=HI)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="mockanth/fault-500", messages=HI)


def test_embeddings_on_anthropic_is_a_clear_400(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="mockanth/claude-mock", input="x")
    assert e.value.code == "unsupported_parameter"


def test_unknown_route_is_an_openai_shaped_404(seam_url):
    try:
        urllib.request.urlopen(seam_url + "/v1/nope")
        raise AssertionError("expected 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404
        assert json.loads(e.read())["error"]["code"] == "not_found"
