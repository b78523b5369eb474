#!/usr/bin/env python3
"""onnxruntime on one thread, on the texts of crates/seam-ner/examples/speed.rs, for comparison.
Usage: ner-speed-ort.py MODEL_DIR (model_q4.onnx and tokenizer.json; needs onnxruntime, tokenizers)."""
import os, sys, time
import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

SHORT = "Hi, I am Maria Garcia and I moved to 350 Fifth Avenue, New York last year with my husband, our two children and the old dog."
d = sys.argv[1]
model = os.path.join(d, "model_q4.onnx")
if not os.path.exists(model):
    model = os.path.join(d, "onnx", "model_q4.onnx")
tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
o = ort.SessionOptions()
o.intra_op_num_threads = 1
o.inter_op_num_threads = 1
sess = ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])

def long_text(n):
    text = (SHORT + " ") * (n // 20 + 2)
    enc = tok.encode(text, add_special_tokens=False)
    return text[: enc.offsets[n - 1][1]]

def run(texts):
    encs = tok.encode_batch(texts)
    L = max(len(e.ids) for e in encs)
    ids = np.zeros((len(texts), L), np.int64)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encs):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    return sess.run(["logits"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})

long = long_text(250)
n_short = len(tok.encode(SHORT, add_special_tokens=False).ids)
n_long = len(tok.encode(long, add_special_tokens=False).ids)
for name, texts in [(f"1 x {n_short} tokens", [SHORT]), (f"1 x {n_long} tokens", [long]), (f"8 x {n_short} tokens", [SHORT] * 8)]:
    run(texts)
    t = time.perf_counter()
    for _ in range(30):
        run(texts)
    ms = (time.perf_counter() - t) * 1e3 / 30
    print(f"{name}: {ms:.2f} ms per call, {ms / len(texts):.2f} ms per text")
