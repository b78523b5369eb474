"""Anthropic's Messages API (`POST /v1/messages`, `/v1/messages/count_tokens`) as a user of the
`anthropic` SDK meets it: the same answers from Anthropic, OpenAI-format and Gemini upstreams,
streams the SDK reassembles, tool use, token counts, the SDK's exception classes, a policy's
masking, and a stream cut upstream that surfaces as an exception and still leaves its audit record.

seam-mock answers `mock: <last user text>`, and calls the first tool offered with
`{"q": <last user text>}`; after a tool result it answers `mock: <result>`.
"""

import json
import random
import string
import urllib.parse
import urllib.request

import anthropic
import pytest

# alias → the upstream wire format it reaches (conftest.py, "messages surface")
MODELS = {"claude-mock": "anthropic", "msg-gpt": "openai", "msg-gemini": "gemini"}
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
}
EMAIL = "ada.lovelace@example.com"


@pytest.fixture()
def claude(seam_url):
    """An `anthropic.Anthropic` client pointed at Seam, retries off."""
    return anthropic.Anthropic(base_url=seam_url, api_key="unused-without-keys", max_retries=0, timeout=20)


@pytest.fixture()
def marker():
    """A word no other test sends: lower-case letters, so no detector mistakes it for data."""
    return "tag" + "".join(random.choices(string.ascii_lowercase, k=12))


def user(text):
    return [{"role": "user", "content": text}]


def upstream(mock_url, marker):
    """Bodies of the requests seam-mock received that mention `marker`, in arrival order."""
    with urllib.request.urlopen(mock_url + "/__mock/requests") as r:
        log = json.loads(r.read())["requests"]
    return [entry for entry in log if marker in json.dumps(entry["body"])]


def audit(seam_url, **params):
    url = seam_url + "/admin/audit?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url) as r:
        return json.loads(r.read())["records"]


# ---- answers ----


@pytest.mark.parametrize("model", MODELS)
def test_create_answers_from_every_upstream_format(claude, model):
    raw = claude.messages.with_raw_response.create(
        model=model, max_tokens=64, system="You are terse.", messages=user("Hello there")
    )
    assert raw.headers["x-seam-request-id"]
    m = raw.parse()
    assert isinstance(m, anthropic.types.Message)
    assert m.id.startswith("msg_")
    assert m.type == "message" and m.role == "assistant"
    assert m.model == model
    assert [b.type for b in m.content] == ["text"]
    assert m.content[0].text == "mock: Hello there"
    assert m.stop_reason == "end_turn"
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_stream_text_matches_the_unary_answer(claude, model):
    with claude.messages.stream(model=model, max_tokens=64, messages=user("a b c d e")) as s:
        pieces = list(s.text_stream)
        final = s.get_final_message()
    assert "".join(pieces) == "mock: a b c d e"
    assert final.content[0].text == "mock: a b c d e"
    assert final.stop_reason == "end_turn"
    # Usage arrives in message_delta, after the upstream's usage-only chunk.
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


def test_raw_stream_events_come_in_anthropics_order(claude):
    events = [e.type for e in claude.messages.create(model="msg-gpt", max_tokens=64, messages=user("hi"), stream=True)]
    assert events[0] == "message_start"
    assert events[-2:] == ["message_delta", "message_stop"]
    assert events.count("content_block_start") == events.count("content_block_stop") == 1
    assert "content_block_delta" in events


# ---- tools ----


@pytest.mark.parametrize("model", MODELS)
def test_a_tool_use_round_trip(claude, model):
    first = claude.messages.create(model=model, max_tokens=64, tools=[WEATHER], messages=user("Paris"))
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "get_weather"
    assert call.input == {"q": "Paris"}
    assert call.id

    answer = claude.messages.create(
        model=model,
        max_tokens=64,
        tools=[WEATHER],
        messages=[
            *user("Paris"),
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
        ],
    )
    assert answer.content[0].text == "mock: sunny"
    assert answer.stop_reason == "end_turn"


@pytest.mark.parametrize("model", MODELS)
def test_a_streamed_tool_call_reassembles(claude, model):
    with claude.messages.stream(model=model, max_tokens=64, tools=[WEATHER], messages=user("Paris")) as s:
        final = s.get_final_message()
    [call] = [b for b in final.content if b.type == "tool_use"]
    assert (call.name, call.input) == ("get_weather", {"q": "Paris"})
    assert final.stop_reason == "tool_use"


# ---- count_tokens ----


def test_count_tokens_counts_without_calling_upstream(claude, mock_url, marker):
    short = claude.messages.count_tokens(model="claude-mock", messages=user(marker))
    longer = claude.messages.count_tokens(
        model="msg-gpt", system="You are terse.", tools=[WEATHER], messages=user(marker + " and more words " * 20)
    )
    assert 0 < short.input_tokens < longer.input_tokens
    assert upstream(mock_url, marker) == []


