"""Upstreams that call themselves OpenAI-compatible but leave fields out (self-hosted servers,
proxies): seam-mock's `lax-*` models answer without `id`, `object`, `created`, `model`, `index`,
`role`, `finish_reason`, tool-call ids or `[DONE]`. The openai SDK accepts all of that, so Seam
must too, and what Seam sends must still be strictly OpenAI-shaped. Every alias here runs the
`mask-pii` policy (tokenize in, redact out), so masking and restoring run on lax answers too.
"""

import json
import urllib.request

import openai
import pytest

from test_policy import EMAIL, CARD, PHONE, LOOKUP, leaked, marker, upstream  # noqa: F401

LAX = ["lax-minimal", "lax-no-id", "lax-no-done"]


def prompt_for(marker):
    # EMAIL and CARD are tokenized on the way in; PHONE is allowed in and redacted on the way out.
    return f"{marker}: mail {EMAIL}, card {CARD}, phone {PHONE}"


def expected_answer(marker):
    return f"mock: {marker}: mail {EMAIL}, card {CARD}, phone <PHONE_NUMBER>"


def raw_events(seam_url, body):
    """Every `data:` payload of a streamed answer, as Seam wrote it (not as the SDK forgave it)."""
    req = urllib.request.Request(
        seam_url + "/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=20) as r:
        assert r.status == 200
        lines = r.read().decode().splitlines()
    return [line[len("data: "):] for line in lines if line.startswith("data: ")]


def assert_strict_chunk(chunk, first_id):
    assert chunk["id"] == first_id
    assert chunk["object"] == "chat.completion.chunk"
    assert isinstance(chunk["created"], int) and chunk["created"] > 0
    assert isinstance(chunk["model"], str) and chunk["model"]
    for choice in chunk["choices"]:
        assert isinstance(choice["index"], int)
        assert "finish_reason" in choice


@pytest.mark.parametrize("model", LAX)
def test_unary_answer_is_completed_and_policed(client, mock_url, marker, model):
    prompt = prompt_for(marker)
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": prompt}]
    )
    assert raw.status_code == 200
    body = json.loads(raw.text)
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int) and body["created"] > 0
    assert body["model"]
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    r = raw.parse()
    assert r.choices[0].message.content == expected_answer(marker)

    [sent] = upstream(mock_url, marker)
    assert leaked(json.dumps(sent["body"])) == []


@pytest.mark.parametrize("model", LAX)
def test_stream_is_completed_and_policed(client, seam_url, mock_url, marker, model):
    prompt = prompt_for(marker)
    messages = [{"role": "user", "content": prompt}]
    chunks = list(client.chat.completions.create(model=model, messages=messages, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected_answer(marker)
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    for sent in upstream(mock_url, marker):
        assert leaked(json.dumps(sent["body"])) == []

    # On the wire: every chunk strictly shaped, one id throughout, ended by [DONE].
    events = raw_events(seam_url, {"model": model, "messages": messages, "stream": True})
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks and chunks[0]["id"].startswith("chatcmpl-")
    for chunk in chunks:
        assert_strict_chunk(chunk, chunks[0]["id"])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_tool_call_without_ids_is_completed_and_restored(client, mock_url, marker, stream):
    prompt = prompt_for(marker)
    messages = [{"role": "user", "content": prompt}]
    if stream:
        calls = {}
        for c in client.chat.completions.create(model="lax-minimal", messages=messages, tools=[LOOKUP], stream=True):
            for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
                call = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += tc.id or ""
                if tc.function:
                    call["name"] += tc.function.name or ""
                    call["arguments"] += tc.function.arguments or ""
        [call] = calls.values()
        call_id, name, arguments = call["id"], call["name"], call["arguments"]
    else:
        r = client.chat.completions.create(model="lax-minimal", messages=messages, tools=[LOOKUP])
        assert r.choices[0].finish_reason == "tool_calls"
        tc = r.choices[0].message.tool_calls[0]
        call_id, name, arguments = tc.id, tc.function.name, tc.function.arguments
        assert tc.type == "function"
    assert call_id
    assert name == "lookup"
    # Tokenized on the way in, restored in the arguments; the phone number, allowed in, is
    # redacted on the way out like any answer text.
    q = json.loads(arguments)["q"]
    assert EMAIL in q and CARD in q and PHONE not in q
    [sent] = upstream(mock_url, marker)
    assert leaked(json.dumps(sent["body"])) == []


def test_embeddings_without_object_index_or_model(client):
    r = client.embeddings.create(model="lax-embed", input=["alpha", "beta"])
    assert [d.index for d in r.data] == [0, 1]
    assert all(d.object == "embedding" and len(d.embedding) == 8 for d in r.data)
    assert r.object == "list"
    assert r.model


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_what_is_not_a_completion_is_still_a_clear_502(client, stream):
    with pytest.raises(openai.APIStatusError) as e:
        r = client.chat.completions.create(
            model="mock/lax-no-choices", messages=[{"role": "user", "content": "hi"}], stream=stream
        )
        list(r) if stream else r
    assert e.value.status_code == 502
    assert e.value.code == "upstream_invalid_response"
