#!/usr/bin/env bash
# Runs loom_tests under one compute-sanitizer tool with that tool's gtest filter
# from tests/sanitizer_filters.txt (see there for which tests cover which
# kernels/cuda/*.cu file). Used by the ctest entries sanitizer_<tool>
# (tests/sanitize.cmake) and by `tools/gpu_bundle.sh remote <tool>`.
#
#   run_compute_sanitizer.sh TOOL LOOM_TESTS [FILTER]
#       TOOL: memcheck, racecheck, initcheck or synccheck; FILTER replaces the
#       file's filter for this run. Exit: 0 clean; 1 sanitizer errors, failed
#       tests, a pattern that selects no test, or a tool that could not run;
#       77 skipped (no compute-sanitizer, no GPU, or the tests saw no CUDA
#       device). The last line is the verdict.
#   run_compute_sanitizer.sh --check-filters LOOM_TESTS
#       No GPU needed: checks that every pattern of the file selects at least
#       one test of LOOM_TESTS and that each tool's patterns together name
#       every kernels/cuda/*.cu file. Exit 0 or 1.
#
# compute-sanitizer is LOOM_COMPUTE_SANITIZER if that is executable, else the
# one on PATH, else /usr/local/cuda/bin/compute-sanitizer.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FILTERS="$HERE/sanitizer_filters.txt"
CUDA_DIR="$HERE/../kernels/cuda"
TOOLS="memcheck racecheck initcheck synccheck"

# patterns TOOL: the tool's patterns, one a line.
patterns() {
  awk -v tool="$1" '!/^[[:space:]]*(#|$)/ {
    n = split($1, t, ","); for (i = 1; i <= n; ++i) if (t[i] == tool) { print $2; break } }' "$FILTERS"
}

# files TOOL: the kernels/cuda/*.cu basenames the tool's patterns name, one a line.
files() {
  awk -v tool="$1" '!/^[[:space:]]*(#|$)/ {
    n = split($1, t, ","); for (i = 1; i <= n; ++i) if (t[i] == tool) {
      m = split($3, f, ","); for (j = 1; j <= m; ++j) if (f[j] != "-") print f[j]; break } }' "$FILTERS" | sort -u
}

filter_of() { patterns "$1" | paste -sd ':' -; }

# selected LOOM_TESTS PATTERN: how many tests the pattern selects.
selected() {
  "$1" --gtest_list_tests --gtest_filter="$2" 2> /dev/null | grep -c '^  '
}

# all_tests LOOM_TESTS: every test's full name (Suite.Test), one a line.
all_tests() {
  "$1" --gtest_list_tests 2> /dev/null | awk '
    /^[^ ]/ { suite = $1; next }
    /^  /   { print suite $1 }'
}

# matching PATTERN < names: how many names a positive gtest pattern (* and ?)
# matches; the same as selected() without starting loom_tests once per pattern.
matching() {
  local name n=0
  while read -r name; do
    # shellcheck disable=SC2053  # the pattern is meant to glob
    [[ "$name" == $1 ]] && n=$((n + 1))
  done
  echo "$n"
}

check_filters() {
  local tests=$1 bad=0 tool pattern n f
  [ -x "$tests" ] || { echo "FAIL: $tests is not an executable"; return 1; }
  [ -f "$FILTERS" ] || { echo "FAIL: no $FILTERS"; return 1; }
  local names
  names="$(all_tests "$tests")"
  [ -n "$names" ] || { echo "FAIL: $tests --gtest_list_tests lists no test"; return 1; }
  # Lines with an unknown tool or without three fields would be silently dropped.
  if awk -v tools="$TOOLS" '!/^[[:space:]]*(#|$)/ {
        if (NF != 3) { print "FAIL: line " NR " has " NF " fields, not 3: " $0; bad = 1; next }
        n = split($1, t, ","); for (i = 1; i <= n; ++i) if (index(" " tools " ", " " t[i] " ") == 0) {
          print "FAIL: line " NR " names an unknown tool " t[i]; bad = 1 } }
      END { exit bad }' "$FILTERS"; then :; else bad=1; fi
  local all_cu
  all_cu="$(find -H "$CUDA_DIR" -maxdepth 1 -name '*.cu' -printf '%f\n' | sed 's|\.cu$||' | sort)"
  [ -n "$all_cu" ] || { echo "FAIL: no .cu files found in $CUDA_DIR"; return 1; }
  for tool in $TOOLS; do
    while read -r pattern; do
      n="$(matching "$pattern" <<< "$names")"
      if [ "$n" -eq 0 ]; then
        echo "FAIL: $tool: pattern '$pattern' selects no test (renamed or removed?)"
        bad=1
      fi
    done < <(patterns "$tool")
    n="$(selected "$tests" "$(filter_of "$tool")")"
    local missing
    missing="$(comm -23 <(printf '%s\n' "$all_cu") <(files "$tool"))"
    echo "$tool: $n tests; CUDA files: $(files "$tool" | paste -sd ' ' -)"
    # Each tool runs every kernels/cuda/*.cu file.
    if [ -n "$missing" ]; then
      echo "FAIL: $tool runs no test for: $(printf '%s\n' "$missing" | paste -sd ' ' -)"
      bad=1
    fi
    for f in $(files "$tool"); do
      [ -f "$CUDA_DIR/$f.cu" ] || { echo "FAIL: $tool names $f, but there is no kernels/cuda/$f.cu"; bad=1; }
    done
  done
  [ "$bad" = 0 ] && echo "sanitizer filters: every pattern selects tests; every tool covers every kernels/cuda/*.cu file"
  return "$bad"
}

