# syntax=docker/dockerfile:1.7
# First version. Two targets from one file:
#   docker build --target operator -t safesynth-operator .
#   docker build --target worker --build-arg TORCH_INDEX=cpu -t safesynth-worker .
ARG PYTHON_IMAGE=python:3.11.9-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --gid 10001 safesynth && useradd --uid 10001 --gid 10001 --create-home safesynth
WORKDIR /app
COPY pyproject.toml README.md ./
COPY workers ./workers
COPY operator ./operator

FROM base AS operator
LABEL org.opencontainers.image.title="safesynth-operator" \
      org.opencontainers.image.source="https://github.com/safesynth/safesynth" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN pip install '.[operator]'
USER 10001:10001
ENTRYPOINT ["kopf", "run", "--standalone", "-m", "safesynth_operator.handlers"]

FROM base AS worker
# cpu: the CPU wheel index; cu124 etc.: a CUDA build.
ARG TORCH_INDEX=cpu
ARG TORCH_VERSION=2.13.0
LABEL org.opencontainers.image.title="safesynth-worker" \
      org.opencontainers.image.source="https://github.com/safesynth/safesynth" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN pip install "torch==${TORCH_VERSION}" --index-url "https://download.pytorch.org/whl/${TORCH_INDEX}" \
 && pip install '.[worker]'
ENV HF_HOME=/cache/huggingface HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 XDG_CACHE_HOME=/cache
RUN mkdir -p /cache && chown 10001:10001 /cache
USER 10001:10001
ENTRYPOINT ["safesynth"]
CMD ["--help"]
