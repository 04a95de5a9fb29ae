#!/usr/bin/env python3
"""Train Sluice's built-in demo model: a byte-level BPE tokenizer and a small llama-architecture
language model on the King James Bible (Debian's bible-kjv-text, read with `bible`).

Writes a Hugging Face folder (config.json, model.safetensors, tokenizer.json, tokenizer_config.json
with a ChatML chat template) and report.json (hyperparameters, time taken, held-out loss beside a
unigram baseline), plus the held-out verses and the corpus word list the C# tests use. Convert the
folder with `sluice model convert` (see README.md). Everything is seeded: the same inputs and the same
torch build give the same files.

Needs python3-torch, python3-regex and bible-kjv (Debian packages); nothing else.
"""

import argparse
import collections
import heapq
import json
import math
import os
import random
import struct
import subprocess
import sys
import time

import regex
import torch
import torch.nn.functional as F

# The GPT-2 pre-tokenizer regex, which Sluice (like llama.cpp) recognizes in a tokenizer.json.
GPT2_SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIALS = [ENDOFTEXT, IM_START, IM_END]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


# ---------------------------------------------------------------- corpus

def read_corpus(source):
    """Chapters as lists of verse texts, from `bible` or from a text file of the same layout."""
    if source:
        with open(source, encoding="utf-8") as f:
            text = f.read()
    else:
        text = subprocess.run(["bible", "-l100000", "gen1:1-rev22:21"], check=True, capture_output=True, text=True).stdout
    chapters, current = [], None
    for line in text.splitlines():
        m = regex.match(r"^\s+(\d+) (.*)$", line)
        if m:
            current.append(m.group(2).strip())
        elif line.strip():
            current = []
            chapters.append(current)
    return [c for c in chapters if c]


def split_corpus(chapters, every):
    """Every `every`-th verse (counting through the whole book) is held out; the rest is training text."""
    train, held, n = [], [], 0
    for chapter in chapters:
        kept = []
        for verse in chapter:
            n += 1
            (held if n % every == 0 else kept).append(verse)
        train.append(kept)
    return train, held


# ---------------------------------------------------------------- tokenizer

def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map used by byte-level BPE vocabularies."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


BYTE_CHARS = bytes_to_unicode()


def pieces(text):
    return ["".join(BYTE_CHARS[b] for b in w.encode("utf-8")) for w in GPT2_SPLIT.findall(text)]


def train_bpe(texts, vocab_size):
    """Byte-level BPE: repeatedly merge the most frequent adjacent pair (ties: the smaller pair)."""
    counts = collections.Counter()
    for t in texts:
        counts.update(pieces(t))
    words = [list(w) for w in counts]
    freq = [counts[w] for w in counts]
    pair_counts = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += freq[i]
            where[(a, b)].add(i)
    merges = []
    n_merges = vocab_size - 256 - len(SPECIALS)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    while len(merges) < n_merges and heap:
        neg, best = heapq.heappop(heap)
        if pair_counts.get(best, 0) != -neg:
            continue  # stale entry: the pair's count changed since it was pushed
        if -neg < 2:
            break
        merges.append(best)
        joined = best[0] + best[1]
        touched = set()
        for i in sorted(where[best]):
            w = words[i]
            for a, b in zip(w, w[1:]):
                touched.add((a, b))
                pair_counts[(a, b)] -= freq[i]
                if pair_counts[(a, b)] <= 0:
                    del pair_counts[(a, b)]
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == best[0] and w[j + 1] == best[1]:
                    out.append(joined)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for a, b in zip(out, out[1:]):
                pair_counts[(a, b)] += freq[i]
                where[(a, b)].add(i)
                touched.add((a, b))
        where.pop(best, None)
        for p in sorted(touched):
            if pair_counts.get(p, 0) > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
    vocab = {BYTE_CHARS[b]: b for b in range(256)}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))  # two merges may spell the same token; it keeps its first id
    return vocab, merges


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.special = {s: len(vocab) + i for i, s in enumerate(SPECIALS)}
        self.texts = {i: t for t, i in vocab.items()}
        self.byte_of = {c: b for b, c in BYTE_CHARS.items()}
        self.cache = {}

    def __len__(self):
        return len(self.vocab) + len(self.special)

    def _bpe(self, piece):
        if piece in self.cache:
            return self.cache[piece]
        parts = list(piece)
        while len(parts) > 1:
            ranked = [(self.ranks.get((a, b), math.inf), k) for k, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, k = min(ranked)
            if rank == math.inf:
                break
            parts[k:k + 2] = [parts[k] + parts[k + 1]]
        ids = [self.vocab[p] for p in parts]
        self.cache[piece] = ids
        return ids

    def encode(self, text):
        return [i for p in pieces(text) for i in self._bpe(p)]

    def decode(self, ids):
        names = {i: s for s, i in self.special.items()}
        out, buf = [], bytearray()
        for i in ids:
            if i in names:
                out.append(buf.decode("utf-8", "replace") + names[i])
                buf = bytearray()
            else:
                buf.extend(self.byte_of[c] for c in self.texts[i])
        return "".join(out) + buf.decode("utf-8", "replace")

    def chat(self, user, assistant=None):
        """Token ids of the chat template's rendering (with the generation prompt), then the answer."""
        ids = [self.special[ENDOFTEXT], self.special[IM_START]] + self.encode("user\n" + user) + [self.special[IM_END]] + self.encode("\n")
        ids += [self.special[IM_START]] + self.encode("assistant\n")
        if assistant is not None:
            ids += self.encode(assistant) + [self.special[IM_END]] + self.encode("\n")
        return ids


def tokenizer_json(tok, merges):
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
             for s, i in tok.special.items()]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
            "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": tok.vocab, "merges": [[a, b] for a, b in merges],
        },
    }


