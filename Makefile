# `make demo` and `make test` bootstrap .venv themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test test-fast demo corpus lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# Pinned first: any other torch spec pulls the CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	# aisfx's own requirements pin old packages; its weights and code are all we need.
	$(PY) -m pip install --quiet --no-deps aisfx==0.1.2
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

demo: $(STAMP)
	$(VENV)/bin/drumsynth demo --out demo-out

corpus:
	sudo -n true 2>/dev/null && sudo scripts/install-corpus || scripts/install-corpus
	# --force: replaces an earlier drumsynth corpus cache there (and refuses any other folder).
	$(VENV)/bin/drumsynth corpus build --out data/corpus --force

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests

clean:
	rm -rf $(VENV) build *.egg-info
