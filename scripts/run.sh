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
# The demo judge: a LoRA adapter of the tiny base trained on the demo world's known verdicts (first run only,
# a few CPU minutes; cached under ~/.cache/parley). A real deployment points the judge at a large model.
$PY -m engine bootstrap --judge --out var/models/demo-judge || echo "(demo judge not built; see above)"

.venv/bin/celery -A parley worker -Q default,gpu --concurrency 1 --beat --schedule var/celerybeat-schedule \
  --loglevel INFO -n main@%h >var/worker.log 2>&1 &
WORKER=$!
SEED_JOBS=""
# The `serve` worker owns the vLLM servers of deployments (a task per deployment, running until stopped),
# so it never shares a process with jobs. Its servers die with it (PR_SET_PDEATHSIG).
.venv/bin/celery -A parley worker -Q serve --concurrency "${PARLEY_SERVE_CONCURRENCY:-2}" \
  --loglevel INFO -n serve@%h >var/serve-worker.log 2>&1 &
SERVE_WORKER=$!
# SIGQUIT: a cold shutdown ends the serve worker's tasks at once (a warm one would wait for a deployment to
# end, which it never does); their vLLM servers die with them. The next `make run` restarts the demo.
trap 'kill $WORKER $SEED_JOBS 2>/dev/null; kill -QUIT $SERVE_WORKER 2>/dev/null || true' EXIT INT TERM
# The demo deployment: the tiny base in slot "demo", so the playground answers on first login. A slot that
# already has one (an earlier `make run`) keeps it: the sweep hands it to the new serve worker. If vLLM
# cannot start here, the deployment page and the playground say why (the server's log tail).
$PY manage.py deployment_start tiny-default --slot demo || echo "(demo deployment not started; see above)"
if [ "${PARLEY_DEMO_JOBS:-1}" != "0" ]; then
  # The demo RM and REPO jobs and the demo-models eval set, run for real on the tiny model (about 2-4 min
  # on a laptop CPU the first time, instant once done): in the background, so the pages are up meanwhile
  # and the job list shows them running. PARLEY_DEMO_JOBS=0 skips it.
  # Then the demo REPO policy goes behind the gateway: an adapter of the demo deployment, production
  # in slot "demo" (so `model: "demo"` answers on /v1/chat/completions).
  # First the demo judge joins the demo deployment as an adapter and the reward config "demo: judge + rules"
  # names it, so the demo REPO job, the reward playground and jobs launched from the dashboard use the
  # rules, the judge and the RM out of the box.
  { $PY manage.py deployment_demo_judge --wait 600 || true; $PY manage.py seed_demo_jobs && $PY manage.py deployment_demo_policy; } >var/seed-demo-jobs.log 2>&1 &
  SEED_JOBS=$!
fi
# A demo API key for the gateway and the REST API (a new one each run; revoke old ones on /deploy/keys/).
DEMO_KEY=$($PY manage.py api_key_create --user mlengineer --name "make run demo" --days 7 2>/dev/null | tail -n 1 || true)

cat <<MSG

  Parley is up:   http://127.0.0.1:${PORT}/
  Admin:          http://127.0.0.1:${PORT}/admin/
  API schema:     http://127.0.0.1:${PORT}/api/docs/
  Worker log:     var/worker.log  (serve worker: var/serve-worker.log)
  Deployments:    http://127.0.0.1:${PORT}/deploy/deployments/  (the demo's vLLM server starts in ~1 min)
  Playground:     http://127.0.0.1:${PORT}/deploy/playground/
  Gateway:        http://127.0.0.1:${PORT}/v1/  (OpenAI-compatible; model "demo" answers once the demo
                  REPO job has finished and joined the demo deployment: see var/seed-demo-jobs.log)
  Demo API key:   ${DEMO_KEY:-(not created; see manage.py api_key_create)}
                  curl -H "Authorization: Bearer \$KEY" http://127.0.0.1:${PORT}/v1/models
  Demo jobs:      var/seed-demo-jobs.log (an RM and a REPO job on the tiny model, then the demo-models
                  eval set's replies; the first run takes a few minutes, the job list shows them live)

  Demo logins (password: ${PARLEY_DEMO_PASSWORD:-parley-demo}):
    language    language expert     bd          BD expert
    reviewer    reviewer            mlengineer  ML engineer
    evaluator   evaluator           admin       admin (superuser)

MSG
# uvicorn serves the ASGI app: the pages and the API, and the OpenAI-compatible gateway under /v1/.
exec .venv/bin/uvicorn parley.asgi:application --host 127.0.0.1 --port "${PORT}" --log-level warning
