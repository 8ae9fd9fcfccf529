# compute-sanitizer over the recurrent CUDA tests (label "sanitizer"):
#   sanitizer_memcheck_recurrent   out-of-bounds / misaligned device accesses,
#                                  bad CUDA API calls
#   sanitizer_racecheck_recurrent  shared-memory data races (the fixed-order
#                                  column sums, CUB block reductions)
# Each runs loom_tests under `compute-sanitizer --tool <tool> --error-exitcode 1`
# with a gtest filter selecting the recurrent CUDA tests, and fails on any
# report or test failure. It is skipped (exit 77) when compute-sanitizer is
# not found (configure-time path or PATH), when no GPU is present (nvidia-smi
# missing or listing none), or when the tests themselves saw no CUDA device
# (e.g. a build without CUDA); it fails when the filter selects no test, so a
# renamed suite cannot make it pass by checking nothing. No leak check: loom keeps its per-device streams,
# cuBLAS workspaces and cached blocks for the life of the process on purpose.
# Run them with `ctest -L sanitizer`.
#
# The script below avoids ';' and '${': CMake would split or expand them.
set(LOOM_SANITIZER_FILTER
  "*RnnCuda*:BidirectionalOverlapCuda.*:DeterministicTrainingCuda.*:PackedSequence.CudaMatchesCpu")
find_program(LOOM_COMPUTE_SANITIZER compute-sanitizer
  HINTS ${CUDAToolkit_BIN_DIR} /usr/local/cuda/bin /opt/cuda/bin)
if(NOT LOOM_COMPUTE_SANITIZER)
  set(LOOM_COMPUTE_SANITIZER "")
endif()
set(LOOM_SANITIZER_SCRIPT [=[
tests="$1"
tool="$2"
filter="$3"
sanitizer="$4"
if [ -z "$sanitizer" ] || [ ! -x "$sanitizer" ]
then
  sanitizer="$(command -v compute-sanitizer || true)"
fi
if [ -z "$sanitizer" ]
then
  echo "SKIP: compute-sanitizer not found (configure-time path or PATH): the $tool run did not happen"
  exit 77
fi
if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi -L 2> /dev/null | grep -q '^GPU '
then
  echo "SKIP: no GPU present: the $tool run did not happen"
  exit 77
fi
echo "$sanitizer --tool $tool --error-exitcode 1 $tests --gtest_filter=$filter"
out="$("$sanitizer" --tool "$tool" --error-exitcode 1 "$tests" --gtest_filter="$filter" 2>&1)"
rc=$?
printf '%s\n' "$out"
if printf '%s\n' "$out" | grep -q ' 0 tests from 0 test suites ran'
then
  echo "FAIL: the filter $filter selected no test"
  exit 1
fi
if [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q 'no CUDA device: this CUDA test did not run'
then
  echo "SKIP: the tests saw no CUDA device: the $tool run checked nothing"
  exit 77
fi
exit "$rc"
]=])
foreach(tool memcheck racecheck)
  add_test(NAME sanitizer_${tool}_recurrent
    COMMAND bash -c "${LOOM_SANITIZER_SCRIPT}" loom-sanitize $<TARGET_FILE:loom_tests> ${tool}
            "${LOOM_SANITIZER_FILTER}" "${LOOM_COMPUTE_SANITIZER}")
  set_tests_properties(sanitizer_${tool}_recurrent PROPERTIES
    LABELS sanitizer SKIP_RETURN_CODE 77 TIMEOUT 1200)
endforeach()
