# cmake -DBENCH=path/to/loom-bench -P check_bench_json.cmake
#
# The loom-bench smoke test (tests/bench.cmake): runs one tiny configuration
# (2-layer bidirectional LSTM, packed lengths in [2, 6], training step) and
# checks that stdout is one JSON line with every field, consistent values
# (the echoed configuration, T and rows within the length range, min <= median,
# one time per repeat, peak memory a number on CUDA and null on the CPU,
# cpu_median_ms a number on the CPU and null on CUDA);
# autocast null and output_dtype float32 without --autocast, both the asked
# 16-bit type with --autocast float16|bfloat16; then that bad usage (an
# unknown --autocast, --autocast with --dtype float64) exits 2 with the reason;
# algo / persistent_barrier echoed (default auto / grid-sync, and as asked),
# rnn_path null on the CPU, and unknown --algo / --persistent-barrier exit 2;
# layer_norm echoed (false by default, true with --layer-norm 1), refused for RNN.
cmake_minimum_required(VERSION 3.24)
if(NOT BENCH)
  message(FATAL_ERROR "pass -DBENCH=path/to/loom-bench")
endif()

unset(ENV{LOOM_FLOAT32_MATMUL_PRECISION})  # the default, "highest", is checked below
execute_process(
  COMMAND ${BENCH} --mode lstm --N 3 --C 5 --H 4 --layers 2 --bidirectional 1 --lengths 2:6
          --seed 7 --step train --warmup 1 --repeats 3
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "loom-bench exited ${rc}: ${err}")
endif()
string(FIND "${out}" "\n" newline)
if(NOT newline EQUAL -1)
  message(FATAL_ERROR "expected exactly one line on stdout, got:\n${out}")
endif()
message(STATUS "loom-bench printed: ${out}")

function(expect_field key expected)
  string(JSON value ERROR_VARIABLE e GET "${out}" ${key})
  if(e)
    message(FATAL_ERROR "field '${key}': ${e}")
  endif()
  if(NOT "${value}" STREQUAL "${expected}")
    message(FATAL_ERROR "field '${key}': expected '${expected}', got '${value}'")
  endif()
endfunction()
function(get_field key var)
  string(JSON value ERROR_VARIABLE e GET "${out}" ${key})
  if(e)
    message(FATAL_ERROR "field '${key}': ${e}")
  endif()
  set(${var} "${value}" PARENT_SCOPE)
endfunction()

expect_field(impl loom)
expect_field(mode lstm)
expect_field(N 3)
expect_field(C 5)
expect_field(H 4)
expect_field(layers 2)
expect_field(bidirectional ON)
expect_field(proj_size 0)
expect_field(dtype float32)
expect_field(step train)
expect_field(seed 7)
expect_field(warmup 1)
expect_field(repeats 3)
expect_field(cuda_graphs OFF)
expect_field(matmul_precision highest)
expect_field(output_dtype float32)
expect_field(algo auto)
expect_field(persistent_barrier grid-sync)
expect_field(layer_norm OFF)
string(JSON device GET "${out}" device)
string(JSON path_type TYPE "${out}" rnn_path)
if(device STREQUAL "cpu" AND NOT path_type STREQUAL "NULL")
  message(FATAL_ERROR "rnn_path: expected null on the CPU, got ${path_type}")
endif()
if(device STREQUAL "cuda")  # packed input: the standard path, forward and backward
  expect_field(rnn_path "forward:standard backward:standard")
endif()
string(JSON autocast_type TYPE "${out}" autocast)
if(NOT autocast_type STREQUAL "NULL")
  message(FATAL_ERROR "autocast: expected null without --autocast, got ${autocast_type}")
endif()
string(JSON det_type TYPE "${out}" deterministic)
if(NOT det_type STREQUAL "BOOLEAN")
  message(FATAL_ERROR "deterministic: expected a boolean, got ${det_type}")
