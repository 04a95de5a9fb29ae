#!/usr/bin/env bash
# Side-by-side engine speed: llama.cpp's llama-bench and `sluice bench engine` on the same GGUF
# files, one after the other in one run, so the ratio is what counts on a noisy shared machine.
#
#   bench/side-by-side.sh LLAMA_BIN_DIR MODEL.gguf [MODEL.gguf ...]
#
# LLAMA_BIN_DIR holds llama-bench built from source (cmake -B build -DGGML_NATIVE=ON -DLLAMA_CURL=OFF).
# Env: THREADS (default 2), REPS (default 3), BATCH (decode batch sizes, default 4,16,64), OUT (JSON lines, default
# side-by-side.jsonl), ROUNDS (default 1): runs of both engines per model, llama.cpp first in odd rounds and Sluice
# first in even ones, so a machine whose memory bandwidth changes from minute to minute does not favour whichever
# engine always runs second (one such run read llama-3.2-1b F16 tg128 at 0.83x; alternated, 1.06-1.19x).
# Prints a markdown table: each engine's pp128 / pp512 / tg128 (medians over the rounds) and Sluice ÷ llama.cpp.
set -euo pipefail
llama_bin=$1; shift
threads=${THREADS:-2}
reps=${REPS:-3}
batch=${BATCH:-4,16,64}
out=${OUT:-side-by-side.jsonl}
rounds=${ROUNDS:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
dotnet build "$root/src/Sluice.Cli" -c Release -v q -nologo > /dev/null
sluice="$root/src/Sluice.Cli/bin/Release/net10.0/sluice"
: > "$out"
run_llama() {
  "$llama_bin/llama-bench" -m "$1" -t "$threads" -p 128,512 -n 128 -r "$reps" -o json 2> /dev/null \
    | python3 -c '
import json, sys
rows = json.load(sys.stdin)
r = {}
for x in rows:
    key = "pp%d" % x["n_prompt"] if x["n_gen"] == 0 else "tg%d" % x["n_gen"]
    r[key] = round(x["avg_ts"], 2)
print(json.dumps({"engine": "llama.cpp", "model": sys.argv[1], "round": int(sys.argv[2]), **r}))' "$2" "$3" >> "$out"
}
run_sluice() {
  "$sluice" bench engine -m "$1" -t "$threads" -r "$reps" --batch "$batch" --json 2> /dev/null \
    | python3 -c '
import json, sys
r = json.load(sys.stdin)
r["model"] = sys.argv[1]
print(json.dumps({"engine": "sluice", "round": int(sys.argv[2]), **r}))' "$2" "$3" >> "$out"
}
for model in "$@"; do
  name=$(basename "$model" .gguf)
  for round in $(seq 1 "$rounds"); do
    echo "== $name, round $round" >&2
    if [ $(( round % 2 )) = 1 ]; then
      run_llama "$model" "$name" "$round"
      run_sluice "$model" "$name" "$round"
    else
      run_sluice "$model" "$name" "$round"
      run_llama "$model" "$name" "$round"
    fi
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
runs = {}
for r in rows:
    runs.setdefault(r["model"], {}).setdefault(r["engine"], []).append(r)
def median(rs):
    # each figure's median over the rounds (batch_decode per sequence count)
    out = {}
    for k in ("pp128", "pp512", "tg128", "membw_gbps", "decode_bw_fraction"):
        v = [r[k] for r in rs if k in r]
        if v:
            out[k] = statistics.median(v)
    bd = {}
    for n in {n for r in rs for n in r.get("batch_decode", {})}:
        bd[n] = statistics.median(r["batch_decode"][n] for r in rs if n in r.get("batch_decode", {}))
    if bd:
        out["batch_decode"] = bd
    return out
by = {m: {e: median(rs) for e, rs in es.items()} for m, es in runs.items()}
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
          "%.1f" % s["membw_gbps"] if "membw_gbps" in s else "-", "%.0f%%" % (100 * s["decode_bw_fraction"]) if "decode_bw_fraction" in s else "-"))
PY