# ---------------------------------------------------------------- model

class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, length, theta):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = torch.outer(torch.arange(length, dtype=torch.float32), inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["hidden_size"], c["head_dim"]
        self.heads, self.kv_heads, self.hd = c["num_attention_heads"], c["num_key_value_heads"], hd
        self.input_layernorm = RMSNorm(d, c["rms_norm_eps"])
        self.q_proj = torch.nn.Linear(d, self.heads * hd, bias=False)
        self.k_proj = torch.nn.Linear(d, self.kv_heads * hd, bias=False)
        self.v_proj = torch.nn.Linear(d, self.kv_heads * hd, bias=False)
        self.o_proj = torch.nn.Linear(self.heads * hd, d, bias=False)
        self.post_attention_layernorm = RMSNorm(d, c["rms_norm_eps"])
        self.gate_proj = torch.nn.Linear(d, c["intermediate_size"], bias=False)
        self.up_proj = torch.nn.Linear(d, c["intermediate_size"], bias=False)
        self.down_proj = torch.nn.Linear(c["intermediate_size"], d, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        a = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v
        x = x + self.o_proj(a.transpose(1, 2).reshape(b, t, self.heads * self.hd))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = torch.nn.ModuleList(Block(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        cos, sin = rope_tables(c["head_dim"], c["max_position_embeddings"], c["rope_theta"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * c["num_hidden_layers"]) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
                torch.nn.init.normal_(p, 0.0, std)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.embed_tokens(ids)
        cos, sin = self.cos[:t], self.sin[:t]
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.norm(x) @ self.embed_tokens.weight.T  # tied output embedding

    def hf_tensors(self):
        out = {"model.embed_tokens.weight": self.embed_tokens.weight, "model.norm.weight": self.norm.weight}
        for i, l in enumerate(self.layers):
            p = f"model.layers.{i}."
            out[p + "input_layernorm.weight"] = l.input_layernorm.weight
            out[p + "post_attention_layernorm.weight"] = l.post_attention_layernorm.weight
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                out[p + f"self_attn.{n}.weight"] = getattr(l, n).weight
            for n in ("gate_proj", "up_proj", "down_proj"):
                out[p + f"mlp.{n}.weight"] = getattr(l, n).weight
        return {k: v.detach().float().contiguous() for k, v in out.items()}


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        data = tensors[name].numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------- training

def build_stream(tok, train_chapters, chat_every, rng):
    """One token stream: each chapter as a document (verses on lines, after <|endoftext|>), and every
    chat_every-th pair of consecutive verses as a chat exchange (a verse asked, the next one answered)."""
    eot = tok.special[ENDOFTEXT]
    docs = []
    for chapter in train_chapters:
        if chapter:
            docs.append([eot] + tok.encode("\n".join(chapter)))
        for k in range(len(chapter) - 1):
            if rng.random() < 1.0 / chat_every:
                docs.append(tok.chat(chapter[k], chapter[k + 1]))
    rng.shuffle(docs)
    return torch.tensor([i for d in docs for i in d], dtype=torch.long)


def held_out_loss(model, tok, verses, ctx):
    """Mean cross-entropy (nats/token) of each held-out verse's tokens after <|endoftext|>."""
    eot = tok.special[ENDOFTEXT]
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for v in verses:
            ids = torch.tensor([[eot] + tok.encode(v)[: ctx - 1]])
            logits = model(ids[:, :-1])
            total += F.cross_entropy(logits[0], ids[0, 1:], reduction="sum").item()
            count += ids.shape[1] - 1
    model.train()
    return total / count


def unigram_loss(stream, tok, verses, vocab_size):
    """Cross-entropy of a unigram model (token frequencies of the training stream, add-one smoothed)."""
    counts = torch.bincount(stream, minlength=vocab_size).double() + 1
    logp = (counts / counts.sum()).log()
    ids = [i for v in verses for i in tok.encode(v)]
    return -logp[torch.tensor(ids)].mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder (Hugging Face layout, plus report.json)")
    ap.add_argument("--corpus", help="text in `bible -l100000` layout (default: run bible)")
    ap.add_argument("--max-chapters", type=int, help="use only the first N chapters (smoke tests)")
    ap.add_argument("--hold-out-every", type=int, default=20)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--ctx", type=int, default=128, help="tokens per training window")
    ap.add_argument("--context-length", type=int, default=2048,
                    help="the context the model declares (max_position_embeddings): longer than the training windows, so long prompts run, less well past --ctx")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--chat-every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1611)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--max-minutes", type=float, default=0, help="stop training early after this long (0: never); the report says so")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()

    chapters = read_corpus(args.corpus)
    if args.max_chapters:
        chapters = chapters[: args.max_chapters]
    train_chapters, held = split_corpus(chapters, args.hold_out_every)
    train_texts = ["\n".join(c) for c in train_chapters]
    vocab, merges = train_bpe(train_texts, args.vocab_size)
    tok = Tokenizer(vocab, merges)
    vocab_size = len(tok)
    print(f"tokenizer: {vocab_size} tokens ({len(merges)} merges) in {time.time() - started:.0f} s", flush=True)

    stream = build_stream(tok, train_chapters, args.chat_every, rng)
    print(f"stream: {len(stream)} tokens; held out: {len(held)} verses", flush=True)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": vocab_size, "hidden_size": args.hidden, "intermediate_size": args.ffn,
        "num_hidden_layers": args.layers, "num_attention_heads": args.heads, "num_key_value_heads": args.kv_heads,
        "head_dim": args.hidden // args.heads, "max_position_embeddings": args.context_length, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": True, "torch_dtype": "float32",
        "bos_token_id": tok.special[ENDOFTEXT], "eos_token_id": tok.special[ENDOFTEXT],
    }
    model = Llama(config)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params} parameters", flush=True)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)
    train_started = time.time()
    steps_done = 0
    for step in range(1, args.steps + 1):
        lr = args.lr * min(1.0, step / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / args.steps))))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(stream) - args.ctx - 1, (args.batch,), generator=gen)
        batch = torch.stack([stream[s: s + args.ctx + 1] for s in starts.tolist()])
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        steps_done = step
        if args.max_minutes and time.time() - train_started > args.max_minutes * 60:
            print(f"step {step}: stopping early after {args.max_minutes} minutes", flush=True)
            break
        if step % args.log_every == 0 or step == args.steps:
            print(f"step {step}/{args.steps} loss {loss.item():.3f} lr {lr:.2e} {time.time() - train_started:.0f} s", flush=True)
    train_seconds = time.time() - train_started

    held_loss = held_out_loss(model, tok, held, args.ctx)
    uni_loss = unigram_loss(stream, tok, held, vocab_size)
    print(f"held-out loss {held_loss:.3f} (perplexity {math.exp(held_loss):.1f}); unigram {uni_loss:.3f} ({math.exp(uni_loss):.1f})", flush=True)

    write_safetensors(os.path.join(args.out, "model.safetensors"), model.hf_tensors())
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(tok, merges), f, ensure_ascii=False)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": ENDOFTEXT, "eos_token": IM_END, "pad_token": ENDOFTEXT, "add_bos_token": True, "add_eos_token": False,
                   "model_max_length": args.context_length, "chat_template": CHAT_TEMPLATE, "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": tok.special[ENDOFTEXT], "eos_token_id": [tok.special[IM_END], tok.special[ENDOFTEXT]]}, f, indent=2)
    with open(os.path.join(args.out, "held-out.txt"), "w") as f:
        f.write("\n".join(held) + "\n")
    words = sorted({w for c in train_chapters for v in c for w in regex.findall(r"\p{L}+(?:'\p{L}+)?", v.lower())})
    with open(os.path.join(args.out, "words.txt"), "w") as f:
        f.write("\n".join(words) + "\n")
    torch.save(model.state_dict(), os.path.join(args.out, "torch-state.pt"))
    report = {
        "corpus": "King James Bible (1611), Debian package bible-kjv-text, read with `bible`",
        "verses": sum(len(c) for c in chapters), "held_out_verses": len(held), "hold_out_every": args.hold_out_every,
        "train_stream_tokens": len(stream), "parameters": params, "config": config,
        "hyperparameters": {k: v for k, v in vars(args).items() if k not in ("out", "corpus", "log_every")},
        "steps_done": steps_done, "torch": torch.__version__, "train_seconds": round(train_seconds, 1), "total_seconds": round(time.time() - started, 1),
        "held_out_loss": round(held_loss, 4), "held_out_perplexity": round(math.exp(held_loss), 2),
        "unigram_loss": round(uni_loss, 4), "unigram_perplexity": round(math.exp(uni_loss), 2),
    }
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
