"""Did several training seeds improve on the start policy? Paired by prompt, clustered by prompt.

The learning demo samples ``k`` replies to each of ``P`` held-out prompts from the start policy and
from the policy each training seed ended with. The ``k`` replies to one prompt are not independent
(they share its case and its difficulty), so the unit of the analysis is the prompt: per prompt the
mean over its replies, the difference after − before per seed (paired: the same prompt on both sides),
the seeds averaged, and the standard error of the mean of those ``P`` per-prompt differences (a
cluster-robust standard error with the prompt as the cluster). The interval reuses the evaluation's
paired bootstrap (``evaluation.metrics.paired_bootstrap``), resampling prompts.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from evaluation.metrics import paired_bootstrap


def prompt_means(values: Sequence[float], n_prompts: int) -> list[float]:
    """Per-prompt means of replies laid out as ``prompts * samples`` (reply ``i`` answers prompt
    ``i % n_prompts``), the order ``sampled_quality`` draws them in.

    >>> prompt_means([1, 0, 1, 1], 2)
    [1.0, 0.5]
    """
    if n_prompts < 1 or len(values) % n_prompts:
        raise ValueError(f"{len(values)} replies do not divide into {n_prompts} prompts")
    groups = [values[p::n_prompts] for p in range(n_prompts)]
    return [sum(g) / len(g) for g in groups]


def pooled_improvement(
    before: Sequence[float], afters: Sequence[Sequence[float]], *, n_prompts: int, lower_is_better: bool
) -> dict:
    """Pool the improvement of several seeds over one start policy, clustered by prompt.

    ``before`` holds the start policy's per-reply values, ``afters`` one such list per seed (any
    number of replies per prompt on either side). Improvements are signed so that > 0 is better
    (a fall for a violation rate, a rise for R_total). Returns the pooled improvement, its clustered
    standard error and z, each seed's improvement, the median seed's, and the bootstrap interval.

    >>> r = pooled_improvement([1, 1, 0, 0], [[0, 1, 0, 0], [0, 0, 0, 0]], n_prompts=2, lower_is_better=True)
    >>> r["improvement"], r["per_seed"], r["median_seed"]
    (0.375, [0.25, 0.5], 0.375)
    """
    if not afters:
        raise ValueError("no seeds to pool")
    sign = -1.0 if lower_is_better else 1.0
    base = prompt_means(before, n_prompts)
    per_seed_prompt = [
        [sign * (a - b) for a, b in zip(prompt_means(after, n_prompts), base, strict=True)] for after in afters
    ]
    pooled = [statistics.fmean(column) for column in zip(*per_seed_prompt, strict=True)]
    improvement = statistics.fmean(pooled)
    se = statistics.stdev(pooled) / math.sqrt(n_prompts) if n_prompts > 1 else float("inf")
    per_seed = [statistics.fmean(row) for row in per_seed_prompt]
    after_pooled = [b + sign * d for b, d in zip(base, pooled, strict=True)]
    boot = paired_bootstrap(after_pooled, base)
    ci = boot["ci"] if sign > 0 else (-boot["ci"][1], -boot["ci"][0])
    return {
        "n_prompts": n_prompts,
        "seeds": len(afters),
        "improvement": improvement,
        "se": se,
        "z": improvement / se if se > 0 else (math.inf if improvement > 0 else 0.0),
        "per_seed": per_seed,
        "median_seed": statistics.median(per_seed),
        "ci95": ci,
        "p_value": boot["p_value"],
    }


def learned(result: dict, *, z: float = 2.0) -> bool:
    """The test's criterion: pooled improvement beyond ``z`` clustered standard errors AND the median
    seed improved.

    >>> learned({"improvement": 0.05, "se": 0.02, "median_seed": 0.04})
    True
    >>> learned({"improvement": 0.05, "se": 0.02, "median_seed": -0.01})
    False
    """
    return result["improvement"] > z * result["se"] and result["median_seed"] > 0
