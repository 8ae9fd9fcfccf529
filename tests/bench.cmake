# Benchmark smoke tests (not measurements; the compare.py ones cost mostly
# PyTorch process starts: 2 and 8 of them, 56 s and 149 s on the loaded
# 2-core machine of 2026-11-30 under ctest -j2):
#  - bench_loom_smoke: loom-bench on a tiny packed bidirectional LSTM training
#    step prints one JSON line with every field (bench/check_bench_json.cmake).
#  - bench_compare_smoke: bench/compare.py runs bench/smoke_suite.json on loom
#    and PyTorch and both sides report the same workload (T, packed rows from
#    the shared splitmix64 length draw); skipped (77) without torch.
#  - bench_compare_smoke_all: --precision all: four tables (fp32, tf32, bf16,
#    fp16) with every smoke row, each labelled with its precision, and each
#    side's JSON saying it ran the asked dtype/autocast/output dtype/TF32
#    setting (bench/check_precision_results.py; TF32 on both sides in the tf32
#    table, which on the CPU computes nothing differently and says so);
#    on the CPU PyTorch 1.13 cannot run fp16 autocast: those rows must say so
#    and show loom alone (n/a), the float64 row runs on both.
#  - bench_compare_smoke_layernorm: compare.py on bench/smoke_suite_layernorm.json:
#    loom-bench --layer-norm 1 (the fused LayerNorm-LSTM/GRU) against
#    bench/torch_layer_norm_rnn.py (the layer composed step by step in PyTorch);
#    both sides report the same workload.
# A ctest entry `name`: bench/compare.py on bench/`suite` with the first of
# /usr/bin/python3 and python3 that imports torch (skipped, 77, without one),
# `extra` added to its arguments, its tables written to the build dir's
# `name` folder; then the shell command `then` (may use $py; empty: none).
# Fails on compare.py's notes of different workloads or precisions.
function(loom_bench_compare_test name suite timeout extra then)
  add_test(NAME ${name}
    COMMAND bash -c "for py in /usr/bin/python3 python3; do
        if \"$py\" -c 'import torch' 2>/dev/null; then
          \"$py\" '${PROJECT_SOURCE_DIR}/bench/compare.py' --loom-bench '$<TARGET_FILE:loom-bench>' \
            --torch-python \"$(command -v $py)\" --suite '${PROJECT_SOURCE_DIR}/bench/${suite}' \
            --out-dir '${PROJECT_BINARY_DIR}/${name}' ${extra} || exit 1
          ${then}
          exit 0
        fi
      done
      echo 'skipped: no python3 with torch'; exit 77")
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT ${timeout}
    FAIL_REGULAR_EXPRESSION "different workloads;different precisions;failed:")
endfunction()

if(TARGET loom-bench)
  add_test(NAME bench_loom_smoke
    COMMAND ${CMAKE_COMMAND} -DBENCH=$<TARGET_FILE:loom-bench> -P ${PROJECT_SOURCE_DIR}/bench/check_bench_json.cmake)
  set_tests_properties(bench_loom_smoke PROPERTIES TIMEOUT 60)
  loom_bench_compare_test(bench_compare_smoke smoke_suite.json 120 "" "")
  loom_bench_compare_test(bench_compare_smoke_all smoke_suite.json 600 "--precision all"
    "\"$py\" '${PROJECT_SOURCE_DIR}/bench/check_precision_results.py' '${PROJECT_BINARY_DIR}/bench_compare_smoke_all' '${PROJECT_SOURCE_DIR}/bench/smoke_suite.json' || exit 1")
  loom_bench_compare_test(bench_compare_smoke_layernorm smoke_suite_layernorm.json 120 "" "")
endif()
