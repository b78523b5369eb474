"""Gemini, Azure OpenAI and Bedrock through Seam, as an OpenAI SDK user meets them.

Each provider kind talks to seam-mock's route for its wire format (Gemini's generateContent,
Azure's deployment URLs, Bedrock's SigV4-verified Converse with binary event streams), so a
passing test means the request Seam built was accepted there and the answer came back in OpenAI's
shapes.
"""

import json
import math

import openai
import pytest

# kind → (provider name in conftest's CONFIG, a model on it)
PROVIDERS = {
    "gemini": ("mockgem", "gemini-mock"),
    "azure": ("mockaz", "gpt-deploy"),
    # The `:` must be percent-encoded in the path and encoded again in the signature.
    "bedrock": ("mockbed", "anthropic.claude-mock-v1:0"),
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"],
            # Gemini rejects this keyword; Seam must strip it for Gemini and keep it elsewhere.
            "additionalProperties": False,
        },
    },
}


def model(kind, name=None):
    provider, default = PROVIDERS[kind]
    return f"{provider}/{name or default}"


def user(text):
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("kind", PROVIDERS)
def test_chat_answers(client, kind):
    raw = client.chat.completions.with_raw_response.create(
        model=model(kind),
        messages=[{"role": "system", "content": "You are terse."}, *user("Hello there")],
    )
    assert raw.headers["x-seam-route"] == model(kind)
    r = raw.parse()
    assert r.choices[0].message.content == "mock: Hello there"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


@pytest.mark.parametrize("kind", PROVIDERS)
def test_stream_deltas_concatenate_to_the_non_stream_text(client, kind):
    messages = user("one two three four five")
    whole = client.chat.completions.create(model=model(kind), messages=messages)
    chunks = list(
        client.chat.completions.create(
            model=model(kind), messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3, "streamed in pieces"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.completion_tokens == whole.usage.completion_tokens
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


@pytest.mark.parametrize("kind", PROVIDERS)
def test_tool_call(client, kind):
    r = client.chat.completions.create(model=model(kind), messages=user("Paris"), tools=[WEATHER])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"q": "Paris"}
    assert call.id


@pytest.mark.parametrize("kind", PROVIDERS)
def test_tool_call_streamed_reassembles(client, kind):
    stream = client.chat.completions.create(model=model(kind), messages=user("Paris"), tools=[WEATHER], stream=True)
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


@pytest.mark.parametrize("kind", PROVIDERS)
def test_tool_result_round_trip(client, kind):
    first = client.chat.completions.create(model=model(kind), messages=user("Paris"), tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    r = client.chat.completions.create(
        model=model(kind),
        tools=[WEATHER],
        messages=[
            *user("Paris"),
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
    assert r.choices[0].message.content == "mock: sunny"
    assert r.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("kind", PROVIDERS)
def test_upstream_429_is_a_rate_limit_error(client, kind):
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=model(kind, "fault-429"), messages=user("hi"))


@pytest.mark.parametrize("kind", PROVIDERS)
def test_upstream_500_is_502(client, kind):
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model=model(kind, "fault-500"), messages=user("hi"))
    assert e.value.status_code == 502
    assert e.value.code == "upstream_error"


@pytest.mark.parametrize("kind", PROVIDERS)
@pytest.mark.parametrize("fault", ["fault-cut-stream-3", "fault-stream-error"])
def test_stream_failing_mid_way_raises_never_truncates_silently(client, kind, fault):
    got = []
    with pytest.raises(openai.APIError) as e:
        for c in client.chat.completions.create(model=model(kind, fault), messages=user("a b c d e f g h"), stream=True):
            if c.choices and c.choices[0].delta.content:
                got.append(c.choices[0].delta.content)
    assert got, "some chunks arrived before the failure"
    assert "stream" in e.value.message


@pytest.mark.parametrize("kind", ["gemini", "azure"])
def test_embeddings_float_and_base64_agree(client, kind):
    texts = ["alpha beta", "gamma delta", "alpha beta"]
    f = client.embeddings.create(model=model(kind, "embed-mock"), input=texts, encoding_format="float")
    b = client.embeddings.create(model=model(kind, "embed-mock"), input=texts, dimensions=8)
    assert [d.index for d in f.data] == [0, 1, 2]
    assert len(b.data[0].embedding) == 8
    for x, y in zip(f.data, b.data):
        assert all(math.isclose(p, q, rel_tol=1e-6) for p, q in zip(x.embedding, y.embedding))
    assert f.data[0].embedding == f.data[2].embedding
    assert f.data[0].embedding != f.data[1].embedding
    assert math.isclose(sum(v * v for v in f.data[0].embedding), 1.0, rel_tol=1e-4)


def test_bedrock_embeddings_are_a_clear_400(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=model("bedrock"), input="x")
    assert e.value.code == "unsupported_parameter"


def test_bedrock_api_key_instead_of_sigv4(client):
    r = client.chat.completions.create(model="mockbedkey/amazon.nova-mock-v1:0", messages=user("keyed"))
    assert r.choices[0].message.content == "mock: keyed"


def test_gemini_json_schema_response_format_is_accepted(client):
    # The mock rejects schema keywords Gemini lacks; Seam must have stripped them. In JSON mode the
    # mock echoes the text alone, and Seam checks the answer against the schema.
    r = client.chat.completions.create(
        model=model("gemini"),
        messages=user('{"a": "shape"}'),
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "thing",
                "schema": {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}},
            },
        },
    )
    assert r.choices[0].message.content == '{"a": "shape"}'
