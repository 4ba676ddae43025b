"""The next-task selector under load: 100k dialogues, 20 annotators asking and answering at once.

    python benchmarks/bench_next_task.py [--dialogues 100000] [--annotators 20] [--tasks 25]
                                         [--think-ms 250] [--keep] [--busy-disk]

Target: p95 of ``annotation_task_next`` under 30 ms with zero double assignments. The
``--annotators`` are separate processes (spawned, each with its own Django setup and database
connection, like web workers), released together by a barrier for each phase:

1. baseline: a plain primary-key lookup of a random item, ``--tasks`` times each;
2. paced: ask for the next task, submit an answer, pause ("think") a random 0 to 2 x ``--think-ms``
   before asking again. A real annotator thinks tens of seconds per pairwise task, so the default
   250 ms is about a hundred times the request rate of twenty real people;
3. burst: the same loop with no pause at all.

One annotator alone (this process) and the same baseline alone are timed first. Then checks that no
item holds more than its overlap and nobody got an item twice (exit status 1 if any did). Prints p50,
p95, the ratio to the baseline, the CPU time per call (what load on the machine cannot inflate) and the
load average.

Rows are written with COPY (a shared case, six messages and two candidates per dialogue, one pairwise item
per dialogue) into a throwaway database, ``BENCH_DATABASE_URL`` (default ``parley_bench_annotation``);
``--keep`` reuses it when already seeded. ``--busy-disk`` keeps the disk busy while the phases run (``dd
conv=fsync`` of 64 MB in a loop, in the system temp folder): what a reservation waiting on the WAL flush
pays when other work writes to the same disk (ADR 0005).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _data_db

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/parley_bench_annotation"
QUEUE_NAME = "bench pairwise"


def _django_env() -> str:
    """Point Django at the bench database (for this process and the workers it spawns); returns its URL."""
    url = os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_URL)  # _data_db's setup reads it too
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="parley.settings.test", DATABASE_CONN_MAX_AGE="600")
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    return url


def setup_django(*, fresh: bool) -> None:
    """The bench database (re-created when ``fresh``), migrated, with this process's Django ready."""
    _django_env()
    _data_db.setup_django(fresh=fresh)


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


# ---- the timed loops (run in this process for "alone", in each worker process for "together") ----


def pk_lookups(*, queue_id: int, tasks: int) -> list[float]:
    """Baseline: ``tasks`` primary-key lookups of random items of the queue; wall ms each."""
    from django.db.models import Max, Min

    from annotation.models import AnnotationItem

    bounds = AnnotationItem.objects.filter(queue_id=queue_id).aggregate(lo=Min("id"), hi=Max("id"))
    timings = []
    for _ in range(tasks):
        t = time.perf_counter()
        AnnotationItem.objects.get(pk=random.randint(bounds["lo"], bounds["hi"]))
        timings.append((time.perf_counter() - t) * 1000)
    return timings


def annotate(*, user, queue, tasks: int, think_ms: float) -> dict[str, list[float]]:
    """Ask for the next task and answer it, ``tasks`` times; wall and CPU ms of each ask and each submit."""
    from annotation.services.answers import answer_submit
    from annotation.services.assignment import annotation_task_next

    out: dict[str, list[float]] = {"next": [], "cpu": [], "submit": [], "submit_cpu": []}
    for _ in range(tasks):
        if think_ms:
            time.sleep(random.uniform(0, 2 * think_ms) / 1000)
        t, c = time.perf_counter(), time.thread_time()
        assignment = annotation_task_next(user=user, queue=queue)
        out["next"].append((time.perf_counter() - t) * 1000)
        out["cpu"].append((time.thread_time() - c) * 1000)
        t, c = time.perf_counter(), time.thread_time()
        answer_submit(assignment_id=assignment.pk, user=user, data={"side": "A", "strength": "2"})
        out["submit"].append((time.perf_counter() - t) * 1000)
        out["submit_cpu"].append((time.thread_time() - c) * 1000)
    return out


# ---- one process per annotator ----


def _annotator_process(user_id: int, queue_id: int, tasks: int, think_ms: float, barrier, results) -> None:
    """One annotator as a web worker would be: its own interpreter, Django and connection; each phase
    starts when every annotator reaches the barrier."""
    try:
        _django_env()
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from annotation.models import AnnotationQueue
        from kernel.roles import user_roles

        user = get_user_model().objects.get(pk=user_id)
        queue = AnnotationQueue.objects.get(pk=queue_id)
        user_roles(user)  # a request's role check loads these before the selector runs
        out = {}
        barrier.wait(timeout=600)
        out["baseline"] = pk_lookups(queue_id=queue_id, tasks=tasks)
        barrier.wait(timeout=600)
        out["paced"] = annotate(user=user, queue=queue, tasks=tasks, think_ms=think_ms)
        barrier.wait(timeout=600)
        out["burst"] = annotate(user=user, queue=queue, tasks=tasks, think_ms=0)
        results.put(out)
    except BaseException as exc:
        barrier.abort()
        results.put({"error": f"annotator {user_id}: {exc!r}"})


