#!/usr/bin/env bash
# Build pywamr's native extensions with AddressSanitizer + UndefinedBehaviorSanitizer
# into a separate venv (.venv-asan, build dir build/asan/, RelWithDebInfo) and run
# the test suite under them.  Usage:
#
#   bash tools/sanitize.sh                 # build, then the whole suite
#   bash tools/sanitize.sh tests/test_host.py -k buf   # build, then these pytest args
#   SANITIZE_SKIP_BUILD=1 bash tools/sanitize.sh ...   # reuse the last build
#   bash tools/sanitize.sh --fuzz --target load --seconds 300   # tools/fuzz.py instead
#
# CPython is not built with ASan, so libasan is preloaded; leak detection is off
# (the interpreter keeps its objects at exit).  Any ASan or UBSan report stops
# the process (halt_on_error), so a report is a failing test.  WAMR's own signal
# handler takes over SIGSEGV from ASan (wasm out-of-bounds accesses are traps)
# and forwards every other fault to it.  tools/ubsan.supp lists UBSan checks we
# silence, each with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${SANITIZE_VENV:-.venv-asan}
CC=${CC:-gcc}
export CC

if [ -z "${SANITIZE_SKIP_BUILD:-}" ]; then
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" --system-site-packages
  PYWAMR_SANITIZE=address,undefined "$VENV/bin/python" -m pip install --quiet \
    -C build-dir=build/asan -C cmake.build-type=RelWithDebInfo ".[test]"
  # The environment variable must have reached CMake (pyproject maps it).
  grep -q '^PYWAMR_SANITIZE:STRING=address,undefined$' build/asan/CMakeCache.txt
fi
# Found without importing pywamr: its import loads pywamr._fastcall, which needs libasan preloaded.
ext=$("$VENV/bin/python" - <<'PY'
import importlib.util
from pathlib import Path
package = Path(importlib.util.find_spec("pywamr").origin).parent
print(next(package.glob("_native_fast.*.so")))
PY
)
if ! nm -D "$ext" | grep __asan_init >/dev/null; then
  echo "sanitize.sh: $ext is not built with ASan" >&2
  exit 1
fi

LIBASAN=$("$CC" -print-file-name=libasan.so)
export LD_PRELOAD="$LIBASAN${LD_PRELOAD:+:$LD_PRELOAD}"
ASAN_BASE="detect_leaks=0:halt_on_error=1:abort_on_error=1:allow_user_segv_handler=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tools/ubsan.supp:${UBSAN_OPTIONS:-}"
export PYTHONMALLOC=malloc  # let ASan see Python's allocations too

if [ "${1:-}" = "--fuzz" ]; then
  shift
  # Each fuzz worker inherits the sanitizers: a report aborts it, and the driver saves
  # the input with the report (the worker's stderr) in crashes/*.txt.
  export ASAN_OPTIONS="$ASAN_BASE:${ASAN_OPTIONS:-}"
  echo "sanitize.sh: running tools/fuzz.py under ASan+UBSan ($LIBASAN)" >&2
  exec "$VENV/bin/python" tools/fuzz.py "$@"
fi

# ASan reports go to files (a halted process would lose them inside pytest's capture);
# UBSan's go to stderr, which --capture=sys leaves alone: both end up in $REPORTS.
REPORTS=build/asan/reports
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
export ASAN_OPTIONS="$ASAN_BASE:log_path=$PWD/$REPORTS/asan:${ASAN_OPTIONS:-}"
echo "sanitize.sh: running pytest under ASan+UBSan ($LIBASAN)" >&2
# Deselected: tests that crash a process on purpose (ASan would report each one); the
# payload rebuild (it runs rustc and clang, which would inherit libasan); the RSS tests
# (ASan's quarantine and shadow memory make RSS meaningless).
DESELECT=(-m "not deliberate_crash"
          --deselect tests/test_build.py::test_payload_fixtures_rebuild_identically
          --deselect tests/test_lifetime.py::test_load_close_cycles_stay_flat
          --deselect tests/test_lifetime.py::test_every_policy_keeps_memory_flat)
set +e
"$VENV/bin/python" -m pytest -p no:cacheprovider --capture=sys "${DESELECT[@]}" \
  "${@:-tests}" 2>&1 | tee "$REPORTS/output.log"
status=${PIPESTATUS[0]}
set -e
if compgen -G "$REPORTS/asan.*" >/dev/null \
    || grep -q "runtime error:\|ERROR: AddressSanitizer" "$REPORTS/output.log"; then
  echo "sanitize.sh: sanitizer reports (see $REPORTS):" >&2
  cat "$REPORTS"/asan.* 2>/dev/null >&2 || true
  grep -A20 "runtime error:" "$REPORTS/output.log" >&2 || true
  exit 1
fi
echo "sanitize.sh: no sanitizer reports" >&2
exit "$status"
