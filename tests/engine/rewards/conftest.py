"""Session fixtures of the reward tests: the demo preference rows and one tiny trained RM."""

import json

import pytest

from engine.config import RMConfig


@pytest.fixture(scope="session")
def preference_file(tmp_path_factory):
    from engine.demo import generate_world
    from engine.demo.datasets import preference_rows

    rows = preference_rows(generate_world(seed=0))[:40]  # 32 to train, 8 held out: seconds on two cores
    path = tmp_path_factory.mktemp("rm-data") / "preferences.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, rows


@pytest.fixture(scope="session")
def trained_rm(tiny_model, preference_file, tmp_path_factory):
    """One tiny RM run shared by the tests below (and by the reward tests that need a real RM)."""
    path, _ = preference_file
    run_dir = tmp_path_factory.mktemp("rm-run")
    config = RMConfig.preset(
        "tiny",
        base_model=str(tiny_model),
        dataset=str(path),
        max_prompt_length=976,  # the demo prompts run to ~900 tokens; the tiny model's context is 1024
        max_response_length=48,
        max_steps=4,
    )
    from engine.rewards.rm import train_reward_model

    result = train_reward_model(config, run_dir=run_dir)
    return run_dir, result, config
