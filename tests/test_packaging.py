"""The project is installed (``make venv``: ``pip install -e .``), so the engine's command line and every
benchmark script work from any directory, while tests and ``python -m`` in a checkout still use that
checkout's code first (a virtualenv may be shared by several checkouts and installed from one of them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run_all import QUICK, benchmarks

ROOT = Path(__file__).resolve().parent.parent
NOT_INSTALLED = "the project is not installed in this virtualenv: run `make venv` (pip install -e .)"


def run_elsewhere(command: list[str], where: Path) -> subprocess.CompletedProcess:
    """``command`` from ``where`` with no help from PYTHONPATH: only the installed project is importable."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(command, cwd=where, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script", benchmarks(), ids=lambda path: path.stem)
def test_each_benchmark_answers_help_from_another_directory(script, tmp_path):
    done = run_elsewhere([sys.executable, str(script), "--help"], tmp_path)
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr[-2000:] or NOT_INSTALLED


def test_every_benchmark_has_a_quick_size_for_make_bench():
    assert set(QUICK) == {script.stem for script in benchmarks()}


def test_the_engine_command_line_runs_from_another_directory(tmp_path):
    module = run_elsewhere([sys.executable, "-m", "engine", "--help"], tmp_path)
    assert module.returncode == 0 and "usage:" in module.stdout, module.stderr[-2000:] or NOT_INSTALLED
    script = shutil.which("parley-engine", path=str(Path(sys.executable).parent))
    assert script, NOT_INSTALLED
    console = run_elsewhere([script, "--help"], tmp_path)
    assert console.returncode == 0 and console.stdout == module.stdout


def test_this_checkout_comes_before_the_installed_one():
    import engine
    import kernel

    assert Path(engine.__file__).is_relative_to(ROOT) and Path(kernel.__file__).is_relative_to(ROOT)
    # ``python -m engine`` started from the checkout, as the web side starts the engine (cwd = BASE_DIR):
    probe = "import engine, kernel; print(engine.__file__); print(kernel.__file__)"
    done = run_elsewhere([sys.executable, "-c", probe], ROOT)
    assert all(Path(line).is_relative_to(ROOT) for line in done.stdout.split()), done.stdout + done.stderr
