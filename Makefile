# Two commands for a fresh Debian 12 machine:
#   make demo   install what is missing, build, run the main example
#   make test   install what is missing, build, run the whole test suite, then
#               the same tests again in an AddressSanitizer + UndefinedBehaviorSanitizer
#               build (test-sanitize; `make test-normal` is the first half alone)
#   make bench  build loom-bench, run the benchmark suite against PyTorch in fp32, tf32,
#               bf16 and fp16 (bench/compare.py --precision all)
# The build tree is build/; executables land in build/bin/ (build-asan/ for the
# sanitizer build).

BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
PACKAGES := cmake ninja-build g++ pkg-config libfmt-dev libhdf5-dev libgtest-dev libopenblas-dev python3-torch python3-h5py
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NVCC := $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))

# The sanitizer build (test-sanitize): gcc's ASan + UBSan, CPU only, -O1 -g1
# (half the compile time of -O2 -g; line numbers in reports), asserts on.
ASAN_BUILD_DIR ?= build-asan
SANITIZE ?= address,undefined
# What ctest runs there: everything but
#  - rnn_cases_generate, rnn_cases_selfcheck: PyTorch writing and re-deriving the
#    736 reference cases (minutes of CPU, no loom code). The rnn_check_generated_*
#    entries do run, on the normal build's cases ($(BUILD_DIR)/rnn_cases,
#    LOOM_RNN_CASES_DIR); they skip when those are absent (test-sanitize alone);
#  - label sanitizer: compute-sanitizer needs a GPU and a CUDA build;
#  - label poison: loom_tests again with every block poisoned (NaN-filled),
#    which finds reads before writes by their results; the normal build runs it.
# install_and_build_consumer does run here: this is the CPU-only build, so it is
# where the installed CPU-only package is consumed with the CUDA toolkit hidden
# (tests/install_consumer.sh; the package carries -fsanitize to the consumer's
# link). In $(BUILD_DIR) it consumes that build (the CUDA one where nvcc is found).
# The other PyTorch-driven entries (torch_hdf5_interchange, bench_compare_smoke)
# do run: /usr/bin/python3 itself is not instrumented and starts the ASan
# programs as child processes, which carry libasan themselves (no LD_PRELOAD).
# Leak checking is on; allocator_may_return_null=1 makes an impossible malloc
# return null (loom then throws its out-of-memory error) instead of aborting.
ASAN_CTEST_ARGS ?= -LE 'sanitizer|poison' -FS rnn_cases \
	-E '^(rnn_cases_generate|rnn_cases_selfcheck)$$'
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:abort_on_error=0:print_summary=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 LSAN_OPTIONS=print_suppressions=0:suppressions=$(CURDIR)/tests/lsan_suppressions.txt

.PHONY: all deps configure build test test-normal test-sanitize demo bench clean

all: build

deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	    $(if $(NVCC),-DCMAKE_CUDA_COMPILER=$(NVCC)) $(CMAKE_ARGS); \
	fi

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: test-normal test-sanitize

# Label fuzz (the bounded fuzzing of the file readers) runs in test-sanitize only,
# where ASan and LeakSanitizer watch it.
test-normal: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 600 -LE fuzz

test-sanitize: deps
	@if [ ! -f $(ASAN_BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DLOOM_WITH_CUDA=OFF -DLOOM_SANITIZE=$(SANITIZE) \
	    -DCMAKE_BUILD_TYPE=RelWithDebInfo '-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1' \
	    '-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1' -DLOOM_RNN_CASES_DIR=$(CURDIR)/$(BUILD_DIR)/rnn_cases \
	    $(CMAKE_ARGS); \
	fi
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	$(ASAN_ENV) ctest --test-dir $(ASAN_BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 900 $(ASAN_CTEST_ARGS)

# The main example: a character-level LSTM language model (examples/char_lstm.cc);
# DEMO_ARGS passes options (e.g. DEMO_ARGS="--steps 100"; see char-lstm --help).
demo: build
	$(BUILD_DIR)/bin/char-lstm --out $(BUILD_DIR)/char_lstm $(DEMO_ARGS)

# On a GPU the full suite, else a scaled-down CPU suite, in every precision
# (BENCH_PRECISION: all = fp32, tf32, bf16 and fp16, one table each; or one of
# them); BENCH_ARGS passes options to bench/compare.py (e.g. BENCH_ARGS="--only
# lstm --rounds 2").
BENCH_PRECISION ?= all
bench: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target loom-bench
	python3 bench/compare.py --loom-bench $(BUILD_DIR)/bin/loom-bench --out-dir $(BUILD_DIR)/bench \
	  --precision $(BENCH_PRECISION) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR)
