# Benchmark smoke tests (seconds each; not measurements):
#  - bench_loom_smoke: loom-bench on a tiny packed bidirectional LSTM training
#    step prints one JSON line with every field (bench/check_bench_json.cmake).
#  - bench_compare_smoke: bench/compare.py runs bench/smoke_suite.json on loom
#    and PyTorch and both sides report the same workload (T, packed rows from
#    the shared splitmix64 length draw); skipped (77) without torch.
#  - bench_compare_smoke_tf32: the same with --precision tf32: both sides are
#    given and echo TF32 on (on the CPU it computes nothing differently), and
#    the table is labelled tf32.
if(TARGET loom-bench)
  add_test(NAME bench_loom_smoke
    COMMAND ${CMAKE_COMMAND} -DBENCH=$<TARGET_FILE:loom-bench> -P ${PROJECT_SOURCE_DIR}/bench/check_bench_json.cmake)
  set_tests_properties(bench_loom_smoke PROPERTIES TIMEOUT 60)
  add_test(NAME bench_compare_smoke
    COMMAND bash -c "for py in /usr/bin/python3 python3; do
        if \"$py\" -c 'import torch' 2>/dev/null; then
          exec \"$py\" '${PROJECT_SOURCE_DIR}/bench/compare.py' --loom-bench '$<TARGET_FILE:loom-bench>' \
            --torch-python \"$(command -v $py)\" --suite '${PROJECT_SOURCE_DIR}/bench/smoke_suite.json' \
            --out-dir '${PROJECT_BINARY_DIR}/bench_smoke'
        fi
      done
      echo 'skipped: no python3 with torch'; exit 77")
  set_tests_properties(bench_compare_smoke PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120
    FAIL_REGULAR_EXPRESSION "different workloads;different precisions;failed:")
  add_test(NAME bench_compare_smoke_tf32
    COMMAND bash -c "for py in /usr/bin/python3 python3; do
        if \"$py\" -c 'import torch' 2>/dev/null; then
          \"$py\" '${PROJECT_SOURCE_DIR}/bench/compare.py' --loom-bench '$<TARGET_FILE:loom-bench>' \
            --torch-python \"$(command -v $py)\" --suite '${PROJECT_SOURCE_DIR}/bench/smoke_suite.json' \
            --out-dir '${PROJECT_BINARY_DIR}/bench_smoke_tf32' --precision tf32 || exit 1
          grep -q 'train tf32' '${PROJECT_BINARY_DIR}/bench_smoke_tf32/results.md' \
            && grep -q 'TF32 ON on both sides' '${PROJECT_BINARY_DIR}/bench_smoke_tf32/results.md' \
            || { echo 'results.md is not labelled tf32'; exit 1; }
          exit 0
        fi
      done
      echo 'skipped: no python3 with torch'; exit 77")
  set_tests_properties(bench_compare_smoke_tf32 PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120
    FAIL_REGULAR_EXPRESSION "different workloads;different precisions;failed:")
endif()
