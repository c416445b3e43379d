#!/bin/sh
# End to end with an independent client: buf (npm @bufbuild/buf, installed
# by `./x setup` into tools/node_modules/.bin/buf) talks gRPC to the real
# zlayer-secretsd over its Unix socket: server reflection, SetSecret,
# GetSecret, ResolveEnv, an error status, grpc.health.v1.Health/Check (its
# schema from reflection too), and a health Watch stream across SIGTERM: the
# drain sends NOT_SERVING and then ends the stream with OK.
#
# usage: buf_curl_test.sh DAEMON_BINARY CLI_BINARY
# buf is found through $ZS_BUF (e.g. bazel test --test_env=ZS_BUF=/path/buf)
# or next to the workspace this script lives in (the runfile is a symlink
# into the source tree, which the test sandbox can read).
set -eu

fail() {
  echo "FAIL: $*" >&2
  if [ -n "${LOG:-}" ] && [ -f "$LOG" ]; then
    echo "--- daemon log ---" >&2
    cat "$LOG" >&2
  fi
  exit 1
}

DAEMON=$(readlink -f "$1")
CLI=$(readlink -f "$2")

BUF=${ZS_BUF:-}
if [ -z "$BUF" ]; then
  # tests/e2e/buf_curl_test.sh -> workspace root
  ROOT=$(dirname "$(dirname "$(dirname "$(readlink -f "$0")")")")
  BUF="$ROOT/tools/node_modules/.bin/buf"
fi
[ -x "$BUF" ] || fail "buf not found at '$BUF': run ./x setup (npm install in tools/) or set ZS_BUF"

WORK=$(mktemp -d /tmp/zs-XXXXXX)
SOCK="$WORK/d.sock"
LOG="$WORK/daemon.log"
mkdir -m 700 "$WORK/data"
# buf keeps a cache under $HOME/.cache; keep it inside the test.
export HOME="$WORK/home" XDG_CACHE_HOME="$WORK/cache"
mkdir -p "$HOME" "$XDG_CACHE_HOME"

"$DAEMON" --data-dir "$WORK/data" --key-dir "$WORK/data" --socket "$SOCK" >"$LOG" 2>&1 &
DPID=$!
cleanup() {
  kill "$DPID" 2>/dev/null || true
  wait "$DPID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Wait for the daemon without sleeping: the CLI's calls wait for the socket
# (gRPC wait-for-ready) up to the timeout.
"$CLI" --socket "$SOCK" --wait-for-ready --timeout 30s whoami >/dev/null ||
  fail "daemon did not come up"

bufcurl() {
  "$BUF" curl --protocol grpc --http2-prior-knowledge --unix-socket "$SOCK" "$@"
}

echo "== reflection: list services"
SERVICES=$(bufcurl --list-services http://localhost) || fail "list-services failed"
echo "$SERVICES"
echo "$SERVICES" | grep -qx 'zlayer.secrets.v1.Secrets' || fail "Secrets service not listed"
echo "$SERVICES" | grep -qx 'zlayer.secrets.v1.Admin' || fail "Admin service not listed"
echo "$SERVICES" | grep -qx 'grpc.health.v1.Health' || fail "Health service not listed"

echo "== SetSecret"
# "czNjcmV0" is base64 for "s3cret" (bytes fields are base64 in JSON).
OUT=$(bufcurl -d '{"target":{"deployment":{"deployment":"buf"}},"name":"db","value":"czNjcmV0"}' \
  http://localhost/zlayer.secrets.v1.Secrets/SetSecret) || fail "SetSecret failed: $OUT"
echo "$OUT"
echo "$OUT" | grep -q '"version": 1' || fail "SetSecret did not report version 1"

echo "== GetSecret"
OUT=$(bufcurl -d '{"target":{"deployment":{"deployment":"buf"}},"name":"db"}' \
  http://localhost/zlayer.secrets.v1.Secrets/GetSecret) || fail "GetSecret failed: $OUT"
echo "$OUT" | grep -q '"value": "czNjcmV0"' || fail "GetSecret returned another value"

echo "== GetSecret of a missing secret"
if OUT=$(bufcurl -d '{"target":{"deployment":{"deployment":"buf"}},"name":"nope"}' \
  http://localhost/zlayer.secrets.v1.Secrets/GetSecret 2>&1); then
  fail "GetSecret of a missing secret succeeded"
fi
echo "$OUT"
echo "$OUT" | grep -q 'not_found' || fail "missing secret was not NOT_FOUND"

echo "== ResolveEnv"
OUT=$(bufcurl -d '{"env":{"DB":"$S:db","MODE":"plain"},"context":{"deployment":"buf"}}' \
  http://localhost/zlayer.secrets.v1.Secrets/ResolveEnv) || fail "ResolveEnv failed: $OUT"
echo "$OUT" | grep -q '"DB": "s3cret"' || fail "ResolveEnv did not resolve DB"
echo "$OUT" | grep -q '"MODE": "plain"' || fail "ResolveEnv changed a plain value"
echo "$OUT" | grep -q '"reference": "\$S:db"' || fail "ResolveEnv receipt missing"

echo "== grpc.health.v1.Health/Check (schema from reflection)"
OUT=$(bufcurl -d '{}' \
  http://localhost/grpc.health.v1.Health/Check) || fail "Health/Check failed: $OUT"
echo "$OUT"
echo "$OUT" | grep -q '"status": "SERVING"' || fail "daemon is not SERVING"

echo "== grpc.health.v1.Health/Watch across SIGTERM"
# The stream goes through a fifo, so the script blocks on its lines instead
# of sleeping; `timeout` bounds a stream that never ends.
mkfifo "$WORK/watch"
timeout 60 "$BUF" curl --protocol grpc --http2-prior-knowledge \
  --unix-socket "$SOCK" -d '{}' http://localhost/grpc.health.v1.Health/Watch \
  >"$WORK/watch" 2>&1 &
WPID=$!
exec 3<"$WORK/watch"
SEEN=""
while IFS= read -r line <&3; do
  SEEN="$SEEN$line
"
  case "$line" in *'"SERVING"'*) break ;; esac
done
echo "$SEEN" | grep -q '"SERVING"' || fail "Watch did not report SERVING: $SEEN"
kill -TERM "$DPID"
REST=$(cat <&3)
exec 3<&-
echo "$REST"
WATCH_RC=0
wait "$WPID" || WATCH_RC=$?
[ "$WATCH_RC" -eq 0 ] || fail "Watch did not end cleanly (exit $WATCH_RC): $REST"
echo "$REST" | grep -q '"NOT_SERVING"' || fail "Watch ended without NOT_SERVING: $REST"
DAEMON_RC=0
wait "$DPID" || DAEMON_RC=$?
[ "$DAEMON_RC" -eq 0 ] || fail "daemon exited $DAEMON_RC after SIGTERM"
grep -q 'event=drained' "$LOG" || fail "no event=drained in the daemon log"
if grep -q 'event=drain_deadline_reached' "$LOG"; then
  fail "the drain ran into its deadline"
fi

echo "PASS"
