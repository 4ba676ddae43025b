"""Checkpoints and resume: a REPO run killed with SIGKILL after its first checkpoint resumes with
``--resume`` and ends exactly where an uninterrupted run with the same seed ends; a TRL run (SFT)
killed the same way continues from its checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine.checkpoint import load_checkpoint
from engine.config import SFTConfig, save_config
from engine.rundir import ADAPTER_DIR, LOOP_LAYOUT, RESULT_FILE, TRL_LAYOUT, latest_checkpoint, read_metrics
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
    final_a = load_checkpoint(latest_checkpoint(killed_dir).path)["trainable"]
    final_b = load_checkpoint(latest_checkpoint(tmp_path / "straight").path)["trainable"]
    assert final_a.keys() == final_b.keys()
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)


def test_checkpoint_holds_everything_a_resume_needs(tiny_model, tmp_path):
    from engine.train.ppo import train

    config = tiny_config(tiny_model, tmp_path / "data", max_steps=2, save_every=1, probe_every=0, **SMALL)
    train(config, run_dir=tmp_path / "run")
    state = load_checkpoint(latest_checkpoint(tmp_path / "run").path)
    assert state["step"] == 2
    assert {"trainable", "optimizer", "scheduler", "data", "rng"} <= state.keys()
    assert {"python", "numpy", "torch"} <= state["rng"][0].keys()
    assert state["optimizer"]["state"], "optimizer moments must be saved"
    checkpoint = latest_checkpoint(tmp_path / "run")
    assert checkpoint.layout is LOOP_LAYOUT and checkpoint.step == 2
    adapter = checkpoint.path / ADAPTER_DIR / "policy"
    assert (adapter / "adapter_config.json").is_file()
    # Resuming a finished run does no more steps and keeps the metrics it had.
    before = read_metrics(tmp_path / "run")
    result = train(config, run_dir=tmp_path / "run", resume=True)
    assert result["resumed_from"] == 2 and read_metrics(tmp_path / "run") == before


def test_killed_trl_run_resumes_from_its_checkpoint(tiny_model, tmp_path):
    """The TRL family (SFT here; DPO, RM and GRPO share ``engine.train.common``): killed after its first
    checkpoint, ``--resume`` continues from that step, and the web app's reader finds the checkpoint."""
    from engine.demo import generate_world
    from engine.demo.datasets import sft_rows

    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in sft_rows(generate_world(seed=11, n_dialogues=30))))
    config = SFTConfig.preset("tiny", base_model=str(tiny_model), dataset=str(data), max_steps=12, save_every=2)
    run_dir = tmp_path / "run"
    save_config(config, run_dir / "config.json")
    victim = _engine("train", "sft", "--config", str(run_dir / "config.json"))
    deadline = time.monotonic() + 600
    while latest_checkpoint(run_dir) is None and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint is not None and checkpoint.layout is TRL_LAYOUT, "the run ended before its first checkpoint"
    assert checkpoint.path.parent.name == "checkpoints" and not (run_dir / RESULT_FILE).exists()

    _finish(_engine("train", "sft", "--config", str(run_dir / "config.json"), "--resume"))

    result = json.loads((run_dir / RESULT_FILE).read_text())
    assert result["resumed_from"] >= checkpoint.step > 0 and result["steps"] == 12
    assert [r["step"] for r in read_metrics(run_dir)] == list(range(1, 13))  # each step logged once
