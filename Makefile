# seqlab: two commands on a fresh machine.
#   make demo   set up .venv, build the built-in speech corpus, train asr_conformer, evaluate it
#   make test   set up .venv with the dev extras, run the test suite
#
# Variables you may override:
#   PYTHON=python3.11         interpreter used to create the virtual environment
#   TORCH_SPEC=torch==2.13.0  torch requirement installed first (GPU users: e.g. TORCH_SPEC=torch
#                             TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cu124)
#   DEMO_HOURS=2.5            hours of synthetic speech the demo builds
#   DEMO_ARGS=                extra Hydra overrides for the demo's training run

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
DEMO_HOURS ?= 2.5
DEMO_DATA ?= data/synth_speech
DEMO_ARGS ?=
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: setup setup-dev browser demo test lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch goes in first, so that nothing depending on it pulls a different (CUDA) build;
# an existing torch in the venv is kept.
$(VENV)/.torch: | $(VENV)/bin/python
	@$(PY) -c "import torch" 2>/dev/null && echo "torch already installed: keeping it" || \
		$(PIP) install --quiet $(TORCH_INDEX) "$(TORCH_SPEC)"
	@touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e ".[hf]"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev browser

# tests/test_serve_browser.py drives Debian's chromium + chromium-driver: installed quietly when
# missing and apt-get can run (as root); otherwise that test skips and says why
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium + chromium-driver (the browser test of seqlab serve)"; \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive \
		  apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1)) || \
		echo "could not install chromium: tests/test_serve_browser.py will skip"; \
	else echo "no chromium and no apt-get as root: tests/test_serve_browser.py will skip"; fi

demo: setup
	$(VENV)/bin/seqlab demo --data $(DEMO_DATA) --hours $(DEMO_HOURS) $(DEMO_ARGS)

test: setup-dev
	$(PY) -m pytest -q tests

lint: setup-dev
	$(VENV)/bin/ruff check src tests bench tools
	$(VENV)/bin/ruff format --check src tests bench tools

bench: setup-dev
	$(PY) bench/asr_pipeline.py
	$(PY) bench/ctc_decode.py
	$(PY) bench/mt.py
	$(PY) bench/finetune.py
	$(PY) bench/vocoder.py

clean:
	rm -rf $(VENV) runs build *.egg-info
