"""Same format, no lossy round trip: a Responses request routed to an OpenAI target with
`responses_api = true` reaches its `/v1/responses` as the client wrote it — `reasoning`, built-in
tools, `include` — with Seam's conversation state expanded into `input` and `store: false`, and
the policy still applied to every text. Routed to a target that speaks chat completions only, it
is translated, and what only the Responses API can do (a built-in tool) is a 400 naming it.
"""

import json
import random
import string
import urllib.request

import openai
import pytest

EMAIL = "grace.hopper@example.com"


@pytest.fixture()
def marker():
    return "tag" + "".join(random.choices(string.ascii_lowercase, k=12))


def received(mock_url, marker):
    """The last request the mock received that carries `marker`."""
    with urllib.request.urlopen(mock_url + "/__mock/requests") as r:
        log = json.loads(r.read())["requests"]
    hits = [e for e in log if marker in json.dumps(e["body"])]
    assert hits, "the mock received nothing with the marker"
    return hits[-1]


def texts(items):
    """The text of each message item of an `input` list, in order."""
    out = []
    for item in items:
        content = item.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.append("".join(p.get("text", "") for p in content))
    return out


def test_the_vendor_gets_the_clients_fields_and_seams_state_expanded(client, mock_url, marker):
    first = client.responses.create(
        model="resp-native",
        input=f"hello {marker}",
        reasoning={"effort": "low", "summary": "auto"},
        tools=[{"type": "web_search"}],
        include=["reasoning.encrypted_content"],
    )
    got = received(mock_url, marker)
    body = got["body"]
    assert got["path"] == "/v1/responses"
    assert body["model"] == "gpt-resp"
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["tools"] == [{"type": "web_search"}]
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["store"] is False
    assert "previous_response_id" not in body
    # What chat cannot express comes back: the search, its citation, the reasoning summary.
    kinds = [item.type for item in first.output]
    assert kinds == ["reasoning", "web_search_call", "message"], kinds
    message = first.output[2]
    assert message.content[0].text == f"mock: hello {marker}"
    assert message.content[0].annotations[0].type == "url_citation"
    assert first.output_text == f"mock: hello {marker}"

    second = client.responses.create(
        model="resp-native",
        input=f"and again {marker}",
        previous_response_id=first.id,
        tools=[{"type": "web_search"}],
    )
    body = received(mock_url, f"and again {marker}")["body"]
    assert "previous_response_id" not in body
    assert body["store"] is False
    said = texts(body["input"])
    assert said == [f"hello {marker}", f"mock: hello {marker}", f"and again {marker}"], said
    assert "web_search_call" in [i.get("type") for i in body["input"]]
    assert second.output_text == f"mock: and again {marker}"

    third = client.responses.create(model="resp-native", input=f"third {marker}", previous_response_id=second.id)
    said = texts(received(mock_url, f"third {marker}")["body"]["input"])
    assert said[0] == f"hello {marker}" and said[-1] == f"third {marker}" and len(said) == 5, said
    assert third.output_text == f"mock: third {marker}"


def test_a_native_stream(client, mock_url, marker):
    events = []
    with client.responses.stream(
        model="resp-native", input=f"one two {marker}", tools=[{"type": "web_search"}]
    ) as s:
        for e in s:
            events.append(e.type)
        final = s.get_final_response()
    assert received(mock_url, marker)["body"]["stream"] is True
    assert events[0] == "response.created"
    assert events[-1] == "response.completed"
    assert "response.output_text.delta" in events
    assert final.output_text == f"mock: one two {marker}"
    assert [i.type for i in final.output] == ["web_search_call", "message"]
    assert final.output[1].content[0].annotations[0].type == "url_citation"


def test_a_native_function_call_round_trip(client, mock_url, marker):
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    r = client.responses.create(model="resp-native", input=f"find {marker}", tools=tools)
    call = r.output[0]
    assert call.type == "function_call" and call.name == "lookup"
    assert json.loads(call.arguments) == {"q": f"find {marker}"}
    r2 = client.responses.create(
        model="resp-native",
        previous_response_id=r.id,
        tools=tools,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": f"found {marker}"}],
    )
    body = received(mock_url, f"found {marker}")["body"]
    kinds = [i.get("type", "message") for i in body["input"]]
    assert kinds == ["message", "function_call", "function_call_output"], kinds
    assert body["input"][1]["call_id"] == call.call_id
    assert r2.output_text == f"mock: found {marker}"


@pytest.mark.parametrize("stream", [False, True])
def test_the_policy_applies_to_the_native_body(client, mock_url, marker, stream):
    """`resp-native-guarded` tokenizes personal data: the vendor gets tokens in the client's own
    body, and the client gets the value back."""
    kwargs = dict(model="resp-native-guarded", input=f"mail {EMAIL} {marker}", reasoning={"effort": "low"})
    if stream:
        with client.responses.stream(**kwargs) as s:
            r = s.get_final_response()
    else:
        r = client.responses.create(**kwargs)
    got = received(mock_url, marker)
    assert got["path"] == "/v1/responses"
    assert EMAIL not in json.dumps(got["body"])
    assert got["body"]["reasoning"] == {"effort": "low"}
    assert r.output_text == f"mock: mail {EMAIL} {marker}"


@pytest.mark.parametrize("tool", [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_1"]}])
def test_a_built_in_tool_to_a_chat_only_target_is_a_400_naming_it(client, mock_url, marker, tool):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="gpt", input=f"hi {marker}", tools=[tool])
    assert tool["type"] in e.value.message
    assert "responses_api" in e.value.message
    with urllib.request.urlopen(mock_url + "/__mock/requests") as r:
        log = json.loads(r.read())["requests"]
    assert not [x for x in log if marker in json.dumps(x["body"])], "nothing went upstream"


def test_without_built_in_tools_a_chat_only_target_gets_the_translation(client, mock_url, marker):
    r = client.responses.create(model="gpt", input=f"hi {marker}", reasoning={"effort": "low"})
    got = received(mock_url, marker)
    assert got["path"] == "/v1/chat/completions"
    assert got["body"]["reasoning_effort"] == "low"
    assert r.output_text == f"mock: hi {marker}"
