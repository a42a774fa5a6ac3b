# syntax=docker/dockerfile:1
# TrocheLog: build the dependencies in one stage, run from a slim image as a non-root user.
#   docker build -t trochelog . && docker run -e SECRET_KEY=... -e DATABASE_URL=... -p 8000:8000 trochelog

ARG PYTHON_IMAGE=python:3.12-slim

# --- builder: the project's runtime dependencies in a virtualenv (no dev extras) ------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Only pyproject.toml: this layer is rebuilt when the dependencies change, not on every edit.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(deps))" > requirements.txt \
 && pip install --compile -r requirements.txt

# --- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    FORWARDED_ALLOW_IPS=127.0.0.1
# FORWARDED_ALLOW_IPS: the reverse proxy's address(es); docker/prestart.sh passes it to uvicorn's
# --forwarded-allow-ips, so only that proxy may say who the client is (sign-in throttling).
RUN groupadd --system --gid 10001 trochelog \
 && useradd --system --uid 10001 --gid trochelog --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin trochelog
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The app runs from /app (templates, static files and migrations live beside the code;
# app/config.py finds them relative to itself). Root owns the code: the app cannot rewrite it.
COPY app ./app
COPY migrations ./migrations
COPY docker/prestart.sh /usr/local/bin/trochelog-prestart
RUN python -m compileall -q app migrations \
 && chmod 0755 /usr/local/bin/trochelog-prestart \
 && mkdir -p var && chown trochelog:trochelog var
USER trochelog
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["trochelog-prestart"]
