# The README's commands. Each target installs what it needs on first use.
SHELL := /bin/bash
# Lambda runs Python 3.13: use it when the machine has it (pyenv or PATH), else any python3 >= 3.11.
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3 python3; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: test lint build clean local openapi admin bench

$(VENV)/.installed: requirements-dev.txt layers/jobs/requirements.txt layers/documents/requirements.txt layers/science/requirements.txt client/pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required (3.13 preferred)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0
	touch $@

## test: run the whole test suite (unit, handlers against moto, template checks)
test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

## lint: ruff, cfn-lint and `sam validate --lint`
lint: $(VENV)/.installed $(SAM_VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1

## build: `sam build` without Docker (needs a python3.13 on PATH, which pyenv provides), then
## precompiled bytecode: sam ships none and Lambda's code directory is read-only, so every cold start
## would compile every module again. unchecked-hash .pyc stay valid whatever the times in the zip.
## Each layer is stripped of what no import needs (test suites, Cython and C sources, stubs, bytecode
## of other Pythons) before compiling; the science layer ships bytecode without its sources (with
## both it would not fit). Then each artifact's size is reported, and the build fails if a function
## with its layers is over Lambda's 250 MB unzipped (tools/build_artifacts.py).
build: $(SAM_VENV)/.installed
	PATH="$(dir $(PYTHON)):$$PATH" PYENV_VERSION=3.13.0 $(SAM_VENV)/bin/sam build
	for layer in .aws-sam/build/*Layer; do $(SAM_VENV)/bin/python -m tools.build_artifacts strip $$layer || exit 1; done
	@if $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))'; then \
		$(PYTHON) -m compileall -q -b --invalidation-mode unchecked-hash .aws-sam/build/ScienceLayer \
		&& $(SAM_VENV)/bin/python -m tools.build_artifacts sourceless .aws-sam/build/ScienceLayer \
		&& $(PYTHON) -m compileall -q --invalidation-mode unchecked-hash .aws-sam/build || exit 1; \
	else echo "warning: no Python 3.13 here: .pyc not added (they must match the Lambda runtime)"; fi
	$(SAM_VENV)/bin/python -m tools.build_artifacts report .aws-sam/build

## bench: cold start, cost per job, local stack load, warm overhead -> BENCHMARKS.md (~10 min)
bench: $(VENV)/.installed
	PYTHONPATH=.:layers/jobs $(PY) -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache

PORT ?= 8000

## local: run the whole system on this machine (moto + the functions, from template.yaml)
local: $(VENV)/.installed
	$(PY) -m devstack --template template.yaml --port $(PORT)

## openapi: regenerate the OpenAPI document (the one the local stack builds live and serves at
## /openapi.json). It lives in the layer, which ships it to StatusFunction (GET /openapi.json on a
## deployed stack); docs/openapi.json is a symlink to it. Written whole or not at all.
OPENAPI := layers/jobs/asyncjobs/openapi.json
openapi: $(VENV)/.installed
	$(PY) -m devstack.openapi template.yaml > $(OPENAPI).tmp || { rm -f $(OPENAPI).tmp; exit 1; }
	mv $(OPENAPI).tmp $(OPENAPI)

## admin: tenants and API keys, e.g. make admin ARGS="--local create-key demo"
admin: $(VENV)/.installed
	PYTHONPATH=.:layers/jobs $(PY) -m tools.admin $(ARGS)
