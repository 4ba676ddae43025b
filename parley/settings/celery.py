"""Celery settings (read by ``parley.celery`` with the ``CELERY_`` namespace)."""

import os
from pathlib import Path

from kombu import Queue

from .runs import PARLEY_STUDY_ADVANCE_S, PARLEY_SWEEP_QUEUE, PARLEY_SWEEP_S

_VAR = Path(os.environ.get("PARLEY_VAR_DIR", Path(__file__).resolve().parent.parent.parent / "var"))

# Default: a broker that needs no server (kombu's filesystem transport), for `make run` anywhere.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem"):
    _broker_dir = _VAR / "celery-broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),  # else kombu writes ./control into the clone
    }
else:
    # Minutes, not days (acks_late below): a message whose worker died is back in its queue within
    # visibility_timeout + interval x throttle (5 min + 1 min by default). A running job's message is
    # redelivered too after that time while the job still runs; that delivery finds the row running and
    # does nothing (kernel.status.row_claim: BUSY). Recovery of the row itself is the lease sweep's
    # (PARLEY_LEASE_S + PARLEY_SWEEP_S, parley/settings/runs.py), which does not wait for this.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300")),
        # A worker looks for messages whose worker died about every interval x throttle seconds.
        "unacked_restore_interval": int(os.environ.get("CELERY_UNACKED_RESTORE_INTERVAL", "10")),
        "unacked_restore_throttle": int(os.environ.get("CELERY_UNACKED_RESTORE_THROTTLE", "6")),
    }

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("default"), Queue("gpu"), Queue("serve"))
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The sweep that recovers status rows whose lease lapsed (kernel/sweep.py). `make run`'s worker embeds
# beat (-B); in production run one `celery -A parley beat` beside the workers.
CELERY_BEAT_SCHEDULE = {
    "sweep-lapsed-leases": {
        "task": "kernel.sweep_leases",
        "schedule": PARLEY_SWEEP_S,
        "options": {"queue": PARLEY_SWEEP_QUEUE, "expires": PARLEY_SWEEP_S},
    },
    # Studies (evaluation/services/studies.py): eval runs of each version a study's jobs registered.
    "advance-studies": {
        "task": "evaluation.studies_advance",
        "schedule": PARLEY_STUDY_ADVANCE_S,
        "options": {"queue": PARLEY_SWEEP_QUEUE, "expires": PARLEY_STUDY_ADVANCE_S},
    },
}
