"""Embeddings through the SDK (which asks for base64 by default), health and metrics."""

import math
import urllib.request

import openai
import pytest


def test_embeddings_default_encoding(client):
    r = client.embeddings.create(model="embed", input="the cat sat on the mat")
    v = r.data[0].embedding
    assert len(v) == 256
    assert math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4)
    assert r.usage.prompt_tokens == 6


def test_embeddings_float_and_base64_agree_and_batch_keeps_order(client):
    texts = ["alpha beta", "gamma delta", "alpha beta"]
    f = client.embeddings.create(model="embed", input=texts, encoding_format="float")
    b = client.embeddings.create(model="embed", input=texts)
    assert [d.index for d in f.data] == [0, 1, 2]
    for x, y in zip(f.data, b.data):
        assert all(math.isclose(p, q, rel_tol=1e-6) for p, q in zip(x.embedding, y.embedding))
    assert f.data[0].embedding == f.data[2].embedding
    assert f.data[0].embedding != f.data[1].embedding


def test_embeddings_dimensions(client):
    r = client.embeddings.create(model="embed", input="x", dimensions=64)
    assert len(r.data[0].embedding) == 64


def test_embeddings_through_an_openai_compatible_upstream(client):
    r = client.embeddings.create(model="mock/text-embedding-mock", input=["a", "b"])
    assert len(r.data) == 2
    assert len(r.data[0].embedding) > 0


def test_health_ready_and_metrics(client, seam_url):
    client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "m"}])
    list(client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "m"}], stream=True))
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="missing", messages=[{"role": "user", "content": "m"}])
    for path in ["/healthz", "/readyz"]:
        with urllib.request.urlopen(seam_url + path) as r:
            assert r.status == 200
    with urllib.request.urlopen(seam_url + "/metrics") as r:
        text = r.read().decode()
    for name in [
        "seam_requests_total",
        "seam_request_duration_seconds",
        "seam_gateway_overhead_seconds",
        "seam_upstream_duration_seconds",
        "seam_time_to_first_token_seconds",
        "seam_tokens_total",
        "seam_errors_total",
    ]:
        assert name in text, name
    assert 'provider="echo"' in text
    assert 'seam_errors_total{code="model_not_found"}' in text
    # OpenTelemetry's GenAI client metrics, per upstream attempt, under their semantic-convention
    # names: the provider as OpenTelemetry names it, never the config's name for it.
    genai = [line for line in text.splitlines() if line.startswith("gen_ai_client_")]
    duration = [line for line in genai if line.startswith("gen_ai_client_operation_duration_seconds")]
    assert any(
        'gen_ai_operation_name="chat"' in line and 'gen_ai_provider_name="seam.echo"' in line for line in duration
    ), duration[:3]
    tokens = [line for line in genai if line.startswith("gen_ai_client_token_usage")]
    assert any('gen_ai_token_type="input"' in line for line in tokens)
    assert any('gen_ai_token_type="output"' in line for line in tokens)
    assert any(line.startswith("gen_ai_client_operation_time_to_first_chunk_seconds") for line in genai)
