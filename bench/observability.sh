#!/usr/bin/env bash
# What observability and TLS cost: the apiserver (memory store) answering GET one namespace,
# driven by wrk from a second process, with metrics, access log, OTLP export and TLS turned on
# one after the other, against a bare hyper server answering the same bytes (the baseline,
# measured in the same run).
#
#   bench/observability.sh [SECONDS_PER_RUN] [CONNECTIONS]
#
# Needs wrk and openssl (Debian packages `wrk`, `openssl`) and python3 (the OTLP sink).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-8}"
CONNECTIONS="${2:-64}"
API_ADDR=127.0.0.1:18390
BARE_ADDR=127.0.0.1:18391
SINK_PORT=18392
. bench/common.sh

for tool in wrk openssl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

echo "building (release, features otlp)..." >&2
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo build --quiet --release -p apiserver --features otlp
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo build --quiet --release -p bahamut --example bare_hyper
TARGET="${CARGO_TARGET_DIR:-target}/release"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

# An OTLP collector that accepts everything (the export's cost, not the collector's).
cat >"$WORK/sink.py" <<'PY'
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
python3 "$WORK/sink.py" "$SINK_PORT" &
PIDS+=($!)

wait_for() { for _ in $(seq 1 100); do curl -sk -o /dev/null "$1" && return 0; sleep 0.1; done; echo "$1 did not start" >&2; exit 1; }

# start SCHEME FLAGS... : the apiserver on API_ADDR (its pid in api.pid), one namespace
# seeded; prints the namespace's URL
start() {
  local scheme=$1; shift
  "$TARGET/apiserver" --listen "$API_ADDR" --health 127.0.0.1:0 --store memory "$@" >"$WORK/api.log" 2>&1 &
  echo $! >"$WORK/api.pid"
  wait_for "$scheme://$API_ADDR/"
  local id
  id="$(curl -sk -X POST -H 'Content-Type: application/json' -H 'X-Namespace: /' -d '{"name":"bench"}' "$scheme://$API_ADDR/namespaces" | sed -E 's/.*"ID":"([^"]+)".*/\1/')"
  echo "$scheme://$API_ADDR/namespaces/$id"
}
stop() {
  local pid
  pid="$(cat "$WORK/api.pid")"
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

run() {
  local out
  out="$(wrk -t 1 -c "$CONNECTIONS" -d "${DURATION}s" --latency -H 'X-Namespace: /' "$1")"
  local rps p50 p99
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n = n / 1000; else if (u == "s") n = n * 1000; else if (u == "m") n = n * 60000;
    printf "%.3f", n }'
}

# The baseline: bare hyper answering the bytes of the apiserver's GET one.
url="$(start http --metrics false --access-log false)"
mkdir -p "$WORK/bare"
curl -s -H 'X-Namespace: /' "$url" >"$WORK/bare/one.json"
echo '[]' >"$WORK/bare/many.json"; echo '{}' >"$WORK/bare/create.json"
stop
"$TARGET/examples/bare_hyper" "$BARE_ADDR" "$WORK/bare" >"$WORK/bare.log" 2>&1 &
PIDS+=($!)
wait_for "http://$BARE_ADDR/"
read -r b_rps b_p50 b_p99 <<<"$(run "http://$BARE_ADDR/lists/x")"

OTLP="--otlp-endpoint http://127.0.0.1:$SINK_PORT"
TLS="--tls-cert $WORK/cert.pem --tls-key $WORK/key.pem"
printf '\n%-36s %10s %9s %9s   %7s %7s %7s\n' configuration "req/s" "p50 ms" "p99 ms" "rps x" "p50 x" "p99 x"
printf '%-36s %10.0f %9.3f %9.3f\n' "bare hyper (baseline)" "$b_rps" "$b_p50" "$b_p99"
for case in \
  "nothing on|http|--metrics false --access-log false" \
  "metrics|http|--metrics true --access-log false" \
  "metrics + access log (default)|http|--metrics true --access-log true" \
  "metrics + access log + OTLP export|http|--metrics true --access-log true $OTLP" \
  "default over TLS (HTTP/1.1)|https|--metrics true --access-log true $TLS" \
  "nothing on, over TLS|https|--metrics false --access-log false $TLS"; do
  IFS='|' read -r name scheme flags <<<"$case"
  # shellcheck disable=SC2086
  url="$(start "$scheme" $flags)"
  read -r rps p50 p99 <<<"$(run "$url")"
  stop
  awk -v n="$name" -v r="$rps" -v a="$p50" -v b="$p99" -v br="$b_rps" -v b5="$b_p50" -v b9="$b_p99" 'BEGIN {
    printf "%-36s %10.0f %9.3f %9.3f   %7.2f %7.2f %7.2f\n", n, r, a, b, r / br, a / b5, b / b9 }'
done
echo
echo "ratios are apiserver / bare hyper (req/s: higher is better; latency: lower is better)"
