"""The Responses API (`POST /v1/responses`) as a user of the `openai` SDK meets it, on an
OpenAI-format, an Anthropic and a Gemini target: unary and streamed answers, function calling,
conversation state (`previous_response_id`, retrieve, delete), masking, contracts and failures.

Seam translates every Responses request into chat completions for the pipeline, so the mock
targets answer as they do for chat: `mock: ` + the last user (or tool) text. Tests that read what
the mock received tag their prompts with a unique marker.
"""

import json
import random
import string
import urllib.parse
import urllib.request

import openai
import pytest

# alias or PROVIDER/MODEL → the kind of target behind it
TARGETS = {"gpt": "openai", "claude": "anthropic", "mockgem/gemini-mock": "gemini"}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "required": ["q"],
        "additionalProperties": False,
    },
    "strict": True,
}
EMAIL = "ada.lovelace@example.com"
SCHEMA = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


@pytest.fixture()
def marker():
    """A word no other test sends: lower-case letters, so no detector mistakes it for data."""
    return "tag" + "".join(random.choices(string.ascii_lowercase, k=12))


def upstream(mock_url, marker):
    """Bodies of the requests seam-mock received that mention `marker`, in arrival order."""
    with urllib.request.urlopen(mock_url + "/__mock/requests") as r:
        log = json.loads(r.read())["requests"]
    return [entry["body"] for entry in log if marker in json.dumps(entry["body"])]


def records(seam_url, **params):
    url = seam_url + "/admin/audit?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url) as r:
        return json.loads(r.read())["records"]


def events_of(stream):
    """Every event of a `stream=True` response, checking the sequence numbers as it goes."""
    out = []
    for e in stream:
        assert e.sequence_number == len(out), "sequence numbers count from 0, one per event"
        out.append(e)
    return out


@pytest.mark.parametrize("model", TARGETS)
def test_create_answers(client, model):
    r = client.responses.create(model=model, input="Hello there", instructions="You are terse.")
    assert r.object == "response"
    assert r.id.startswith("resp_")
    assert r.status == "completed"
    assert r.output_text == "mock: Hello there"
    [msg] = r.output
    assert msg.type == "message" and msg.role == "assistant" and msg.id.startswith("msg_")
    assert r.instructions == "You are terse."
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    assert r.usage.input_tokens_details.cached_tokens == 0


@pytest.mark.parametrize("model", TARGETS)
def test_items_input_with_roles_and_parts(client, model):
    r = client.responses.create(
        model=model,
        input=[
            {"role": "developer", "content": "Answer briefly."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "one two"}]},
        ],
        max_output_tokens=50,
        temperature=0.3,
        metadata={"ticket": "42"},
    )
    assert r.output_text == "mock: one two"
    assert r.metadata == {"ticket": "42"}
    assert r.max_output_tokens == 50 and r.temperature == 0.3


@pytest.mark.parametrize("model", TARGETS)
def test_stream_events_and_text(client, model):
    whole = client.responses.create(model=model, input="one two three four five").output_text
    events = events_of(client.responses.create(model=model, input="one two three four five", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 3, "streamed in pieces"
    assert "".join(deltas) == whole
    done = events[-1].response
    assert done.id == events[0].response.id
    assert done.output_text == whole
    assert done.usage.output_tokens > 0


@pytest.mark.parametrize("model", TARGETS)
def test_stream_helper_gets_the_final_response(client, model):
    with client.responses.stream(model=model, input="streamed helper") as s:
        text = "".join(e.delta for e in s if e.type == "response.output_text.delta")
        final = s.get_final_response()
    assert text == "mock: streamed helper"
    assert final.output_text == text
    assert final.status == "completed"


@pytest.mark.parametrize("model", TARGETS)
def test_function_call_round_trip(client, model):
    first = client.responses.create(model=model, input="Paris", tools=[WEATHER])
    [call] = [o for o in first.output if o.type == "function_call"]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"q": "Paris"}
    assert call.call_id and call.id.startswith("fc_")
    assert first.tools[0].name == "get_weather"

    # Stateless: the client sends the whole conversation back.
    second = client.responses.create(
        model=model,
        tools=[WEATHER],
        input=[
            {"role": "user", "content": "Paris"},
            *[o.model_dump(exclude_none=True) for o in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
    )
    assert second.output_text == "mock: sunny"

    # Stateful: only the tool's output, after the stored response.
    third = client.responses.create(
        model=model,
        tools=[WEATHER],
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "rainy"}],
    )
    assert third.output_text == "mock: rainy"


@pytest.mark.parametrize("model", TARGETS)
def test_function_call_streamed(client, model):
    with client.responses.stream(model=model, input="Paris", tools=[WEATHER]) as s:
        deltas = [e.delta for e in s if e.type == "response.function_call_arguments.delta"]
        final = s.get_final_response()
    [call] = [o for o in final.output if o.type == "function_call"]
    assert call.name == "get_weather"
    assert json.loads("".join(deltas)) == json.loads(call.arguments) == {"q": "Paris"}


@pytest.mark.parametrize("model", ["claude", "mockgem/gemini-mock"])
def test_previous_response_id_across_three_turns(client, mock_url, marker, model):
    r1 = client.responses.create(model=model, input=f"first {marker}", instructions=f"rules{marker}")
    r2 = client.responses.create(model=model, input=f"second {marker}", previous_response_id=r1.id)
    r3 = client.responses.create(model=model, input=f"third {marker}", previous_response_id=r2.id)
    assert r3.output_text == f"mock: third {marker}"
    assert r3.previous_response_id == r2.id
    bodies = [json.dumps(b) for b in upstream(mock_url, marker)]
    assert len(bodies) == 3
    # The vendor got the earlier turns, in order, questions and answers.
    said = [f"first {marker}", f"mock: first {marker}", f"second {marker}", f"mock: second {marker}", f"third {marker}"]
    at = [bodies[2].find(s) for s in said]
    assert all(i >= 0 for i in at) and at == sorted(at), at
    # Instructions are not carried over to the next turn (as OpenAI does).
    assert f"rules{marker}" in bodies[0]
    assert f"rules{marker}" not in bodies[1] and f"rules{marker}" not in bodies[2]


@pytest.mark.parametrize("stream", [False, True])
def test_previous_response_id_right_after_the_answer(client, stream):
    if stream:
        with client.responses.stream(model="claude", input="stored at once") as s:
            first = s.get_final_response()
    else:
        first = client.responses.create(model="claude", input="stored at once")
    nxt = client.responses.create(model="claude", input="next", previous_response_id=first.id)
    assert nxt.output_text == "mock: next"


def test_retrieve_input_items_and_delete(client):
    r = client.responses.create(model="gpt", input="keep me", metadata={"k": "v"})
    got = client.responses.retrieve(r.id)
    assert got.id == r.id
    assert got.output_text == "mock: keep me"
    assert got.metadata == {"k": "v"}
    items = list(client.responses.input_items.list(r.id))
    assert [i.type for i in items] == ["message"]
    assert items[0].role == "user" and items[0].id
    client.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt", input="again", previous_response_id=r.id)


def test_store_false_keeps_nothing(client):
    r = client.responses.create(model="gpt", input="forget me", store=False)
    assert r.store is False
    assert r.output_text == "mock: forget me"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)


