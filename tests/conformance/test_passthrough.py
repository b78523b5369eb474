"""Same format, no lossy round trip: a Messages request routed to an Anthropic target reaches it as
the client wrote it — `cache_control`, `thinking`, `top_k`, thinking blocks with their signatures,
`anthropic-beta` — with the policy still applied to every text; routed to an OpenAI-format target
it is translated, and those fields do not leak into the chat body.
"""

import json
import random
import string
import urllib.request

import anthropic
import pytest

EMAIL = "grace.hopper@example.com"
SIGNATURE = "EqQBCkYIBxgCKkBsZWdpdGltYXRlLXNpZ25hdHVyZS1mb3ItdGVzdHMtb25seQ" + "A" * 40


@pytest.fixture()
def claude(seam_url):
    return anthropic.Anthropic(base_url=seam_url, api_key="unused-without-keys", max_retries=0, timeout=20)


@pytest.fixture()
def marker():
    return "tag" + "".join(random.choices(string.ascii_lowercase, k=12))


def received(mock_url, marker):
    with urllib.request.urlopen(mock_url + "/__mock/requests") as r:
        log = json.loads(r.read())["requests"]
    hits = [e for e in log if marker in json.dumps(e["body"])]
    assert hits, "the mock received nothing with the marker"
    return hits[-1]


def request(marker, text=None):
    """A Claude Code–like turn: cached system prompt, thinking on, a signed thinking block and a
    tool round trip in history (`text`: the tool's result, which the mock's answer repeats)."""
    return dict(
        max_tokens=2048,
        system=[{"type": "text", "text": f"You are terse. {marker}", "cache_control": {"type": "ephemeral"}}],
        thinking={"type": "enabled", "budget_tokens": 1024},
        extra_body={"top_k": 5},
        metadata={"user_id": "user-1234"},
        tools=[{"name": "lookup", "description": "Look up", "input_schema": {"type": "object"}}],
        messages=[
            {"role": "user", "content": "find it"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "I should call lookup.", "signature": SIGNATURE},
                    {"type": "tool_use", "id": "toolu_01AbCdEf", "name": "lookup", "input": {"q": "x"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01AbCdEf", "content": text or "found"},
                    {"type": "text", "text": "thanks", "cache_control": {"type": "ephemeral"}},
                ],
            },
        ],
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
    )


def test_an_anthropic_target_gets_the_clients_body_intact(claude, mock_url, marker):
    claude.messages.create(model="claude-mock", **request(marker))
    got = received(mock_url, marker)
    body = got["body"]
    assert got["path"].endswith("/v1/messages")
    assert body["model"] == "claude-mock"
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert body["top_k"] == 5
    thinking = body["messages"][1]["content"][0]
    assert thinking == {"type": "thinking", "thinking": "I should call lookup.", "signature": SIGNATURE}
    assert body["messages"][2]["content"][0]["tool_use_id"] == "toolu_01AbCdEf"
    assert body["messages"][2]["content"][1]["cache_control"] == {"type": "ephemeral"}
    assert got["headers"]["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert "stream" not in body


def test_a_streamed_request_is_passed_through_too(claude, mock_url, marker):
    with claude.messages.stream(model="claude-mock", **request(marker)) as s:
        s.get_final_message()
    body = received(mock_url, marker)["body"]
    assert body["stream"] is True
    assert body["thinking"]["budget_tokens"] == 1024
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_an_openai_format_target_gets_the_translation_without_anthropic_fields(claude, mock_url, marker):
    claude.messages.create(model="msg-gpt", **request(marker))
    got = received(mock_url, marker)
    body = got["body"]
    assert got["path"].endswith("/chat/completions")
    text = json.dumps(body)
    for field in ("cache_control", "top_k", "thinking", "signature", "budget_tokens"):
        assert field not in text, field
    assert "anthropic-beta" not in got["headers"]


def test_the_policy_applies_to_the_passed_through_body(claude, mock_url, marker):
    """`msg-guarded` tokenizes personal data: the vendor gets tokens in the client's own body
    (its cache_control kept), and the client gets the values back."""
    m = claude.messages.create(model="msg-guarded", **request(marker, text=f"mail {EMAIL}"))
    got = received(mock_url, marker)
    text = json.dumps(got["body"])
    assert EMAIL not in text
    assert got["body"]["messages"][2]["content"][1]["cache_control"] == {"type": "ephemeral"}
    assert got["body"]["thinking"]["type"] == "enabled"
    assert EMAIL in "".join(b.text for b in m.content if b.type == "text")


def test_a_server_tool_reaches_anthropic_and_is_refused_elsewhere(claude, mock_url, marker):
    """Anthropic's web search runs on Anthropic's side: the request goes there as written (its
    history's server blocks too); a target of another format cannot run it, so it is a 400 naming
    the tool, not a silent answer without search."""
    tools = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}]
    history = [
        {"role": "user", "content": f"news {marker}"},
        {
            "role": "assistant",
            "content": [
                {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {"query": "news"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01", "content": []},
                {"type": "text", "text": "Nothing found."},
            ],
        },
        {"role": "user", "content": "try again"},
    ]
    claude.messages.create(model="claude-mock", max_tokens=64, tools=tools, messages=history)
    body = received(mock_url, marker)["body"]
    assert body["tools"] == tools
    assert body["messages"][1]["content"][0]["type"] == "server_tool_use"
    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.create(model="msg-gpt", max_tokens=64, tools=tools, messages=history)
    assert "server_tool_use" in e.value.message and "needs an Anthropic target" in e.value.message
    # The tool alone, without the history, is named.
    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.create(model="msg-gpt", max_tokens=64, tools=tools, messages=history[:1])
    assert "web_search_20250305" in e.value.message


def test_count_tokens_counts_a_request_with_a_server_tool(claude):
    """Claude Code counts the requests it sends, web search included: counted without the tool
    (an estimate either way), never refused."""
    n = claude.messages.count_tokens(
        model="claude-mock",
        tools=[{"type": "web_search_20250305", "name": "web_search"}],
        messages=[{"role": "user", "content": "what happened today?"}],
    )
    assert n.input_tokens > 0
