#!/usr/bin/env bash
# CPU time per request of the todo server for GET one: more stable than requests per second on a
# shared VM, where neighbours change the throughput of both servers from run to run.
#
#   bench/cpu_per_request.sh [TODO_BINARY...]     # default: a release build of this checkout
#
# For each binary (give several, such as builds of two commits, and they run alternately three
# times), it starts the server, creates one list, drives GET /lists/<id> with wrk (one thread,
# 64 connections, 8 s), and prints requests/s and the server's user+system CPU per request
# (from /proc/<pid>/stat).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

BINARIES=("$@")
if [ ${#BINARIES[@]} -eq 0 ]; then
  CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo build --quiet --release -p todo --bin todo
  BINARIES=("${CARGO_TARGET_DIR:-target}/release/todo")
fi

measure() {
  local bin=$1 port=$2 pid id t0 t1 out requests rps
  RUST_LOG=warn "$bin" --listen "127.0.0.1:$port" --health none >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d '{"name":"a","description":"d","slice":["a"]}' "http://127.0.0.1:$port/lists"
  id="$(curl -s "http://127.0.0.1:$port/lists" | sed -E 's/^\[\{"ID":"([0-9a-f]{24})".*/\1/')"
  t0="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
  out="$(wrk -t1 -c64 -d8s "http://127.0.0.1:$port/lists/$id")"
  t1="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  requests="$(awk '/requests in/ {print $1}' <<<"$out")"
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  awk -v b="$bin" -v r="$requests" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v rps="$rps" \
    'BEGIN { printf "%-40s %9.0f req/s %8.2f us CPU per request\n", b, rps, t / hz * 1e6 / r }'
}

for round in 1 2 3; do
  for i in "${!BINARIES[@]}"; do
    measure "${BINARIES[$i]}" $((18700 + i))
  done
done
