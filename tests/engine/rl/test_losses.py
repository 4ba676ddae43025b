import doctest

import pytest
import torch

import engine.rl.losses
import engine.rl.stats
from engine.rl import (
    clipped_policy_loss,
    clipped_value_loss,
    entropy_from_logits,
    explained_variance,
    kl_estimate,
    logprobs_from_logits,
    masked_mean,
    masked_whiten,
)


@pytest.mark.parametrize("module", [engine.rl.losses, engine.rl.stats])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def test_whitening_ignores_padding_and_normalises():
    gen = torch.Generator().manual_seed(1)
    values = torch.randn(3, 6, generator=gen) * 5 + 3
    mask = torch.tensor([[1.0] * 6, [1.0] * 2 + [0.0] * 4, [1.0] * 4 + [0.0] * 2])
    white = masked_whiten(values, mask)
    picked = white[mask.bool()]
    assert abs(picked.mean().item()) < 1e-5
    assert abs(picked.std().item() - 1.0) < 1e-4
    assert white[~mask.bool()].abs().sum() == 0
    # Padding values must not change the result.
    noisy = values.masked_fill(~mask.bool(), 1e6)
    torch.testing.assert_close(masked_whiten(noisy, mask), white)


def test_whitening_without_mean_shift_keeps_the_mean():
    values, mask = torch.tensor([1.0, 3.0]), torch.ones(2)
    torch.testing.assert_close(masked_whiten(values, mask, shift_mean=False).mean(), torch.tensor(2.0))


def test_policy_loss_clips_only_in_the_direction_that_would_overshoot():
    mask = torch.ones(1, 4)
    old = torch.zeros(1, 4)
    # ratios e^0.5 ~ 1.65 and e^-0.5 ~ 0.61, each with a positive and a negative advantage.
    new = torch.tensor([[0.5, 0.5, -0.5, -0.5]])
    adv = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    loss, frac = clipped_policy_loss(new, old, adv, mask, clip_range=0.2)
    # token 0: A>0, ratio too high -> clipped at 1.2; token 1: A<0, ratio high -> unclipped (pessimistic);
    # token 2: A>0, ratio low -> unclipped; token 3: A<0, ratio low -> clipped at 0.8.
    r_hi, r_lo = torch.exp(torch.tensor(0.5)), torch.exp(torch.tensor(-0.5))
    expected = (-1.2 + r_hi - r_lo + 0.8) / 4
    torch.testing.assert_close(loss, expected)
    assert frac.item() == 0.5


def test_policy_loss_has_no_gradient_through_clipped_tokens():
    new = torch.tensor([[0.5]], requires_grad=True)
    loss, _ = clipped_policy_loss(new, torch.zeros(1, 1), torch.ones(1, 1), torch.ones(1, 1))
    loss.backward()
    assert new.grad.abs().sum() == 0


def test_policy_loss_at_ratio_one_is_minus_mean_advantage():
    adv = torch.tensor([[1.0, 2.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    loss, frac = clipped_policy_loss(torch.zeros(1, 3), torch.zeros(1, 3), adv, mask)
    torch.testing.assert_close(loss, torch.tensor(-1.5))
    assert frac.item() == 0.0


def test_value_loss_clips_large_moves_and_not_small_ones():
    mask = torch.ones(1, 2)
    old = torch.zeros(1, 2)
    returns = torch.tensor([[1.0, 1.0]])
    values = torch.tensor([[0.1, 2.0]])  # a small move toward, a large move past the return
    loss, frac = clipped_value_loss(values, old, returns, mask, clip_range=0.2)
    # token 0: unclipped 0.81 vs clipped 0.81 -> 0.81; token 1: unclipped 1.0, clipped (0.2-1)^2 = 0.64 -> 1.0
    torch.testing.assert_close(loss, torch.tensor(0.5 * (0.81 + 1.0) / 2))
    assert frac.item() == 0.0


def test_logprobs_and_entropy_agree_with_torch_distributions():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 3, 11, generator=gen)
    tokens = torch.randint(0, 11, (2, 3), generator=gen)
    dist = torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(logprobs_from_logits(logits, tokens), dist.log_prob(tokens))
    torch.testing.assert_close(entropy_from_logits(logits), dist.entropy())


def test_kl_estimators_are_zero_on_identical_policies_and_k3_nonnegative():
    gen = torch.Generator().manual_seed(3)
    p, q = torch.randn(100, generator=gen), torch.randn(100, generator=gen)
    assert kl_estimate(p, p).abs().max() == 0
    assert (kl_estimate(p, q, kind="k3") >= 0).all()
    with pytest.raises(ValueError, match="unknown KL estimator"):
        kl_estimate(p, q, kind="k9")


def test_kl_k3_estimates_true_kl_on_samples():
    gen = torch.Generator().manual_seed(4)
    policy = torch.distributions.Categorical(logits=torch.tensor([2.0, 0.0, -1.0]))
    ref = torch.distributions.Categorical(logits=torch.tensor([0.0, 0.0, 0.0]))
    samples = torch.multinomial(policy.probs, 200_000, replacement=True, generator=gen)
    estimate = kl_estimate(policy.log_prob(samples), ref.log_prob(samples)).mean()
    exact = torch.distributions.kl_divergence(policy, ref)
    assert abs(estimate.item() - exact.item()) < 0.01


def test_explained_variance():
    target = torch.tensor([1.0, 2.0, 3.0, 4.0])
    mask = torch.ones(4)
    assert explained_variance(target, target, mask) == pytest.approx(1.0)
    assert explained_variance(torch.full((4,), 2.5), target, mask) == pytest.approx(0.0, abs=1e-6)
    assert explained_variance(-target, target, mask) < 0


def test_masked_mean_along_dim():
    values = torch.tensor([[1.0, 3.0], [5.0, 7.0]])
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    torch.testing.assert_close(masked_mean(values, mask, dim=1), torch.tensor([1.0, 6.0]))
