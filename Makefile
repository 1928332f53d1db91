# sknet developer commands. Everything runs inside a local virtual environment
# (.venv) that the first command creates; only Python 3.11 and make are needed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.sknet-installed
# TensorFlow's C++ info and warning messages off, its errors kept; what leaks before Abseil's logging starts
# (and the cuInit error of a machine without an NVIDIA driver) is filtered by examples/_quiet.py.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: help install install-min lint test test-fast test-min fuzz demo bench bench-quick docs examples clean

help:
	@echo "make demo   - set up and run the demo (digits: grid search + cross-validation)"
	@echo "make test   - set up, lint and run the test suite"
	@echo "make test-min - the fast suite on the lowest supported versions (sknet/_min_dependencies.py), in .venv-min"
	@echo "make lint   - ruff over sknet, tests, benchmarks and examples"
	@echo "make fuzz   - many more fuzzed estimator configurations (SKNET_FUZZ_EXAMPLES, default 1000)"
	@echo "make bench  - run the benchmarks (ratios against Keras, scikit-learn, scikeras)"
	@echo "make docs   - build the documentation site into site/"

$(STAMP): setup.py setup.cfg pyproject.toml sknet/_min_dependencies.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,plot,docs]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check sknet tests benchmarks examples

test: $(STAMP) lint
	$(BIN)/python -m pytest -q -ra

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# The lowest supported versions: a second environment with every dependency that has a floor in
# sknet/_min_dependencies.py pinned to exactly that floor (the others resolve to the newest release that
# installs next to them), checked after the install.
VENV_MIN  ?= .venv-min
BIN_MIN   := $(VENV_MIN)/bin
STAMP_MIN := $(VENV_MIN)/.sknet-installed
EXTRAS_MIN = test,plot,onnx,dask

$(STAMP_MIN): setup.py setup.cfg pyproject.toml sknet/_min_dependencies.py
	test -x $(BIN_MIN)/python || $(PYTHON) -m venv $(VENV_MIN)
	$(PYTHON) sknet/_min_dependencies.py constraints > $(VENV_MIN)/constraints.txt
	$(BIN_MIN)/python -m pip install --quiet --upgrade pip
	$(BIN_MIN)/python -m pip install --quiet -c $(VENV_MIN)/constraints.txt -e ".[$(EXTRAS_MIN)]"
	$(BIN_MIN)/python sknet/_min_dependencies.py check $(EXTRAS_MIN)
	touch $(STAMP_MIN)

install-min: $(STAMP_MIN)

# Two pytest-xdist workers (one per core of the CI machine), a test module per worker at a time. Measured on a
# shared 2-core machine: one process ran 802 fast tests in 38 min, two workers 954 in 28 min (same failures).
MIN_WORKERS ?= 2

test-min: $(STAMP_MIN)
	$(BIN_MIN)/python -m pytest -q -ra -m "not slow" -n $(MIN_WORKERS) --dist loadfile

fuzz: $(STAMP)
	SKNET_FUZZ_EXAMPLES=$${SKNET_FUZZ_EXAMPLES:-1000} $(BIN)/python -m pytest -q tests/test_fuzz.py

demo: $(STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run_all.py

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --quick

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -f docs/mkdocs.yml

clean:
	rm -rf $(VENV) $(VENV_MIN) site build *.egg-info .pytest_cache
