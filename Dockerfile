# syntax=docker/dockerfile:1
# One image for every Treeflow process: `treeflow api`, `treeflow worker`,
# `treeflow admin migrate` (docs/deploy.md). Build from the repository root:
#   docker build -t treeflow:dev .
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# --- Studio (web console): built here, shipped inside the wheel as package data ---------
FROM node:20-bookworm-slim AS studio
WORKDIR /src/studio
COPY studio/package.json studio/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY studio/ ./
# Vite writes the build to ../api/static/studio (served by the API at /studio).
RUN npm run build

# --- Wheel: build tools live only in this stage -----------------------------------------
FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m pip install --no-cache-dir "build==1.2.2.post1"
COPY pyproject.toml README.md ./
COPY activities/ activities/
COPY api/ api/
COPY --from=studio /src/api/static/studio/ api/static/studio/
COPY templates/ templates/
COPY treeflow/ treeflow/
COPY worker/ worker/
COPY workflows/ workflows/
RUN python -m build --wheel --outdir /dist . \
 && python -m venv /opt/treeflow \
 && /opt/treeflow/bin/pip install --no-cache-dir /dist/*.whl \
 && /opt/treeflow/bin/treeflow --help > /dev/null

# --- Runtime: the virtual environment only, no compilers, no pip cache ------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="treeflow" \
      org.opencontainers.image.description="Decision trees compiled into durable Temporal workflows: API, worker and migrations." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/treeflow/treeflow" \
      org.opencontainers.image.documentation="https://github.com/treeflow/treeflow/blob/main/docs/deploy.md"

# A fixed numeric uid/gid so Kubernetes `runAsNonRoot` can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 treeflow \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/treeflow --create-home \
      --shell /usr/sbin/nologin treeflow
COPY --from=wheel /opt/treeflow /opt/treeflow

ENV PATH=/opt/treeflow/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/treeflow \
    MPLCONFIGDIR=/tmp/matplotlib \
    TREEFLOW_WORKER_METRICS_HOST=0.0.0.0 \
    TREEFLOW_WORKER_METRICS_PORT=9464 \
    TREEFLOW_WORKER_TEMPORAL_METRICS_PORT=9465 \
    TREEFLOW_HEALTHCHECK_URL=http://127.0.0.1:8000/healthz

USER 10001:10001
WORKDIR /home/treeflow
# 8000: API; 9464: worker /metrics, /healthz, /readyz; 9465: worker Temporal SDK metrics.
EXPOSE 8000 9464 9465

# Probes TREEFLOW_HEALTHCHECK_URL (workers set it to :9464/healthz); stdlib only, no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-m", "treeflow.healthcheck"]

# Exec form: `treeflow` is PID 1 and receives SIGTERM itself. The worker stops polling
# and drains running tools for TREEFLOW_WORKER_GRACEFUL_SHUTDOWN_SECONDS; uvicorn
# finishes in-flight requests. Orchestrators must wait longer than that grace.
ENTRYPOINT ["treeflow"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