if [ "${1:-}" = "--check-filters" ]; then
  [ $# -eq 2 ] || { echo "usage: $0 --check-filters LOOM_TESTS"; exit 2; }
  check_filters "$2"
  exit $?
fi

if [ $# -lt 2 ] || [ $# -gt 3 ]; then echo "usage: $0 TOOL LOOM_TESTS [FILTER] | --check-filters LOOM_TESTS"; exit 2; fi
tool=$1 tests=$2
case " $TOOLS " in *" $tool "*) ;; *) echo "FAIL: unknown tool '$tool' (one of: $TOOLS)"; exit 2 ;; esac
filter="${3:-$(filter_of "$tool")}"
[ -n "$filter" ] || { echo "FAIL: no filter for $tool in $FILTERS"; exit 1; }
[ -x "$tests" ] || { echo "FAIL: $tests is not an executable"; exit 1; }
n="$(selected "$tests" "$filter")"
if [ "$n" -eq 0 ]; then
  echo "FAIL: the $tool filter selects no test: $filter"
  exit 1
fi

sanitizer="${LOOM_COMPUTE_SANITIZER:-}"
if [ -z "$sanitizer" ] || [ ! -x "$sanitizer" ]; then
  sanitizer="$(command -v compute-sanitizer || true)"
fi
if [ -z "$sanitizer" ] && [ -x /usr/local/cuda/bin/compute-sanitizer ]; then
  sanitizer=/usr/local/cuda/bin/compute-sanitizer
fi
if [ -z "$sanitizer" ]; then
  echo "SKIP: compute-sanitizer not found (LOOM_COMPUTE_SANITIZER, PATH, /usr/local/cuda/bin): the $tool run did not happen"
  exit 77
fi
if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi -L 2> /dev/null | grep -q '^GPU '; then
  echo "SKIP: no GPU present: the $tool run did not happen"
  exit 77
fi

log="$(mktemp "${TMPDIR:-/tmp}/loom-$tool.XXXXXX")"
trap 'rm -f "$log"' EXIT
echo "$tool: $n tests; $sanitizer --tool $tool --error-exitcode 1 $tests --gtest_filter=$filter"
t0=$SECONDS
"$sanitizer" --tool "$tool" --error-exitcode 1 "$tests" --gtest_filter="$filter" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
seconds=$((SECONDS - t0))

# The verdict: the tool's summary line and gtest's counts.
summary="$(grep -Eo '(ERROR|RACECHECK) SUMMARY: .*' "$log" | tail -n 1)"
ran="$(grep -Eo '^\[==========\] [0-9]+ tests? from [0-9]+ test suites? ran' "$log" | grep -Eo '^\[==========\] [0-9]+' | grep -Eo '[0-9]+$')"
passed="$(grep -Eo '^\[  PASSED  \] [0-9]+' "$log" | grep -Eo '[0-9]+$')"
failed="$(grep -Eo '^ ?[0-9]+ FAILED TESTS?' "$log" | grep -Eo '[0-9]+' | tail -n 1)"
skipped_no_cuda="$(grep -c 'no CUDA device: this CUDA test did not run' "$log")"
verdict="$tool: ${summary:-no summary line} | ${ran:-0} tests ran, ${passed:-0} passed, ${failed:-0} failed | ${seconds} s | exit $rc"
if [ -z "$ran" ]; then
  echo "FAIL: $verdict (the tests did not run to the end under $tool)"
  exit 1
fi
# On a GPU no test skips for want of a device; one that did means the run checked
# (some of) nothing.
if [ "$rc" -eq 0 ] && [ "$skipped_no_cuda" -gt 0 ]; then
  echo "SKIP: the tests saw no CUDA device: the $tool run checked nothing ($verdict)"
  exit 77
fi
if [ "$rc" -eq 0 ] && [ -z "$summary" ]; then
  echo "FAIL: $verdict"
  exit 1
fi
[ "$rc" -eq 0 ] && echo "PASS: $verdict" || echo "FAIL: $verdict"
exit "$rc"
