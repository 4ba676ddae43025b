"""The whole process tree of an engine run dies with its supervisor: ranks that sit in sessions of their
own (as torchrun's do) are found by the run's mark and killed on crash takeover and on stop; a process
id the system gave to another program is never killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kernel.launcher import engine_env, engine_stop, kill_leftover, run_processes
from tests.fixtures.workers import process_gone, wait_for

# A "launcher" that starts two "ranks", each in a session of its own (out of reach of killpg), writes
# their ids and waits: the shape of torchrun and its ranks.
FAKE_TORCHRUN = """
import subprocess, sys, time
from pathlib import Path
ranks = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
         for _ in range(2)]
Path(sys.argv[1]).write_text(" ".join(str(r.pid) for r in ranks))
time.sleep(120)
"""


def start_fake_run(run_dir: Path) -> tuple[subprocess.Popen, list[int]]:
    run_dir.mkdir(parents=True, exist_ok=True)
    pids_file = run_dir / "ranks.pids"
    proc = subprocess.Popen(
        [sys.executable, "-c", FAKE_TORCHRUN, str(pids_file)], env=engine_env(run_dir=run_dir), start_new_session=True
    )
    proc.parley_run_dir = run_dir
    text = wait_for(lambda: pids_file.exists() and pids_file.read_text(), timeout=30, what="the ranks")
    return proc, [int(p) for p in text.split()]


def test_ranks_survive_a_group_kill_but_not_the_takeover(tmp_path):
    proc, ranks = start_fake_run(tmp_path / "run")
    assert set(ranks) | {proc.pid} == set(run_processes(tmp_path / "run"))
    os.killpg(proc.pid, signal.SIGKILL)  # the supervisor's group dies (what killpg alone reaches)
    proc.wait()
    time.sleep(0.3)
    assert not any(process_gone(pid) for pid in ranks), "ranks in their own session outlive killpg"
    # The next worker takes the job over: before resuming, every process of the run dies.
    kill_leftover(host=socket.gethostname(), pid=proc.pid, run_dir=tmp_path / "run")
    assert all(process_gone(pid) for pid in ranks)
    assert run_processes(tmp_path / "run") == []


def test_stop_kills_ranks_outside_the_group(tmp_path):
    proc, ranks = start_fake_run(tmp_path / "run")
    engine_stop(proc, grace_s=1)
    assert all(process_gone(pid) for pid in ranks)


def test_a_reused_process_id_is_never_killed(tmp_path):
    """The recorded engine pid now belongs to an unrelated program (no run mark): left alone."""
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        kill_leftover(host=socket.gethostname(), pid=stranger.pid, run_dir=tmp_path / "run")
        kill_leftover(host=socket.gethostname(), pid=stranger.pid)
        time.sleep(0.2)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_another_runs_processes_are_left_alone(tmp_path):
    proc, ranks = start_fake_run(tmp_path / "other")
    try:
        kill_leftover(host=socket.gethostname(), pid=None, run_dir=tmp_path / "run")
        assert not any(process_gone(pid) for pid in ranks)
    finally:
        engine_stop(proc, grace_s=1)
