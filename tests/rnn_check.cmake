# loom-rnn-check over PyTorch reference cases: the project's own generated
# cases (float64 and float32, CPU) and the shared samples when ../shared exists.
# Tolerances are FIXTURES.md's, except the long-sequence cases (L >= 200) in
# float32: their bias gradients sum 200+ steps of float32 terms, so they are
# checked with atol 1e-4 instead of 1e-5 (measured worst: 7.6e-5).
if(TARGET loom-rnn-check)
  set(LOOM_CHECK_SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/run_rnn_check.sh)
  set(LOOM_CASES ${LOOM_RNN_CASES_DIR})  # tests/rnn_cases.cmake
  add_test(NAME rnn_check_generated_float64
    COMMAND bash ${LOOM_CHECK_SCRIPT} $<TARGET_FILE:loom-rnn-check> ${LOOM_CASES} "*.h5" --dtype float64)
  add_test(NAME rnn_check_generated_float32
    COMMAND bash ${LOOM_CHECK_SCRIPT} $<TARGET_FILE:loom-rnn-check> ${LOOM_CASES} "!long_*" --dtype float32)
  add_test(NAME rnn_check_generated_long_float32
    COMMAND bash ${LOOM_CHECK_SCRIPT} $<TARGET_FILE:loom-rnn-check> ${LOOM_CASES} "long_*.h5"
            --dtype float32 --rtol 1e-4 --atol 1e-4)
  set_tests_properties(rnn_check_generated_float64 rnn_check_generated_float32
    rnn_check_generated_long_float32 PROPERTIES FIXTURES_REQUIRED rnn_cases SKIP_RETURN_CODE 77)
  foreach(dtype float64 float32)
    add_test(NAME rnn_check_shared_${dtype}
      COMMAND bash ${LOOM_CHECK_SCRIPT} $<TARGET_FILE:loom-rnn-check> ${PROJECT_SOURCE_DIR}/../shared/fixtures
              "*.h5" --dtype ${dtype})
    set_tests_properties(rnn_check_shared_${dtype} PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
  # The research-variant cases (rnn-variant-case/1, docs/variant-cases.md)
  # through nn::LSTM/GRU's variant options. float32: atol x max(1, max|expected|)
  # per quantity (--scale-atol, stated): weight gradients with cancellation
  # (worst seen: grad/params/weight_hh_l0_reverse of
  # lstm_ln_l2_bi_packed_nobias_train, 1.36e-4 in a tensor whose largest element is 67).
  add_test(NAME rnn_check_variants_float64
    COMMAND bash ${LOOM_CHECK_SCRIPT} $<TARGET_FILE:loom-rnn-check> ${PROJECT_SOURCE_DIR}/tests/data/variants
            "*.h5" --dtype float64)
  add_test(NAME rnn_check_variants_float32
    COMMAND bash ${LOOM_CHECK_SCRIPT} $<TARGET_FILE:loom-rnn-check> ${PROJECT_SOURCE_DIR}/tests/data/variants
            "*.h5" --dtype float32 --scale-atol)
  set_tests_properties(rnn_check_variants_float64 rnn_check_variants_float32 PROPERTIES SKIP_RETURN_CODE 77)
  # The checker must refuse a file that is not a reference case (exit 2).
  add_test(NAME rnn_check_rejects_foreign_file
    COMMAND $<TARGET_FILE:loom-rnn-check> ${CMAKE_CURRENT_SOURCE_DIR}/CMakeLists.txt)
  set_tests_properties(rnn_check_rejects_foreign_file PROPERTIES WILL_FAIL TRUE)
endif()
