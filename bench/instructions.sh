#!/usr/bin/env bash
# Instructions per request of the todo server, counted by valgrind's callgrind: unlike requests
# per second or CPU time on a shared VM, the count does not move with the neighbours, so a change
# of 1% shows. Kernel work (the sockets) is not counted: this is the server's own code.
#
#   bench/instructions.sh                      # a release build of this checkout, and bare hyper
#   bench/instructions.sh old/todo new/todo    # builds of two commits (an A/B run)
#
# For each binary and for GET /lists/<id> and POST /lists, it runs the server under callgrind
# twice, with 1,000 and 11,000 requests (bench/keepalive_client.py, 4 kept-alive connections),
# and prints the difference divided by 10,000: the instructions of one request, start-up and
# shutdown left out. bare hyper (crates/bahamut/examples/bare_hyper.rs) is measured the same
# way as the baseline. Needs valgrind (Debian package `valgrind`); takes about a minute per
# binary.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }

TARGET="${CARGO_TARGET_DIR:-target}/release"
BINARIES=("$@")
if [ ${#BINARIES[@]} -eq 0 ]; then
  CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo build --quiet --release -p todo --bin todo
  BINARIES=("$TARGET/todo")
fi
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo build --quiet --release -p bahamut --example bare_hyper
echo '{"ID":"x"}' >"$WORK/one.json"
echo '[]' >"$WORK/many.json"
# bare hyper answers a create with this, and the GET then asks for /lists/<its ID>: an id as
# long as todo's (24 hex digits), so that both servers parse a path of the same length.
echo '{"ID":"5f00000000000000000000ff"}' >"$WORK/create.json"
PORT=18470

wait_for() { for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

# counted SERVER KIND COUNT -> the instructions of SERVER (a todo binary, or "bare") for COUNT
# requests of KIND (get or post)
counted() {
  local server=$1 kind=$2 count=$3 out="$WORK/callgrind.out" pid path=/lists
  PORT=$((PORT + 1))
  local command=("$server" --listen "127.0.0.1:$PORT" --health none)
  if [ "$server" = bare ]; then
    command=("$TARGET/examples/bare_hyper" "127.0.0.1:$PORT" "$WORK")
  fi
  RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out" "${command[@]}" \
    >"$WORK/server.log" 2>&1 &
  pid=$!
  wait_for "$PORT"
  if [ "$kind" = get ]; then
    local created
    created="$(curl -s -X POST -H 'Content-Type: application/json' \
      -d '{"name":"a","description":"benchmark list","slice":["a","b"]}' "http://127.0.0.1:$PORT/lists")"
    path="/lists/$(sed -E 's/^\{"ID":"([^"]*)".*/\1/' <<<"$created")"
  fi
  python3 bench/keepalive_client.py "$PORT" "$kind" "$count" "$path"
  # todo shuts down on SIGTERM; bare hyper ends on it, and callgrind writes its counts either way.
  kill -TERM "$pid"
  wait "$pid" || true
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

# per_request SERVER KIND -> the instructions of one request
per_request() {
  local few many
  few="$(counted "$1" "$2" 1000)"
  many="$(counted "$1" "$2" 11000)"
  echo $(((many - few) / 10000))
}

printf '%-44s %10s %10s %12s %12s\n' server "GET one" "POST" "GET / bare" "POST / bare"
bare_get="$(per_request bare get)"
bare_post="$(per_request bare post)"
printf '%-44s %10s %10s\n' "bare hyper (baseline)" "$bare_get" "$bare_post"
for bin in "${BINARIES[@]}"; do
  get="$(per_request "$bin" get)"
  post="$(per_request "$bin" post)"
  printf '%-44s %10s %10s %12s %12s\n' "$bin" "$get" "$post" \
    "$(awk -v a="$get" -v b="$bare_get" 'BEGIN {printf "%.2f", a / b}')" \
    "$(awk -v a="$post" -v b="$bare_post" 'BEGIN {printf "%.2f", a / b}')"
done
