"""Root fixtures. Shared fixtures live in plugin modules under tests/fixtures/ so that each area owns one:

- ``tests.fixtures.services``: users per role, logged-in clients, API clients with a token (``api``,
  ``token_client``), the real Celery worker process.
- ``tests.fixtures.engine``: the tiny base model (cached outside the clone), the vLLM server, the fake engine.
- ``tests.fixtures.workers``: killable Celery workers whose engine is the fake (the SIGKILL tests).
"""

import os

import pytest

# Two cores: keep torch and tokenizers from oversubscribing them in every process the tests start.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.engine",
    "tests.fixtures.workers",
    "tests.fixtures.browser",
]


def pytest_collection_modifyitems(config, items):
    """The multi-seed learning claim runs only when asked for (``make test-learning``): three REPO runs and
    four evaluations take tens of minutes on a CPU, and at the budget CI affords the claim does not hold
    yet on every tiny-model build (docs/engine.md, "Does it learn? Over several training seeds")."""
    if os.environ.get("PARLEY_LEARNING_CLAIM") == "1":
        return
    skip = pytest.mark.skip(reason="learning claim: run with `make test-learning` (docs/engine.md, negative result)")
    for item in items:
        if "learning_claim" in item.keywords:
            item.add_marker(skip)
