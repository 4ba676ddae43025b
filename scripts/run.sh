#!/usr/bin/env bash
# `make run`: migrate, seed the demo world, build the tiny base model if absent, then serve the web app
# and one Celery worker (all queues, with beat embedded: it runs the lease sweep that recovers jobs,
# eval runs and branch generations whose worker died) until Ctrl-C. Embedded defaults: SQLite + kombu's filesystem broker;
# DATABASE_URL and CELERY_BROKER_URL switch to PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-parley.settings.local}"
mkdir -p var

$PY manage.py migrate --noinput
$PY manage.py seed_demo
if [ ! -f var/models/tiny/config.json ]; then
  echo "building the tiny base model (first run only; cached under ~/.cache/parley)…"
  $PY -m engine bootstrap --out var/models/tiny
fi

.venv/bin/celery -A parley worker -Q default,gpu,serve --concurrency 1 --beat --schedule var/celerybeat-schedule \
  --loglevel INFO >var/worker.log 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT INT TERM

cat <<MSG

  Parley is up:   http://127.0.0.1:${PORT}/
  Admin:          http://127.0.0.1:${PORT}/admin/
  API schema:     http://127.0.0.1:${PORT}/api/docs/
  Worker log:     var/worker.log

  Demo logins (password: ${PARLEY_DEMO_PASSWORD:-parley-demo}):
    language    language expert     bd          BD expert
    reviewer    reviewer            mlengineer  ML engineer
    evaluator   evaluator           admin       admin (superuser)

MSG
$PY manage.py runserver "127.0.0.1:${PORT}" --noreload
