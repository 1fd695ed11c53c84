# The two commands a new user needs: `make run` and `make test`. Both build and reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COMPILED := $(VENV)/.compiled
# The trading path's modules that mypyc compiles (src/tradedeck/native.py lists them).
HOT := $(shell $(PYTHON) src/tradedeck/native.py)
MODE := $(if $(filter 0,$(TRADEDECK_COMPILE)),interpreted,compiled)

.PHONY: run test lint bench venv clean FORCE

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip 'setuptools>=77' wheel
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Rebuilt whenever one of the compiled sources changes, so the code that runs is the code
# on disk; TRADEDECK_COMPILE=0 leaves every module interpreted.
$(COMPILED): $(STAMP) setup.py $(HOT)
	@$(BIN)/python src/tradedeck/native.py --clean >/dev/null
	@test $(MODE) = interpreted || echo "compiling the trading path with mypyc (a minute or two)"
	@$(BIN)/python -m pip install --quiet --no-build-isolation --no-deps -e .
	@echo $(MODE) > $(COMPILED)

ifneq ($(shell cat $(COMPILED) 2>/dev/null),$(MODE))
$(COMPILED): FORCE
endif
ifeq ($(MODE)$(wildcard src/tradedeck__mypyc.*),compiled)  # removed by native.py --clean
$(COMPILED): FORCE
endif
FORCE:

venv: $(COMPILED)

run: $(COMPILED)
	$(BIN)/tradedeck run

test: $(COMPILED)
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests bench setup.py
	$(BIN)/ruff format --check src tests bench setup.py
	$(BIN)/mypy

bench: $(COMPILED)
	$(BIN)/python bench/orders.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
