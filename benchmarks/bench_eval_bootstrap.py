"""Bootstrap intervals of an evaluation report, beside the plain-Python loop measured in the same run.

    python benchmarks/bench_eval_bootstrap.py [--systems 6] [--items 45] [--resamples 2000]

A report page computes one 95% interval per system and column (the paper's six bad-case columns plus
four skills: 60 intervals for six systems on the 45-item set). Baseline: the textbook loop, one
``random.randrange`` per draw. Target: the whole report's intervals in well under a second. CPU time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.metrics import bootstrap_ci  # noqa: E402


def loop_ci(values: list[float], *, n_resamples: int, seed: int = 0) -> tuple[float, float]:
    rng = random.Random(seed)
    n = len(values)
    stats = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(n_resamples))
    return stats[int(0.025 * (n_resamples - 1))], stats[int(0.975 * (n_resamples - 1)) + 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--systems", type=int, default=6)
    parser.add_argument("--items", type=int, default=45)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(1)
    columns = [[100.0 * (rng.random() < 0.7) for _ in range(args.items)] for _ in range(args.systems * 10)]
    bootstrap_ci(columns[0], n_resamples=10)  # import numpy's RNG machinery outside the timing

    start = time.process_time()
    fast = [bootstrap_ci(c, n_resamples=args.resamples) for c in columns]
    fast_s = time.process_time() - start
    start = time.process_time()
    slow = [loop_ci(c, n_resamples=args.resamples) for c in columns]
    slow_s = time.process_time() - start

    width = max(abs((f[1] - f[0]) - (s[1] - s[0])) for f, s in zip(fast, slow, strict=True))
    shape = f"{args.systems} systems x 10 columns, {args.items} items, {args.resamples} resamples"
    print(f"{len(columns)} intervals ({shape})")
    print(f"vectorised: {fast_s:.3f} s   plain-Python loop: {slow_s:.3f} s   speed-up: {slow_s / fast_s:.1f}x")
    print(f"largest difference in interval width between the two: {width:.2f} percentage points")


if __name__ == "__main__":
    main()
