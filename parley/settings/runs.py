"""Engine runs and status rows: the lease, the sweep that recovers lapsed rows, the training preset.

Read only here (code reads ``settings.X``). Recovery after a worker dies takes at most
``PARLEY_LEASE_S + PARLEY_SWEEP_S`` (90 s by default): the row's heartbeat lapses, the next sweep gives
it back to its queue (or fails it after ``PARLEY_MAX_ATTEMPTS`` tries) and a worker picks it up again.
"""

import os

# A running row's supervisor beats (and tails the run directory) every PARLEY_POLL_S seconds; a
# heartbeat older than PARLEY_LEASE_S has lapsed. Keep the lease well above the poll.
PARLEY_POLL_S = float(os.environ.get("PARLEY_POLL_S", "1"))
PARLEY_LEASE_S = float(os.environ.get("PARLEY_LEASE_S", "60"))
# Celery beat runs the sweep every PARLEY_SWEEP_S seconds on PARLEY_SWEEP_QUEUE.
PARLEY_SWEEP_S = float(os.environ.get("PARLEY_SWEEP_S", "30"))
PARLEY_SWEEP_QUEUE = os.environ.get("PARLEY_SWEEP_QUEUE", "default")
# Celery beat queues the eval runs of studies whose jobs registered new versions every this many seconds.
PARLEY_STUDY_ADVANCE_S = float(os.environ.get("PARLEY_STUDY_ADVANCE_S", "15"))
# A row queued longer than this gets its task sent again by the sweep (the broker may have lost the
# message: the filesystem broker of `make run`, a Redis without its append-only file); at most once per
# this time. Duplicates are harmless (a delivery only starts a queued row).
PARLEY_RESEND_QUEUED_S = float(os.environ.get("PARLEY_RESEND_QUEUED_S", "300"))
# Claims a row gets before a lapse fails it (a run that kills its worker every time stops somewhere).
PARLEY_MAX_ATTEMPTS = int(os.environ.get("PARLEY_MAX_ATTEMPTS", "3"))
# Run-to-completion engine calls (evaluation runs, branch generations): stopped past this.
PARLEY_ENGINE_TIMEOUT_S = float(os.environ.get("PARLEY_ENGINE_TIMEOUT_S", str(6 * 3600)))
# The reward playground's RM score: a person is waiting.
PARLEY_RM_SCORE_TIMEOUT_S = float(os.environ.get("PARLEY_RM_SCORE_TIMEOUT_S", "120"))
# The training preset a job with preset "auto" gets, decided on the worker that runs it: "auto" picks
# "paper" where the worker sees a GPU and "tiny" elsewhere; "tiny" or "paper" pins it for this worker.
PARLEY_PRESET = os.environ.get("PARLEY_PRESET", "auto")
# Multi-node jobs: the address the other nodes reach this worker at (its host name when empty), and how
# long torchrun's rendezvous waits for every node of a job to join before the job fails.
PARLEY_NODE_ADDRESS = os.environ.get("PARLEY_NODE_ADDRESS", "")
PARLEY_NODE_JOIN_S = int(os.environ.get("PARLEY_NODE_JOIN_S", "600"))