def run_processes(*, users: list, queue, tasks: int, think_ms: float) -> dict:
    """Spawn one process per user, run the phases together; returns each phase's timings from all of them."""
    ctx = multiprocessing.get_context("spawn")  # no Django state or DB connection inherited from here
    barrier, results = ctx.Barrier(len(users)), ctx.Queue()
    procs = [
        ctx.Process(target=_annotator_process, args=(u.pk, queue.pk, tasks, think_ms, barrier, results)) for u in users
    ]
    for proc in procs:
        proc.start()
    outs = [results.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join()
    errors = [o["error"] for o in outs if "error" in o]
    if errors:
        raise SystemExit("annotator process failed: " + "; ".join(errors))
    merged: dict = {"baseline": [ms for out in outs for ms in out["baseline"]]}
    for phase in ("paced", "burst"):
        merged[phase] = {
            key: [ms for out in outs for ms in out[phase][key]] for key in ("next", "cpu", "submit", "submit_cpu")
        }
    return merged


# ---- checks and report ----


def double_assignments(queue) -> dict[str, int]:
    from django.db.models import Count, F

    from annotation.models import AnnotationItem, Assignment

    per_item_user = Assignment.objects.filter(queue=queue).values("item_id", "user_id").annotate(n=Count("id"))
    per_item = Assignment.objects.filter(queue=queue).values("item_id").annotate(n=Count("id"))
    return {
        "items over overlap": AnnotationItem.objects.filter(queue=queue, slots_taken__gt=F("overlap")).count(),
        "item served twice to a user": per_item_user.filter(n__gt=1).count(),
        "items with more holders than overlap": per_item.filter(n__gt=queue.target_overlap).count(),
    }


def row(label: str, values: list[float], baseline: list[float] | None = None, cpu: list[float] | None = None) -> str:
    p95 = percentile(values, 95)
    line = f"{label:<38} p50 {statistics.median(values):7.2f} ms  p95 {p95:7.2f} ms"
    if baseline:
        line += f"  p95/baseline p95 {p95 / percentile(baseline, 95):5.1f}x"
    if cpu:
        line += f"  CPU p50 {statistics.median(cpu):5.2f} ms p95 {percentile(cpu, 95):5.2f} ms"
    return line


@contextlib.contextmanager
def busy_disk():
    """A shell loop writing and fsyncing 64 MB to the temp folder until the block ends."""
    target = Path(tempfile.gettempdir()) / f"bench-busy-disk-{os.getpid()}.bin"
    loop = f"while true; do dd if=/dev/zero of={target} bs=1M count=64 conv=fsync status=none; done"
    proc = subprocess.Popen(["bash", "-c", loop], start_new_session=True)  # noqa: S603, S607 - fixed command
    try:
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        target.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialogues", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=25, help="tasks each annotator asks for and answers per phase")
    parser.add_argument("--think-ms", type=float, default=250, help="mean pause between tasks in the paced phase")
    parser.add_argument("--keep", action="store_true", help="reuse an already seeded bench database")
    parser.add_argument("--busy-disk", action="store_true", help="write and fsync 64 MB in a loop meanwhile")
    args = parser.parse_args()
    setup_django(fresh=not args.keep)

    from django.db import connection

    from annotation.models import Assignment

    queue = seed_world(args.dialogues)
    users = annotators(args.annotators)
    load_start = os.getloadavg()
    with busy_disk() if args.busy_disk else contextlib.nullcontext():
        alone_base = pk_lookups(queue_id=queue.pk, tasks=args.tasks)
        alone = annotate(user=users[0], queue=queue, tasks=args.tasks, think_ms=0)
        connection.close()
        together = run_processes(users=users, queue=queue, tasks=args.tasks, think_ms=args.think_ms)
    load_end = os.getloadavg()

    n, base = args.annotators, together["baseline"]
    paced, burst = together["paced"], together["burst"]
    p95 = percentile(paced["next"], 95)
    print(
        f"dialogues {args.dialogues}, {n} annotator processes, {args.tasks} tasks each per phase"
        + ("; disk kept busy (dd conv=fsync loop)" if args.busy_disk else "")
    )
    print(
        f"load average 1/5/15 min: start {' '.join(f'{x:.2f}' for x in load_start)}, "
        f"end {' '.join(f'{x:.2f}' for x in load_end)} ({os.cpu_count()} cores)"
    )
    print(row("baseline pk lookup, alone", alone_base))
    print(row("next task, 1 annotator alone", alone["next"], alone_base, alone["cpu"]))
    print(row(f"baseline pk lookup, {n} processes", base))
    print(
        row(f"next task, {n} paced ({args.think_ms:.0f} ms think)", paced["next"], base, paced["cpu"])
        + f"  target < 30 ms: {'met' if p95 < 30 else 'NOT met'}"
    )
    print(row(f"next task, {n} in a burst", burst["next"], base, burst["cpu"]))
    print(row("submit answer, 1 annotator alone", alone["submit"], cpu=alone["submit_cpu"]))
    print(row(f"submit answer, {n} paced", paced["submit"], cpu=paced["submit_cpu"]))
    print(row(f"submit answer, {n} in a burst", burst["submit"], cpu=burst["submit_cpu"]))
    problems = double_assignments(queue)
    answers = Assignment.objects.filter(queue=queue, status=Assignment.Status.SUBMITTED).count()
    print(f"answers in the queue {answers}; " + "; ".join(f"{k} {v}" for k, v in problems.items()))
    if any(problems.values()):
        raise SystemExit("double assignment detected")


if __name__ == "__main__":
    main()
