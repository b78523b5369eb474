"""Names, places and street addresses through the openai SDK: the vendor (seam-mock, whose request
log the tests read) never sees them, the client gets its own text back, whole or streamed.

CI installs the named-entity model (`seam models fetch`) and sets SEAM_REQUIRE_MODELS=1; then the
`x-seam-policy` header must say the model read the request (`ner=model`).
"""

import json
import os
import random
import string
import urllib.request

import pytest

from test_policy import LOOKUP, stream_text, upstream

NAMES = ["Ada Lovelace", "12 Baker Street", "London", "Zoë Müller-Lüdenscheidt", "Lyon"]


@pytest.fixture()
def marker():
    return "tag" + "".join(random.choices(string.ascii_lowercase, k=12))


def prompt(marker):
    return (
        f"Ticket {marker}: please ask Ada Lovelace to send the parcel to 12 Baker Street, London. "
        "Zoë Müller-Lüdenscheidt from Lyon is in copy."
    )


def seen(text):
    return [n for n in NAMES if n in text]


def check_header(raw):
    header = raw.headers.get("x-seam-policy", "")
    assert "PERSON:tokenize:" in header, header
    assert "LOCATION:tokenize:" in header, header
    assert "STREET_ADDRESS:tokenize:" in header, header
    if os.environ.get("SEAM_REQUIRE_MODELS") == "1":
        assert "ner=model" in header, header


def test_the_vendor_never_sees_a_name_and_the_client_gets_its_text_back(client, mock_url, marker):
    text = prompt(marker)
    raw = client.chat.completions.with_raw_response.create(
        model="names-guarded", messages=[{"role": "user", "content": text}]
    )
    r = raw.parse()
    assert r.choices[0].message.content == "mock: " + text
    check_header(raw)
    [sent] = upstream(mock_url, marker)
    body = json.dumps(sent["body"], ensure_ascii=False)
    assert seen(body) == []
    assert "[PERSON_1]" in body and "[PERSON_2]" in body
    assert "[LOCATION_1]" in body and "[STREET_ADDRESS_1]" in body


def test_names_are_restored_in_a_stream(client, mock_url, marker):
    text = prompt(marker)
    deltas = stream_text(
        client.chat.completions.create(
            model="names-guarded", messages=[{"role": "user", "content": text}], stream=True
        )
    )
    assert "".join(deltas) == "mock: " + text
    assert [d for d in deltas if "[" in d or "]" in d] == []
    [sent] = upstream(mock_url, marker)
    assert seen(json.dumps(sent["body"], ensure_ascii=False)) == []


def test_names_are_restored_in_tool_call_arguments(client, mock_url, marker):
    text = prompt(marker)
    r = client.chat.completions.create(
        model="names-guarded", messages=[{"role": "user", "content": text}], tools=[LOOKUP]
    )
    call = r.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"q": text}
    [sent] = upstream(mock_url, marker)
    assert seen(json.dumps(sent["body"], ensure_ascii=False)) == []


def test_a_lower_case_name_in_chat_is_found(client, mock_url, marker):
    text = f"{marker} tell john i'm late, and ask maria to start without me"
    r = client.chat.completions.create(model="names-guarded", messages=[{"role": "user", "content": text}])
    assert r.choices[0].message.content == "mock: " + text
    [sent] = upstream(mock_url, marker)
    said = sent["body"]["messages"][-1]["content"]
    assert "john" not in said and "maria" not in said, said


def test_text_without_names_goes_through_untouched(client, mock_url, marker):
    text = f"{marker}: Summarise the attached report in three bullet points, then translate it to French."
    raw = client.chat.completions.with_raw_response.create(
        model="names-guarded", messages=[{"role": "user", "content": text}]
    )
    [sent] = upstream(mock_url, marker)
    assert sent["body"]["messages"][-1]["content"] == text
    assert "PERSON" not in raw.headers.get("x-seam-policy", "")