endif()
string(JSON lengths GET "${out}" lengths)
if(NOT lengths MATCHES "^\\[ *2 *, *6 *\\]$")
  message(FATAL_ERROR "lengths: expected [2, 6], got ${lengths}")
endif()

get_field(T T)
get_field(rows rows)
# The drawn lengths: 3 values in [2, 6] whose maximum is T and sum is rows.
string(JSON ndrawn LENGTH "${out}" lengths_drawn)
if(NOT ndrawn EQUAL 3)
  message(FATAL_ERROR "lengths_drawn has ${ndrawn} entries, expected N = 3")
endif()
set(longest 0)
set(total 0)
foreach(i RANGE 2)
  string(JSON l GET "${out}" lengths_drawn ${i})
  if(l LESS 2 OR l GREATER 6)
    message(FATAL_ERROR "drawn length ${l} outside [2, 6]")
  endif()
  if(l GREATER longest)
    set(longest ${l})
  endif()
  math(EXPR total "${total} + ${l}")
endforeach()
if(NOT longest EQUAL T OR NOT total EQUAL rows)
  message(FATAL_ERROR "T=${T} rows=${rows} but the drawn lengths give longest ${longest}, total ${total}")
endif()
if(T LESS 2 OR T GREATER 6 OR rows LESS 6 OR rows GREATER 18 OR rows LESS T)
  message(FATAL_ERROR "T=${T} rows=${rows} do not fit 3 lengths in [2, 6]")
endif()

get_field(median_ms median)
get_field(min_ms min)
if(NOT median GREATER 0 OR min GREATER median)
  message(FATAL_ERROR "timings: median ${median} ms, min ${min} ms")
endif()
string(JSON ntimes LENGTH "${out}" times_ms)
if(NOT ntimes EQUAL 3)
  message(FATAL_ERROR "times_ms has ${ntimes} entries, expected 3 (one per repeat)")
endif()
set(smallest "")
foreach(i RANGE 2)
  string(JSON t GET "${out}" times_ms ${i})
  if(smallest STREQUAL "" OR t LESS smallest)
    set(smallest ${t})
  endif()
endforeach()
if(NOT smallest EQUAL min)
  message(FATAL_ERROR "min_ms ${min} is not the smallest of times_ms (${smallest})")
endif()

get_field(device device)
get_field(timer timer)
string(JSON peak_type TYPE "${out}" peak_mem_bytes)
string(JSON cpu_type TYPE "${out}" cpu_median_ms)
string(JSON name_type TYPE "${out}" device_name)
string(JSON threads_type TYPE "${out}" threads)
if(device STREQUAL "cuda")
  if(NOT timer STREQUAL "cuda_event" OR NOT peak_type STREQUAL "NUMBER" OR NOT cpu_type STREQUAL "NULL")
    message(FATAL_ERROR "on CUDA expected timer cuda_event and a peak memory number, got ${timer}, ${peak_type}")
  endif()
elseif(device STREQUAL "cpu")
  if(NOT timer STREQUAL "steady_clock" OR NOT peak_type STREQUAL "NULL" OR NOT cpu_type STREQUAL "NUMBER")
    message(FATAL_ERROR "on the CPU expected timer steady_clock, peak_mem_bytes null and a cpu_median_ms "
                        "number, got ${timer}, ${peak_type}, ${cpu_type}")
  endif()
else()
  message(FATAL_ERROR "device: expected cpu or cuda, got ${device}")
endif()
if(NOT name_type STREQUAL "STRING" OR NOT threads_type MATCHES "^(NUMBER|NULL)$")
  message(FATAL_ERROR "device_name must be a string (${name_type}), threads a number or null (${threads_type})")
endif()

