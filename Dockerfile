# searchlab image. Not exercised by CI (no Docker engine there); see README.
# For GPU training: --build-arg BASE_IMAGE=pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# Build tools only; their versions follow the base image, so they are not pinned here.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make gcc g++ \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . /app
RUN make install PYTHON_BOOT=python3

ENV PATH=/app/.venv/bin:$PATH
CMD ["searchlab", "--help"]
