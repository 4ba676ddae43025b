"""Statistics for comparing two systems on the same items: bootstrap intervals, paired tests, and the
prompt-clustered, seed-pooled comparisons of the learning benchmarks.

Pure functions over plain lists (numpy, no torch, no Django), so the evaluation report
(``evaluation.metrics`` re-exports the first three), the learning benchmarks and the learning tests
share one definition.

**Clustered by prompt.** A learning evaluation samples ``k`` replies to each of ``P`` held-out prompts
from each policy. The ``k`` replies to one prompt are not independent (they share its case and its
difficulty), so the unit of the analysis is the prompt: per prompt the mean over its replies, the
difference candidate − baseline per seed (paired: the same prompt on both sides, the same sampling
seed), the seeds averaged, and the standard error of the mean of those ``P`` per-prompt differences (a
cluster-robust standard error with the prompt as the cluster). The interval is the paired bootstrap
below, resampling prompts.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np


def _resampled_means(values: Sequence[float], *, n_resamples: int, seed: int) -> np.ndarray:
    """Means of ``n_resamples`` resamples of ``values`` with replacement (one vectorised draw, seeded)."""
    data = np.asarray(values, dtype=float)
    index = np.random.default_rng(seed).integers(0, len(data), size=(n_resamples, len(data)))
    return data[index].mean(axis=1)


def bootstrap_ci(
    values: Sequence[float], *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean over items resampled with replacement.

    Efron, B. & Tibshirani, R. (1993). *An Introduction to the Bootstrap*, ch. 13 (percentile interval).
    Items are the resampling unit: a dialogue's judgments move together. Seeded, so a report is stable.

    >>> bootstrap_ci([1.0] * 10)
    (1.0, 1.0)
    >>> lo, hi = bootstrap_ci([0, 1] * 20); bool(lo < 0.5 < hi)
    True
    """
    if not values:
        return None
    alpha = 100.0 * (1.0 - confidence) / 2.0
    lo, hi = np.percentile(_resampled_means(values, n_resamples=n_resamples, seed=seed), [alpha, 100.0 - alpha])
    return float(lo), float(hi)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> dict:
    """Mean difference a − b over the same items, its percentile interval and a two-sided bootstrap p.

    Efron & Tibshirani (1993), ch. 16 (bootstrap hypothesis tests); pairs are resampled together so
    item difficulty cancels. p = 2 · min(share of resampled differences ≤ 0, share ≥ 0), capped at 1.

    >>> r = paired_bootstrap([5, 5, 4, 5], [3, 4, 3, 3]); r["diff"], r["ci"][0] > 0
    (1.5, True)
    """
    if len(a) != len(b):
        raise ValueError("a paired comparison needs the same items for both systems")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    if not diffs:
        return {"n": 0, "diff": None, "ci": None, "p_value": None}
    boot = _resampled_means(diffs, n_resamples=n_resamples, seed=seed)
    tail = min(float((boot <= 0).mean()), float((boot >= 0).mean()))
    return {
        "n": len(diffs),
        "diff": sum(diffs) / len(diffs),
        "ci": bootstrap_ci(diffs, n_resamples=n_resamples, confidence=confidence, seed=seed),
        "p_value": min(1.0, 2.0 * tail),
    }


def sign_test(a: Sequence[float], b: Sequence[float]) -> dict:
    """Exact two-sided sign test on paired items (ties dropped): p = 2 · P(X ≤ min(w, l)), X ~ Bin(w+l, ½).

    Dixon, W. J. & Mood, A. M. (1946). "The statistical sign test". JASA 41(236).

    >>> sign_test([5, 5, 5, 5, 5, 5], [1, 1, 1, 1, 1, 1])["p_value"]
    0.03125
    >>> sign_test([3, 4], [3, 4])["p_value"]
    1.0
    """
    if len(a) != len(b):
        raise ValueError("a paired comparison needs the same items for both systems")
    wins = sum(1 for x, y in zip(a, b, strict=True) if x > y)
    losses = sum(1 for x, y in zip(a, b, strict=True) if x < y)
    n = wins + losses
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n if n else 1.0
    return {"wins": wins, "losses": losses, "ties": len(a) - n, "p_value": min(1.0, 2.0 * tail)}


# -- learning comparisons: paired by prompt, clustered by prompt, pooled over training seeds ----------


def prompt_means(values: Sequence[float], n_prompts: int) -> list[float]:
    """Per-prompt means of replies laid out as ``prompts * samples`` (reply ``i`` answers prompt
    ``i % n_prompts``), the order the learning evaluation draws them in.

    >>> prompt_means([1, 0, 1, 1], 2)
    [1.0, 0.5]
    """
    if n_prompts < 1 or len(values) % n_prompts:
        raise ValueError(f"{len(values)} replies do not divide into {n_prompts} prompts")
    groups = [values[p::n_prompts] for p in range(n_prompts)]
    return [sum(g) / len(g) for g in groups]


