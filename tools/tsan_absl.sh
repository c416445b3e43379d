#!/usr/bin/env bash
# ThreadSanitizer run with a TSan-built Abseil (docs/reliability.md, "TSan").
#
#   tools/tsan_absl.sh              build the Abseil (once), then run the tests
#   tools/tsan_absl.sh --build-only build the Abseil, print its lib directory
#   tools/tsan_absl.sh -- ARGS...   the tests with extra bazel test ARGS
#
# Debian's Abseil is not built with -fsanitize=thread, so TSan cannot see an
# absl::Mutex being taken: every access guarded by one (ours, and gRPC's
# through grpc_core::Mutex) reports as a race. This script rebuilds the very
# Abseil the system has (Debian's source package of the installed version,
# its patches and cmake options: shared libraries, C++17, SONAME
# libabsl_*.so.20220623, inline namespace absl::debian3) with
# -fsanitize=thread, into ${ZS_TSAN_ABSL_DIR:-$HOME/.cache/zs-tsan-absl}, and
# checks that every library has the system one's SONAME and exports every
# symbol the system one does. The tests then load it in place of the system
# libraries through LD_LIBRARY_PATH (the daemon children get it through
# SanitizerEnv / DaemonProcess). gRPC and protobuf stay uninstrumented.
#
# Knobs: ZS_SOAK_SECONDS (60), ZS_CRASH_CYCLES (10), ZS_TSAN_JOBS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
WORKSPACE=$PWD

PKG=libabsl20220623
SOVERSION=20220623
SYSLIB=/usr/lib/x86_64-linux-gnu
JOBS=${ZS_TSAN_JOBS:-2}
CACHE=${ZS_TSAN_ABSL_DIR:-$HOME/.cache/zs-tsan-absl}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
log() { echo "tsan_absl: $*" >&2; }

VERSION=$(dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null || true)
if [ -z "$VERSION" ]; then
  log "$PKG is not installed (./x setup installs libabsl-dev)"
  exit 1
