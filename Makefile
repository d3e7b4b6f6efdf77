# `make run` and `make test` set everything up from a fresh clone: a .venv with pinned packages
# (MPI from the mpich wheel), the native extension, then the main job or the whole test suite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
DEPS   := $(VENV)/.deps-installed
NATIVE := $(VENV)/.native-built
export PATH := $(CURDIR)/$(BIN):$(PATH)
# One threading runtime per hot path: the code sets thread counts itself (threadpoolctl, numba).
export OMP_NUM_THREADS ?= 2

.PHONY: all setup build run test test-c bench clean

all: build

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(DEPS): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

$(NATIVE): $(DEPS) setup.py pyproject.toml $(wildcard kernels/*.c kernels/*.h bindings/*.pyx bindings/*.pxd)
	$(BIN)/python -m pip install --no-build-isolation --no-deps -e .
	touch $@

setup: $(DEPS)
build: $(NATIVE)

# The main job: CodedPrivateML (Cases 1 and 2), BH08 and BGW each trained on digits 4-vs-9 as a real
# mpiexec job with N = 9 workers (ranks 1..9, master rank 0), then one comparison table (seed 004 Table II).
RUN_WORKERS ?= 9
RUN_ITERS   ?= 50
run: build
	$(BIN)/python benchmarks/mpiexec_compare.py --workers $(RUN_WORKERS) --iters $(RUN_ITERS) \
		--dataset digits49 --out build/run

test-c: $(DEPS)
	$(BIN)/cmake -S . -B build/c -DCMAKE_BUILD_TYPE=Release >/dev/null
	$(BIN)/cmake --build build/c -j 2
	cd build/c && $(CURDIR)/$(BIN)/ctest --output-on-failure

test: build test-c
	$(BIN)/python -m pytest tests pyprivml
	# The benchmark suites, once each at small sizes, so that they keep running (no timing here).
	PYPRIVML_BENCH_QUICK=1 $(BIN)/python -m pytest benchmarks -q --benchmark-disable

bench: build
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-columns=median,iqr,rounds

clean:
	rm -rf build $(VENV) *.egg-info pyprivml/_native*.so bindings/*.c
