# The two entry points of the README. Each does its own setup: a virtualenv in .venv and an
# editable install of the project, redone only when pyproject.toml changes.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/warden demo

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The full seeded fuzz of the intake (make test runs a few hundred of its cases). Reproduce a failure
# with the seed it prints: make fuzz WARDEN_FUZZ_SEED=...
WARDEN_FUZZ_CASES ?= 10000
fuzz: $(VENV)/.installed
	WARDEN_FUZZ_CASES=$(WARDEN_FUZZ_CASES) $(if $(WARDEN_FUZZ_SEED),WARDEN_FUZZ_SEED=$(WARDEN_FUZZ_SEED)) \
		$(BIN)/python -m pytest -q -s tests/integration/intake/test_intake_fuzz.py $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
