# Two commands for a fresh Debian 12 machine:
#   make demo   install what is missing, build, run the main example
#   make test   install what is missing, build, run the whole test suite
#   make bench  build loom-bench, run the benchmark suite against PyTorch (bench/compare.py)
# The build tree is build/; executables land in build/bin/.

BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
PACKAGES := cmake ninja-build g++ pkg-config libfmt-dev libhdf5-dev libgtest-dev libopenblas-dev python3-torch python3-h5py
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NVCC := $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))

.PHONY: all deps configure build test demo bench clean

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

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 600

# The main example: a character-level LSTM language model (examples/char_lstm.cc);
# DEMO_ARGS passes options (e.g. DEMO_ARGS="--steps 100"; see char-lstm --help).
demo: build
	$(BUILD_DIR)/bin/char-lstm --out $(BUILD_DIR)/char_lstm $(DEMO_ARGS)

# On a GPU the full suite, else a scaled-down CPU suite; BENCH_ARGS passes options
# to bench/compare.py (e.g. BENCH_ARGS="--only lstm --rounds 1").
bench: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target loom-bench
	python3 bench/compare.py --loom-bench $(BUILD_DIR)/bin/loom-bench --out-dir $(BUILD_DIR)/bench $(BENCH_ARGS)

clean:
	rm -rf $(BUILD_DIR)
