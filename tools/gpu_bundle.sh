#!/usr/bin/env bash
# tools/gpu_bundle.sh: builds loom here for the lent H100/H200 machine and runs
# its CUDA checks there (docs/gpu_session.md has the exact `run` calls).
#
# Here (no GPU needed), from the repository root:
#   tools/gpu_bundle.sh build    configure and build build-gpu/ (Release, CUDA
#                                on, sm_90), stage the programs with the shared
#                                libraries they need, the PyTorch reference
#                                cases and ../shared, and pack it all into
#                                build-gpu/loom-gpu.tar.xz (the one path to carry)
#   tools/gpu_bundle.sh verify   unpack that archive into a scratch folder and
#                                check it: with the system's copies of every
#                                bundled library hidden (a private mount
#                                namespace), ldd finds each one in the bundle,
#                                and loom_tests runs from it (CPU tests pass,
#                                CUDA tests skip)
#   (no argument: build, then verify)
#
# There (inside a `run` command, with build-gpu/loom-gpu.tar.xz carried):
#   bash tools/gpu_bundle.sh remote STEP...   STEP: tests (all of loom_tests;
#                                tests=FILTER: only that gtest filter),
#                                rnn (loom-rnn-check --device cuda, float64 and
#                                float32; bfloat16 and float16 on the
#                                rnn_half_cases), rnn-persistent (the same with
#                                LOOM_RNN_ALGORITHM=persistent: issue 12's
#                                kernels forced), memcheck, racecheck, initcheck,
#                                synccheck (compute-sanitizer over the tool's
#                                filter in tests/sanitizer_filters.txt, through
#                                tests/run_compute_sanitizer.sh; TOOL=FILTER for
#                                another filter), bench (bench/compare.py --device
#                                cuda --precision all: the suite in fp32, tf32,
#                                bf16 and fp16, one table each, 1 round per row:
#                                about 4 minutes on an H200), bench-graphs (fp32
#                                with --cuda-graphs 1), bench-tf32 (--precision
#                                tf32 alone), bench-half (the bf16 and fp16 module
#                                rows of bench/suite_half.json), bench-persistent
#                                (issue 12's rows of bench/suite_persistent.json,
#                                --precision all, loom-bench --algo persistent),
#                                barrier-bench (loom-barrier-bench: microseconds
#                                per grid.sync() and per flag barrier, one block
#                                per SM, as JSON in $OUT/barrier_bench.json),
#                                bench-layernorm (issue 13: the LayerNorm-LSTM/GRU
#                                rows of bench/suite_layernorm.json, loom's fused
#                                layer against bench/torch_layer_norm_rnn.py);
#                                LOOM_BENCH_ARGS,
#                                e.g. "--rounds 2" or "--precision fp16", is added
#                                last to all of them. Each step
#                                has a time limit and logs to $OUT/<step>.log;
#                                the run exits non-zero when any step failed.
#                                All steps together stay within
#                                LOOM_REMOTE_BUDGET seconds (default 570, under
#                                the run tool's 600 s): a step gets min(its
#                                limit, what is left), and one left with under
#                                20 s is not started (and counts as failed).
#
# The GPU machine has nvcc, cuBLAS, compute-sanitizer and python3 with torch
# and h5py, but no HDF5, fmt, OpenBLAS or GoogleTest and no network. So:
#   HDF5        linked statically (libhdf5.a; its ROS3/curl code is never pulled in)
#   GoogleTest  static already (Debian ships only libgtest.a)
#   fmt, OpenBLAS (+ libgfortran, libquadmath), libsz, libaec, libz, libcudart
#               copied into lib/, found through the programs' DT_RPATH
#               $ORIGIN/../lib
#   cuBLAS, cuBLASLt, libcuda   NOT bundled (about 600 MB): taken from the GPU
#               machine (`remote` finds libcublas.so.13 there and links it and
#               libcublasLt.so.13 into lib/). LD_LIBRARY_PATH is left alone, so
#               PyTorch in bench/compare.py loads its own CUDA libraries.
# libcudart is the shared one because CMakeLists.txt links CUDA::cudart
# explicitly (CMAKE_CUDA_RUNTIME_LIBRARY=Static alone does not make it static).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LOOM_GPU_BUILD_DIR:-$ROOT/build-gpu}"
ARCHIVE="$BUILD/loom-gpu.tar.xz"
PROGRAMS=(loom_tests loom-rnn-check loom-bench char-lstm loom-barrier-bench)
# compute-sanitizer runs: tests/run_compute_sanitizer.sh with the filters of
# tests/sanitizer_filters.txt (the same as the ctest entries sanitizer_<tool>).
SANITIZER_RUNNER="$ROOT/tests/run_compute_sanitizer.sh"
# Libraries that are part of every Linux system, or of the GPU machine's driver
# and CUDA installation: never bundled.
SYSTEM_LIBS='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libcuda|libcublas|libcublasLt|libnvidia-.*)\.so'