def pooled_difference(
    baselines: Sequence[Sequence[float]],
    candidates: Sequence[Sequence[float]],
    *,
    n_prompts: int,
    lower_is_better: bool,
) -> dict:
    """How much better ``candidates`` did than ``baselines``, seed by seed, pooled over the seeds.

    ``baselines[s]`` and ``candidates[s]`` are one seed's per-reply values (``prompts * samples``; any
    number of replies per prompt on either side); a baseline may be the same list for every seed (the
    start policy). Differences are signed so that > 0 is better (a fall for a violation rate, a rise
    for R_total). Returns the pooled improvement, its standard error clustered by prompt, z, each
    seed's improvement and its own clustered s.e. and bootstrap interval, the median seed's
    improvement, and the pooled bootstrap interval and p over prompts.

    >>> r = pooled_difference([[1, 1, 0, 0]] * 2, [[0, 1, 0, 0], [0, 0, 0, 0]], n_prompts=2, lower_is_better=True)
    >>> r["improvement"], r["per_seed"], r["median_seed"]
    (0.375, [0.25, 0.5], 0.375)
    """
    if not candidates or len(baselines) != len(candidates):
        raise ValueError(f"{len(baselines)} baselines for {len(candidates)} seeds: one each, at least one")
    sign = -1.0 if lower_is_better else 1.0
    per_seed_prompt = [
        [sign * (c - b) for c, b in zip(prompt_means(cand, n_prompts), prompt_means(base, n_prompts), strict=True)]
        for base, cand in zip(baselines, candidates, strict=True)
    ]
    pooled = [statistics.fmean(column) for column in zip(*per_seed_prompt, strict=True)]
    improvement = statistics.fmean(pooled)
    se = _clustered_se(pooled)
    boot = paired_bootstrap(pooled, [0.0] * n_prompts)
    seeds = []
    for diffs in per_seed_prompt:
        one = paired_bootstrap(diffs, [0.0] * n_prompts)
        seeds.append({"improvement": statistics.fmean(diffs), "se": _clustered_se(diffs), "ci95": one["ci"]})
    per_seed = [s["improvement"] for s in seeds]
    return {
        "n_prompts": n_prompts,
        "seeds": len(candidates),
        "improvement": improvement,
        "se": se,
        "z": improvement / se if se > 0 else (math.inf if improvement > 0 else 0.0),
        "per_seed": per_seed,
        "per_seed_detail": seeds,
        "median_seed": statistics.median(per_seed),
        "ci95": boot["ci"],
        "p_value": boot["p_value"],
        "seeds_better": sum(x > 0 for x in per_seed),
        "seeds_worse": sum(x < 0 for x in per_seed),
    }


def pooled_improvement(
    before: Sequence[float], afters: Sequence[Sequence[float]], *, n_prompts: int, lower_is_better: bool
) -> dict:
    """:func:`pooled_difference` of several seeds over one start policy (``before``, the same for all).

    >>> r = pooled_improvement([1, 1, 0, 0], [[0, 1, 0, 0], [0, 0, 0, 0]], n_prompts=2, lower_is_better=True)
    >>> r["improvement"], r["per_seed"], r["median_seed"]
    (0.375, [0.25, 0.5], 0.375)
    """
    if not afters:
        raise ValueError("no seeds to pool")
    return pooled_difference([before] * len(afters), afters, n_prompts=n_prompts, lower_is_better=lower_is_better)


def _clustered_se(per_prompt: Sequence[float]) -> float:
    return statistics.stdev(per_prompt) / math.sqrt(len(per_prompt)) if len(per_prompt) > 1 else float("inf")


def learned(result: dict, *, z: float = 2.0) -> bool:
    """The multi-seed criterion: pooled improvement beyond ``z`` clustered standard errors AND the
    median seed improved (one lucky seed cannot carry it).

    >>> learned({"improvement": 0.05, "se": 0.02, "median_seed": 0.04})
    True
    >>> learned({"improvement": 0.05, "se": 0.02, "median_seed": -0.01})
    False
    """
    return result["improvement"] > z * result["se"] and result["median_seed"] > 0


def no_significant_loss(result: dict, *, z: float = 2.0) -> bool:
    """The candidate is not worse beyond ``z`` clustered standard errors (it may be a little worse).

    >>> no_significant_loss({"improvement": -0.01, "se": 0.02}), no_significant_loss({"improvement": -0.05, "se": 0.02})
    (True, False)
    """
    return result["improvement"] >= -z * result["se"]


def repo_claim(vs_ppo: dict, vs_start: dict, rm_vs_ppo: dict, *, z: float = 2.0) -> dict:
    """The paper's claim on a violation rate, over seeds: on *every* seed REPO's rate is below PPO's
    and below the start policy's, the pooled fall against PPO clears ``z`` clustered standard errors,
    and REPO's RM score is not significantly below PPO's. Each part is reported, and ``holds`` is
    their conjunction. The arguments are :func:`pooled_difference` results with REPO as the candidate.

    >>> good = {"improvement": 0.05, "se": 0.01, "per_seed": [0.04, 0.06, 0.05]}
    >>> repo_claim(good, good, {"improvement": 0.0, "se": 0.1})["holds"]
    True
    >>> repo_claim({**good, "per_seed": [0.1, 0.1, -0.01]}, good, {"improvement": 0.0, "se": 0.1})["holds"]
    False
    """
    parts = {
        "every_seed_below_ppo": all(x > 0 for x in vs_ppo["per_seed"]),
        "every_seed_below_start": all(x > 0 for x in vs_start["per_seed"]),
        "pooled_beyond_z_vs_ppo": vs_ppo["improvement"] > z * vs_ppo["se"],
        "no_significant_rm_loss": no_significant_loss(rm_vs_ppo, z=z),
    }
    return {**parts, "holds": all(parts.values())}
