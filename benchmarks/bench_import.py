"""Import of generated dialogues into PostgreSQL, beside a raw COPY of the very same rows.

    python benchmarks/bench_import.py [--dialogues 10000] [--keep]

Target: 10k dialogues in under a minute, in batches. Measured:
1. ``dialogues_import`` of N demo dialogues (validation of every line, then batched ``bulk_create``
   in one transaction), and its validation pass alone (the same file with one bad last line: the
   service checks everything and writes nothing);
2. baseline: the rows that import wrote, copied out, truncated and written back with psycopg
   ``COPY ... FROM STDIN`` in one transaction: the database's floor for the same data.
Prints seconds, dialogues/s and the ratio import/COPY. Uses a throwaway database (see ``_data_db``).
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time

from _data_db import drop_database, raw_connection, setup_django

TABLES = (  # parents first, so COPY FROM respects the foreign keys
    "annotation_negotiationcase",
    "annotation_ticket",
    "annotation_dialogue",
    "annotation_message",
    "annotation_candidate",
    "annotation_preferencepair",
    "annotation_badcase",
    "annotation_excellentturn",
)


def write_file(path: str, n: int, *, bad_last_line: bool = False) -> None:
    from engine.demo import iter_dialogues

    with open(path, "w", encoding="utf-8") as out:
        for dialogue in iter_dialogues(seed=0, n=n):
            out.write(json.dumps(dialogue, ensure_ascii=False) + "\n")
        if bad_last_line:
            out.write("{not json\n")


def timed_import(path: str, project) -> tuple[float, object]:
    from annotation.services.imports import dialogues_import

    start = time.perf_counter()
    with open(path, "rb") as lines:
        result = dialogues_import(lines=lines, project=project, user=None)
    return time.perf_counter() - start, result


def copy_baseline() -> tuple[float, int]:
    """Copy the imported rows out, truncate, and time writing them back with COPY FROM STDIN."""
    conn = raw_connection()
    dumps = {}
    with conn.cursor() as cur:
        for table in TABLES:
            buf = io.BytesIO()
            with cur.copy(f"COPY {table} TO STDOUT") as copy:
                for chunk in copy:
                    buf.write(chunk)
            dumps[table] = buf.getvalue()
        cur.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
    conn.commit()
    start = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        for table in TABLES:
            with cur.copy(f"COPY {table} FROM STDIN") as copy:
                copy.write(dumps[table])
    return time.perf_counter() - start, sum(d.count(b"\n") for d in dumps.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    url = setup_django(fresh=True)
    from annotation.services.demo import demo_world_seed

    project = demo_world_seed(scale=0, password="bench").project  # project, SOP, guideline, annotators
    with tempfile.TemporaryDirectory() as tmp:
        good, bad = f"{tmp}/good.jsonl", f"{tmp}/bad.jsonl"
        write_file(good, args.dialogues)
        write_file(bad, args.dialogues, bad_last_line=True)
        check_s, check = timed_import(bad, project)
        assert not check.ok and check.error_count == 1
        import_s, result = timed_import(good, project)
    assert result.ok, result.errors[:5]
    rows = sum(result.counts.values())
    copy_s, copied = copy_baseline()
    n = args.dialogues
    print(f"dialogues: {n}  rows written: {rows} ({result.counts})")
    print(f"validation pass alone : {check_s:7.2f} s")
    print(f"dialogues_import      : {import_s:7.2f} s  ({n / import_s:,.0f} dialogues/s)  target < 60 s")
    print(f"COPY FROM (baseline)  : {copy_s:7.2f} s  ({copied} rows)")
    print(f"ratio import / COPY   : {import_s / copy_s:.1f}x the time of the database floor")
    if not args.keep:
        drop_database(url)


if __name__ == "__main__":
    main()
