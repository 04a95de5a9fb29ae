#!/usr/bin/env bash
# Side-by-side engine speed: llama.cpp's llama-bench and `sluice bench engine` on the same GGUF
# files, one after the other in one run, so the ratio is what counts on a noisy shared machine.
#
#   bench/side-by-side.sh LLAMA_BIN_DIR MODEL.gguf [MODEL.gguf ...]
#
# LLAMA_BIN_DIR holds llama-bench built from source (cmake -B build -DGGML_NATIVE=ON -DLLAMA_CURL=OFF).
# Env: THREADS (default 2), REPS (default 3), BATCH (decode batch sizes, default 4,16,64), OUT (JSON lines, default
# side-by-side.jsonl).
# Prints a markdown table: each engine's pp128 / pp512 / tg128 and Sluice ÷ llama.cpp.
set -euo pipefail
llama_bin=$1; shift
threads=${THREADS:-2}
reps=${REPS:-3}
batch=${BATCH:-4,16,64}
out=${OUT:-side-by-side.jsonl}
root=$(cd "$(dirname "$0")/.." && pwd)
dotnet build "$root/src/Sluice.Cli" -c Release -v q -nologo > /dev/null
sluice="$root/src/Sluice.Cli/bin/Release/net10.0/sluice"
: > "$out"
for model in "$@"; do
  name=$(basename "$model" .gguf)
  echo "== $name" >&2
  "$llama_bin/llama-bench" -m "$model" -t "$threads" -p 128,512 -n 128 -r "$reps" -o json 2> /dev/null \
    | python3 -c '
import json, sys
rows = json.load(sys.stdin)
r = {}
for x in rows:
    key = "pp%d" % x["n_prompt"] if x["n_gen"] == 0 else "tg%d" % x["n_gen"]
    r[key] = round(x["avg_ts"], 2)
print(json.dumps({"engine": "llama.cpp", "model": sys.argv[1], **r}))' "$name" >> "$out"
  "$sluice" bench engine -m "$model" -t "$threads" -r "$reps" --batch "$batch" --json 2> /dev/null \
    | python3 -c '
import json, sys
r = json.load(sys.stdin)
r["model"] = sys.argv[1]
print(json.dumps({"engine": "sluice", **r}))' "$name" >> "$out"
done
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["model"], {})[r["engine"]] = r
print("| model | llama.cpp pp128 / pp512 / tg128 | Sluice pp128 / pp512 / tg128 | ratio pp128 / pp512 / tg128 | Sluice decode x4 / x16 / x64 | membw GB/s | tg128 ÷ bw limit |")
print("|---|---|---|---|---|---:|---:|")
for m, e in by.items():
    l, s = e.get("llama.cpp", {}), e.get("sluice", {})
    keys = ["pp128", "pp512", "tg128"]
    f = lambda d: " / ".join("%.1f" % d[k] if k in d else "-" for k in keys)
    ratio = " / ".join("%.2f" % (s[k] / l[k]) if k in s and k in l else "-" for k in keys)
    bd = s.get("batch_decode", {})
    print("| %s | %s | %s | %s | %s | %s | %s |" % (m, f(l), f(s), ratio,
          " / ".join("%.0f" % bd[k] for k in ("4", "16", "64") if k in bd),
          s.get("membw_gbps", "-"), "%.0f%%" % (100 * s["decode_bw_fraction"]) if "decode_bw_fraction" in s else "-"))
PY
