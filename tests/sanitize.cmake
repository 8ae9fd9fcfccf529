# compute-sanitizer over the CUDA tests (label "sanitizer"; `ctest -L sanitizer`):
#   sanitizer_memcheck    out-of-bounds and misaligned device accesses, bad
#                         CUDA API calls
#   sanitizer_racecheck   shared-memory data races (the recurrent column sums,
#                         CUB block reductions and radix sort, cuBLAS)
#   sanitizer_initcheck   device reads of global memory never written
#   sanitizer_synccheck   barriers misused (__syncthreads in divergent code)
# Each runs loom_tests under `compute-sanitizer --tool <tool> --error-exitcode 1`
# through tests/run_compute_sanitizer.sh with the tool's gtest filter from
# tests/sanitizer_filters.txt, and fails on any report, any failed test or a
# filter that selects no test. It is skipped (exit 77) when compute-sanitizer
# is not found (configure-time path, PATH, /usr/local/cuda/bin), when no GPU is
# present, or when the tests saw no CUDA device (a build without CUDA). No leak
# check: loom keeps its per-device streams, cuBLAS workspaces and cached blocks
# for the life of the process on purpose.
#
# What each tool runs (tests/sanitizer_filters.txt has the patterns, and per
# pattern the kernels/cuda/*.cu files it reaches):
#
#   file            memcheck, initcheck, synccheck           racecheck
#   elementwise.cu  OpsCuda.* (all), and everything below     OpsCuda.ComparisonsWhereMaskedFill,
#                                                             OpsCuda.CopiesConversionsAndFactories
#   reduce.cu       OpsCuda.Reductions, OptimCuda.ClipGrad... OpsCuda.Reductions
#   softmax.cu      OpsCuda.SoftmaxAndLogSoftmax, losses      OpsCuda.SoftmaxAndLogSoftmax
#   loss.cu         OpsCuda.NllLoss*, ...BitwiseRepeatable    OpsCuda.NllLossRejectsOutOfRangeTargets,
#                                                             OpsCuda.ReductionsAndLossesAreBitwiseRepeatable
#   embedding.cu    EmbeddingCuda.*, TrainingParity/Cuda      EmbeddingCuda.*
#   optim.cu        OptimCuda.*, DeterministicTrainingCuda    OptimCuda.AdamMatchesCpu
#   random.cu       RandomCuda.*, RandomOpsCuda.*             RandomCuda.{Uniform,Normal,DropoutMask}FloatMatchesCpu
#   gemm.cu         LinalgCuda.*, GemmCuda.* (K = 0 kernel),  LinalgCuda.MatmulBatchedTransposedAndVectorCases,
#                   every recurrent test                      GemmCuda.*
#   rnn.cu          OddShapes/RnnCuda.* (80), RnnCudaGraphs,  6 OddShapes/RnnCuda cases with T = 3 (every
#                   BidirectionalOverlapCuda, Deterministic-  mode, packed and uniform, H up to 129),
#                   TrainingCuda, PackedSequence, parity;     PackedSequence.CudaMatchesCpu
#                   memcheck also RnnGradcheckCuda.*
#
# Time on an H200 (the first GPU run, ../shared/gpu-runs/2026-11-30-h200):
# memcheck ran the 87 recurrent tests in 13 s and 34 other CUDA tests in 6 s;
# racecheck costs about 5-10 ms per kernel launch (OpsCuda.Reductions 3.9 s;
# RnnCudaGraphs, T = 129, 135 s; OpsCuda.* whole did not finish in 65 s), hence
# its short selection. Expected (estimates, not yet measured as selected here):
# memcheck under a minute, racecheck under a minute, initcheck and synccheck
# within a few times memcheck's time minus gradcheck. Each must finish within
# 180 s there (tools/gpu_bundle.sh gives each remote step 180 s); the ctest
# timeout is 300 s for slower GPUs.
#
# sanitizer_filters_check (no GPU needed, runs everywhere): every pattern of
# tests/sanitizer_filters.txt selects at least one test and every tool covers
# every kernels/cuda/*.cu file, so a renamed test or a new .cu file cannot
# silently drop out of the GPU runs.
find_program(LOOM_COMPUTE_SANITIZER compute-sanitizer
  HINTS ${CUDAToolkit_BIN_DIR} /usr/local/cuda/bin /opt/cuda/bin)
if(NOT LOOM_COMPUTE_SANITIZER)
  set(LOOM_COMPUTE_SANITIZER "")
endif()
set(LOOM_SANITIZER_RUNNER ${CMAKE_CURRENT_SOURCE_DIR}/run_compute_sanitizer.sh)
foreach(tool memcheck racecheck initcheck synccheck)
  add_test(NAME sanitizer_${tool}
    COMMAND bash ${LOOM_SANITIZER_RUNNER} ${tool} $<TARGET_FILE:loom_tests>)
  set_tests_properties(sanitizer_${tool} PROPERTIES
    LABELS sanitizer SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "LOOM_COMPUTE_SANITIZER=${LOOM_COMPUTE_SANITIZER};LOOM_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endforeach()
add_test(NAME sanitizer_filters_check
  COMMAND bash ${LOOM_SANITIZER_RUNNER} --check-filters $<TARGET_FILE:loom_tests>)
set_tests_properties(sanitizer_filters_check PROPERTIES TIMEOUT 120)
