"""Retrieval (issue 20): collections on SQLite and on PostgreSQL, driven as a user would.

Documents of every format go in over `POST /v1/collections/{name}/documents` and `seam ingest`;
keys see only what their label grants (and their request's subject) allow; an alias with
`[models.NAME.retrieval]` puts the caller's passages into the request, and the answer names them
in `x-seam-citations` and the audit record; erasing a subject deletes its documents; the semantic
cache answers a paraphrase and never a question with personal data. The built-in embedding
model (all-MiniLM-L6-v2) runs in process: the tests need it installed (`seam models fetch
minilm`, which scripts/test runs).
"""

import base64
import hashlib
import json
import os
import pathlib
import socket
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid

import openai
import pytest

from conftest import MOCK, ROOT, SEAM, start_helper, start_seam, stop

RUN = uuid.uuid4().hex[:8]
ADMIN = "admin-" + uuid.uuid4().hex
MASTER = base64.b64encode(b"retrieval-conformance-master-k!!").decode()
KEYS = {name: f"sk-{name}-{uuid.uuid4().hex}" for name in ["nurse", "research", "reader", "writer", "none", "chatter"]}


def sha(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


CONFIG = """
[storage]
url = "{storage}"

[admin]
key = "env:SEAM_TEST_ADMIN"

[audit]
master_key = "env:SEAM_TEST_MASTER"
default_class = "metadata"

[providers.mock]
kind = "openai"
base_url = "{mock}/v1"
api_key = "env:SEAM_TEST_MOCK_KEY"
trust = "private"

[providers.echo]
kind = "echo"

[policies.ingest.input]
pii = {{ action = "redact", entities = ["EMAIL_ADDRESS"] }}

[retrieval.collections.handbook]
embedder = "local-minilm"
policy = "ingest"
chunk = {{ max_tokens = 120, overlap = 20 }}
default_labels = ["public"]

[models.rag]
targets = [{{ provider = "mock", model = "echo-system" }}]
retrieval = {{ collection = "handbook", top_k = 3 }}

[models.semantic]
targets = [{{ provider = "mock", model = "gpt-mock" }}]
cache = {{ mode = "semantic", threshold = 0.8, ttl_s = 600, scope = "key" }}

[keys.nurse]
hash = "sha256:{nurse}"
models = ["rag", "semantic"]
labels = ["team:oncology"]
subject_grants = true
collections = ["handbook"]

[keys.research]
hash = "sha256:{research}"
models = ["rag"]
labels = ["consent:research"]
collections = ["handbook"]

[keys.reader]
hash = "sha256:{reader}"
models = ["rag", "semantic"]
labels = ["public"]
collections = ["handbook"]

[keys.writer]
hash = "sha256:{writer}"
labels = ["*"]
collections = ["handbook"]
ingest = ["handbook"]

[keys.none]
hash = "sha256:{none}"
models = ["rag"]

[keys.chatter]
hash = "sha256:{chatter}"
models = ["semantic"]
"""

# Documents: who may see each is in its labels.
DOCS = [
    ("leave", "markdown", "# Leave policy\n\n## Annual leave\n\nEvery employee gets 27 days of annual leave per year. "
     "Unused days carry over until March.\n\n## Sick leave\n\nSick leave needs a doctor's note after three days.", ["public"]),
    ("onc-protocol", "txt", "Oncology ward protocol: chemotherapy infusions are double-checked by two nurses. "
     "Cytotoxic spills are cleaned with the yellow spill kit.", ["team:oncology"]),
    ("patient-p1", "txt", "Patient p-1 care plan: allergic to penicillin; prefers morning appointments. "
     "Contact the family at ada.lovelace@example.com.", ["subject:p-1"]),
    ("patient-p2", "txt", "Patient p-2 care plan: diabetic diet, insulin before meals, lives in Zurich.", ["subject:p-2", "consent:research"]),
]


def _up(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _model_installed():
    base = os.environ.get("SEAM_MODELS_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "seam", "models"
    )
    return os.path.exists(os.path.join(base, "all-minilm-l6-v2", "model.safetensors"))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def rig(request):
    """A seam with the handbook collection on SQLite or on PostgreSQL, and its mock upstream."""
    if not _model_installed():
        if os.environ.get("SEAM_REQUIRE_MODELS"):
            pytest.fail("the local embedding model is required (SEAM_REQUIRE_MODELS) but not installed")
        pytest.skip("the local embedding model is not installed (seam models fetch minilm)")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"seam-retrieval-{request.param}-"))
    db = None
    if request.param == "postgres":
        if not _up(5432):
            if os.environ.get("SEAM_REQUIRE_POSTGRES"):
                pytest.fail("PostgreSQL is required (SEAM_REQUIRE_POSTGRES) but down")
            pytest.skip("no PostgreSQL on 127.0.0.1:5432")
        db = f"seam_retrieval_{RUN}"
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {db}"], check=True)
        storage = f"postgres://postgres@127.0.0.1:5432/{db}"
    else:
        storage = f"sqlite://{tmp}/seam.db"
    mock = start_helper(MOCK)
    cfg = tmp / "seam.toml"
    cfg.write_text(CONFIG.format(storage=storage, mock=mock.url, **{k: sha(v) for k, v in KEYS.items()}))
    env = dict(
        os.environ,
        SEAM_TEST_ADMIN=ADMIN,
        SEAM_TEST_MASTER=MASTER,
        SEAM_TEST_MOCK_KEY="sk-mock",
    )
    seam = start_seam(cfg, env)
    seam.cfg = cfg
    seam.env = env
    seam.tmp = tmp
    try:
        for doc_id, fmt, text, labels in DOCS:
            status, body = call(seam, "POST", "/v1/collections/handbook/documents", KEYS["writer"],
                                {"id": doc_id, "format": fmt, "text": text, "labels": labels})
            assert status in (200, 201), body
        yield seam
    finally:
        stop(seam)
        stop(mock)
        log = "".join(seam.log)
        for secret in [ADMIN, MASTER, *KEYS.values()]:
            assert secret not in log
        if db:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE {db} WITH (FORCE)"])


