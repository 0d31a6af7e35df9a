# syntax=docker/dockerfile:1
# envdesk: one image for every process (api, workers, beat, migrations, provisioning simulator);
# docker-compose.yml picks the command. Build: docker build -t envdesk .

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a wheel of the project, installed with its dependencies into /opt/venv ---------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml ./
COPY service ./service
COPY schemas ./schemas
COPY workers ./workers
# Every dependency ships binary wheels (psycopg[binary] included), so no compiler is needed;
# the wheel is built here and only the venv it was installed into leaves this stage. With the
# otel extra: tracing is switched on by the OTEL_* variables alone (docs/operations.md).
RUN python -m pip wheel --no-deps --wheel-dir /dist . \
 && /opt/venv/bin/pip install "$(echo /dist/*.whl)[otel]" \
 && /opt/venv/bin/envdesk --help >/dev/null

# --- runtime: the venv and nothing else -----------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    ENVDESK_HOME=/var/lib/envdesk
RUN groupadd --system --gid 10001 envdesk \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/envdesk --create-home \
        --shell /usr/sbin/nologin envdesk \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/envdesk
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /home/envdesk
EXPOSE 8080
# No HEALTHCHECK here: each service in docker-compose.yml defines the one that fits its process.
CMD ["envdesk", "serve", "--host", "0.0.0.0", "--port", "8080"]
