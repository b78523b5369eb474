"""Placement as an application meets it through the `openai` SDK: the `x-seam-placement` header
narrows where a request may go (never widens it), a placement nothing satisfies is refused before
any upstream call, and a bad header is the caller's error.

The `placed` alias lists a vendor target (`mockanth`, trust vendor) before a private one (`mock`,
trust private), so an unconstrained request goes to the vendor.
"""

import json
import random
import string
import urllib.request

import openai
import pytest

PRIVATE = {"x-seam-placement": "trust=private"}


@pytest.fixture()
def marker():
    """A word no other test sends, to find this test's requests in the mock's log."""
    return "tag" + "".join(random.choices(string.ascii_lowercase, k=12))


def upstream(mock_url, marker):
    """Requests seam-mock received that mention `marker`."""
    with urllib.request.urlopen(mock_url + "/__mock/requests") as r:
        log = json.loads(r.read())["requests"]
    return [entry for entry in log if marker in json.dumps(entry["body"])]


def ask(marker):
    return [{"role": "user", "content": f"where does {marker} go"}]


def test_the_header_routes_to_the_private_target(client, marker):
    plain = client.chat.completions.with_raw_response.create(model="placed", messages=ask(marker))
    assert plain.headers["x-seam-route"] == "mockanth/claude-mock"

    r = client.chat.completions.with_raw_response.create(
        model="placed", messages=ask(marker), extra_headers=PRIVATE
    )
    assert r.headers["x-seam-route"] == "mock/gpt-mock"
    assert r.headers["x-seam-route-reason"].endswith("; placement trust=private")
    assert r.parse().choices[0].message.content


def test_a_stream_honours_the_header(client, marker):
    r = client.chat.completions.with_raw_response.create(
        model="placed", messages=ask(marker), stream=True, extra_headers=PRIVATE
    )
    assert r.headers["x-seam-route"] == "mock/gpt-mock"
    text = "".join(c.choices[0].delta.content or "" for c in r.parse() if c.choices)
    assert text


def test_a_placement_nothing_satisfies_is_503_and_nothing_is_sent(client, mock_url, marker):
    for headers in [{"x-seam-placement": "region=mars"}, {"x-seam-placement": "trust=private;region=eu"}]:
        with pytest.raises(openai.InternalServerError) as e:
            client.chat.completions.create(model="placed", messages=ask(marker), extra_headers=headers)
        assert e.value.status_code == 503
        assert e.value.code == "no_eligible_target"
        assert isinstance(e.value, openai.APIStatusError)
    with pytest.raises(openai.InternalServerError) as e:
        client.embeddings.create(model="embed", input=marker, extra_headers={"x-seam-placement": "trust=vendor"})
    assert e.value.code == "no_eligible_target"
    assert upstream(mock_url, marker) == []


@pytest.mark.parametrize(
    "value",
    ["trust=public", "zone=eu", "region=", "trust=private;trust=vendor", "region=eu,,ch", "x" * 600],
)
def test_a_bad_header_is_a_bad_request_naming_it(client, mock_url, marker, value):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="placed", messages=ask(marker), extra_headers={"x-seam-placement": value}
        )
    assert e.value.status_code == 400
    assert e.value.param == "x-seam-placement"
    assert upstream(mock_url, marker) == []
