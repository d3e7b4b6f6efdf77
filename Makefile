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

# The main job: CodedPrivateML on digits 4-vs-9 with N = 9 workers (K = 2, T = 1) under mpiexec.
RUN_RANKS ?= 10
run: build
	$(BIN)/mpiexec -n $(RUN_RANKS) $(BIN)/python -m pyprivml train codedprivateml --dataset digits49 --case 2 --iters 50

test-c: $(DEPS)
	$(BIN)/cmake -S . -B build/c -DCMAKE_BUILD_TYPE=Release >/dev/null
	$(BIN)/cmake --build build/c -j 2
	cd build/c && $(CURDIR)/$(BIN)/ctest --output-on-failure

test: build test-c
	$(BIN)/python -m pytest tests pyprivml

bench: build
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-columns=median,iqr,rounds

clean:
	rm -rf build $(VENV) *.egg-info pyprivml/_native*.so bindings/*.c
