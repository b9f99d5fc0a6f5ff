# patternsim — `make demo` and `make test` are all a new machine needs (Python 3.11, pip, make).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test lint bench bench-records bench-scale interval-coverage validate fuzz schema clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --disable-pip-version-check -e ".[test]"
	touch $(VENV)/.installed $@

$(VENV)/.installed-lint: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --disable-pip-version-check -e ".[lint]"
	touch $@

demo: $(VENV)/.installed  ## run the quickstart scenario; report in reports/quickstart/
	$(BIN)/patternsim run scenarios/quickstart.yaml

test: $(VENV)/.installed-test  ## run the test suite (CI=true selects the fast, derandomized profile)
	$(BIN)/python -m pytest -n auto --dist loadfile

lint: $(VENV)/.installed-lint  ## ruff, mypy and the import contracts (layers, no cycles)
	$(BIN)/ruff check sim tests benchmarks validation
	$(BIN)/ruff format --check sim validation
	$(BIN)/mypy sim validation
	$(BIN)/lint-imports --no-cache

bench: $(VENV)/.installed  ## the benchmark suite as ratios measured in one run (FULL=1: 1M-request M/M/4)
	mkdir -p reports
	$(BIN)/python benchmarks/suite.py $(if $(FULL),--full) --out reports/benchmarks.md

bench-records: $(VENV)/.installed  ## writing 1M requests' records: CSV against Parquet, CPU time
	$(BIN)/python benchmarks/bench_records.py --sample --folder
bench-scale: $(VENV)/.installed  ## one 16-replication job on one and two local workers (DASK=1: and dask:local:2)
	$(BIN)/python benchmarks/bench_scale.py $(if $(DASK),--dask)

interval-coverage: $(VENV)/.installed  ## how often the 95% interval holds the M/M/1 mean (100 experiments)
	$(BIN)/python benchmarks/coverage_mm1.py

PROFILE := $(if $(FULL),full,default)

validate: $(VENV)/.installed  ## the validation suite → docs/validation.md (FULL=1: full lengths → docs/validation-full.md)
	$(BIN)/python -m validation --profile $(PROFILE) --out docs/validation$(if $(FULL),-full).md

fuzz: $(VENV)/.installed-test  ## 3,000 mutated scenarios: each valid or refused with located errors
	PATTERNSIM_FUZZ=3000 $(BIN)/python -m pytest -q tests/test_fuzz_scenarios.py

schema: $(VENV)/.installed  ## regenerate docs/scenario.schema.json
	$(BIN)/patternsim schema > docs/scenario.schema.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