def call(seam, method, path, key, body=None, headers=None):
    """One HTTP call; (status, parsed JSON body, response headers)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(seam.url + path, data=data, method=method)
    req.add_header("authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def search(seam, key, query, subject=None, **extra):
    headers = {"x-seam-subject": subject} if subject else {}
    status, body = call(seam, "POST", "/v1/collections/handbook/search", key, {"query": query, "top_k": 10, **extra}, headers)
    assert status == 200, body
    return body["data"]


def docs_of(results):
    return {r["document"] for r in results}


def test_every_format_goes_in_and_is_found(rig):
    html = "<html><head><title>Parking</title><style>p{}</style></head><body><h1>Parking</h1><p>Bicycles go in the basement racks &amp; cars in lot B.</p></body></html>"
    jsonl = "\n".join(json.dumps(d) for d in [
        {"id": "faq-1", "text": "The canteen opens at 11:30.", "labels": ["public"], "metadata": {"lang": "en"}},
        {"id": "faq-2", "text": "Die Kantine öffnet um 11:30 Uhr.", "labels": ["public"], "metadata": {"lang": "de"}},
    ])
    data = ROOT / "crates" / "seam-retrieval" / "tests" / "data"
    pdf = base64.b64encode((data / "handbook.pdf").read_bytes()).decode()
    for body in [
        {"id": "parking", "format": "html", "text": html},
        {"id": "faq", "format": "jsonl", "text": jsonl},
        {"id": "fixture-pdf", "format": "pdf", "content_base64": pdf, "labels": ["public"]},
    ]:
        status, out = call(rig, "POST", "/v1/collections/handbook/documents", KEYS["writer"], body)
        assert status in (200, 201), out
        assert all(d["chunks"] > 0 for d in out["documents"] if d["status"] != "unchanged"), out
    # A document that cannot be read is refused with a reason, and nothing of it is stored.
    encrypted = base64.b64encode((data / "encrypted.pdf").read_bytes()).decode()
    status, err = call(rig, "POST", "/v1/collections/handbook/documents", KEYS["writer"],
                       {"id": "locked", "format": "pdf", "content_base64": encrypted})
    assert status == 400 and "encrypted" in err["error"]["message"], err
    status, err = call(rig, "POST", "/v1/collections/handbook/documents", KEYS["writer"],
                       {"id": "bad", "format": "jsonl", "text": '{"id": "x"}\nnot json'})
    assert status == 400 and "line 1" in err["error"]["message"], err
    assert "parking" in docs_of(search(rig, KEYS["reader"], "where do I put my bicycle"))
    assert "fixture-pdf" in docs_of(search(rig, KEYS["reader"], "how fast are expense claims reimbursed"))
    assert "faq-1" in docs_of(search(rig, KEYS["reader"], "canteen opening hours"))
    # A metadata filter is part of the search, not a filter of its results.
    assert docs_of(search(rig, KEYS["reader"], "canteen opening hours", filter={"lang": "de"})) == {"faq-2"}
    status, stats = call(rig, "GET", "/v1/collections/handbook", KEYS["writer"])
    assert status == 200 and stats["documents"] >= 7 and stats["chunks"] >= stats["documents"], stats
    status, listed = call(rig, "GET", "/v1/collections/handbook/documents?limit=500", KEYS["writer"])
    assert status == 200 and {"parking", "faq-1", "faq-2", "fixture-pdf", "leave"} <= {d["id"] for d in listed["data"]}


def test_the_ingest_policy_runs_before_storage(rig):
    hits = search(rig, KEYS["writer"], "family contact for patient p-1")
    text = " ".join(r["text"] for r in hits)
    assert "ada.lovelace@example.com" not in text
    assert "<EMAIL_ADDRESS>" in text


def test_reingesting_is_a_no_op_and_a_change_replaces(rig):
    body = {"id": "reingest", "format": "txt", "text": "The gym is on floor 4.", "labels": ["public"]}
    s1, first = call(rig, "POST", "/v1/collections/handbook/documents", KEYS["writer"], body)
    s2, again = call(rig, "POST", "/v1/collections/handbook/documents", KEYS["writer"], body)
    assert (s1, first["documents"][0]["status"]) == (201, "inserted")
    assert (s2, again["documents"][0]["status"]) == (200, "unchanged")
    body["text"] = "The gym moved to floor 7."
    _, changed = call(rig, "POST", "/v1/collections/handbook/documents", KEYS["writer"], body)
    assert changed["documents"][0]["status"] == "replaced"
    texts = [r["text"] for r in search(rig, KEYS["reader"], "which floor is the gym on") if r["document"] == "reingest"]
    assert texts and all("floor 7" in t for t in texts)
    status, _ = call(rig, "DELETE", "/v1/collections/handbook/documents/reingest", KEYS["writer"])
    assert status == 200
    assert "reingest" not in docs_of(search(rig, KEYS["reader"], "which floor is the gym on"))
    status, err = call(rig, "DELETE", "/v1/collections/handbook/documents/reingest", KEYS["writer"])
    assert status == 404 and err["error"]["code"] == "document_not_found"


def test_a_key_sees_only_what_it_is_granted(rig):
    q = "patient care plan allergies diet"
    # The nurse: oncology documents, and the patient the request is for.
    nurse_p1 = docs_of(search(rig, KEYS["nurse"], q, subject="p-1"))
    assert "patient-p1" in nurse_p1 and "patient-p2" not in nurse_p1
    assert "patient-p2" not in docs_of(search(rig, KEYS["nurse"], q))
    assert docs_of(search(rig, KEYS["nurse"], "chemotherapy spill")) >= {"onc-protocol"}
    # The researcher: consented records only.
    research = docs_of(search(rig, KEYS["research"], q))
    assert research == {"patient-p2"}, research
    # The reader: public documents only, never a patient's, even when asked for by subject.
    reader = docs_of(search(rig, KEYS["reader"], q, subject="p-1"))
    assert not reader & {"patient-p1", "patient-p2", "onc-protocol"}, reader
    # A key without the collection in its scope cannot search it at all.
    status, err = call(rig, "POST", "/v1/collections/handbook/search", KEYS["none"], {"query": q})
    assert status == 403 and err["error"]["code"] == "collection_forbidden"
    # Nor add to it, nor plant a label it is not granted.
    status, err = call(rig, "POST", "/v1/collections/handbook/documents", KEYS["nurse"], {"id": "x", "text": "x"})
    assert status == 403 and err["error"]["code"] == "collection_forbidden"
    status, err = call(rig, "POST", "/v1/collections/nope/search", KEYS["reader"], {"query": q})
    assert status == 404 and err["error"]["code"] == "collection_not_found"


def test_rag_through_the_openai_sdk_with_citations(rig):
    client = openai.OpenAI(base_url=rig.url + "/v1", api_key=KEYS["nurse"], max_retries=0, timeout=60)
    raw = client.chat.completions.with_raw_response.create(
        model="rag",
        messages=[{"role": "system", "content": "You are the ward assistant."},
                  {"role": "user", "content": "What is the care plan for my patient?"}],
        extra_headers={"x-seam-subject": "p-1"},
    )
    answer = raw.parse().choices[0].message.content
    # The upstream (echo-system) answers with the system messages it got: the application's
    # instructions first, then the passages this nurse may see for patient p-1.
    assert "You are the ward assistant." in answer
    assert "penicillin" in answer
    assert "insulin" not in answer
    cites = json.loads(raw.headers["x-seam-citations"])
    assert "patient-p1" in {c["document"] for c in cites}
    assert all(c["collection"] == "handbook" and isinstance(c["score"], float) for c in cites)
    rid = raw.headers["x-seam-request-id"]
    req = urllib.request.Request(rig.url + "/admin/audit?" + urllib.parse.urlencode({"id": rid}))
    req.add_header("authorization", f"Bearer {ADMIN}")
    with urllib.request.urlopen(req) as r:
        records = [x for x in json.loads(r.read())["records"] if x["id"] == rid]
    assert len(records) == 1
    assert [c["document"] for c in records[0]["citations"]] == [c["document"] for c in cites]
    # Streamed the same way.
    stream = client.chat.completions.create(
        model="rag", stream=True,
        messages=[{"role": "user", "content": "chemotherapy infusion checks"}],
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "two nurses" in text


def test_cli_ingest_is_idempotent(rig):
    folder = rig.tmp / "docs"
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    (folder / "a.md").write_text("# Badges\n\nLost badges are replaced at reception for 10 francs.\n")
    (folder / "sub" / "b.txt").write_text("The library lends laptops for two weeks.\n")
    (folder / "skip.bin").write_bytes(b"\x00\x01")
    run = lambda: subprocess.run(
        [SEAM, "ingest", "handbook", str(folder), "--config", str(rig.cfg), "--labels", "public"],
        capture_output=True, text=True, env=rig.env, timeout=300,
    )
    first = run()
    assert first.returncode == 0, first.stderr
    assert "2 inserted" in first.stdout and "1 files of other types skipped" in first.stdout, first.stdout
    second = run()
    assert second.returncode == 0 and "2 unchanged" in second.stdout, second.stdout
    assert any(d.endswith("sub/b.txt") for d in docs_of(search(rig, KEYS["reader"], "borrow a laptop from the library")))
    bad = subprocess.run([SEAM, "ingest", "nope", str(folder), "--config", str(rig.cfg)], capture_output=True, text=True, env=rig.env)
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "no collection named" in bad.stderr


def test_erasing_a_subject_deletes_its_documents(rig):
    status, out = call(rig, "POST", "/v1/collections/handbook/documents", KEYS["writer"],
                       {"id": "patient-p9", "text": "Patient p-9 care plan: physiotherapy twice a week.", "labels": ["subject:p-9"]})
    assert status == 201, out
    assert "patient-p9" in docs_of(search(rig, KEYS["writer"], "physiotherapy twice a week"))
    erase = subprocess.run([SEAM, "audit", "erase", "--subject", "p-9", "--config", str(rig.cfg)],
                           capture_output=True, text=True, env=rig.env, timeout=120)
    assert erase.returncode in (0, 4), erase.stderr
    assert "1 documents" in erase.stdout, erase.stdout
    assert "patient-p9" not in docs_of(search(rig, KEYS["writer"], "physiotherapy twice a week"))


def test_semantic_cache_answers_a_paraphrase_within_its_scope(rig):
    def ask(key, text):
        c = openai.OpenAI(base_url=rig.url + "/v1", api_key=key, max_retries=0, timeout=60)
        raw = c.chat.completions.with_raw_response.create(model="semantic", messages=[{"role": "user", "content": text}])
        return raw.headers.get("x-seam-cache"), raw.parse().choices[0].message.content
    first = ask(KEYS["chatter"], f"How many vacation days do employees get each year {RUN}?")
    assert first[0] == "miss"
    hit = ask(KEYS["chatter"], f"How many vacation days does each employee get per year {RUN}?")
    assert hit[0] == "semantic-hit" and hit[1] == first[1]
    # Another key's scope never sees the entry.
    assert ask(KEYS["reader"], f"How many vacation days do employees get each year {RUN}?")[0] == "miss"
    # Unrelated questions miss.
    assert ask(KEYS["chatter"], f"Where is the nearest train station {RUN}?")[0] == "miss"


def test_semantic_cache_never_answers_personal_data(rig):
    c = openai.OpenAI(base_url=rig.url + "/v1", api_key=KEYS["chatter"], max_retries=0, timeout=60)

    def ask(text):
        raw = c.chat.completions.with_raw_response.create(model="semantic", messages=[{"role": "user", "content": text}])
        return raw.headers.get("x-seam-cache"), raw.parse().choices[0].message.content

    first = ask(f"Please reset the password for ada.lovelace@example.com {RUN}")
    second = ask(f"Please reset the password for grace.hopper@example.com {RUN}")
    assert first[0] == "miss" and second[0] == "miss", (first, second)
    assert "grace.hopper" in second[1]
