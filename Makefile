# The two entry points of the README. Each does its own setup: a virtualenv in .venv and an
# editable install of the project, redone only when pyproject.toml changes. `make test` also
# needs Debian's Chromium for the report's browser test: installed with apt-get when missing.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
CHROMIUM := /usr/bin/chromium
# pytest-xdist workers of make test: most tests wait on sockets and subprocesses, not the CPU
TEST_WORKERS ?= 2

.PHONY: demo test lint fuzz soak outage bench bench-quick

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The system's browser and driver (tests/e2e/test_report_browser.py), never a browser download.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO="sudo -n"; else \
	  echo "make test needs Chromium: run 'apt-get install chromium chromium-driver' as root" >&2; exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver

demo: $(VENV)/.installed
	$(BIN)/warden demo

test: $(VENV)/.installed $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The full seeded fuzzes (make test runs a few hundred cases of each): 10,000 hostile requests to the
# intake and 10,000 malformed websocket frames into the feeds of both venues. Reproduce a failure
# with the seed it prints: make fuzz WARDEN_FUZZ_SEED=...
WARDEN_FUZZ_CASES ?= 10000
FUZZ_TESTS := tests/integration/intake/test_intake_fuzz.py tests/integration/engine/test_frame_fuzz.py
fuzz: $(VENV)/.installed
	WARDEN_FUZZ_CASES=$(WARDEN_FUZZ_CASES) $(if $(WARDEN_FUZZ_SEED),WARDEN_FUZZ_SEED=$(WARDEN_FUZZ_SEED)) \
		$(BIN)/python -m pytest -q -s $(FUZZ_TESTS) $(PYTEST_ARGS)

# The randomized fault soak (docs/soak.md): 1,000 seeded scenarios of signals, price moves, the
# simulator's faults, SIGKILLs and PostgreSQL outages against `warden run` (make test runs seeds
# 1-20). Reproduce a violation with the seed it prints: make soak SOAK_SEED=... SOAK_SCENARIOS=1
SOAK_SCENARIOS ?= 1000
SOAK_SEED ?= 1
soak: $(VENV)/.installed
	WARDEN_SOAK_SCENARIOS=$(SOAK_SCENARIOS) WARDEN_SOAK_SEED=$(SOAK_SEED) \
		$(BIN)/python -m pytest -q -s -p no:randomly tests/soak/test_soak.py $(PYTEST_ARGS)

# PostgreSQL stopped under the running service for a long outage (docs/operations.md, "The store is
# down"): tests/integration/engine/test_store_outage.py with the database down OUTAGE_LONG_S seconds
# (330 s by default; about 6 min). make test runs the 3 s and 15 s outages.
OUTAGE_LONG_S ?= 330
outage: $(VENV)/.installed
	WARDEN_OUTAGE_LONG_S=$(OUTAGE_LONG_S) $(BIN)/python -m pytest -q -s \
		tests/integration/engine/test_store_outage.py -k long $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

# The engine benchmark (bench/README.md): `warden run` against the simulator at 80 +/- 20 ms venue
# latency on a throwaway PostgreSQL database; every figure beside a same-run baseline, targets
# reported, never asserted. Full: a 60 s ingest, 1,000 positions, a 1,000,000-event log (~10-15 min on
# 2 cores); quick: a 10 s ingest and smaller sizes (~3 min). Extra flags: make bench BENCH_ARGS="--duration 120"
bench: $(VENV)/.installed
	$(BIN)/python -m bench.engine $(BENCH_ARGS)

bench-quick: $(VENV)/.installed
	$(BIN)/python -m bench.engine --quick $(BENCH_ARGS)
