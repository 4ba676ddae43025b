"""The RM as the ``reward`` adapter of the shared base scores exactly like the RM loaded on a base of
its own (``RewardModelScorer.from_dir``), and leaves the policy and value adapters alone."""

import pytest
import torch

from engine.train.ppo_config import REPOConfig
from engine.train.ppo_model import POLICY, REWARD, VALUE, build_actor_critic
from engine.train.ppo_reward_model import attach_reward_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rm_dir(tiny_model, tmp_path_factory):
    """An RM run directory in the layout ``engine.rewards.rm`` writes, with random non-zero weights
    (what is under test is the loading, not the training)."""
    from benchmarks.gpu_smoke import write_untrained_rm

    return write_untrained_rm(tiny_model, tmp_path_factory.mktemp("rm"), seed=1, offset=0.25)


def test_shared_base_rm_scores_like_a_separate_rm(tiny_model, rm_dir):
    from engine.rewards.rm import RewardModelScorer

    torch.manual_seed(0)
    ac = build_actor_critic(REPOConfig.preset("tiny", base_model=str(tiny_model), dataset="unused.jsonl"))
    before = ac.trainable_state()
    shared = attach_reward_model(ac, rm_dir)
    separate = RewardModelScorer.from_dir(rm_dir)

    prompts = [[{"role": "user", "content": "hi, yes?"}], [{"role": "user", "content": "We can do 700."}]]
    replies = ["Hello! Could the Deluxe King come down to 690?", "Thank you, 700 works for us."]
    expected = separate.score(prompts=prompts, replies=replies)
    got = shared.score(prompts=prompts, replies=replies)
    assert got == pytest.approx(expected, abs=1e-4)
    assert len(set(round(x, 4) for x in got)) == 2  # real, reply-dependent scores

    assert set(ac.model.peft_config) == {POLICY, VALUE, REWARD}
    assert not any(p.requires_grad for n, p in ac.model.named_parameters() if f".{REWARD}." in n)
    after = ac.trainable_state()
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in after)
