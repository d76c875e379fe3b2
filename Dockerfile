# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY qa/__init__.py qa/__init__.py
RUN pip install --no-cache-dir "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir ".[st]" && pip uninstall -y qa
COPY qa qa
COPY seeds seeds
RUN pip install --no-cache-dir --no-deps . \
 && HF_HUB_OFFLINE=1 QA_INDEX_DIR=/app/index qa index seeds

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 qa
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=qa:qa /app/index /app/index
COPY --from=build /app/seeds /app/seeds
WORKDIR /app
USER qa
ENV PATH=/opt/venv/bin:$PATH HF_HUB_OFFLINE=1 QA_INDEX_DIR=/app/index QA_HOST=0.0.0.0 QA_PORT=8000
VOLUME ["/app/index"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
CMD ["qa", "serve"]
