# loom-rnn-check over PyTorch reference cases: the project's own generated
# cases (float64 and float32, CPU) and the shared samples when ../shared exists.
if(TARGET loom-rnn-check)
  set(LOOM_CHECK_SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/run_rnn_check.sh)
  foreach(dtype float64 float32)
    add_test(NAME rnn_check_generated_${dtype}
      COMMAND bash ${LOOM_CHECK_SCRIPT} $<TARGET_FILE:loom-rnn-check> ${PROJECT_BINARY_DIR}/rnn_cases
              --dtype ${dtype})
    set_tests_properties(rnn_check_generated_${dtype} PROPERTIES
      FIXTURES_REQUIRED rnn_cases SKIP_RETURN_CODE 77 TIMEOUT 900)
    add_test(NAME rnn_check_shared_${dtype}
      COMMAND bash ${LOOM_CHECK_SCRIPT} $<TARGET_FILE:loom-rnn-check> ${PROJECT_SOURCE_DIR}/../shared/fixtures
              --dtype ${dtype})
    set_tests_properties(rnn_check_shared_${dtype} PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
  # The checker must refuse a file that is not a reference case.
  add_test(NAME rnn_check_rejects_foreign_file
    COMMAND $<TARGET_FILE:loom-rnn-check> ${CMAKE_CURRENT_SOURCE_DIR}/CMakeLists.txt)
  set_tests_properties(rnn_check_rejects_foreign_file PROPERTIES WILL_FAIL TRUE)
endif()
