#!/usr/bin/env bash
# The sanitizer tier (clang): the unit tests and the SQLite tier under ASan + UBSan (build-asan/,
# shared with scripts/fuzz.sh), then the concurrency and daemon tests on both backends under TSan
# (build-tsan/). Starts its own throwaway PostgreSQL for the TSan run. Any report, from any
# process, fails the run.
#
#   scripts/sanitize.sh [address|thread]    # both when no argument
#
# BATCH_CLEANUP_SANITIZE_PHASE=build only builds the trees (what .ci/run does at the lowest CPU
# priority beside the main test run), =run only runs their tests (after such a build); both by
# default.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=${BATCH_CLEANUP_BUILD_JOBS:-2}
which=${1:-all}
phase=${BATCH_CLEANUP_SANITIZE_PHASE:-all}
building() { [ "$phase" = all ] || [ "$phase" = build ]; }
running() { [ "$phase" = all ] || [ "$phase" = run ]; }

# Unoptimised with line tables: readable reports. In two fresh CI runs the ASan tree's library
# took 7.5 CPU-minutes at -O0 against 9.2 at -O1 (with 14 more files at -O0; command_line.cc
# 15.5 s against 27.4 s), but the sanitized cases ran slower, so the step as a whole gained
# about nothing.
# BATCH_CLEANUP_SANITIZE_OPT=-O1 for long fuzzing sessions (scripts/fuzz.sh shares this tree).
opt=${BATCH_CLEANUP_SANITIZE_OPT:--O0}
common=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++
        "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$opt -gline-tables-only" -DBATCH_CLEANUP_BUILD_TESTS=ON)

# Reports go to files (log_path), so a report from any process, the binaries the cases start
# included, fails the tier even where the process's exit code is what a case expected.
report_dir=$(mktemp -d /tmp/bc_sanitizer_reports_XXXXXX)
check_reports() {
  if compgen -G "$report_dir/*" >/dev/null; then
    cat "$report_dir"/* >&2
    echo "sanitizer reports above (in $report_dir)" >&2
    exit 1
  fi
}
# A failed case: the sanitizer reports behind it first (a sanitized binary exits 66 on one).
failed() {
  check_reports
  exit 1
}
# The process-level integration cases (integration_tests) are the Release build's: they run the
# sanitized batch_cleanup named by BATCH_CLEANUP_TEST_BINARY, so the sanitizer trees compile only
# what runs sanitized (the binaries, the unit tests and library_tests, which link the library).
if running; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$jobs" --target integration_tests
fi
sanitized_targets=(batch_cleanup_cli embedded_worker unit_tests library_tests)
# The TSan tree runs only the unit cases that start threads: their files alone
# (threaded_unit_tests, tests/CMakeLists.txt).
thread_targets=(batch_cleanup_cli embedded_worker threaded_unit_tests library_tests)

if [ "$which" = all ] || [ "$which" = address ]; then
  if building; then
    cmake -S . -B build-asan "${common[@]}" -DBATCH_CLEANUP_SANITIZE=address \
      -DBATCH_CLEANUP_BUILD_FUZZERS=ON >/dev/null
    cmake --build build-asan -j"$jobs" --target "${sanitized_targets[@]}"
  fi
fi
if running && { [ "$which" = all ] || [ "$which" = address ]; }; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:log_path=$report_dir/asan
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$report_dir/ubsan
  # The unit tests and the in-process cases, sanitized themselves; then every process-level case
  # on SQLite against the sanitized binary.
  ctest --test-dir build-asan --output-on-failure -j2 --timeout 600 -R '^unit\.|^library\.' ||
    failed
  BATCH_CLEANUP_TEST_BINARY=$(pwd)/build-asan/batch_cleanup \
    ctest --test-dir build --output-on-failure -j2 --timeout 600 \
    -R '^integration\..*sqlite' -E 'Browser|Prometheus|Pushgateway|NodeExporter' || failed
  check_reports
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if [ "$which" = all ] || [ "$which" = thread ]; then
  if building; then
    cmake -S . -B build-tsan "${common[@]}" -DBATCH_CLEANUP_SANITIZE=thread >/dev/null
    cmake --build build-tsan -j"$jobs" --target "${thread_targets[@]}"
  fi
fi
if running && { [ "$which" = all ] || [ "$which" = thread ]; }; then
  pg_dir=$(mktemp -d /tmp/bc_pg_tsan_XXXXXX)
  port=${BATCH_CLEANUP_TSAN_PG_PORT:-54331}
  trap 'scripts/pg_test_server.sh stop "$pg_dir"' EXIT
  BATCH_CLEANUP_TEST_PG_URL=$(scripts/pg_test_server.sh start "$pg_dir" "$port")
  export BATCH_CLEANUP_TEST_PG_URL BATCH_CLEANUP_TEST_PG_DIR=$pg_dir BATCH_CLEANUP_REQUIRE_PG=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:log_path=$report_dir/tsan
  # The threads: the service's worker and its stop, the cancel watchdog, the HTTP server of a
  # daemon, several jobs side by side, the embedded worker, signals, --workers.
  ctest --test-dir build-tsan --output-on-failure -j2 --timeout 600 \
    -R '^unit\.(Engine|SafetyEngine|Service|Worker|Http|Health|Observability)|^library\.Library' ||
    failed
  BATCH_CLEANUP_TEST_BINARY=$(pwd)/build-tsan/batch_cleanup \
    ctest --test-dir build --output-on-failure -j2 --timeout 600 \
    -R '^integration\..*(Concurrency|Http|SdNotify|Probe|JobIsolation|ConfigFile.*Daemon|Daemon|Signal|Sigterm|WorkersTest)' ||
    failed
  check_reports
fi
