"""Checkpoints and resume: a REPO run killed with SIGKILL after its first checkpoint resumes with
``--resume`` and ends exactly where an uninterrupted run with the same seed ends."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine.checkpoint import latest_checkpoint, load_checkpoint
from engine.config import save_config
from engine.runio import read_metrics
from tests.engine.ppo_support import assert_finite_metrics, comparable, tiny_config

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
# Mechanics, not learning: the smallest batch and the shortest prompts and replies that exercise them.
SMALL = {"per_device_batch_size": 2, "max_prompt_length": 128, "max_response_length": 8}


def _engine(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip


def _finish(process: subprocess.Popen, timeout: float = 600) -> str:
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-3000:]
    return text


def test_killed_run_resumes_to_the_same_end_as_an_uninterrupted_one(tiny_model, tmp_path):
    config = tiny_config(tiny_model, tmp_path / "data", max_steps=5, save_every=2, probe_every=0, **SMALL)
    for name in ("straight", "killed"):
        save_config(config, tmp_path / name / "config.json")

    straight = _engine("train", "repo", "--config", str(tmp_path / "straight" / "config.json"))
    _finish(straight)

    killed_dir = tmp_path / "killed"
    victim = _engine("train", "repo", "--config", str(killed_dir / "config.json"))
    deadline = time.monotonic() + 600
    while latest_checkpoint(killed_dir) is None and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if latest_checkpoint(killed_dir) is None or victim.poll() is not None:
        victim.kill()
        victim.wait()
        pytest.fail(f"no checkpoint to resume from, or the run ended first (exit {victim.returncode})")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = max(row["step"] for row in read_metrics(killed_dir))
    assert killed_at < 5 and not (killed_dir / "result.json").exists()

    _finish(_engine("train", "repo", "--config", str(killed_dir / "config.json"), "--resume"))

    result = json.loads((killed_dir / "result.json").read_text())
    assert result["steps"] == 5 and result["resumed_from"] >= 2
    resumed_rows, straight_rows = assert_finite_metrics(killed_dir), assert_finite_metrics(tmp_path / "straight")
    assert [r["step"] for r in resumed_rows] == [1, 2, 3, 4, 5]
    # Same seed, same data order, same RNG: the resumed run is the uninterrupted run.
    assert comparable(resumed_rows) == comparable(straight_rows)
    final_a = load_checkpoint(latest_checkpoint(killed_dir))["trainable"]
    final_b = load_checkpoint(latest_checkpoint(tmp_path / "straight"))["trainable"]
    assert final_a.keys() == final_b.keys()
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)


def test_checkpoint_holds_everything_a_resume_needs(tiny_model, tmp_path):
    from engine.train.ppo import train

    config = tiny_config(tiny_model, tmp_path / "data", max_steps=2, save_every=1, probe_every=0, **SMALL)
    train(config, run_dir=tmp_path / "run")
    state = load_checkpoint(latest_checkpoint(tmp_path / "run"))
    assert state["step"] == 2
    assert {"trainable", "optimizer", "scheduler", "data", "rng"} <= state.keys()
    assert {"python", "numpy", "torch"} <= state["rng"][0].keys()
    assert state["optimizer"]["state"], "optimizer moments must be saved"
    adapter = latest_checkpoint(tmp_path / "run") / "adapter" / "policy"
    assert (adapter / "adapter_config.json").is_file()
    # Resuming a finished run does no more steps and keeps the metrics it had.
    before = read_metrics(tmp_path / "run")
    result = train(config, run_dir=tmp_path / "run", resume=True)
    assert result["resumed_from"] == 2 and read_metrics(tmp_path / "run") == before
