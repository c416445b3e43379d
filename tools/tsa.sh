#!/usr/bin/env bash
# Builds the project's own code with clang's thread-safety analysis
# (--config=tsa: -Wthread-safety as an error, on top of -Wall -Wextra -Werror).
#
#   tools/tsa.sh [--shutdown] [TARGETS...]   default: //core/... //daemon/... //client/...
#
# Uses its own Bazel output base (the toolchain is configured per output base,
# so the ordinary gcc one stays warm), like tools/fuzz.sh. --shutdown stops
# that output base's Bazel server afterwards (CI uses it, so no server is left
# running). Exits non-zero on any analysis finding or build error.
#
# Environment:
#   ZS_TSA_OUTPUT_BASE   output base (default ~/.cache/zlayer-secrets-tsa/<hash
#                        of this checkout's path>, one per checkout)
set -uo pipefail
cd "$(dirname "$0")/.."

shutdown=0
if [ "${1:-}" = "--shutdown" ]; then shutdown=1; shift; fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(//core/... //daemon/... //client/...)

checkout_hash=$(pwd | md5sum | cut -c1-12)
output_base=${ZS_TSA_OUTPUT_BASE:-$HOME/.cache/zlayer-secrets-tsa/$checkout_hash}
bazel_tsa=(bazel "--output_base=$output_base" --max_idle_secs=600)

echo "tsa: building ${targets[*]} (clang -Wthread-safety, output base $output_base)" >&2
rc=0
# --symlink_prefix=/ keeps the checkout's bazel-* symlinks on the gcc build.
"${bazel_tsa[@]}" build --config=tsa --symlink_prefix=/ --keep_going -- "${targets[@]}" || rc=$?
if [ "$shutdown" -eq 1 ]; then "${bazel_tsa[@]}" shutdown || true; fi
if [ "$rc" -ne 0 ]; then
  echo "tsa: FAILED (bazel exit $rc)" >&2
  exit 1
fi
echo "tsa: clean"