def test_count_tokens_for_an_unknown_model_is_not_found(claude):
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.count_tokens(model="no-such-model", messages=user("x"))


# ---- errors ----


def test_a_server_tool_is_a_bad_request_naming_its_type(claude):
    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.create(
            model="msg-gpt",
            max_tokens=64,
            messages=user("search"),
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
        )
    assert e.value.type == "invalid_request_error"
    assert "web_search_20250305" in e.value.api_message


def test_a_bad_role_is_a_bad_request_naming_the_field(claude):
    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.create(model="msg-gpt", max_tokens=64, messages=[{"role": "tool", "content": "secret words"}])
    assert "messages[0].role" in e.value.api_message
    assert "secret words" not in e.value.api_message


def test_an_unknown_model_is_not_found(claude):
    with pytest.raises(anthropic.NotFoundError) as e:
        claude.messages.create(model="no-such-model", max_tokens=64, messages=user("x"))
    assert e.value.type == "not_found_error"
    assert e.value.error_code == "model_not_found"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_policy_block_is_unprocessable(claude, mock_url, marker, stream):
    with pytest.raises(anthropic.UnprocessableEntityError) as e:
        r = claude.messages.create(model="strict", max_tokens=64, messages=user(f"{marker} mail {EMAIL}"), stream=stream)
        list(r) if stream else r
    assert "EMAIL_ADDRESS" in e.value.api_message
    assert EMAIL not in str(e.value)
    assert upstream(mock_url, marker) == []


def test_upstream_errors_map_to_the_sdk_classes(claude):
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model="mockanth/fault-429", max_tokens=64, messages=user("x"))
    with pytest.raises(anthropic.InternalServerError) as e:
        claude.messages.create(model="mock/fault-500", max_tokens=64, messages=user("x"))
    assert e.value.type == "api_error"


# ---- policy: tokenize and restore ----


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_tokenized_values_never_reach_the_vendor_and_come_back_restored(claude, mock_url, marker, stream):
    prompt = f"Ticket {marker}: reply to {EMAIL}"
    if stream:
        with claude.messages.stream(model="msg-guarded", max_tokens=64, messages=user(prompt)) as s:
            text = "".join(s.text_stream)
    else:
        text = claude.messages.create(model="msg-guarded", max_tokens=64, messages=user(prompt)).content[0].text
    assert text == "mock: " + prompt
    [sent] = upstream(mock_url, marker)
    body = json.dumps(sent["body"])
    assert EMAIL not in body
    assert "[EMAIL_ADDRESS_1]" in body


def test_tokenized_values_are_restored_in_tool_use_input(claude, mock_url, marker):
    prompt = f"{marker} {EMAIL}"
    m = claude.messages.create(model="msg-guarded", max_tokens=64, tools=[WEATHER], messages=user(prompt))
    [call] = [b for b in m.content if b.type == "tool_use"]
    assert call.input == {"q": prompt}
    [sent] = upstream(mock_url, marker)
    assert EMAIL not in json.dumps(sent["body"])


# ---- a stream cut upstream ----


def test_a_stream_cut_upstream_raises_and_is_audited(claude, seam_url):
    subject = "subj-" + "".join(random.choices(string.ascii_lowercase, k=12))
    raw = claude.messages.with_raw_response.create(
        model="msg-cut",
        max_tokens=64,
        messages=user("a b c d e f g h"),
        stream=True,
        extra_headers={"x-seam-subject": subject},
    )
    rid = raw.headers["x-seam-request-id"]
    got = []
    with pytest.raises(anthropic.APIStatusError) as e:
        for event in raw.parse():
            if event.type == "content_block_delta":
                got.append(event.delta.text)
    assert got, "some text arrived before the cut"
    assert e.value.type == "api_error"
    assert e.value.error_code == "stream_interrupted"
    [record] = [r for r in audit(seam_url, subject=subject) if r["id"] == rid]
    assert record["error_code"] == "stream_interrupted"
    assert record["endpoint"] == "messages"


def test_metadata_user_id_is_the_records_subject(claude, seam_url):
    subject = "subj-" + "".join(random.choices(string.ascii_lowercase, k=12))
    raw = claude.messages.with_raw_response.create(
        model="msg-gpt", max_tokens=64, messages=user("hello"), metadata={"user_id": subject}
    )
    rid = raw.headers["x-seam-request-id"]
    [record] = [r for r in audit(seam_url, subject=subject) if r["id"] == rid]
    assert record["status"] == 200
    assert record["endpoint"] == "messages"


