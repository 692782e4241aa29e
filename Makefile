# Every target bootstraps its own virtual environment from the pinned constraints, so a fresh
# machine needs only Python 3.11+, git and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint format bench sandbox clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	touch $(STAMP)

demo: $(STAMP)  ## run the demo: sandbox + embedded SQLite vault, no CD account needed
	$(BIN)/cdconnect demo

test: $(STAMP)  ## run the whole test suite
	$(BIN)/pytest

lint: $(STAMP)  ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

sandbox: $(STAMP)  ## run the Central Dispatch sandbox in the foreground
	$(BIN)/cdconnect sandbox

bench: $(STAMP)  ## run every benchmark, write bench/results/*.json
	$(BIN)/python -m bench

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