die() { echo "gpu_bundle: $*" >&2; exit 1; }

find_nvcc() {
  if command -v nvcc > /dev/null 2>&1; then command -v nvcc
  elif [ -x /usr/local/cuda/bin/nvcc ]; then echo /usr/local/cuda/bin/nvcc
  else die "no nvcc on PATH or at /usr/local/cuda/bin/nvcc"; fi
}

# ---- here: build ----------------------------------------------------------------
do_build() {
  local nvcc
  nvcc="$(find_nvcc)" || exit 1
  # A cache from another configuration keeps HDF5's shared library: start clean.
  if [ -f "$BUILD/CMakeCache.txt" ] && ! grep -q '^HDF5_USE_STATIC_LIBRARIES:BOOL=ON' "$BUILD/CMakeCache.txt"; then
    rm -f "$BUILD/CMakeCache.txt"
  fi
  # '$ORIGIN' is literal: CMake escapes it for the linker.
  cmake -S "$ROOT" -B "$BUILD" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DLOOM_WITH_CUDA=ON \
    -DCMAKE_CUDA_COMPILER="$nvcc" \
    -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DHDF5_USE_STATIC_LIBRARIES=ON \
    -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON \
    '-DCMAKE_INSTALL_RPATH=$ORIGIN/../lib' \
    -DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags \
    || die "cmake configure failed"
  grep -q 'hdf5/serial/libhdf5.a' "$BUILD/build.ninja" || die "HDF5 is not linked statically (see $BUILD/CMakeCache.txt)"
  ninja -C "$BUILD" -j "${LOOM_GPU_JOBS:-2}" "${PROGRAMS[@]}" || die "build failed"

  local stage="$BUILD/stage"
  rm -rf "$stage"
  mkdir -p "$stage/bin" "$stage/lib"
  local p lib path name
  for p in "${PROGRAMS[@]}"; do
    cp "$BUILD/bin/$p" "$stage/bin/$p"
    strip --strip-unneeded "$stage/bin/$p"
  done
  # Every non-system library ldd resolves (directly or through another library).
  for p in "${PROGRAMS[@]}"; do
    while read -r name path; do
      [[ "$name" =~ $SYSTEM_LIBS ]] && continue
      [ -f "$stage/lib/$name" ] && continue
      [ -n "$path" ] && [ -f "$path" ] || die "$p: ldd cannot resolve $name"
      cp -L "$path" "$stage/lib/$name"
      chmod 644 "$stage/lib/$name"
    done < <(ldd "$BUILD/bin/$p" | awk '$2 == "=>" { print $1, ($3 == "not" ? "" : $3) }')
  done
  # PyTorch reference cases, made here by /usr/bin/python3 (torch 1.13, the
  # project's oracle); the GPU machine's python3 has torch 2.11 and h5py too,
  # so `remote rnn` regenerates them there only if these are missing.
  if /usr/bin/python3 -c 'import torch, h5py' 2> /dev/null; then
    /usr/bin/python3 "$ROOT/tests/fixtures/make_rnn_cases.py" "$BUILD/rnn_cases" --clean \
      --jobs "${LOOM_GPU_JOBS:-2}" || die "make_rnn_cases.py failed"
    cp -r "$BUILD/rnn_cases" "$stage/rnn_cases"
    /usr/bin/python3 "$ROOT/tests/fixtures/make_rnn_half_cases.py" "$BUILD/rnn_half_cases" --clean \
      || die "make_rnn_half_cases.py failed"
    cp -r "$BUILD/rnn_half_cases" "$stage/rnn_half_cases"
  else
    echo "gpu_bundle: /usr/bin/python3 lacks torch or h5py: no reference cases in the bundle"
  fi
  # ../shared (FIXTURES.md samples used by loom_tests and the shared rnn cases).
  if [ -d "$ROOT/../shared" ]; then
    mkdir -p "$stage/shared"
    cp -r "$ROOT/../shared/." "$stage/shared/"
    rm -rf "$stage/shared/hooks"
  fi
  # Where the programs were built: LOOM_SOURCE_DIR is compiled into loom_tests
  # and char-lstm; `remote` links this path to the checkout there.
  echo "$ROOT" > "$stage/SOURCE_DIR"
  { git -C "$ROOT" rev-parse HEAD 2> /dev/null || echo unknown
    [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2> /dev/null)" ] \
      && echo "(built from a tree with uncommitted changes)"; } | paste -sd ' ' > "$stage/COMMIT"
  tar -C "$stage" -cJf "$ARCHIVE" . || die "tar failed"
  echo "gpu_bundle: staged:"
  du -sh "$stage"/* | sed 's/^/  /'
  echo "gpu_bundle: $ARCHIVE is $(du -h "$ARCHIVE" | cut -f1) (carry build-gpu/loom-gpu.tar.xz)"
}

# ---- here: verify ---------------------------------------------------------------
do_verify() {
  [ -f "$ARCHIVE" ] || die "no $ARCHIVE: run tools/gpu_bundle.sh build"
  local dir
  dir="$(mktemp -d /tmp/loom-gpu-verify.XXXXXX)"
  tar -C "$dir" -xJf "$ARCHIVE" || die "cannot unpack $ARCHIVE"
  # The system's files behind every bundled library (and their soname links).
  local hide=() f real
  for f in "$dir"/lib/*; do
    for real in /usr/lib/x86_64-linux-gnu/$(basename "$f")* /lib/x86_64-linux-gnu/$(basename "$f")* \
                /usr/lib/x86_64-linux-gnu/*/$(basename "$f")* /usr/local/cuda/lib*/$(basename "$f")* \
                /usr/local/cuda/targets/x86_64-linux/lib/$(basename "$f")* /usr/local/lib/$(basename "$f")*; do
      [ -e "$real" ] && hide+=("$(readlink -f "$real")")
    done
  done
  for real in /usr/lib/x86_64-linux-gnu/libhdf5* /usr/lib/x86_64-linux-gnu/hdf5/serial/libhdf5* \
              /usr/lib/x86_64-linux-gnu/libfmt* /usr/lib/x86_64-linux-gnu/openblas-pthread/lib*; do
    [ -e "$real" ] && hide+=("$(readlink -f "$real")")
  done
  mapfile -t hide < <(printf '%s\n' "${hide[@]}" | sort -u)
  echo "gpu_bundle verify: hiding ${#hide[@]} system files in a private mount namespace"
  # Inside the namespace each hidden file reads as empty: a program that tried
  # the system's copy would fail to start ("file too short").
  # LOOM_SOURCE_DIR must exist for loom_tests' data files: it does here.
  cat > "$dir/check.sh" << 'EOF'
set -uo pipefail
dir=$1 control=$2; shift 2
for f in "$@"; do mount --bind /dev/null "$f" || { echo "cannot hide $f"; exit 1; }; done
bad=0
# Control: the unbundled build (its $ORIGIN/../lib does not exist) must fail
# to start here, or the hiding hides nothing.
if env -u LD_LIBRARY_PATH "$control" --help > /dev/null 2>&1; then
  echo "FAIL: control $control started with the system libraries hidden"; exit 1
fi
echo "control: $control does not start with the system copies hidden:"
env -u LD_LIBRARY_PATH "$control" --help 2>&1 | head -n 1 | sed 's/^/  /'
for p in "$dir"/bin/*; do
  out="$(env -u LD_LIBRARY_PATH ldd "$p")"
  echo "== ldd $(basename "$p")"
  printf '%s\n' "$out" | sed 's/ (0x[0-9a-f]*)//; s/^/  /'
  if printf '%s\n' "$out" | grep -q 'not found'; then echo "FAIL: unresolved library"; bad=1; fi
  # Every non-system library must come from the bundle.
  if printf '%s\n' "$out" | awk '$2 == "=>" { print $1, $3 }' \
       | grep -Ev '^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libcuda|libcublas|libcublasLt)\.so' \
       | grep -v " $dir/bin/../lib/"; then
    echo "FAIL: the libraries above do not come from the bundle"; bad=1
  fi
done
[ "$bad" = 0 ] || exit 1
echo "== LD_DEBUG=libs: where loom-rnn-check --help takes libopenblas, libfmt, libcudart from"
env -u LD_LIBRARY_PATH LD_DEBUG=libs "$dir/bin/loom-rnn-check" --help 2>&1 \
  | grep -E 'calling init: .*(openblas|fmt|cudart|gfortran)' | sed 's/^ *[0-9]*: *//'
echo "== loom_tests from the bundle (CPU; CUDA tests skip here)"
env -u LD_LIBRARY_PATH "$dir/bin/loom_tests" --gtest_brief=1 2>&1 | tail -n 25
rc=${PIPESTATUS[0]}
echo "loom_tests exit code: $rc"
exit "$rc"
EOF
  unshare -m bash "$dir/check.sh" "$dir" "$BUILD/bin/loom-rnn-check" "${hide[@]}" < /dev/null
  local rc=$?
  rm -rf "$dir"
  [ "$rc" = 0 ] && echo "gpu_bundle verify: OK" || echo "gpu_bundle verify: FAILED ($rc)"
  return "$rc"
}

# ---- there: run the checks -------------------------------------------------------
remote_setup() {
  OUT="${OUT:-/tmp/loom-gpu-out}"
  mkdir -p "$OUT"
  [ -f "$BUILD/CMakeCache.txt" ] && die "remote: $BUILD is a build folder: run remote on the GPU machine"
  # Always unpack: a warm machine may hold an older bundle.
  [ -f "$ARCHIVE" ] || die "no $ARCHIVE here: name build-gpu/loom-gpu.tar.xz in carry"
  rm -rf "$BUILD/bin" "$BUILD/lib" "$BUILD/rnn_cases" "$BUILD/rnn_half_cases" "$BUILD/shared"
  tar -C "$BUILD" -xJf "$ARCHIVE" 2> /dev/null \
    || python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$ARCHIVE" "$BUILD" \
    || die "cannot unpack $ARCHIVE"
  # loom_tests and char-lstm read data under the source path they were built
  # in; ../shared beside it holds the FIXTURES.md samples.
  local src
  src="$(cat "$BUILD/SOURCE_DIR")"
  if [ "$src" != "$ROOT" ]; then
    if [ -e "$src" ]; then
      echo "gpu_bundle: warning: $src exists here and is not this checkout: tests read data from it"
    else
      mkdir -p "$(dirname "$src")" && ln -s "$ROOT" "$src"
    fi
  fi
  if [ -d "$BUILD/shared" ] && [ ! -e "$(dirname "$src")/shared" ]; then
    ln -s "$BUILD/shared" "$(dirname "$src")/shared"
  fi
  # cuBLAS (not bundled): the CUDA toolkit's, else the one PyTorch's wheels carry.
  local cublas
  cublas="$(ldconfig -p 2> /dev/null | awk '/libcublas\.so\.13 / { print $NF; exit }')"
  if [ -z "$cublas" ]; then
    for f in /usr/local/cuda/lib64/libcublas.so.13 /usr/local/cuda/lib/libcublas.so.13 \
             /usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.13 /usr/local/cuda-13*/lib64/libcublas.so.13; do
      [ -e "$f" ] && { cublas="$f"; break; }
    done
  fi
  if [ -z "$cublas" ]; then
    cublas="$(find /usr /opt -name libcublas.so.13 2> /dev/null | head -n 1)"
  fi
  [ -n "$cublas" ] || die "libcublas.so.13 not found on this machine"
  cublas="$(readlink -f "$cublas")"
  [ -e "$(dirname "$cublas")/libcublasLt.so.13" ] || die "no libcublasLt.so.13 beside $cublas"
  ln -sfn "$cublas" "$BUILD/lib/libcublas.so.13"
  ln -sfn "$(readlink -f "$(dirname "$cublas")/libcublasLt.so.13")" "$BUILD/lib/libcublasLt.so.13"
  # Needs glibc >= 2.34 and GLIBCXX_3.4.29 (GCC 11's libstdc++) or newer.
  if ldd "$BUILD"/bin/* 2>&1 | grep 'not found'; then die "unresolved libraries or symbol versions (above)"; fi
}

# run_step NAME SECONDS COMMAND...: runs COMMAND with a time limit (cut to what
# is left of LOOM_REMOTE_BUDGET), its output to the terminal and $OUT/NAME.log.
FAILED=()
BUDGET="${LOOM_REMOTE_BUDGET:-570}"
run_step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - SECONDS))
  if [ "$left" -lt 20 ]; then
    echo "===== $name: NOT RUN: ${left}s left of LOOM_REMOTE_BUDGET=${BUDGET}s" | tee -a "$OUT/$name.log"
    FAILED+=("$name(not run)")
    return
  fi
  [ "$limit" -gt $((left - 10)) ] && limit=$((left - 10))
  echo "===== $name ($(date -u +%H:%M:%S) UTC, limit ${limit}s): $*" | tee -a "$OUT/$name.log"
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "===== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$OUT/$name.log"
  [ "$rc" = 0 ] || FAILED+=("$name($rc)")
}

# The steps below run as `bash tools/gpu_bundle.sh _STEP ...` so that timeout
# can stop them; remote_setup has exported what they need.
step_rnn() {
  local cases="$BUILD/rnn_cases" rc=0 dtype
  if [ ! -d "$cases" ]; then
    echo "no carried cases: generating them with $(command -v python3)"
    python3 "$ROOT/tests/fixtures/make_rnn_cases.py" "$cases" --jobs 16 || return 1
  fi
  local check=(bash "$ROOT/tests/run_rnn_check.sh" "$BUILD/bin/loom-rnn-check")
  # The tolerances of tests/rnn_check.cmake (FIXTURES.md's; long float32 cases 1e-4).
  "${check[@]}" "$cases" "*.h5" --device cuda --dtype float64 || rc=1
  "${check[@]}" "$cases" '!long_*' --device cuda --dtype float32 || rc=1
  "${check[@]}" "$cases" "long_*.h5" --device cuda --dtype float32 --rtol 1e-4 --atol 1e-4 || rc=1
  # bfloat16/float16 on the bf16-exact cases (tests/rnn_half_check.cmake): all
  # must pass with the default 2u*T*num_layers tolerance; every wrong/ case must fail.
  local half="$BUILD/rnn_half_cases"
  if [ ! -d "$half" ]; then
    echo "no carried bf16/fp16 cases: generating them with $(command -v python3)"
    python3 "$ROOT/tests/fixtures/make_rnn_half_cases.py" "$half" || rc=1
  fi
  for dtype in bfloat16 float16; do
    "${check[@]}" "$half" "*.h5" --device cuda --dtype "$dtype" || rc=1
    bash "$ROOT/tests/run_rnn_check_must_fail.sh" "$BUILD/bin/loom-rnn-check" "$half/wrong" \
      --device cuda --dtype "$dtype" || rc=1
  done
  if [ -d "$BUILD/shared/fixtures" ]; then
    for dtype in float64 float32; do
      "${check[@]}" "$BUILD/shared/fixtures" "*.h5" --device cuda --dtype "$dtype" || rc=1
    done
  else
    echo "no ../shared/fixtures in the bundle: the shared samples were not checked"
  fi
  return "$rc"
}

do_remote() {
  [ $# -gt 0 ] || die "remote: name the steps (tests rnn rnn-persistent memcheck racecheck initcheck synccheck bench bench-graphs bench-tf32 bench-half bench-persistent barrier-bench bench-layernorm)"
  remote_setup
  {
    echo "bundle of commit $(cat "$BUILD/COMMIT" 2> /dev/null), built in $(cat "$BUILD/SOURCE_DIR")"
    echo "checkout here: $ROOT; cuBLAS: $(readlink "$BUILD/lib/libcublas.so.13")"
    echo "remote steps: $*; time budget ${BUDGET}s"
  } | tee "$OUT/machine.log"
  run_step machine 30 nvidia-smi
  local step
  for step in "$@"; do
    case "$step" in
      tests)
        run_step tests "${LOOM_TESTS_LIMIT:-300}" "$BUILD/bin/loom_tests" --gtest_output=xml:"$OUT/loom_tests.xml"
        echo "CUDA tests that skipped: $(grep -c 'no CUDA device' "$OUT/tests.log")" | tee -a "$OUT/tests.log" ;;
      tests=*)
        run_step tests "${LOOM_TESTS_LIMIT:-300}" "$BUILD/bin/loom_tests" --gtest_filter="${step#*=}" \
          --gtest_output=xml:"$OUT/loom_tests.xml"
        echo "CUDA tests that skipped: $(grep -c 'no CUDA device' "$OUT/tests.log")" | tee -a "$OUT/tests.log" ;;
      rnn) run_step rnn "${LOOM_RNN_LIMIT:-240}" bash "$ROOT/tools/gpu_bundle.sh" _rnn ;;
      rnn-persistent)
        run_step rnn-persistent "${LOOM_RNN_LIMIT:-240}" env LOOM_RNN_ALGORITHM=persistent \
          bash "$ROOT/tools/gpu_bundle.sh" _rnn ;;
      memcheck|racecheck|initcheck|synccheck)
        run_step "$step" "${LOOM_SANITIZER_LIMIT:-180}" bash "$SANITIZER_RUNNER" "$step" "$BUILD/bin/loom_tests" ;;
      memcheck=*|racecheck=*|initcheck=*|synccheck=*)
        run_step "${step%%=*}" "${LOOM_SANITIZER_LIMIT:-180}" bash "$SANITIZER_RUNNER" "${step%%=*}" \
          "$BUILD/bin/loom_tests" "${step#*=}" ;;
      bench)
        run_step bench "${LOOM_BENCH_LIMIT:-540}" env PYTHONUNBUFFERED=1 python3 "$ROOT/bench/compare.py" \
          --loom-bench "$BUILD/bin/loom-bench" --device cuda --out-dir "$OUT/bench" --precision all \
          ${LOOM_BENCH_ARGS:-} ;;
      bench-graphs)
        run_step bench-graphs "${LOOM_BENCH_LIMIT:-540}" env PYTHONUNBUFFERED=1 python3 "$ROOT/bench/compare.py" \
          --loom-bench "$BUILD/bin/loom-bench" --device cuda --out-dir "$OUT/bench-graphs" \
          --loom-arg=--cuda-graphs --loom-arg=1 ${LOOM_BENCH_ARGS:-} ;;
      bench-tf32)
        run_step bench-tf32 "${LOOM_BENCH_LIMIT:-540}" env PYTHONUNBUFFERED=1 python3 "$ROOT/bench/compare.py" \
          --loom-bench "$BUILD/bin/loom-bench" --device cuda --out-dir "$OUT/bench-tf32" --precision tf32 \
          ${LOOM_BENCH_ARGS:-} ;;
      bench-half)
        run_step bench-half "${LOOM_BENCH_LIMIT:-540}" env PYTHONUNBUFFERED=1 python3 "$ROOT/bench/compare.py" \
          --loom-bench "$BUILD/bin/loom-bench" --device cuda --out-dir "$OUT/bench-half" \
          --suite "$ROOT/bench/suite_half.json" ${LOOM_BENCH_ARGS:-} ;;
      bench-persistent)
        run_step bench-persistent "${LOOM_BENCH_LIMIT:-540}" env PYTHONUNBUFFERED=1 python3 "$ROOT/bench/compare.py" \
          --loom-bench "$BUILD/bin/loom-bench" --device cuda --out-dir "$OUT/bench-persistent" \
          --suite "$ROOT/bench/suite_persistent.json" --precision all \
          --loom-arg=--algo --loom-arg=persistent ${LOOM_BENCH_ARGS:-} ;;
      bench-layernorm)
        run_step bench-layernorm "${LOOM_BENCH_LIMIT:-540}" env PYTHONUNBUFFERED=1 python3 "$ROOT/bench/compare.py" \
          --loom-bench "$BUILD/bin/loom-bench" --device cuda --out-dir "$OUT/bench-layernorm" \
          --suite "$ROOT/bench/suite_layernorm.json" ${LOOM_BENCH_ARGS:-} ;;
      barrier-bench)
        run_step barrier-bench "${LOOM_BARRIER_LIMIT:-120}" "$BUILD/bin/loom-barrier-bench" \
          --out "$OUT/barrier_bench.json" ;;
      *) die "remote: unknown step $step" ;;
    esac
  done
  if [ ${#FAILED[@]} -gt 0 ]; then
    echo "gpu_bundle remote: FAILED: ${FAILED[*]}"
    exit 1
  fi
  echo "gpu_bundle remote: all steps passed: $*"
}

case "${1:-all}" in
  build) do_build ;;
  verify) do_verify ;;
  all) do_build && do_verify ;;
  remote) shift; do_remote "$@" ;;
  _rnn) step_rnn ;;
  *) die "usage: tools/gpu_bundle.sh [build|verify|remote STEP...]" ;;
esac
