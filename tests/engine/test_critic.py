"""The critic can learn: it starts as a copy of the RM that sits on the shared base (so its values are
the RM's scores from step 1), lambda is 1 on a batch until the critic explains that batch's returns,
and the run logs the critic's explained variance, the lambda used and the share of R_model > 0."""

import pytest
import torch

from engine.rl import gae_advantages
from engine.rundir import read_metrics
from engine.train.ppo import train
from engine.train.ppo_config import REPOConfig
from engine.train.ppo_model import REWARD, VALUE, build_actor_critic, critic_values
from engine.train.ppo_update import batch_lambda
from tests.engine.ppo_support import tiny_config


def _batch():
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    rewards = torch.zeros_like(mask)
    rewards[0, 2], rewards[1, 3], rewards[2, 1] = 1.0, -1.0, 0.5
    return rewards, mask


def test_lambda_is_one_until_the_critic_explains_the_returns():
    config = REPOConfig(base_model="x", dataset="x.jsonl", lam=0.9)
    rewards, mask = _batch()
    _, mc_returns = gae_advantages(rewards, torch.zeros_like(mask), mask, gamma=1.0, lam=1.0)
    assert batch_lambda(rewards, torch.zeros_like(mask), mask, config=config) == 1.0  # a blank critic
    noise = torch.tensor([[3.0, -2.0, 1.0, 0.0], [-1.0, 2.5, 0.3, -3.0], [2.0, -1.0, 0.0, 0.0]]) * mask
    assert batch_lambda(rewards, noise, mask, config=config) == 1.0  # noise explains nothing
    assert batch_lambda(rewards, 0.9 * mc_returns, mask, config=config) == 0.9  # a critic that has learned
    config.lam_until_critic_explains = False
    assert batch_lambda(rewards, torch.zeros_like(mask), mask, config=config) == 0.9


@pytest.fixture(scope="module")
def rm_dir(tiny_model, tmp_path_factory):
    from benchmarks.gpu_smoke import write_untrained_rm

    return write_untrained_rm(tiny_model, tmp_path_factory.mktemp("rm"), seed=1, offset=0.25)


@pytest.mark.slow
def test_the_critic_starts_as_the_rm_on_the_shared_base(tiny_model, rm_dir):
    from engine.train.ppo_reward_model import SharedBaseRewardModel, attach_reward_model

    config = REPOConfig.preset("tiny", base_model=str(tiny_model), dataset="unused.jsonl")
    torch.manual_seed(0)
    ac = build_actor_critic(config)
    scorer = attach_reward_model(ac, rm_dir, init_critic=True)
    params = dict(ac.model.named_parameters())
    value = sorted(n for n in params if f".{VALUE}." in n)
    assert value and all(torch.equal(params[n], params[n.replace(f".{VALUE}.", f".{REWARD}.")]) for n in value)
    assert any(p.abs().sum() > 0 for n, p in params.items() if f"lora_B.{VALUE}." in n)
    assert {id(p) for p in ac.critic_parameters()} >= {id(params[n]) for n in value}  # the optimiser's group

    ids = torch.tensor([ac.tokenizer.encode("We can do 700 for the Deluxe King, final.")])
    att = torch.ones_like(ids)
    with torch.no_grad():
        values = critic_values(ac, ids, att, start=2)
        # V(s_t) reads the state before token t: the last value is the state after all but the last token
        rm = SharedBaseRewardModel(ac, scorer.model.head)
        rm_raw = rm(input_ids=ids[:, :-1], attention_mask=att[:, :-1]).logits[0, 0]
    # the critic's value of a state is the RM's centred score of the same text (R_model = raw - offset)
    assert float(values[0, -1]) == pytest.approx(float(rm_raw) - 0.25, abs=1e-4)

    torch.manual_seed(0)
    fresh = build_actor_critic(config)
    attach_reward_model(fresh, rm_dir)  # without init_critic: the critic is left alone
    fresh_params = dict(fresh.model.named_parameters())
    assert all(fresh_params[n].abs().sum() == 0 for n in fresh_params if f"lora_B.{VALUE}." in n)


@pytest.mark.slow
def test_a_run_logs_the_critic_and_the_rm_figures(tiny_model, rm_dir, tmp_path):
    fields = {"max_steps": 1, "save_every": 1, "probe_every": 0, "max_prompt_length": 128, "lam": 0.95}
    config = tiny_config(tiny_model, tmp_path / "data", rewards={"rm_path": str(rm_dir)}, **fields)
    assert config.critic_init == "rm" and config.lam_until_critic_explains
    train(config, run_dir=tmp_path / "run")
    row = [r for r in read_metrics(tmp_path / "run") if r["step"] == 1][0]
    assert row["ppo/lam"] in (0.95, 1.0)
    assert 0.0 <= row["reward/r_model_positive"] <= 1.0
    assert isinstance(row["ppo/explained_variance"], float)
