"""The same entry point under ``torchrun --nproc_per_node=2`` (gloo on the CPU).

Checks what distributed training must guarantee: rank 0 alone writes the run files (each step's
metrics line appears once), and both ranks end with identical trainable parameters (each rank writes a
digest in the test-only debug mode of ``engine.train.callbacks``).
"""

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

from engine.config import RMConfig, SFTConfig, save_config
from engine.demo import generate_world
from engine.demo.datasets import preference_rows, sft_rows
from engine.rundir import read_metrics
from engine.train.callbacks import DIGEST_DIR_ENV
from tests.fixtures.engine import torchrun_train_command

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
STEPS = 3


def _has_rm_trainer() -> bool:
    return importlib.util.find_spec("engine.rewards.rm") is not None


def _torchrun(*, method, config_path, digest_dir, log_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", DIGEST_DIR_ENV: str(digest_dir)}
    env.pop("RANK", None)
    command = torchrun_train_command(method, config_path)
    with log_path.open("w") as log:
        return subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600)


@pytest.mark.parametrize(
    "method",
    [
        pytest.param("rm", marks=pytest.mark.skipif(not _has_rm_trainer(), reason="engine.rewards.rm not built yet")),
        # SFT shares the Trainer set-up (engine.train.common) with the RM; it stands in until the RM
        # trainer exists, and is skipped after that to keep the suite's time down.
        pytest.param("sft", marks=pytest.mark.skipif(_has_rm_trainer(), reason="the rm case covers it")),
    ],
)
def test_two_processes_agree_and_rank0_writes(method, tiny_model, tmp_path):
    world = generate_world(seed=3, n_dialogues=20)
    rows = preference_rows(world) if method == "rm" else sft_rows(world)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cls = RMConfig if method == "rm" else SFTConfig
    config = cls.preset("tiny", base_model=str(tiny_model), dataset=str(data), max_steps=STEPS, save_every=STEPS)
    run_dir = tmp_path / "run"
    save_config(config, run_dir / "config.json")

    log = tmp_path / "torchrun.log"
    result = _torchrun(method=method, config_path=run_dir / "config.json", digest_dir=tmp_path / "digest", log_path=log)
    assert result.returncode == 0, log.read_text()[-4000:]

    # rank 0 alone wrote: one metrics line per step, not two
    assert [m["step"] for m in read_metrics(run_dir)] == list(range(1, STEPS + 1))
    progress = json.loads((run_dir / "progress.json").read_text())
    assert progress["status"] == "completed" and progress["step"] == STEPS
    result = json.loads((run_dir / "result.json").read_text())
    assert result["steps"] == STEPS and result.get("world_size", 2) == 2
    # both ranks trained and ended with the same parameters
    digests = {p.name: p.read_text() for p in (tmp_path / "digest").glob("rank*.sha256")}
    assert set(digests) == {"rank0.sha256", "rank1.sha256"}
    assert digests["rank0.sha256"] == digests["rank1.sha256"]
