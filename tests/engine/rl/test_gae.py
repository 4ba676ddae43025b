import doctest

import pytest
import torch

import engine.rl.gae
from engine.rl import gae_advantages, last_token_rewards


def reference_gae(rewards, values, gamma, lam):
    """The textbook loop over one unpadded episode, in plain Python."""
    advantages, carry = [0.0] * len(rewards), 0.0
    for t in reversed(range(len(rewards))):
        next_value = values[t + 1] if t + 1 < len(values) else 0.0
        delta = rewards[t] + gamma * next_value - values[t]
        carry = delta + gamma * lam * carry
        advantages[t] = carry
    return advantages


def test_doctests():
    assert doctest.testmod(engine.rl.gae).failed == 0


def test_hand_computed_example():
    # gamma=1, lam=0.5, rewards [0, 0, 1], values [0.2, 0.4, 0.6]:
    # deltas: 0 + 0.4 - 0.2 = 0.2; 0 + 0.6 - 0.4 = 0.2; 1 + 0 - 0.6 = 0.4
    # A2 = 0.4; A1 = 0.2 + 0.5 * 0.4 = 0.4; A0 = 0.2 + 0.5 * 0.4 = 0.4
    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    values = torch.tensor([[0.2, 0.4, 0.6, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    adv, ret = gae_advantages(rewards, values, mask, gamma=1.0, lam=0.5)
    torch.testing.assert_close(adv, torch.tensor([[0.4, 0.4, 0.4, 0.0]]))
    torch.testing.assert_close(ret, torch.tensor([[0.6, 0.8, 1.0, 0.0]]))


@pytest.mark.parametrize("gamma,lam", [(1.0, 0.95), (0.99, 0.9), (1.0, 1.0), (0.9, 0.0)])
def test_matches_reference_loop_on_ragged_batch(gamma, lam):
    gen = torch.Generator().manual_seed(0)
    lengths = [5, 1, 3, 7]
    mask = torch.tensor([[1.0] * n + [0.0] * (7 - n) for n in lengths])
    values = torch.randn(4, 7, generator=gen)
    rewards = last_token_rewards(torch.randn(4, generator=gen), mask) + 0.1 * torch.randn(4, 7, generator=gen)
    adv, ret = gae_advantages(rewards, values, mask, gamma=gamma, lam=lam)
    for i, n in enumerate(lengths):
        expected = reference_gae(rewards[i, :n].tolist(), values[i, :n].tolist(), gamma, lam)
        torch.testing.assert_close(adv[i, :n], torch.tensor(expected))
        assert adv[i, n:].abs().sum() == 0 and ret[i, n:].abs().sum() == 0
    torch.testing.assert_close(ret * mask, (adv + values) * mask)


def test_lam_one_gamma_one_gives_monte_carlo_return_minus_value():
    mask = torch.ones(1, 4)
    rewards = last_token_rewards(torch.tensor([3.0]), mask)
    values = torch.tensor([[1.0, 2.0, 0.5, -1.0]])
    adv, ret = gae_advantages(rewards, values, mask, gamma=1.0, lam=1.0)
    torch.testing.assert_close(ret, torch.full((1, 4), 3.0))
    torch.testing.assert_close(adv, 3.0 - values)


def test_last_token_rewards_places_score_at_end_and_skips_empty_replies():
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    rewards = last_token_rewards(torch.tensor([1.0, -2.0, 5.0]), mask)
    torch.testing.assert_close(rewards, torch.tensor([[0.0, 0.0, 1.0], [-2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
