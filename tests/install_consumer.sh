#!/usr/bin/env bash
# Installs the loom build tree $1 into a scratch prefix under $2 and builds and
# runs tests/consumer against it with find_package(loom), as a separate project
# that sets no C++ standard of its own:
#   - every file of the installed package is searched for absolute paths of
#     this machine (the package must name its dependencies, not their files);
#   - a CPU-only loom ($3 = OFF) is consumed with the CUDA toolkit hidden: in a
#     private mount namespace (unshare -rm) where an empty tmpfs covers every
#     /usr/local/cuda* and /opt/cuda* directory, or, where unprivileged
#     namespaces are refused, with those prefixes in CMAKE_IGNORE_PREFIX_PATH /
#     CMAKE_IGNORE_PATH (also forced by LOOM_CONSUMER_NO_UNSHARE=1); in both cases PATH has no nvcc and the CUDA variables
#     are unset, and the consumer checks that find_package(CUDAToolkit) fails;
#   - a CUDA loom ($3 = ON) is consumed with the toolkit present (it links
#     cudart and cuBLAS; no GPU is needed to build, link and run the CPU part).
# Also builds and runs every examples/from_libtorch/*.cc against the package.
# A sanitizer build of loom (LOOM_SANITIZE) exports -fsanitize as a link option
# of loom::loom, so its consumer links the runtimes by itself. Prints "consumer
# ok" last; "FAILED" on any failure.
set -euo pipefail
build_dir=$1 work=$2 loom_cuda=$3 source_dir=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build_dir" --prefix "$prefix" > /dev/null

# No file of the installed CMake package may name a path of this machine.
pkg=$(ls -d "$prefix"/lib*/cmake/loom)
# (an absolute path: "/" after a quote, ';', '(', '=', a blank or a line start;
# the files reach their own directory through ${_IMPORT_PREFIX} and
# ${CMAKE_CURRENT_LIST_DIR}), and no system library by file name.
if grep -nE '(^|["; (=])/[A-Za-z]|lib(pthread|curl|hdf5|openblas|blas|cudart|cublas|z|sz|dl|m)\.(a|so)' "$pkg"/*.cmake; then
  echo "FAILED: the installed package names files of the build machine (above)"
  exit 1
fi
grep -q 'cxx_std_20' "$pkg/loomTargets.cmake" || { echo "FAILED: loom::loom does not carry cxx_std_20"; exit 1; }

configure=(cmake -S "$source_dir/tests/consumer" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release
           "-DCMAKE_PREFIX_PATH=$prefix" "-DLOOM_CONSUMER_EXAMPLES=$source_dir/examples/from_libtorch"
           "-DLOOM_CONSUMER_EXPECT_CUDA=$loom_cuda")
run_all() {  # configure, build, run the consumer and every example
  "${configure[@]}" "$@" > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; return 1; }
  cmake --build "$work/build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; return 1; }
  for exe in "$work"/build/from_libtorch_*; do
    [ -e "$exe" ] || continue
    echo "== $(basename "$exe")"
    "$exe" > "$work/$(basename "$exe").out" 2>&1 || { cat "$work/$(basename "$exe").out"; echo "FAILED: $exe"; return 1; }
  done
  "$work/build/consumer"
}

if [ "$loom_cuda" = ON ]; then
  echo "consuming a CUDA build of loom with the CUDA toolkit present"
  run_all
  exit
fi

# CPU-only: hide the toolkit.
hidden=()
for d in /usr/local/cuda* /opt/cuda*; do
  [ -d "$d" ] && [ ! -L "$d" ] && hidden+=("$d")
done
clean_path=$(printf '%s' "$PATH" | tr ':' '\n' | while read -r p; do
  [ -n "$p" ] && [ ! -e "$p/nvcc" ] && printf '%s:' "$p"; done)
export PATH=${clean_path%:}
unset CUDA_PATH CUDA_HOME CUDAToolkit_ROOT CUDACXX CUDA_ROOT
export -f run_all
export work loom_cuda
if [ ${#hidden[@]} -eq 0 ]; then
  echo "consuming a CPU-only loom: no CUDA toolkit directory on this machine; PATH without nvcc"
  run_all
elif [ -z "${LOOM_CONSUMER_NO_UNSHARE:-}" ] && unshare -rm true 2> /dev/null; then
  echo "consuming a CPU-only loom with the CUDA toolkit hidden: mount namespace (unshare -rm), an empty tmpfs over ${hidden[*]}; PATH without nvcc"
  # The configure command travels as arguments (arrays do not export).
  HIDE="${hidden[*]}" unshare -rm bash -c 'set -euo pipefail
    for d in $HIDE; do mount -t tmpfs -o ro none "$d"; done
    configure=("$@"); run_all' _ "${configure[@]}" < /dev/null
else
  # Every directory FindCUDAToolkit looks in, under each toolkit prefix, and
  # every directory with an nvcc (e.g. a /usr/local/bin/nvcc wrapper).
  dirs=()
  for p in $(printf '%s' "$PATH" | tr ':' ' ') /usr/local/bin /usr/local/sbin /opt/bin; do
    [ -e "$p/nvcc" ] && dirs+=("$p")
  done
  for d in "${hidden[@]}" /usr/local/cuda /opt/cuda; do
    dirs+=("$d" "$d/bin" "$d/lib" "$d/lib64" "$d/include" "$d/nvvm/bin" "$d"/targets/*/lib "$d"/targets/*/include)
  done
  ignore=$(IFS=';'; echo "${dirs[*]}")
  echo "consuming a CPU-only loom with the CUDA toolkit hidden: CMAKE_IGNORE_PREFIX_PATH / CMAKE_IGNORE_PATH = $ignore (unshare refused); PATH without nvcc"
  run_all "-DCMAKE_IGNORE_PREFIX_PATH=$(IFS=';'; echo "${hidden[*]}")" "-DCMAKE_IGNORE_PATH=$ignore"
fi
