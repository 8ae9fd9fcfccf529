# loom-rnn-check in bfloat16 and float16 over cases whose data are exact in
# both types (tests/fixtures/make_rnn_half_cases.py), so the measured error is
# loom's own internal rounding only. Tolerance: the checker's default for the
# dtype, rtol = atol = 2u * T * num_layers per case (nn/reference_case.h).
#
#   rnn_half_cases_generate   writes ${LOOM_RNN_HALF_CASES_DIR}/*.h5 and wrong/*.h5
#   rnn_half_cases_selfcheck  PyTorch re-derives the (right) cases
#   rnn_check_half_{bfloat16,float16}        every case must pass
#   rnn_check_half_wrong_{bfloat16,float16}  every wrong/ case (reference from
#                             a layer with shifted biases) must fail
# All report "skipped" (77) when /usr/bin/python3 lacks torch or h5py.
set(LOOM_RNN_HALF_CASES_DIR ${PROJECT_BINARY_DIR}/rnn_half_cases CACHE PATH
    "Folder of the bf16/fp16-exact reference cases (written by rnn_half_cases_generate)")

add_test(NAME rnn_half_cases_generate
  COMMAND ${LOOM_TORCH_PYTHON} ${PROJECT_SOURCE_DIR}/tests/fixtures/make_rnn_half_cases.py
          ${LOOM_RNN_HALF_CASES_DIR} --clean)
set_tests_properties(rnn_half_cases_generate PROPERTIES
  FIXTURES_SETUP rnn_half_cases SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS "python;reference")
add_test(NAME rnn_half_cases_selfcheck
  COMMAND ${LOOM_TORCH_PYTHON} ${PROJECT_SOURCE_DIR}/tests/fixtures/check_cases.py
          ${LOOM_RNN_HALF_CASES_DIR})
set_tests_properties(rnn_half_cases_selfcheck PROPERTIES
  FIXTURES_REQUIRED rnn_half_cases SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS "python;reference")

if(TARGET loom-rnn-check)
  foreach(dtype bfloat16 float16)
    add_test(NAME rnn_check_half_${dtype}
      COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_rnn_check.sh $<TARGET_FILE:loom-rnn-check>
              ${LOOM_RNN_HALF_CASES_DIR} "*.h5" --dtype ${dtype})
    add_test(NAME rnn_check_half_wrong_${dtype}
      COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_rnn_check_must_fail.sh
              $<TARGET_FILE:loom-rnn-check> ${LOOM_RNN_HALF_CASES_DIR}/wrong --dtype ${dtype})
    set_tests_properties(rnn_check_half_${dtype} rnn_check_half_wrong_${dtype} PROPERTIES
      FIXTURES_REQUIRED rnn_half_cases SKIP_RETURN_CODE 77)
  endforeach()
endif()
