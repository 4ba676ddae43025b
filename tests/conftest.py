"""Root fixtures. Shared fixtures live in plugin modules under tests/fixtures/ so that each area owns one:

- ``tests.fixtures.services``: users per role, logged-in clients, the real Celery worker process.
- ``tests.fixtures.engine``: the tiny base model (cached outside the clone), the vLLM server, the fake engine.
- ``tests.fixtures.workers``: killable Celery workers whose engine is the fake (the SIGKILL tests).
"""

import os

# Two cores: keep torch and tokenizers from oversubscribing them in every process the tests start.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.engine",
    "tests.fixtures.workers",
    "tests.fixtures.browser",
]
