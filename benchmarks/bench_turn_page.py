"""Server render time of the turn view (the pairwise task page) on the 100k-dialogue bench database.

    python benchmarks/bench_turn_page.py [--dialogues 100000] [--requests 200] [--keep]

Target: under 100 ms server time. Measured in-process with Django's test client (routing,
middleware, session and auth, selectors, template rendering; no network), against a plain primary-key
lookup of a dialogue on the same database as the baseline. Prints p50/p95, the ratio, and the page's
number of queries. Shares the seeded database of ``bench_next_task.py``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from bench_next_task import annotators, percentile, seed_world, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialogues", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="reuse an already seeded bench database")
    args = parser.parse_args()
    setup_django(fresh=not args.keep)

    from django.db import connection
    from django.test import Client

    from annotation.models import Dialogue
    from annotation.services.assignment import annotation_task_next

    queue = seed_world(args.dialogues)
    (user,) = annotators(1)
    assignment = annotation_task_next(user=user, queue=queue)
    client = Client()
    client.force_login(user)
    url = f"/annotation/tasks/{assignment.pk}/"
    assert client.get(url).status_code == 200  # warm templates and caches
    queries: list[str] = []  # counted with a wrapper: the test client's request_started resets connection.queries

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url)

    page_ms, cpu_ms = [], []  # wall time, and this process's CPU time (what the load on the box cannot inflate)
    for _ in range(args.requests):
        t, c = time.perf_counter(), time.thread_time()
        response = client.get(url)
        page_ms.append((time.perf_counter() - t) * 1000)
        cpu_ms.append((time.thread_time() - c) * 1000)
        assert response.status_code == 200
    ids = list(Dialogue.objects.order_by("?").values_list("id", flat=True)[:1000])
    base_ms = []
    for _ in range(args.requests):
        t = time.perf_counter()
        Dialogue.objects.get(pk=random.choice(ids))
        base_ms.append((time.perf_counter() - t) * 1000)

    p95, b95 = percentile(page_ms, 95), percentile(base_ms, 95)
    print(f"dialogues {Dialogue.objects.count()}, requests {args.requests}, queries per page {len(queries)}")
    print(f"baseline pk lookup : p50 {statistics.median(base_ms):6.2f} ms  p95 {b95:6.2f} ms")
    print(
        f"turn page render   : p50 {statistics.median(page_ms):6.2f} ms  p95 {p95:6.2f} ms  (target < 100 ms)"
        f"  ratio to baseline p95 {p95 / b95:.1f}x"
    )
    print(
        f"turn page CPU time : p50 {statistics.median(cpu_ms):6.2f} ms  p95 {percentile(cpu_ms, 95):6.2f} ms"
        "  (this process only: no waits for the database or a core)"
    )


if __name__ == "__main__":
    main()
