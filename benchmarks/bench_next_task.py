"""The next-task selector under load: 100k dialogues, 20 annotators asking and answering at once.

    python benchmarks/bench_next_task.py [--dialogues 100000] [--annotators 20] [--tasks 25] [--keep]

Target (issue 3): p95 of ``annotation_task_next`` under 30 ms with zero double assignments. Each of
``--annotators`` threads (one DB connection each, like 20 web workers) loops: ask for the next task, submit
an answer. Baseline: a plain primary-key lookup of a random item timed in the same threads, same database.
Then checks that no item holds more than its overlap and nobody got an item twice.

Rows are written with COPY (a shared case, six messages and two candidates per dialogue, one pairwise item
per dialogue) into a throwaway database, ``BENCH_DATABASE_URL`` (default ``parley_bench_annotation``);
``--keep`` reuses it when already seeded.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/parley_bench_annotation"
QUEUE_NAME = "bench pairwise"


def setup_django(*, fresh: bool) -> None:
    import psycopg

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    sys.path.insert(0, str(ROOT))
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="parley.settings.test", DATABASE_CONN_MAX_AGE="600")
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if fresh and exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if fresh or not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _copy(cursor, table: str, columns: str, rows) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed_world(n: int):
    """A project with ``n`` dialogues and a pairwise queue over them; returns the queue (reused if there)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotation.models import AnnotationQueue, Dialogue
    from tests.annotation.factories import TURNS, make_dialogue, make_world

    existing = AnnotationQueue.objects.filter(name=QUEUE_NAME).first()
    if existing is not None and existing.items.count() >= n:
        return existing
    t0 = time.perf_counter()
    with transaction.atomic():
        world = make_world(project_name="bench")
        first = make_dialogue(world)  # one real case + ticket the COPY rows share
        now = timezone.now()
        with connection.cursor() as cur:
            cur = cur.cursor  # psycopg cursor under Django's wrapper
            _copy(
                cur,
                "annotation_dialogue",
                "project_id, case_id, sop_id, external_id, source, outcome, created_at",
                (
                    (world["project"].pk, first.case_id, world["sop"].pk, f"bench-{i}", "production", "{}", now)
                    for i in range(1, n)
                ),
            )
            ids = list(Dialogue.objects.filter(project=world["project"]).order_by("id").values_list("id", flat=True))
            _copy(
                cur,
                "annotation_message",
                "dialogue_id, index, role, content, stage",
                ((d, k, role, text, stage) for d in ids[1:] for k, (role, text, stage) in enumerate(TURNS)),
            )
            _copy(
                cur,
                "annotation_candidate",
                "dialogue_id, turn, text, source, model_name, key, created_at",
                (
                    (d, 3, f"Candidate {k}: could you reach 690?", "model", f"m{k}", "", now)
                    for d in ids[1:]
                    for k in range(2)
                ),
            )
        queue = AnnotationQueue.objects.create(
            project=world["project"],
            name=QUEUE_NAME,
            kind="pairwise",
            lens="language",
            target_overlap=1,
            guideline=world["guideline"],
            sop=world["sop"],
        )
        with connection.cursor() as cur:
            cur.execute(
                """INSERT INTO annotation_annotationitem
                   (queue_id, dialogue_id, turn, candidate_a_id, candidate_b_id, overlap, slots_taken,
                    answers_count, status, created_at)
                   SELECT %s, dialogue_id, turn, MIN(id), MAX(id), 1, 0, 0, 'open', now()
                   FROM annotation_candidate WHERE dialogue_id = ANY(%s) GROUP BY dialogue_id, turn""",
                [queue.pk, ids],
            )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"seeded {n} dialogues, {queue.items.count()} items in {time.perf_counter() - t0:.1f} s")
    return queue


