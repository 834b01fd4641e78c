# Every target installs what it needs: a .venv from pinned requirements, the pinned CDK CLI from npm.
# Everything runs on the functions' Python (infra/functions.py RUNTIME; synthesis refuses another): a pyenv
# install of it is found even when the pyenv shim does not select it.
PYTHON_VERSION := 3.13
PYTHON ?= $(firstword $(shell python$(PYTHON_VERSION) -c 'import sys; print(sys.executable)' 2>/dev/null) \
	$(wildcard $(HOME)/.pyenv/versions/$(PYTHON_VERSION).*/bin/python$(PYTHON_VERSION)) python$(PYTHON_VERSION))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(PYTHON_VERSION)
LAYER := build/lambda-layer
CDK := node_modules/.bin/cdk
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install layer demo test unit e2e synth local bench lint format clean

$(STAMP): requirements.txt requirements-lambda.txt requirements-dev.txt constraints.txt pyproject.toml
	[ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$(PYTHON_VERSION)" ] \
		|| rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# The functions' layer: requirements-lambda.txt's releases (the ones the tests run), as wheels for the functions'
# runtime and architecture (Lambda: Amazon Linux 2023, arm64), so synthesis needs no Docker and no deploy-time lookup.
$(LAYER)/.built: requirements-lambda.txt constraints.txt | $(STAMP)
	rm -rf $(LAYER)
	$(BIN)/pip install --quiet --target $(LAYER)/python --only-binary=:all: --implementation cp \
		--python-version $(PYTHON_VERSION) --platform manylinux2014_aarch64 \
		-r requirements-lambda.txt -c constraints.txt
	touch $@

layer: $(LAYER)/.built

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund --silent

install: $(STAMP) $(LAYER)/.built $(CDK)

demo: install
	$(BIN)/python -m localcloud.demo

# Coverage is measured and reported; the floor is the figure the suite reached when it was set.
COVERAGE_FLOOR := 91

test: install
	$(BIN)/python -m pytest -q -n 2 --cov --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR)

unit: install
	$(BIN)/python -m pytest tests/unit

e2e: install
	$(BIN)/python -m pytest tests/e2e

synth: install
	$(CDK) synth --no-notices --quiet
	@echo "Template: cdk.out/$$($(BIN)/python -c 'import json; print(json.load(open("cdk.json"))["context"]["stackName"])').template.json"

# Opt-in check of a deployed stack in a real AWS account (never part of `test`); skips without credentials.
# make smoke ARGS="--stack OmicsJobTracker --region eu-west-1"
.PHONY: smoke
smoke: install
	$(BIN)/python -m ops.smoke $(ARGS)

# The local cloud on http://127.0.0.1:4566; SPEED simulated seconds pass per real second (1: real time).
SPEED ?= 60
local: install
	$(BIN)/python -m localcloud.server --speed $(SPEED)

# A simulated HealthOmics job on the running local cloud: make local-job ARGS="VARIANT_IMPORT --outcome FAILED"
.PHONY: local-job
local-job: install
	$(BIN)/python -m localcloud.jobs create $(ARGS)

# make bench ARGS="--jobs 200" runs fewer jobs at once (the tables say how many).
bench: install
	$(BIN)/python -m bench.run $(ARGS)

# Each function's cold import next to `import boto3` alone (bench/cold_starts.json), reported (no target).
.PHONY: bench-cold
bench-cold: install
	$(BIN)/python -m bench.cold_starts

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/vulture lambdas infra localcloud bench ops tracker_cli app.py tests --min-confidence 61

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules build cdk.out .pytest_cache .mypy_cache .ruff_cache
