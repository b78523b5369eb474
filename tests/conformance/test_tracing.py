"""W3C trace context as an OpenTelemetry-instrumented client sees it: its `traceparent` continues
through Seam — the same trace id in `x-seam-trace-id`, on the audit record and on the upstream
request, under a new span of Seam's — and a request without one gets a trace Seam begins.
"""

import json
import re
import urllib.parse
import urllib.request

from test_passthrough import marker, received  # noqa: F401 (marker is a fixture)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def record(seam_url, rid):
    q = urllib.parse.urlencode({"id": rid})
    with urllib.request.urlopen(seam_url + "/admin/audit?" + q) as r:
        [rec] = json.loads(r.read())["records"]
    return rec


def test_a_clients_trace_continues_through_seam_to_the_upstream(client, seam_url, mock_url, marker):
    mark = marker
    raw = client.chat.completions.with_raw_response.create(
        model="gpt",
        messages=[{"role": "user", "content": mark}],
        extra_headers={"traceparent": f"00-{TRACE}-{PARENT}-01", "tracestate": "vendor=abc"},
    )
    assert raw.headers["x-seam-trace-id"] == TRACE
    sent = {k.lower(): v for k, v in received(mock_url, mark)["headers"].items()}
    version, trace, span, flags = sent["traceparent"].split("-")
    assert (version, trace, flags) == ("00", TRACE, "01")
    assert span != PARENT and re.fullmatch("[0-9a-f]{16}", span), "a span of Seam's own"
    assert sent["tracestate"] == "vendor=abc"
    assert record(seam_url, raw.headers["x-seam-request-id"])["trace_id"] == TRACE


def test_without_a_valid_traceparent_seam_begins_a_trace(client, seam_url, mock_url, marker):
    for i, headers in enumerate([{}, {"traceparent": "00-nonsense-01"}]):
        mark = f"{marker}x{i}"
        raw = client.chat.completions.with_raw_response.create(
            model="gpt", messages=[{"role": "user", "content": mark}], extra_headers=headers
        )
        trace = raw.headers["x-seam-trace-id"]
        assert re.fullmatch("[0-9a-f]{32}", trace) and trace != TRACE
        sent = {k.lower(): v for k, v in received(mock_url, mark)["headers"].items()}
        assert sent["traceparent"].split("-")[1] == trace
        assert "tracestate" not in sent
        assert record(seam_url, raw.headers["x-seam-request-id"])["trace_id"] == trace
    # Every response carries one, whatever the route.
    req = urllib.request.Request(seam_url + "/v1/models")
    with urllib.request.urlopen(req) as r:
        assert re.fullmatch("[0-9a-f]{32}", r.headers["x-seam-trace-id"])