# Bad usage: exit 2 and the reason on stderr.
execute_process(COMMAND ${BENCH} --mode lstm --N 3 --C 5 --H 4 --T 0
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--T must be >= 1, got 0")
  message(FATAL_ERROR "bad --T: expected exit 2 and '--T must be >= 1, got 0', got ${rc}: ${err}")
endif()
execute_process(COMMAND ${BENCH} --mode lstm --N 3 --C 5 --H 4 --lengths 6:2
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--lengths expects LO <= HI, got 6:2")
  message(FATAL_ERROR "bad --lengths: expected exit 2 and the reason, got ${rc}: ${err}")
endif()
execute_process(COMMAND ${BENCH} --mode lstm --N 3 --C 5 --H 4 --T 2 --matmul-precision tf32
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--matmul-precision must be highest, high or medium, got tf32")
  message(FATAL_ERROR "bad --matmul-precision: expected exit 2 and the reason, got ${rc}: ${err}")
endif()
# The setting is echoed (on the CPU it changes no computation).
execute_process(COMMAND ${BENCH} --mode gru --N 2 --C 3 --H 4 --T 2 --warmup 0 --repeats 1
                        --matmul-precision high
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "loom-bench --matmul-precision high exited ${rc}: ${err}")
endif()
expect_field(matmul_precision high)
# --autocast: a float32 layer under loom::autocast; the output (and g) in the
# 16-bit type, both echoed.
foreach(type float16 bfloat16)
  execute_process(COMMAND ${BENCH} --mode lstm --N 3 --C 5 --H 4 --lengths 2:6 --warmup 0 --repeats 1
                          --autocast ${type}
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "loom-bench --autocast ${type} exited ${rc}: ${err}")
  endif()
  expect_field(autocast ${type})
  expect_field(output_dtype ${type})
  expect_field(dtype float32)
endforeach()
execute_process(COMMAND ${BENCH} --mode lstm --N 3 --C 5 --H 4 --T 2 --autocast half
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--autocast must be none, bfloat16 or float16, got half")
  message(FATAL_ERROR "bad --autocast: expected exit 2 and the reason, got ${rc}: ${err}")
endif()
execute_process(COMMAND ${BENCH} --mode lstm --N 3 --C 5 --H 4 --T 2 --autocast float16 --dtype float64
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--dtype must be float32, got float64")
  message(FATAL_ERROR "--autocast with --dtype float64: expected exit 2 and the reason, got ${rc}: ${err}")
endif()
# --algo / --persistent-barrier (kernels/rnn_persistent.h): echoed; unknown names exit 2.
execute_process(COMMAND ${BENCH} --mode gru --N 2 --C 3 --H 4 --T 3 --warmup 0 --repeats 1
                        --algo persistent --persistent-barrier flags
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "loom-bench --algo persistent exited ${rc}: ${err}")
endif()
expect_field(algo persistent)
expect_field(persistent_barrier flags)
execute_process(COMMAND ${BENCH} --mode lstm --N 3 --C 5 --H 4 --T 2 --algo fast
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "unknown recurrent algorithm 'fast': expected auto, standard or persistent")
  message(FATAL_ERROR "bad --algo: expected exit 2 and the reason, got ${rc}: ${err}")
endif()
execute_process(COMMAND ${BENCH} --mode lstm --N 3 --C 5 --H 4 --T 2 --persistent-barrier spin
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "unknown persistent barrier 'spin': expected grid-sync or flags")
  message(FATAL_ERROR "bad --persistent-barrier: expected exit 2 and the reason, got ${rc}: ${err}")
endif()
# --layer-norm 1 (the layer-norm LSTM/GRU of nn::RNNOptions::layer_norm): echoed; refused for RNN.
execute_process(COMMAND ${BENCH} --mode gru --N 2 --C 3 --H 4 --T 3 --warmup 0 --repeats 1 --layer-norm 1
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "loom-bench --layer-norm 1 exited ${rc}: ${err}")
endif()
expect_field(layer_norm ON)
execute_process(COMMAND ${BENCH} --mode rnn_tanh --N 3 --C 5 --H 4 --T 2 --layer-norm 1
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--layer-norm 1 is for lstm or gru without --proj-size")
  message(FATAL_ERROR "--layer-norm 1 with rnn_tanh: expected exit 2 and the reason, got ${rc}: ${err}")
endif()
message(STATUS "loom-bench smoke test passed")
