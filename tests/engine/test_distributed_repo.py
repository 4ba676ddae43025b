"""Distributed REPO: the same entry point under ``torchrun --nproc_per_node=2`` (gloo, CPU).
Rank 0 alone writes the run files; gradients are all-reduced so both ranks end with identical weights."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import save_config
from engine.rundir import read_metrics
from tests.engine.ppo_support import assert_finite_metrics, tiny_config

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_repo_keeps_replicas_in_sync_and_rank0_writes(tiny_model, tmp_path):
    run_dir = tmp_path / "run"
    config = tiny_config(
        tiny_model,
        tmp_path / "data",
        per_device_batch_size=2,
        max_prompt_length=128,
        max_response_length=8,
        max_steps=2,
        save_every=1,
        probe_every=0,
    )
    save_config(config, run_dir / "config.json")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
        "-m", "engine", "train", "repo", "--config", str(run_dir / "config.json"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]

    result = json.loads((run_dir / "result.json").read_text())
    assert result["world_size"] == 2 and result["steps"] == 2
    assert result["replicas_in_sync"], result["parameter_digests"]
    assert len(result["parameter_digests"]) == 2
    # One writer: exactly one metrics line per step (two writers would append two).
    rows = assert_finite_metrics(run_dir)
    assert [r["step"] for r in rows] == [1, 2] == [r["step"] for r in read_metrics(run_dir)]
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert checkpoints == ["step-000001", "step-000002"]
    assert len(json.loads((run_dir / "checkpoints" / "step-000002" / "meta.json").read_text())) >= 2
