"""The sampled drift check: every step compares the sampler's log-probs of the tokens it drew with the
trainer's recomputed log-probs at the training temperature, and fails the step when they disagree.
The greedy push check cannot see a sampler that applies a repetition penalty or a top-k; this one does."""

import doctest

import pytest

import engine.rollout
import engine.rollout.hf as hf_rollout
from engine.rollout import SamplingDriftError
from engine.rundir import read_metrics
from engine.train.ppo import train
from tests.engine.ppo_support import tiny_config

ONE_STEP = {"max_steps": 1, "save_every": 1, "probe_every": 0, "max_prompt_length": 128, "temperature": 0.8}


def test_doctests():
    assert doctest.testmod(engine.rollout).failed == 0


@pytest.mark.slow
def test_a_neutral_sampler_passes_and_the_drift_is_logged(tiny_model, tmp_path):
    config = tiny_config(tiny_model, tmp_path / "data", **ONE_STEP)
    train(config, run_dir=tmp_path / "run")
    row = [r for r in read_metrics(tmp_path / "run") if r["step"] == 1][0]
    assert 0 <= row["rollout/sampled_drift"] < 1e-3  # the same model, the same temperature: float noise
    assert abs(row["rollout/sampled_kl"]) < 1e-3
    assert row["rollout/sampled_drift_max"] >= row["rollout/sampled_drift"]


@pytest.mark.slow
@pytest.mark.parametrize("injected", [{"repetition_penalty": 1.5}, {"top_k": 3}])
def test_a_sampler_that_reshapes_the_distribution_fails_the_step(tiny_model, tmp_path, monkeypatch, injected):
    """The generator is made to apply what a checkpoint's generation_config.json could add."""
    clean = hf_rollout.sampling_config

    def reshaped(**kwargs):
        config = clean(**kwargs)
        if config.do_sample:
            for key, value in injected.items():
                setattr(config, key, value)
        return config

    monkeypatch.setattr(hf_rollout, "sampling_config", reshaped)
    config = tiny_config(tiny_model, tmp_path / "data", **ONE_STEP)
    with pytest.raises(SamplingDriftError, match="not sampled from the distribution the loss assumes"):
        train(config, run_dir=tmp_path / "run")


@pytest.mark.slow
def test_the_check_can_be_switched_off(tiny_model, tmp_path, monkeypatch):
    clean = hf_rollout.sampling_config

    def reshaped(**kwargs):
        config = clean(**kwargs)
        config.top_k = 3 if config.do_sample else config.top_k
        return config

    monkeypatch.setattr(hf_rollout, "sampling_config", reshaped)
    config = tiny_config(tiny_model, tmp_path / "data", sampled_drift_tolerance=None, **ONE_STEP)
    train(config, run_dir=tmp_path / "run")
    row = [r for r in read_metrics(tmp_path / "run") if r["step"] == 1][0]
    assert "rollout/sampled_drift" not in row and "rollout/sampled_kl" not in row
