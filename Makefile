# Vigil: the two commands a user needs.
#   make run   creates .venv, installs, starts the store, the sample import, every
#              background process and the dashboard on http://localhost:8501
#   make test  creates .venv, installs (Chromium too), runs the whole suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint format browser clean-venv

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m pipelines up

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: $(STAMP) browser
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format . && $(PY) -m ruff check --fix .

clean-venv:
	rm -rf $(VENV)
