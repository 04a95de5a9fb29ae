#!/usr/bin/env python3
"""Check that Sluice runs the trained demo model as PyTorch does: the same token ids for a few prompts
(tokenizer.json read back, BPE applied here) and, teacher-forced on Sluice's greedy continuation, the
same top-10 log-probabilities within a tolerance (Q8_0 rounding moves them a little) and the same
next-token choice wherever the top two are not nearly tied.

usage: verify.py HF_FOLDER MODEL.gguf [--tolerance 0.15] --sluice 'dotnet path/to/sluice.dll'
"""

import argparse
import json
import os
import shlex
import struct
import subprocess
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402

PROMPTS = ["In the beginning", "And the LORD said unto Moses,", "Blessed are the", "The heavens declare"]


def load_tokenizer(folder):
    with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in tj["model"]["merges"]]
    return train.Tokenizer(tj["model"]["vocab"], merges)


def load_model(folder):
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    path = os.path.join(folder, "model.safetensors")
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    model = train.Llama(config)
    mine = model.hf_tensors()
    with torch.no_grad():
        named = dict(model.named_parameters())
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            t = torch.frombuffer(bytearray(blob[a:b]), dtype=torch.float32).view(info["shape"])
            target = {"model.embed_tokens.weight": "embed_tokens.weight", "model.norm.weight": "norm.weight"}.get(name)
            if target is None:
                target = name.removeprefix("model.").replace("self_attn.", "").replace("mlp.", "")
            named[target].copy_(t)
        assert set(mine) == {k for k in header if k != "__metadata__"}, "tensor names differ"
    model.eval()
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("gguf")
    ap.add_argument("--tolerance", type=float, default=0.15, help="largest allowed |logprob difference| among the top 10")
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--sluice", default="sluice", help="the command that runs sluice, e.g. 'dotnet .../sluice.dll'")
    args = ap.parse_args()
    sluice = shlex.split(args.sluice)
    torch.set_num_threads(1)
    tok = load_tokenizer(args.folder)
    model = load_model(args.folder)
    eot = tok.special[train.ENDOFTEXT]
    worst, failures = 0.0, []
    for prompt in PROMPTS:
        out = subprocess.run(sluice + ["generate", "--model", args.gguf, "--prompt", prompt, "--temperature", "0", "--max-tokens", str(args.tokens),
                                       "--ignore-eos", "--json", "--threads", "1"], check=True, capture_output=True, text=True).stdout
        got = json.loads(out)
        expected = [eot] + tok.encode(prompt)
        if got["prompt_token_ids"] != expected:
            failures.append(f"{prompt!r}: Sluice tokenized {got['prompt_token_ids']}, the trained tokenizer {expected}")
            continue
        ids = expected + got["token_ids"]
        with torch.no_grad():
            logp = F.log_softmax(model(torch.tensor([ids]))[0], dim=-1)
        for k, top in enumerate(got["top_logprobs"]):
            row = logp[len(expected) - 1 + k]
            for entry in top:
                worst = max(worst, abs(row[entry["id"]].item() - entry["logprob"]))
            best2 = row.topk(2)
            chosen = got["token_ids"][k]
            if chosen != best2.indices[0].item() and best2.values[0] - best2.values[1] > 2 * args.tolerance:
                failures.append(f"{prompt!r}, token {k}: Sluice chose {chosen}, PyTorch {best2.indices[0].item()}")
        print(f"{prompt!r} -> {got['text']!r}")
    print(f"largest top-10 logprob difference: {worst:.4f} (tolerance {args.tolerance})")
    if worst > args.tolerance:
        failures.append(f"logprob difference {worst:.4f} over the tolerance {args.tolerance}")
    for f in failures:
        print("MISMATCH: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
