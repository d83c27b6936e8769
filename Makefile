# The README's two commands: `make demo` and `make test`. Each creates .venv when missing and installs
# every dependency at its pinned version (requirements/). Nothing else is needed on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
# Extra pip arguments for torch only, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
# on a machine where plain `torch==2.13.0` would resolve to a CUDA build.
TORCH_PIP_ARGS ?=
STAMP  := $(VENV)/.ssr-installed
DEMO_DIR ?= demo

.PHONY: install test demo bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements/base.txt requirements/nodeps.txt requirements/lock.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else "ssr needs Python 3.10-3.12, found %d.%d (set PYTHON=...)" % v)'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing pinned dependencies into $(VENV) (torch 2.13.0 CPU, lava-nc, lava-dl, nir, norse, snntorch, spikingjelly) ..."
	$(PIP) install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(PIP) install -q -c requirements/lock.txt -r requirements/base.txt
	$(PIP) install -q --no-deps --ignore-requires-python -r requirements/nodeps.txt
	$(PIP) install -q --no-deps -e .
	@touch $@

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) -m ssr.demo --out $(DEMO_DIR)

bench: $(STAMP)
	$(PY) -m bench.run_all

lint: $(STAMP)
	$(PIP) install -q ruff==0.11.13
	$(VENV)/bin/ruff check ssr train convert targets energy tests bench

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
