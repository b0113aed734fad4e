# The two commands (README): `make run` is the main job, `make test` runs the whole suite.
# Each does its own set-up: a venv in .venv and an editable install with the reference app's extra,
# pinned by constraints.txt (reproducible CI; the package itself declares only compatible ranges),
# redone when pyproject.toml or constraints.txt changes.
# Override PYTHON for another interpreter (3.11+), HARNESS_ARGS/PYTEST_ARGS to pass flags through.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
HARNESS_ARGS ?=

.PHONY: run quick test unit lint typecheck containers bench clean help constraints

help:
	@echo "make run        main job: standard load matrix + microbenchmarks -> reports/latest (exit code = gates)"
	@echo "make quick      the same with --quick (about 90 s)"
	@echo "make test       the whole test suite, containers included (what .ci/run runs)"
	@echo "make unit       unit tests only (no containers)"
	@echo "make lint       ruff + mypy"
	@echo "make bench      microbenchmarks only (pytest-benchmark, autosaved)"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# Regenerate constraints.txt from the current venv (after a deliberate upgrade there).
constraints: $(STAMP)
	{ echo "# Exact versions this repository's CI and \`make\` install with (pip install -c constraints.txt)."; \
	  echo "# The library's own metadata uses compatible ranges; regenerate with \`make constraints\`."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^fastapi-harness'; } > constraints.txt

run: $(STAMP)
	$(BIN)/harness run $(HARNESS_ARGS)

quick: $(STAMP)
	$(BIN)/harness run --quick $(HARNESS_ARGS)

containers: $(STAMP)
	$(BIN)/harness containers prepare

# Containers are prepared first; if that fails the integration tests fail with the reason in CI
# (CI=true) and are skipped with one line locally, so the unit suite still runs on a laptop without Docker.
test: $(STAMP)
	-$(BIN)/harness containers prepare
	$(BIN)/python -m pytest -m "not bench" -p no:cacheprovider \
		--junitxml=reports/junit/pytest.xml \
		--cov=reference_app --cov-report=term --cov-report=xml:reports/junit/coverage.xml \
		$(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy reference_app harness contracts load reports

bench: $(STAMP)
	$(BIN)/python -m pytest tests/bench -m bench -p no:cacheprovider --benchmark-autosave $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .benchmarks reports/latest reports/runs reports/junit var
