# Smoke runs of the classify-packed and forecast examples with tiny settings
# (about a second each): each must exit 0 and print its result line, and with
# these fixed seeds the result must be good (accuracy more than 5 points above
# chance; test MSE under half the naive baseline's). Bad options must exit 2
# with a message naming the problem.
#
# This file has two roles. Included by tests/CMakeLists.txt (which includes
# every tests/*.cmake) it registers the tests; each test runs this same file
# in script mode (cmake -P) to run one program and check its exit code and
# output:
#   cmake -DPROGRAM=exe -DARGS="a;b" -DEXPECT_RC=0 -DEXPECT_REGEX=re -P examples_small.cmake
if(CMAKE_SCRIPT_MODE_FILE)
  execute_process(COMMAND ${PROGRAM} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT rc STREQUAL EXPECT_RC)
    message(FATAL_ERROR "expected exit code ${EXPECT_RC}, got ${rc}")
  endif()
  if(NOT "${out}${err}" MATCHES "${EXPECT_REGEX}")
    message(FATAL_ERROR "output does not match: ${EXPECT_REGEX}")
  endif()
  return()
endif()

# name, program target, expected exit code, regex, arguments...
function(loom_example_test name target rc regex)
  if(NOT TARGET ${target})
    return()
  endif()
  string(REPLACE ";" "\\;" args "${ARGN}")
  add_test(NAME ${name}
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${target}> "-DARGS=${ARGN}" -DEXPECT_RC=${rc}
            "-DEXPECT_REGEX=${regex}" -P ${CMAKE_CURRENT_LIST_FILE})
endfunction()

loom_example_test(example_classify_packed_small classify-packed 0
  "test accuracy: [0-9.]+% on 200 held-out sequences \\(chance: [0-9.]+%.*\\): above chance"
  --steps 30 --test-size 200 --hidden 16 --seed 1)
loom_example_test(example_forecast_small forecast 0
  "test MSE: [0-9.]+ over [0-9]+ forecasts, 1 ahead \\(naive last-value baseline: [0-9.]+.*\\): beats the baseline"
  --steps 150 --length 1000 --window 32 --seed 1)

loom_example_test(example_classify_packed_help classify-packed 0 "usage: classify-packed .*--max-len" --help)
loom_example_test(example_classify_packed_bad_steps classify-packed 2
  "classify-packed: error: --steps, --batch, .* must be at least 1" --steps 0)
loom_example_test(example_classify_packed_unknown_option classify-packed 2
  "classify-packed: error: unknown option '--bogus'" --bogus 1)
loom_example_test(example_classify_packed_bad_lengths classify-packed 2
  "need 1 <= --min-len <= --max-len, got 10 and 5" --min-len 10 --max-len 5)
loom_example_test(example_forecast_help forecast 0 "usage: forecast .*--horizon" --help)
loom_example_test(example_forecast_not_a_number forecast 2
  "forecast: error: option '--lr' expects a number, got 'abc'" --lr abc)
loom_example_test(example_forecast_missing_value forecast 2
  "forecast: error: option '--steps' needs a value" --steps)
loom_example_test(example_forecast_too_short forecast 2
  "--length 50 is too short for --window 64 and --horizon 1" --length 50)
loom_example_test(example_classify_packed_bad_device classify-packed 2
  "classify-packed: error: Expected one of cpu, cuda device type at start of device string: gpu" --device gpu)
