#!/bin/sh
# Container start: bring the schema to head, then serve. Runs as the image's non-root user.
set -eu

python -m app.cli migrate

# X-Forwarded-For (the client address the sign-in throttle keys on) is believed only from the
# proxies in FORWARDED_ALLOW_IPS (app/config.py, default 127.0.0.1): set it to your reverse
# proxy's address. '*' trusts anyone who can reach the port to choose their own address.
# uvicorn's access log prints raw paths (invite tokens, patient ids): the app logs its own
# lines, with route templates (app/web/access_log.py).
exec uvicorn app.main:app \
  --host 0.0.0.0 \
  --port 8000 \
  --proxy-headers \
  --forwarded-allow-ips="$(python -c 'from app.config import settings; print(settings.forwarded_allow_ips)')" \
  --no-access-log \
  "$@"
