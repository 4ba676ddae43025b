"""Export of ~100k preference rows from PostgreSQL, beside a raw psycopg COPY of the same data.

    python benchmarks/bench_export.py [--rows 100000] [--reuse] [--keep]

Target: ``dataset_export`` throughput at least half of a raw ``COPY (SELECT ...) TO STDOUT``
of the same columns, measured in one run; peak memory flat in the row count.
Measured:
1. ``dataset_export(kind="preference")`` to a file, with and without the provenance sidecar;
2. baseline "same data": COPY of what the export reads per row: the pair's columns, both candidate
   texts, annotator, guideline and SOP versions, the dialogue's prompt messages (``index < turn``,
   aggregated) and its case with tickets (aggregated), ordered like the export;
3. baseline "flat": COPY of the pair row with both texts only (no prompt): a stricter floor;
   each of 1-3 is timed twice, interleaved, best kept, as wall time and as CPU seconds of this process
   plus its PostgreSQL backend (read from /proc): on a shared, loaded machine under ``nice`` the wall
   ratio is biased against the Python side (the backend is not niced), the CPU ratio is not;
4. peak RSS of a child process exporting the first 10k rows and of one exporting 100k.
Data: demo dialogues imported through the import service until there are ``--rows`` pairs
(``--reuse`` keeps an earlier run's database, ``--keep`` leaves it for the next run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import islice

from _data_db import drop_database, raw_connection, setup_django

SAME_DATA_SQL = """
SELECT p.id, p.dialogue_id, p.turn, p.strength, p.provenance, p.agreement, p.reviewed, p.chosen_id, p.rejected_id,
       c1.text, c2.text, u.username, g.version, d.external_id, d.source, s.version,
       (SELECT json_agg(json_build_object('role', m.role, 'content', m.content) ORDER BY m.index)
          FROM annotation_message m WHERE m.dialogue_id = p.dialogue_id AND m.index < p.turn),
       nc.hotel_name, nc.hotel_type, nc.city, nc.benefits, nc.language,
       (SELECT json_agg(json_build_object('room_type', t.room_type, 'current_price', t.current_price,
               'net_price', t.net_price, 'target_price', t.target_price, 'currency', t.currency,
               'competitors', t.competitors, 'code', t.code) ORDER BY t.position)
          FROM annotation_ticket t WHERE t.case_id = d.case_id)
FROM annotation_preferencepair p
JOIN annotation_candidate c1 ON c1.id = p.chosen_id
JOIN annotation_candidate c2 ON c2.id = p.rejected_id
LEFT JOIN auth_user u ON u.id = p.annotator_id
LEFT JOIN annotation_guideline g ON g.id = p.guideline_id
JOIN annotation_dialogue d ON d.id = p.dialogue_id
LEFT JOIN annotation_sop s ON s.id = d.sop_id
JOIN annotation_negotiationcase nc ON nc.id = d.case_id
ORDER BY p.dialogue_id, p.id
"""
FLAT_SQL = """
SELECT p.id, p.dialogue_id, p.turn, p.strength, p.provenance, c1.text, c2.text
FROM annotation_preferencepair p
JOIN annotation_candidate c1 ON c1.id = p.chosen_id
JOIN annotation_candidate c2 ON c2.id = p.rejected_id
ORDER BY p.dialogue_id, p.id
"""


def memory_mb(key: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, from /proc (Linux)."""
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith(key + ":"))
    return int(line.split()[1]) / 1024


def ensure_pairs(target: int) -> int:
    """Import demo dialogues (10k per call) until the bench project holds ``target`` pairs."""
    from annotation.models import Dialogue, PreferencePair
    from annotation.services.demo import demo_world_seed
    from annotation.services.imports import dialogues_import
    from engine.demo import make_dialogue
    from engine.demo.cases import hotel_pool

    project = demo_world_seed(scale=0, password="bench").project
    hotels = hotel_pool(seed=0, size=100)
    index = Dialogue.objects.count()
    while (have := PreferencePair.objects.count()) < target:
        batch, pairs = [], have
        while pairs < target and len(batch) < 10_000:
            dialogue = make_dialogue(seed=0, index=index, hotels=hotels)
            batch.append(json.dumps(dialogue, ensure_ascii=False))
            pairs += len(dialogue["pairs"])
            index += 1
        start = time.perf_counter()
        result = dialogues_import(lines=batch, project=project, user=None)
        assert result.ok, result.errors[:3]
        print(f"  seeded {len(batch)} dialogues in {time.perf_counter() - start:.1f} s", flush=True)
    return PreferencePair.objects.count()


