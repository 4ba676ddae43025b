"""The one way the web app runs the engine: ``python -m engine ...`` in a subprocess (DESIGN.md "The boundary
that matters": the engine never imports Django, the web app never imports torch).

Used by Celery tasks on the ``gpu`` queue (evaluation runs, branch generations). Rows travel as JSONL files
in the caller's run directory; the engine's stdout and stderr go to a log there, whose tail becomes the
error when the engine fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

LOG_TAIL_CHARS = 2000


class EngineError(RuntimeError):
    """The engine subprocess failed; the message holds the end of its log."""


def engine_run(args: list[str], *, log: Path) -> None:
    """Run ``python -m engine *args`` (``settings.PARLEY_PYTHON`` or this interpreter), appending to ``log``."""
    python = settings.PARLEY_PYTHON or sys.executable
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with log.open("ab") as out:
        code = subprocess.run(
            [python, "-m", "engine", *args],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    if code != 0:
        raise EngineError(f"engine {args[0]} exited with {code}: {log.read_text(errors='replace')[-LOG_TAIL_CHARS:]}")


def read_jsonl(path: Path) -> dict[str, dict]:
    """Engine output rows by id, in file order."""
    return {row["id"]: row for row in map(json.loads, path.read_text().splitlines()) if row}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
