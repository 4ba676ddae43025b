"""The SOP stage of the turn being written travels with each prompt row to the reward: the demo's
prompt rows carry it, and the training loop hands it to the judge with each reply."""

import pytest

from engine.demo.datasets import prompt_rows
from engine.demo.world import generate_world
from engine.rewards.reward import RepoReward
from engine.train.ppo import train
from engine.train.ppo_data import read_prompt_rows
from tests.engine.ppo_support import tiny_config


def test_demo_prompt_rows_carry_the_agent_turns_stage():
    world = generate_world(seed=0, n_dialogues=4)
    rows = prompt_rows(world)
    expected = [m["stage"] for d in world["dialogues"] for m in d["messages"] if m["role"] == "agent"]
    assert [r["stage"] for r in rows] == expected and len(set(expected)) > 1


@pytest.mark.slow
def test_the_loop_passes_each_rows_stage_to_the_reward(tiny_model, tmp_path, monkeypatch):
    seen = []
    start = RepoReward.start

    def spy(self, **batch):
        seen.append((batch["tasks"], batch.get("stages")))
        return start(self, **batch)

    monkeypatch.setattr(RepoReward, "start", spy)
    config = tiny_config(tiny_model, tmp_path / "data", max_steps=1, save_every=1, probe_every=0, max_prompt_length=128)
    train(config, run_dir=tmp_path / "run")
    by_case = {}
    for row in read_prompt_rows(config.datasets):
        by_case.setdefault(repr(row["task"]), set()).add(row["stage"])
    tasks, stages = seen[0]
    assert stages is not None and len(stages) == len(tasks) and all(stages)
    assert all(stage in by_case[repr(task)] for task, stage in zip(tasks, stages, strict=True))