def cpu_seconds() -> float:
    """CPU time of this process plus its PostgreSQL backend (same machine): a cost that neither the
    shared machine's load nor ``nice`` distorts, unlike wall time."""
    ticks = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{raw_connection().info.backend_pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return time.process_time() + (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu_seconds() - self.cpu


def timed_export(path: str, *, sidecar: bool) -> tuple[Timer, int]:
    from annotation.services.exports import dataset_export

    with Timer() as timer, open(path, "w", encoding="utf-8") as out, open(path + ".s", "w", encoding="utf-8") as side:
        stats = dataset_export(kind="preference", filters=None, out=out, sidecar=side if sidecar else None)
    return timer, stats.rows


def timed_copy(sql: str, path: str) -> tuple[Timer, int]:
    conn = raw_connection()
    rows = 0
    with Timer() as timer, conn.cursor() as cur, open(path, "wb") as out, cur.copy(f"COPY ({sql}) TO STDOUT") as copy:
        for chunk in copy:
            out.write(chunk)
            rows += bytes(chunk).count(b"\n")  # COPY's text format escapes newlines inside values
    return timer, rows


def child(n: int) -> None:
    """Export the first ``n`` preference rows to /dev/null; print peak RSS before and after (MB)."""
    setup_django(fresh=False, migrate=False)
    from annotation.services.exports import dumps, export_rows_for

    before = memory_mb("VmRSS")
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for row, meta in islice(export_rows_for(kind="preference"), n):
            sink.write(dumps(row))
            sink.write(dumps(meta))
    print(json.dumps({"rows": n, "rss_before_mb": before, "rss_peak_mb": memory_mb("VmHWM")}))


def rss_of_child(n: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, check=True, env=os.environ
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="reuse the bench database of an earlier --keep run")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    url = setup_django(fresh=not args.reuse)
    pairs = ensure_pairs(args.rows)
    # Two interleaved rounds, best of each: the machine is shared, so load comes and goes.
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(2):
            for name, run in (
                ("copy_same", lambda: timed_copy(SAME_DATA_SQL, f"{tmp}/copy.tsv")),
                ("export", lambda: timed_export(f"{tmp}/pref.jsonl", sidecar=True)),
                ("export_bare", lambda: timed_export(f"{tmp}/pref2.jsonl", sidecar=False)),
                ("copy_flat", lambda: timed_copy(FLAT_SQL, f"{tmp}/flat.tsv")),
            ):
                timer, counts[name] = run()
                best[name] = min(best.get(name, timer.wall), timer.wall)
                cpu[name] = min(cpu.get(name, timer.cpu), timer.cpu)
        size_mb = os.path.getsize(f"{tmp}/pref.jsonl") / 2**20
    export_s, bare_s, copy_same_s, copy_flat_s = (best[k] for k in ("export", "export_bare", "copy_same", "copy_flat"))
    rows = counts["export"]
    assert rows == counts["export_bare"] == counts["copy_same"] == counts["copy_flat"] == pairs
    small, large = rss_of_child(args.rows // 10), rss_of_child(args.rows)
    rate = rows / export_s
    print(f"preference rows: {rows}  training file: {size_mb:.0f} MB")
    print(f"dataset_export + sidecar : {export_s:6.1f} s  {rate:9,.0f} rows/s")
    print(f"dataset_export, no sidecar: {bare_s:6.1f} s  {rows / bare_s:9,.0f} rows/s")
    print(f"COPY same data (baseline): {copy_same_s:6.1f} s  {rows / copy_same_s:9,.0f} rows/s")
    print(f"COPY flat pair + texts    : {copy_flat_s:6.1f} s  {rows / copy_flat_s:9,.0f} rows/s")
    print(f"ratio export / COPY same data: {copy_same_s / export_s:.2f}  (target >= 0.5)")
    print(f"ratio export (no sidecar) / COPY same data: {copy_same_s / bare_s:.2f}")
    print(f"ratio export / COPY flat     : {copy_flat_s / export_s:.2f}")
    print("CPU seconds (this process + its PostgreSQL backend), best of two:")
    for name in ("export", "export_bare", "copy_same", "copy_flat"):
        print(f"  {name:<12} {cpu[name]:6.1f} s  {rows / cpu[name]:9,.0f} rows per CPU-second")
    print(f"CPU ratio export / COPY same data: {cpu['copy_same'] / cpu['export']:.2f}  (target >= 0.5)")
    print(f"CPU ratio export (no sidecar) / COPY same data: {cpu['copy_same'] / cpu['export_bare']:.2f}")
    for r in (small, large):
        peak, before = r["rss_peak_mb"], r["rss_before_mb"]
        print(f"peak RSS exporting {r['rows']:>7} rows: {peak:6.0f} MB (after set-up {before:.0f} MB)")
    if not args.keep:
        drop_database(url)


if __name__ == "__main__":
    main()
