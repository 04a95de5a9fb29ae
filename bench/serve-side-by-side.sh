#!/usr/bin/env bash
# Side-by-side serving: llama.cpp's llama-server and `sluice serve` on the same GGUF file, each loaded with the
# same `sluice bench serve` run (streaming clients, fixed prompt and output lengths, ignore_eos), one after the
# other in one run, so the ratio is what counts on a noisy shared machine.
#
#   bench/serve-side-by-side.sh LLAMA_BIN_DIR MODEL.gguf
#
# LLAMA_BIN_DIR holds llama-server built from source (cmake --build build --target llama-server).
# Env: THREADS (default 2), STREAMS (concurrent clients and server slots, default 16), PROMPTS (requests,
# default STREAMS), INPUT (prompt tokens, default 125), OUTPUT (tokens out, default 128), PORT (default 18080).
# Prints each server's bench line and a markdown table with Sluice ÷ llama-server.
set -euo pipefail
llama_bin=$1
model=$2
threads=${THREADS:-2}
streams=${STREAMS:-16}
prompts=${PROMPTS:-$streams}
input=${INPUT:-125}
output=${OUTPUT:-128}
port=${PORT:-18080}
root=$(cd "$(dirname "$0")/.." && pwd)
dotnet build "$root/src/Sluice.Cli" -c Release -v q -nologo > /dev/null
sluice="$root/src/Sluice.Cli/bin/Release/net10.0/sluice"
work=$(mktemp -d)
server=""
stop() { if [ -n "$server" ]; then kill "$server" 2> /dev/null || true; wait "$server" 2> /dev/null || true; server=""; fi; }
trap 'stop; rm -rf "$work"' EXIT

wait_ready() {
  for _ in $(seq 1 600); do
    if curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1; then return 0; fi
    if ! kill -0 "$server" 2> /dev/null; then echo "server exited; its log:" >&2; tail -20 "$work/server.log" >&2; return 1; fi
    sleep 1
  done
  echo "server not ready after 600 s" >&2
  return 1
}

run() {
  local name=$1
  wait_ready
  "$sluice" bench serve --url "http://127.0.0.1:$port" -c "$streams" -n "$prompts" --input-len "$input" --output-len "$output" --json \
    > "$work/$name.json"
  echo "== $name: $(cat "$work/$name.json")" >&2
  stop
  # the next server on the next port: this one's socket may linger after it exits
  port=$(( port + 1 ))
}

# every slot holds a whole request (prompt + output + margin)
ctx=$(( streams * (input + output + 64) ))
"$llama_bin/llama-server" -m "$model" -t "$threads" -tb "$threads" -np "$streams" -c "$ctx" --host 127.0.0.1 --port "$port" \
  > "$work/server.log" 2>&1 &
server=$!
run llama-server

"$sluice" serve -m "$model" -t "$threads" --max-num-seqs "$streams" --max-model-len $(( input + output + 64 )) --port "$port" \
  > "$work/server.log" 2>&1 &
server=$!
run sluice

python3 - "$work/llama-server.json" "$work/sluice.json" <<'PY'
import json, sys
l, s = (json.load(open(p)) for p in sys.argv[1:3])
def get(d, *path):
    for k in path:
        d = d.get(k, {}) if isinstance(d, dict) else {}
    return d if isinstance(d, (int, float)) else None
rows = [("output tok/s", ("output_tokens_per_s",)), ("requests/s", ("requests_per_s",)),
        ("p50 TTFT ms", ("ttft_ms", "p50")), ("p99 TTFT ms", ("ttft_ms", "p99")),
        ("p50 TPOT ms", ("tpot_ms", "p50")), ("p99 ITL ms", ("itl_ms", "p99")), ("errors", ("errors",))]
print("| figure | llama-server | Sluice | Sluice ÷ llama-server |")
print("|---|---:|---:|---:|")
for label, path in rows:
    a, b = get(l, *path), get(s, *path)
    ratio = "%.2f" % (b / a) if a and b is not None else "-"
    print("| %s | %s | %s | %s |" % (label, "-" if a is None else "%.1f" % a, "-" if b is None else "%.1f" % b, ratio))
PY
