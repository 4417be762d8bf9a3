# The contributor's entry point. `make run` and `make test` are the two
# commands of the README; both set everything up on a fresh clone. `make run`
# installs only what the demo needs (flowjobs[server]) and runs as any user;
# the development extras and Debian's Chromium belong to `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
RUN_STAMP := $(VENV)/.server-stamp

.PHONY: install chromium run dist wheel-smoke test unit screenshots test-load fuzz lint typecheck format latency bench-scale bench-credit bench-solve bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

# The server alone: no compilers, no browser, nothing that needs root.
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[server]'
	touch $(RUN_STAMP)

install: $(STAMP) chromium

# The dashboard's browser tests drive Debian's Chromium through Playwright
# (never a browser Playwright downloads). apt-get update runs only when the
# package lists do not know chromium yet (a fresh machine).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if ! command -v apt-get >/dev/null; then \
	    echo "warning: no /usr/bin/chromium and no apt-get: the browser tests will fail" >&2; \
	  else \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q --no-install-recommends chromium \
	      || { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; }; \
	  fi; \
	fi

run: $(RUN_STAMP)  ## the demo: a space, a key, example flows, the server with its worker
	$(BIN)/flowjobs demo $(DEMO_ARGS)

test: install lint typecheck  ## lint, types, then every test (PostgreSQL ones when reachable)
	$(BIN)/pytest

screenshots: install  ## refresh docs/screenshots/ from the browser tests
	FLOWJOBS_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/e2e/test_dashboard.py -q

unit: install
	$(BIN)/pytest tests/unit -q

test-load: install  ## the PostgreSQL scale tests with 5000 jobs (default run: 600)
	FLOWJOBS_LOAD_JOBS=5000 $(BIN)/pytest tests/integration/test_scale_postgres.py -q

fuzz: install  ## schemathesis over every operation, 5,000+ generated requests (prints the count)
	FLOWJOBS_FUZZ_EXAMPLES=$${FLOWJOBS_FUZZ_EXAMPLES:-60} $(BIN)/pytest tests/e2e/test_fuzz.py -q -s -p no:cacheprovider --timeout=1200

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

latency: install  ## start-to-running and cancel-to-canceled on the embedded SQLite setup
	$(BIN)/python bench/latency.py

bench-scale: install  ## PostgreSQL: jobs/s with 1-3 workers, dispatch and cancel latency
	$(BIN)/python bench/scale.py

bench-credit: install  ## rows/s of examples/credit-tiers.yaml on SQLite and PostgreSQL
	$(BIN)/python bench/credit_tiers.py

bench-solve: install  ## Solver API: solves/s over HTTP beside the FastAPI no-op, 10,000-input bulk (a few minutes)
	$(BIN)/python bench/solve.py

BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)  ## flowjobs beside procrastinate, pgqueuer, Celery, RQ (long); bench/results/latest.md
	$(BIN)/python bench/run.py
	$(BIN)/python bench/solve.py

bench-quick: $(BENCH_STAMP)  ## the same with small counts (about 15-20 minutes on a busy 2-core machine)
	$(BIN)/python bench/run.py --quick
	$(BIN)/python bench/solve.py --requests 2000

dist: $(STAMP)  ## a wheel and an sdist in dist/
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

wheel-smoke: dist  ## the wheel alone, in a fresh virtualenv: client import, then the demo's smoke test
	$(BIN)/python tests/distribution/wheel_smoke.py dist

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache flowjobs-demo.db* flowjobs-demo.key
