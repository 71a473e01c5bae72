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

.PHONY: install demo test bench lint docker-build docker-test docker-shell clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q "$(TORCH_PIN)"
	$(PIP) install -q -e ".[$(EXTRAS)]" "$(TORCH_PIN)"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/searchlab demo $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check searchlab tests benchmarks
	$(VENV)/bin/ruff format --check searchlab tests benchmarks

docker-build:
	docker build --build-arg BASE_IMAGE=$(BASE_IMAGE) -t $(IMAGE) .

docker-test:
	$(DOCKER_RUN) make test

docker-shell: INTERACTIVE := -it
docker-shell:
	$(DOCKER_RUN) bash

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo-report
