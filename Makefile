# searchlab — set-up, demo, tests, benchmarks. Every target uses the project's own .venv.
PYTHON_BOOT ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip
STAMP       := $(VENV)/.installed
# torch is pinned: a CPU wheel of exactly this version is on disk; any other pulls gigabytes.
TORCH_PIN   := torch==2.13.0
EXTRAS      := all,dev
PYTEST_ARGS ?= -q
DEMO_ARGS   ?=
IMAGE       ?= searchlab:latest
BASE_IMAGE  ?= python:3.11-slim
DOCKER_RUN   = docker run --rm $(INTERACTIVE) -v $(CURDIR)/../shared:/shared:ro $(IMAGE)

.PHONY: install demo test bench lint browser docker-build docker-test docker-shell clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q "$(TORCH_PIN)"
	$(PIP) install -q -e ".[$(EXTRAS)]" "$(TORCH_PIN)"
	# an editable install is not byte-compiled (pip compiles only what it copies): compile
	# once, so each command does not compile searchlab from source at start
	$(PY) -m compileall -q searchlab
	touch $(STAMP)

DEMO_OUT    ?= demo-report

demo: $(STAMP)
	$(VENV)/bin/searchlab demo --out $(DEMO_OUT) $(DEMO_ARGS)
	$(VENV)/bin/searchlab ab test --control 26000/1000000 --variant 26400/1000000 \
		--plot $(DEMO_OUT)/ab-large.png --report $(DEMO_OUT)/ab-large.html

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# Debian's Chromium for the report's browser test (needs root; .ci/run does this when missing).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

lint: $(STAMP)
	$(VENV)/bin/ruff check searchlab tests benchmarks
	$(VENV)/bin/ruff format --check searchlab tests benchmarks
	$(VENV)/bin/hadolint Dockerfile

docker-build:
	docker build --build-arg BASE_IMAGE=$(BASE_IMAGE) -t $(IMAGE) .

docker-test:
	$(DOCKER_RUN) make test

docker-shell: INTERACTIVE := -it
docker-shell:
	$(DOCKER_RUN) bash

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo-report
