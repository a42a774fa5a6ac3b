#!/bin/sh
# Container start: bring the schema to head, then serve. Runs as the image's non-root user.
set -eu

python -m app.cli migrate

# '*' is quoted: unquoted, the shell would expand it to the files in /app.
# Trusting every proxy is only safe when the published port is reachable by the proxy alone.
# uvicorn's access log prints raw paths (invite tokens, patient ids): the app logs its own
# lines, with route templates (app/web/access_log.py).
exec uvicorn app.main:app \
  --host 0.0.0.0 \
  --port 8000 \
  --proxy-headers \
  --forwarded-allow-ips='*' \
  --no-access-log \
  "$@"