def test_an_unknown_previous_response_id_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.create(model="gpt", input="hi", previous_response_id="resp_nope")
    assert e.value.code == "not_found"
    assert e.value.param == "previous_response_id"


@pytest.mark.parametrize("model", ["guarded", "guarded-claude", "guarded-gemini"])
@pytest.mark.parametrize("stream", [False, True])
def test_tokenized_values_never_reach_the_vendor_and_come_back(client, mock_url, marker, model, stream):
    prompt = f"Ticket {marker}: write to {EMAIL}"
    if stream:
        with client.responses.stream(model=model, input=prompt) as s:
            text = "".join(e.delta for e in s if e.type == "response.output_text.delta")
            r = s.get_final_response()
        assert text == r.output_text
    else:
        r = client.responses.create(model=model, input=prompt)
    assert r.output_text == f"mock: {prompt}", "the client gets its value back"
    # A second turn carries the first from the store: masked again on the way out.
    r2 = client.responses.create(model=model, input=f"again {marker}", previous_response_id=r.id)
    assert r2.output_text == f"mock: again {marker}"
    bodies = upstream(mock_url, marker)
    assert len(bodies) == 2
    for b in bodies:
        assert EMAIL not in json.dumps(b), "the vendor never saw the value"


def test_json_schema_format_is_an_output_contract(client, marker):
    fmt = {"format": {"type": "json_schema", "name": "person", "schema": SCHEMA, "strict": True}}
    wanted = {"name": "Ada", "ref": marker}
    r = client.responses.create(model="gpt", input=json.dumps(wanted), text=fmt)
    assert json.loads(r.output_text) == wanted
    assert r.text.format.type == "json_schema"
    with pytest.raises(openai.UnprocessableEntityError) as e:
        client.responses.create(model="gpt", input=f"hello {marker}", text=fmt)
    assert e.value.code == "contract_violation"


def test_json_object_format(client):
    r = client.responses.create(model="chat", input="hi", text={"format": {"type": "json_object"}})
    assert json.loads(r.output_text) == {"echo": "hi"}


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]}, "input[0].content[0].file_id"),
        ({"background": True}, "background"),
    ],
)
def test_what_seam_cannot_do_is_a_400_naming_it(client, kwargs, param):
    kwargs = {"input": "hi", **kwargs}
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="gpt", **kwargs)
    assert e.value.param == param


@pytest.mark.parametrize("model", ["mock/fault-cut-stream-3", "mockanth/fault-cut-stream-3", "mockgem/fault-cut-stream-3"])
def test_an_upstream_cut_mid_stream_fails_visibly_and_is_audited(client, seam_url, model):
    subject = "subj-" + "".join(random.choices(string.ascii_lowercase, k=12))
    texts, events = [], []
    with client.responses.with_streaming_response.create(
        model=model, input="a b c d e f g h", stream=True, extra_headers={"x-seam-subject": subject}
    ) as raw:
        rid = raw.headers["x-seam-request-id"]
        try:
            for e in raw.parse():
                events.append(e)
                if e.type == "response.output_text.delta":
                    texts.append(e.delta)
            raised = False
        except openai.APIError:
            raised = True
    assert texts, "some text arrived before the cut"
    assert raised or events[-1].type == "response.failed", "never a silent end"
    if not raised:
        assert events[-1].response.status == "failed"
        assert events[-1].response.error.message
        assert "response.completed" not in [e.type for e in events]
    [r] = [r for r in records(seam_url, subject=subject) if r["id"] == rid]
    assert r["endpoint"] == "responses"
    assert r["error_code"] == "stream_interrupted"
