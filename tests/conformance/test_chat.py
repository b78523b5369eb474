"""Chat, streaming and tools through every provider kind: echo, OpenAI-compatible, Anthropic."""

import json

import pytest

# alias → what the upstream prefixes its answer with
MODELS = {"chat": "echo: ", "gpt": "mock: ", "claude": "mock: "}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"],
        },
    },
}


@pytest.mark.parametrize("model", MODELS)
def test_chat_answers(client, model):
    r = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hello there"},
        ],
    )
    assert r.choices[0].message.content == MODELS[model] + "Hello there"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


@pytest.mark.parametrize("model", MODELS)
def test_multi_turn_answers_the_last_user_message(client, model):
    r = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second question"},
        ],
    )
    assert r.choices[0].message.content == MODELS[model] + "second question"


@pytest.mark.parametrize("model", MODELS)
def test_stream_deltas_concatenate_to_the_non_stream_text(client, model):
    messages = [{"role": "user", "content": "one two three four five"}]
    whole = client.chat.completions.create(model=model, messages=messages).choices[0].message.content
    chunks = list(client.chat.completions.create(model=model, messages=messages, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3, "streamed in pieces"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]


@pytest.mark.parametrize("model", MODELS)
def test_stream_include_usage_ends_with_a_usage_chunk(client, model):
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "count my tokens"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


@pytest.mark.parametrize("model", MODELS)
def test_tool_call(client, model):
    r = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Paris"}],
        tools=[WEATHER],
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"q": "Paris"}
    assert call.id


@pytest.mark.parametrize("model", MODELS)
def test_tool_call_streamed_reassembles(client, model):
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Paris"}],
        tools=[WEATHER],
        stream=True,
    )
    name, args, ids, finish = "", "", set(), None
    for c in stream:
        if not c.choices:
            continue
        ch = c.choices[0]
        for tc in ch.delta.tool_calls or []:
            assert tc.index == 0
            if tc.id:
                ids.add(tc.id)
            if tc.function and tc.function.name:
                name += tc.function.name
            if tc.function and tc.function.arguments:
                args += tc.function.arguments
        finish = ch.finish_reason or finish
    assert name == "get_weather"
    assert json.loads(args) == {"q": "Paris"}
    assert len(ids) == 1
    assert finish == "tool_calls"


@pytest.mark.parametrize("model", MODELS)
def test_tool_result_round_trip(client, model):
    first = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Paris"}], tools=[WEATHER]
    )
    call = first.choices[0].message.tool_calls[0]
    r = client.chat.completions.create(
        model=model,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Paris"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": call.function.arguments}}
                ],
            },
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
    )
    assert r.choices[0].message.content == MODELS[model] + "sunny"
    assert r.choices[0].finish_reason == "stop"


def test_response_format_json_object_through_echo(client):
    r = client.chat.completions.create(
        model="chat",
        messages=[{"role": "user", "content": "hi"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(r.choices[0].message.content) == {"echo": "hi"}


def test_response_headers(client):
    raw = client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-seam-route"] == "echo/echo"
    assert raw.headers["x-seam-attempts"] == "1"
    assert len(raw.headers["x-seam-request-id"]) == 32


def test_fallback_to_the_next_healthy_target(client):
    raw = client.chat.completions.with_raw_response.create(
        model="resilient", messages=[{"role": "user", "content": "saved"}]
    )
    assert raw.headers["x-seam-route"] == "mock/gpt-mock"
    assert raw.headers["x-seam-attempts"] == "3"
    assert raw.headers["x-seam-route-reason"] == "fallback: dead/gpt-dead could not connect, mock/fault-500 returned 500"
    assert raw.parse().choices[0].message.content == "mock: saved"


def test_stream_fallback_before_the_first_chunk(client):
    with client.chat.completions.with_streaming_response.create(
        model="resilient", messages=[{"role": "user", "content": "saved"}], stream=True
    ) as raw:
        assert raw.headers["x-seam-route"] == "mock/gpt-mock"
        assert raw.headers["x-seam-attempts"] == "3"
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == "mock: saved"


def test_direct_addressing(client):
    r = client.chat.completions.create(model="echo/anything", messages=[{"role": "user", "content": "x"}])
    assert r.model == "anything"
    assert r.choices[0].message.content == "echo: x"


def test_models_list_and_retrieve(client):
    ids = [m.id for m in client.models.list()]
    assert {"chat", "gpt", "claude", "resilient", "embed"} <= set(ids)
    assert client.models.retrieve("chat").id == "chat"