fi
UPSTREAM=${VERSION%-*}          # 20220623.1
UPSTREAM=${UPSTREAM#*:}
ROOT=$CACHE/$VERSION
SRC=$ROOT/src/abseil-$UPSTREAM
BUILD=$ROOT/build
PREFIX=$ROOT/install
LIBDIR=$PREFIX/lib

# Debian's flags for the package (dpkg-buildflags; debian/rules adds
# hardening=+bindnow), -O2 replaced by -O1, plus TSan. debhelper passes
# CPPFLAGS to cmake inside CXXFLAGS, and builds with CMAKE_BUILD_TYPE=None
# (no NDEBUG), as here.
CXXFLAGS_TSAN="-g -O1 -fstack-protector-strong -Wformat -Werror=format-security -Wdate-time -D_FORTIFY_SOURCE=2 -fsanitize=thread -fno-omit-frame-pointer"
LDFLAGS_TSAN="-Wl,-z,relro -Wl,-z,now -fsanitize=thread"
STAMP_TEXT="$VERSION|$CXXFLAGS_TSAN|$LDFLAGS_TSAN|$(gcc -dumpfullversion)"

need_packages() {
  local missing=()
  for p in cmake dpkg-dev g++ binutils unzip; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

fetch_source() {
  [ -f "$SRC/debian/rules" ] && return
  if ! apt-cache showsrc "abseil=$VERSION" 2>/dev/null | grep -q '^Package: abseil'; then
    log "no deb-src entry for abseil $VERSION: adding one"
    as_root tee /etc/apt/sources.list.d/zs-deb-src.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  fi
  rm -rf "$ROOT/src"
  mkdir -p "$ROOT/src"
  # dpkg-source (run by apt-get source) unpacks and applies Debian's patches
  # (the SONAME, the debian3 namespace, ABSL_OPTION_* = 0, hardened mode).
  (cd "$ROOT/src" && apt-get source -qq "abseil=$VERSION" >/dev/null 2>&1) || {
    log "apt-get source abseil=$VERSION failed"
    exit 1
  }
  [ -f "$SRC/debian/rules" ] || { log "no $SRC after apt-get source"; exit 1; }
}

build_absl() {
  if [ -f "$LIBDIR/.zs-stamp" ] && [ "$(cat "$LIBDIR/.zs-stamp")" = "$STAMP_TEXT" ]; then
    return
  fi
  need_packages
  fetch_source
  # The options of debian/rules' shared build (tests off).
  grep -q -- '-DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=ON' "$SRC/debian/rules" || {
    log "debian/rules no longer has the expected cmake options: check them"
    exit 1
  }
  grep -q 'ABSL_OPTION_INLINE_NAMESPACE_NAME debian3' "$SRC/absl/base/options.h" || {
    log "Debian's patches are not applied in $SRC"
    exit 1
  }
  rm -rf "$BUILD" "$PREFIX"
  mkdir -p "$BUILD"
  log "building Abseil $VERSION with -fsanitize=thread in $BUILD ($JOBS jobs)"
  (
    cd "$BUILD"
    CXXFLAGS="$CXXFLAGS_TSAN -ffile-prefix-map=$SRC=." \
      CFLAGS="-g -O1 -fsanitize=thread" LDFLAGS="$LDFLAGS_TSAN" \
      cmake "$SRC" -DCMAKE_BUILD_TYPE=None -DCMAKE_INSTALL_PREFIX="$PREFIX" \
      -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=ON \
      -DBUILD_TESTING=OFF >cmake.log 2>&1 || { cat cmake.log >&2; exit 1; }
    nice cmake --build . -j "$JOBS" >build.log 2>&1 || { tail -50 build.log >&2; exit 1; }
    cmake --install . >install.log 2>&1 || { cat install.log >&2; exit 1; }
  )
  verify_abi
  echo "$STAMP_TEXT" >"$LIBDIR/.zs-stamp"
}

# Every system libabsl_*.so.20220623 has an instrumented twin with the same
# SONAME that defines every dynamic symbol the system one defines, except
# weak (COMDAT) instantiations of inline functions and templates that -O1
# inlines where -O2 did not: every user emits its own copy of those, so no
# library or binary leaves them undefined.
verify_abi() {
  local n=0 weak=0 sys name ours sysname oursname missing strong
  for sys in "$SYSLIB"/libabsl_*.so."$SOVERSION"; do
    name=$(basename "$sys")
    ours=$LIBDIR/$name
    [ -e "$ours" ] || { log "missing $ours"; exit 1; }
    sysname=$(readelf -d "$sys" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    oursname=$(readelf -d "$ours" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$sysname" = "$oursname" ] || { log "$name: SONAME $oursname, system $sysname"; exit 1; }
    missing=$(comm -23 <(nm -D --defined-only "$sys" | awk '{print $3}' | sort -u) \
      <(nm -D --defined-only "$ours" | awk '{print $3}' | sort -u))
    if [ -n "$missing" ]; then
      strong=$(nm -D --defined-only "$sys" | awk '$2 != "W" && $2 != "V" {print $3}' |
        grep -Fxf <(echo "$missing") || true)
      if [ -n "$strong" ]; then
        log "$name lacks symbols of the system library:"
        echo "$strong" | head -20 >&2
        exit 1
      fi
      weak=$((weak + $(echo "$missing" | wc -l)))
    fi
    readelf -d "$ours" | grep -q 'NEEDED.*libtsan' || { log "$name is not linked with TSan"; exit 1; }
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || { log "no $SYSLIB/libabsl_*.so.$SOVERSION"; exit 1; }
  nm -D --defined-only "$LIBDIR/libabsl_synchronization.so.$SOVERSION" |
    grep -q ' _ZN4absl7debian35Mutex4LockEv$' || { log "no absl::debian3::Mutex::Lock"; exit 1; }
  log "ABI check: $n libraries, SONAMEs equal, every strong system symbol defined ($weak weak inline instantiations not emitted at -O1)"
}

build_absl
if [ "${1:-}" = "--build-only" ]; then
  echo "$LIBDIR"
  exit 0
fi
[ "${1:-}" = "--" ] && shift
log "instrumented Abseil: $LIBDIR"

TARGETS=(
  //tests/reliability:load_test
  //tests/reliability:crash_test
  # In-process threads on the stores and the server.
  //tests/core/store:memory_secret_store_test
  //tests/core/store/sqlite:sqlite_secret_store_test
  //tests/core/store/sqlite:sqlite_group_commit_test
  //tests/daemon:server_test
)
# halt_on_error=0 so that one run shows every report; exitcode=66 makes a
# process with reports exit non-zero (the tests check the daemon's exit
# status at SIGTERM; SanitizerEnv puts a daemon's reports in the test's
# undeclared outputs and the test fails if any is there).
# print_suppressions: each process ends with how often each line matched.
TSAN_OPTS="suppressions=$WORKSPACE/tools/tsan.supp:halt_on_error=0:exitcode=66:second_deadlock_stack=1:print_suppressions=1"

bazel build --config=tsan --jobs="$JOBS" "${TARGETS[@]}" //daemon:zlayer-secretsd

# The daemon and a test binary must resolve Abseil to the TSan build.
for bin in bazel-bin/daemon/zlayer-secretsd bazel-bin/tests/reliability/load_test; do
  if LD_LIBRARY_PATH=$LIBDIR ldd "$bin" | grep 'libabsl_' | grep -vq "$LIBDIR/"; then
    log "$bin resolves an Abseil library outside $LIBDIR:"
    LD_LIBRARY_PATH=$LIBDIR ldd "$bin" | grep 'libabsl_' | grep -v "$LIBDIR/" >&2
    exit 1
  fi
done

# While the tests run, look into each daemon child of this run (recognised
# by its LD_LIBRARY_PATH) and record which libabsl_synchronization it mapped.
MAPS_LOG=$(mktemp /tmp/zs-tsan-maps-XXXXXX)
(
  while :; do
    for pid in $(pgrep -x zlayer-secretsd || true); do
      { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "LD_LIBRARY_PATH=$LIBDIR" || continue
      lib=$(grep -o '/[^ ]*libabsl_synchronization[^ ]*' "/proc/$pid/maps" 2>/dev/null | head -1 || true)
      [ -z "$lib" ] || echo "$pid $lib" >>"$MAPS_LOG"
    done
    sleep 1
  done
) &
WATCHER=$!

START=$(date +%s)
TEST_CMD=(bazel test --config=tsan --jobs="$JOBS" --cache_test_results=no
  --test_output=errors --test_timeout=1800
  --test_env=LD_LIBRARY_PATH="$LIBDIR"
  --test_env=TSAN_OPTIONS="$TSAN_OPTS"
  --test_env=ZS_SOAK_SECONDS="${ZS_SOAK_SECONDS:-60}"
  --test_env=ZS_CRASH_CYCLES="${ZS_CRASH_CYCLES:-10}"
  "$@" "${TARGETS[@]}")
log "running: ${TEST_CMD[*]}"
set +e
"${TEST_CMD[@]}"
RC=$?
set -e
END=$(date +%s)
kill "$WATCHER" 2>/dev/null || true
wait "$WATCHER" 2>/dev/null || true

# Reports. A test copies its daemons' reports into its own log (the check in
# reliability_support.cc), so test.log holds them all; the daemons' files are
# counted apart to show where they came from.
total=0
DIRS=()
for t in "${TARGETS[@]}"; do
  dir=bazel-testlogs/${t#//}
  dir=${dir/://}
  DIRS+=("$dir")
  in_log=$(grep -c '^WARNING: ThreadSanitizer' "$dir/test.log" 2>/dev/null || true)
  in_daemons=$(unzip -p "$dir/test.outputs/outputs.zip" 'tsan-daemon.*' 2>/dev/null |
    grep -c '^WARNING: ThreadSanitizer' || true)
  total=$((total + ${in_log:-0}))
  echo "tsan_absl: $t: ${in_log:-0} TSan reports (${in_daemons:-0} of them from its daemon children)"
done
# How often each suppression matched, over every process that exited (a
# daemon's statistics copied into a failed test's log count twice).
{
  for dir in "${DIRS[@]}"; do
    cat "$dir/test.log" 2>/dev/null || true
    unzip -p "$dir/test.outputs/outputs.zip" 'tsan-daemon.*' 2>/dev/null || true
  done
} | awk '/^ThreadSanitizer: Matched/ {m = 1; next}
         m && /^[0-9]+ [a-z_]+:/ {n[$2] += $1; next}
         {m = 0}
         END {for (k in n) printf "tsan_absl: suppressed %d times: %s\n", n[k], k}'
grep -h '^load_test: \|^crash_test: ' bazel-testlogs/tests/reliability/*/test.log || true
sort -u -k1,1 -o "$MAPS_LOG" "$MAPS_LOG"
daemons=$(wc -l <"$MAPS_LOG")
foreign=$(grep -vc " $LIBDIR/" "$MAPS_LOG" || true)
rm -f "$MAPS_LOG"
echo "tsan_absl: $daemons daemon children sampled; libabsl_synchronization from $LIBDIR in $((daemons - foreign)), elsewhere in $foreign"
echo "tsan_absl: $((END - START)) s, bazel test exit $RC, $total TSan reports"
if [ "$RC" -eq 0 ] && { [ "$total" -ne 0 ] || [ "$daemons" -eq 0 ] || [ "$foreign" -ne 0 ]; }; then
  RC=1
fi
exit "$RC"