# ---- extended thinking and prompt caching (Anthropic targets) ----
#
# The `thinking` field reaches the Anthropic mock with the client's body; it then answers with a
# signed thinking block (`Thinking about: <last user text>`) before the text, and refuses a block
# it signed that comes back altered, as Anthropic does.

THINKING = {"type": "enabled", "budget_tokens": 1024}


def think(claude, messages, model="claude-mock", **kw):
    return claude.messages.create(model=model, max_tokens=2048, thinking=THINKING, messages=messages, **kw)


def test_thinking_comes_back_with_its_signature(claude):
    m = think(claude, user("Hello there"))
    assert [b.type for b in m.content] == ["thinking", "text"]
    thinking, text = m.content
    assert isinstance(thinking, anthropic.types.ThinkingBlock)
    assert thinking.thinking == "Thinking about: Hello there"
    assert len(thinking.signature) > 256, "the upstream's signature, whole"
    assert text.text == "mock: Hello there"
    assert m.usage.output_tokens == 7, "thinking tokens are output tokens"


def test_streamed_thinking_matches_the_unary_answer(claude):
    unary = think(claude, user("Hello there"))
    with claude.messages.stream(model="claude-mock", max_tokens=2048, thinking=THINKING, messages=user("Hello there")) as s:
        events = list(s)
        final = s.get_final_message()
    kinds = [e.type for e in events]
    assert "".join(e.thinking for e in events if e.type == "thinking") == unary.content[0].thinking
    [signature] = [e.signature for e in events if e.type == "signature"]
    assert signature == unary.content[0].signature
    # The signature closes the thinking block before the text begins.
    assert kinds.index("signature") < kinds.index("text")
    assert [b.model_dump() for b in final.content] == [b.model_dump() for b in unary.content]


def test_thinking_blocks_go_back_to_anthropic_intact(claude, mock_url, marker):
    first = think(claude, user(marker))
    follow_up = [*user(marker), {"role": "assistant", "content": first.content}, *user("and then?")]
    second = think(claude, follow_up)
    assert second.content[-1].text == "mock: and then?"
    sent = upstream(mock_url, marker)[-1]["body"]["messages"][1]["content"]
    assert sent[0] == first.content[0].model_dump()

    # A block altered on the way is the upstream's 400, as the SDK knows it.
    altered = first.content[0].model_copy(update={"thinking": "Thinking about: something else"})
    with pytest.raises(anthropic.BadRequestError) as e:
        think(claude, [*user(marker), {"role": "assistant", "content": [altered, first.content[1]]}, *user("x")])
    assert "signature" in e.value.api_message


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_thinking_is_restored_by_the_policy_and_keeps_its_signature(claude, mock_url, marker, stream):
    # Longer than what an output filter holds back, so the text streams before the finish.
    prompt = f"Ticket {marker}: reply to {EMAIL} about the invoice that was sent last week and never arrived"
    kw = dict(model="msg-guarded", max_tokens=2048, thinking=THINKING, messages=user(prompt))
    if stream:
        with claude.messages.stream(**kw) as s:
            m = s.get_final_message()
    else:
        m = claude.messages.create(**kw)
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking == "Thinking about: " + prompt
    assert m.content[1].text == "mock: " + prompt
    assert len(m.content[0].signature) > 256
    [sent] = upstream(mock_url, marker)
    assert EMAIL not in json.dumps(sent["body"])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_prompt_cache_counts_reach_the_client(claude, stream):
    kw = dict(
        model="claude-mock",
        max_tokens=64,
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=user("Hello there"),
    )
    if stream:
        with claude.messages.stream(**kw) as s:
            usage = s.get_final_message().usage
    else:
        usage = claude.messages.create(**kw).usage
    # What the mock reports: 5 fresh input words, 11 read from the cache, 7 written to it.
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (5, 11, 7)


def test_a_thinking_block_survives_a_policy_round_trip(claude, mock_url, marker):
    """The client holds the thinking text restored; sent back, the policy masks it again into the
    text the upstream signed, so the signature still holds."""
    prompt = f"Ticket {marker}: reply to {EMAIL}"
    first = think(claude, user(prompt), model="msg-guarded")
    assert first.content[0].thinking == "Thinking about: " + prompt
    follow_up = [*user(prompt), {"role": "assistant", "content": first.content}, *user("and then?")]
    second = think(claude, follow_up, model="msg-guarded")
    assert second.content[-1].text == "mock: and then?"
    sent = upstream(mock_url, marker)[-1]["body"]
    assert EMAIL not in json.dumps(sent)
    assert sent["messages"][1]["content"][0]["signature"] == first.content[0].signature
