"""Our own Celery worker processes (the reliability tests SIGKILL them), on a queue of their own so
the shared ``celery_worker`` fixture, if running in the same session, never takes their jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "gpu-reliability"
FAKE_ENGINE = "tests.training_jobs.fake_engine"


class Worker:
    def __init__(self, env: dict, log: Path):
        self.log = log
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "parley",
            "worker",
            "-Q",
            QUEUE,
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "-n",
            f"rel-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 90
        while "ready." not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"worker did not start:\n{self.text()[-3000:]}")
            time.sleep(0.3)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def start_worker(celery_worker_env, tmp_path):
    """``start_worker(**env)`` → a running Worker on QUEUE with the fake engine; all killed afterwards."""
    started: list[Worker] = []

    def start(**extra: str) -> Worker:
        env = {
            **celery_worker_env,
            "PARLEY_ENGINE_MODULE": FAKE_ENGINE,
            "PARLEY_JOB_POLL_S": "0.3",
            "PARLEY_JOB_LEASE_S": "2",
            "CELERY_VISIBILITY_TIMEOUT": "3",
            # Sweep for unacknowledged messages every second (kombu's default is ~100 s), so a
            # redelivery after the 3 s visibility timeout happens within the test's patience.
            "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            "CELERY_UNACKED_RESTORE_THROTTLE": "1",
            **extra,
        }
        worker = Worker(env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill(signal.SIGTERM if worker.proc.poll() is None else signal.SIGKILL)
