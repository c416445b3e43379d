#!/usr/bin/env bash
# Builds and runs one libFuzzer target for a bounded time.
#
#   tools/fuzz.sh TARGET SECONDS      e.g. tools/fuzz.sh secret_ref_fuzz 60
#
# Builds //tests/fuzz:TARGET_fuzzer with clang and --config=fuzz in a separate
# Bazel output base (the toolchain is configured per output base, so the
# ordinary gcc one stays warm), then fuzzes a temporary copy of the kept corpus
# tests/fuzz/corpus/TARGET for SECONDS (with tests/fuzz/TARGET.dict as the
# libFuzzer dictionary when it exists). Prints
#   fuzz TARGET: N execs, M crashes, K new corpus inputs (budget Ss)
# and exits non-zero on a crash, keeping the crashing input and the log.
#
# Environment:
#   ZS_FUZZ_OUTPUT_BASE   output base (default ~/.cache/zlayer-secrets-fuzz/<hash
#                         of this checkout's path>, one per checkout)
#   ZS_FUZZ_ARTIFACTS     where crash inputs and the log go (default: a new
#                         /tmp/zs-fuzz-TARGET-XXXXXX directory, removed
#                         after a clean run)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 TARGET SECONDS" >&2
  exit 2
fi
target=$1
seconds=$2
kept_corpus=tests/fuzz/corpus/$target
if [ ! -d "$kept_corpus" ]; then
  echo "fuzz: no kept corpus at $kept_corpus" >&2
  exit 2
fi

checkout_hash=$(pwd | md5sum | cut -c1-12)
output_base=${ZS_FUZZ_OUTPUT_BASE:-$HOME/.cache/zlayer-secrets-fuzz/$checkout_hash}
# --symlink_prefix=/ keeps this build from repointing the checkout's bazel-*
# symlinks at the fuzz output base; the idle server exits on its own.
bazel_fuzz=(bazel "--output_base=$output_base" --max_idle_secs=600)
build_flags=(--config=fuzz --symlink_prefix=/)

echo "fuzz: building //tests/fuzz:${target}_fuzzer (clang, output base $output_base)" >&2
"${bazel_fuzz[@]}" build "${build_flags[@]}" "//tests/fuzz:${target}_fuzzer"
binary="$("${bazel_fuzz[@]}" info "${build_flags[@]}" bazel-bin 2>/dev/null)/tests/fuzz/${target}_fuzzer"
if [ ! -x "$binary" ]; then
  echo "fuzz: built binary not found at $binary" >&2
  exit 1
fi

work=$(mktemp -d "/tmp/zs-fuzz-corpus-${target}-XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts=${ZS_FUZZ_ARTIFACTS:-$(mktemp -d "/tmp/zs-fuzz-${target}-XXXXXX")}
mkdir -p "$artifacts"
log=$artifacts/fuzz.log

# libFuzzer writes new inputs into the first directory only: a temporary copy,
# so the kept corpus changes only when someone chooses to add inputs to it.
cp -R "$kept_corpus/." "$work/"
seed_count=$(find "$work" -type f | wc -l)

dict=()
if [ -f "tests/fuzz/$target.dict" ]; then dict=(-dict="tests/fuzz/$target.dict"); fi

rc=0
"$binary" "$work" "${dict[@]}" \
  -max_total_time="$seconds" \
  -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 \
  -artifact_prefix="$artifacts/" \
  >"$log" 2>&1 || rc=$?

execs=$(awk '/^stat::number_of_executed_units:/ {n = $2}
             /^Done [0-9]+ runs/ && n == "" {n = $2}
             END {print n + 0}' "$log")
crash_files=$(find "$artifacts" -maxdepth 1 -type f \
  \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) |
  sort)
crashes=$(printf '%s' "$crash_files" | grep -c . || true)
new_inputs=$(($(find "$work" -type f | wc -l) - seed_count))

summary="fuzz $target: $execs execs, $crashes crashes, $new_inputs new corpus inputs (budget ${seconds}s)"
if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
  tail -n 40 "$log" >&2
  echo "log: $log" >&2
  while IFS= read -r f; do
    [ -n "$f" ] && echo "kept $f; reproduce with: $binary $f" >&2
  done <<<"$crash_files"
  echo "$summary"
  echo "fuzz $target: FAILED (fuzzer exit $rc)" >&2
  exit 1
fi
echo "$summary"
if [ -z "${ZS_FUZZ_ARTIFACTS:-}" ]; then
  rm -rf "$artifacts"
fi
