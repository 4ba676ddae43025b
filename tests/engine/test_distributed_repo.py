"""Distributed REPO: the same entry point under ``torchrun --nproc_per_node=2`` (gloo, CPU).
Rank 0 alone writes the run files; gradients are all-reduced so both ranks end with identical weights."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from engine.config import save_config
from engine.rundir import read_metrics
from tests.engine.ppo_support import assert_finite_metrics, tiny_config
from tests.fixtures.engine import torchrun_train_command

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


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
    command = torchrun_train_command("repo", run_dir / "config.json")
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