def annotators(count: int) -> list:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="language_expert")
    users = []
    for i in range(count):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-annotator-{i}")
        user.groups.add(group)
        users.append(user)
    return users


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_threads(users: list, body) -> list[float]:
    """Run ``body(user, timings)`` in one thread per user, started together; returns all timings (ms)."""
    from django.db import connection

    barrier = threading.Barrier(len(users))
    timings: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(user):
        mine: list[float] = []
        try:
            barrier.wait()
            body(user, mine)
        except BaseException as exc:  # reported after the run
            errors.append(exc)
        finally:
            connection.close()
            with lock:
                timings.extend(mine)

    threads = [threading.Thread(target=worker, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialogues", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=25, help="tasks each annotator asks for and answers")
    parser.add_argument("--think-ms", type=float, default=250, help="mean pause between tasks in the paced run")
    parser.add_argument("--keep", action="store_true", help="reuse an already seeded bench database")
    args = parser.parse_args()
    setup_django(fresh=not args.keep)

    from django.db.models import Count, F

    from annotation.models import AnnotationItem, Assignment
    from annotation.services.answers import answer_submit
    from annotation.services.assignment import annotation_task_next

    queue = seed_world(args.dialogues)
    users = annotators(args.annotators)
    max_item = AnnotationItem.objects.filter(queue=queue).order_by("-id").values_list("id", flat=True).first()
    min_item = AnnotationItem.objects.filter(queue=queue).order_by("id").values_list("id", flat=True).first()

    def baseline(user, out):
        for _ in range(args.tasks):
            t = time.perf_counter()
            AnnotationItem.objects.get(pk=random.randint(min_item, max_item))
            out.append((time.perf_counter() - t) * 1000)

    submit_ms: list[float] = []

    cpu_ms: list[float] = []

    def annotate(user, out, think_ms: float = 0.0):
        for _ in range(args.tasks):
            if think_ms:
                time.sleep(random.uniform(0, 2 * think_ms) / 1000)
            t, c = time.perf_counter(), time.thread_time()
            assignment = annotation_task_next(user=user, queue=queue)
            out.append((time.perf_counter() - t) * 1000)
            cpu_ms.append((time.thread_time() - c) * 1000)
            t = time.perf_counter()
            answer_submit(assignment_id=assignment.pk, user=user, data={"side": "A", "strength": "2"})
            submit_ms.append((time.perf_counter() - t) * 1000)

    base = run_threads(users, baseline)
    seq_base: list[float] = []
    baseline(users[0], seq_base)
    sequential: list[float] = []
    annotate(users[0], sequential)
    seq_cpu, cpu_ms[:] = list(cpu_ms), []
    paced = run_threads(users, lambda user, out: annotate(user, out, args.think_ms))
    nxt = run_threads(users, annotate)

    over = AnnotationItem.objects.filter(queue=queue, slots_taken__gt=F("overlap")).count()
    repeats = (
        Assignment.objects.filter(queue=queue)
        .values("item_id", "user_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    multi = (
        Assignment.objects.filter(queue=queue)
        .values("item_id")
        .annotate(n=Count("id"))
        .filter(n__gt=queue.target_overlap)
        .count()
    )
    n_answers = Assignment.objects.filter(queue=queue, status="submitted").count()

    b95, n95, s95 = percentile(base, 95), percentile(nxt, 95), percentile(sequential, 95)
    print(f"dialogues {args.dialogues}, annotators {args.annotators}, tasks each {args.tasks}")
    print(f"baseline pk lookup, 20 at once : p50 {statistics.median(base):6.2f} ms  p95 {b95:6.2f} ms")
    sb95 = percentile(seq_base, 95)
    print(f"baseline pk lookup, 1 thread   : p50 {statistics.median(seq_base):6.2f} ms  p95 {sb95:6.2f} ms")
    print(
        f"next task, 1 annotator         : p50 {statistics.median(sequential):6.2f} ms  p95 {s95:6.2f} ms"
        f"  ratio to 1-thread baseline p95 {s95 / sb95:.1f}x"
    )
    p95 = percentile(paced, 95)
    print(
        f"next task, {args.annotators} paced ({args.think_ms:.0f} ms think): p50 {statistics.median(paced):6.2f} ms"
        f"  p95 {p95:6.2f} ms  (target < 30 ms)  ratio to baseline p95 {p95 / b95:.1f}x"
    )
    print(
        f"next task, {args.annotators} in a burst      : p50 {statistics.median(nxt):6.2f} ms  p95 {n95:6.2f} ms"
        f"  ratio to baseline p95 {n95 / b95:.1f}x"
    )
    print(
        f"next task CPU time (this thread): 1 annotator p50 {statistics.median(seq_cpu):5.2f} ms, "
        f"{args.annotators} at once p50 {statistics.median(cpu_ms):5.2f} ms (no waits for the database or a core)"
    )
    print(
        f"submit answer, {args.annotators} at once      : p50 {statistics.median(submit_ms):6.2f} ms"
        f"  p95 {percentile(submit_ms, 95):6.2f} ms"
    )
    print(
        f"answers {n_answers}; items over overlap {over}; item served twice to a user {repeats}; "
        f"items with more holders than overlap {multi}"
    )
    if over or repeats or multi:
        raise SystemExit("double assignment detected")


if __name__ == "__main__":
    main()
