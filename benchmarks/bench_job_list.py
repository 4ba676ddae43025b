"""The job dashboard's list page with 10k jobs: server render time against a primary-key lookup.

    python benchmarks/bench_job_list.py [--jobs 10000] [--repeat 30] [--keep]

Target: the list renders in under 100 ms of server time. Timed: the whole view (selector,
paginator count, template) called through Django's test client in-process, so no network or browser;
page 1 and a deep page. Baseline in the same run: ``TrainingJob.objects.get(pk=...)`` of a random job.
Rows go into a throwaway database, ``BENCH_DATABASE_URL`` (default ``parley_bench_jobs``).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/parley_bench_jobs")

from _data_db import drop_database, setup_django  # noqa: E402

METHODS = ("rm", "sft", "dpo", "ppo", "grpo", "repo")
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


def seed(n: int) -> None:
    from registry.models import ModelVersion
    from training_jobs.models import TrainingJob

    if TrainingJob.objects.count() >= n:
        return
    base = ModelVersion.objects.create(name="bench-base", base_model="/models/tiny", method="base")
    config = {"method": "repo", "max_steps": 190, "learning_rate": 1e-6, "lora_r": 64, "dataset": "/x.jsonl"}
    rows = [
        TrainingJob(
            name=f"bench job {i}",
            method=METHODS[i % 6],
            status=STATUSES[i % 5],
            base_model=base,
            config=config,
            progress={"step": i % 190, "total": 190, "fraction": (i % 190) / 190, "eta_s": 100.0},
            metrics={"r_total": 0.5, "loss": 0.1},
            queue="gpu",
        )
        for i in range(n)
    ]
    TrainingJob.objects.bulk_create(rows, batch_size=2000)


def timed(fn, repeat: int) -> list[float]:
    fn()  # warm caches and the connection
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the bench database")
    args = parser.parse_args()
    url = setup_django(fresh=not args.keep)
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from training_jobs.models import TrainingJob

    seed(args.jobs)
    user, _ = User.objects.get_or_create(username="bench-ml")
    user.groups.add(Group.objects.get(name="ml_engineer"))
    client = Client()
    client.force_login(user)
    pks = list(TrainingJob.objects.values_list("pk", flat=True))
    deep = max(1, args.jobs // 50 // 2)

    def page(number: int):
        response = client.get(f"/jobs/?page={number}")
        assert response.status_code == 200 and b"bench job" in response.content

    first = timed(lambda: page(1), args.repeat)
    middle = timed(lambda: page(deep), args.repeat)
    lookup = timed(lambda: TrainingJob.objects.get(pk=random.choice(pks)), args.repeat)
    med = statistics.median
    print(f"jobs: {TrainingJob.objects.count()}")
    p95 = sorted(first)[int(0.95 * len(first)) - 1]
    # min beside median: on a shared machine the median carries other people's load, the min does less
    print(f"job list page 1: median {med(first):.1f} ms, min {min(first):.1f} ms, p95 {p95:.1f} ms")
    print(f"job list page {deep}: median {med(middle):.1f} ms, min {min(middle):.1f} ms")
    print(f"baseline pk lookup: median {med(lookup):.2f} ms, min {min(lookup):.2f} ms")
    verdict = "PASS" if med(first) < 100 else "FAIL"
    print(f"ratio list/pk-lookup: {med(first) / med(lookup):.1f}x; target < 100 ms: {verdict}")
    if not args.keep:
        drop_database(url)


if __name__ == "__main__":
    main()
