"""Freeze an export into an immutable dataset snapshot.

The rows come from the one export service (``annotation.services.exports.dataset_export``) so that a
snapshot is byte-for-byte what the export page would give. The file is written to a temporary name,
hashed, then moved to ``ARTIFACTS_ROOT/snapshots/<sha256>/`` and made read-only: the same content
always lands at the same path, and nothing rewrites a file a job has trained on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.models import BadCase, PreferencePair
from annotation.services.exports import export_kind_choices
from kernel.audit import audit_record
from kernel.errors import ApplicationError
from training_jobs.models import DatasetSnapshot

ERR_UNKNOWN_KIND = "Unknown snapshot kind {kind!r}."
ERR_EMPTY = "The export matched no rows: nothing to snapshot (check the filters)."
ERR_NAME = "A snapshot needs a name."
ERR_FILTERS = "Filters must be a JSON object."
ERR_BAD_FILTERS = "The export rejected these filters: {error}"

DATA_FILE = "data.jsonl"
SIDECAR_FILE = "sidecar.jsonl"
# Bad cases whose gold reply is ready move on to "in dataset" when a snapshot includes them.
_BAD_CASE_MOVES_FROM = (BadCase.Status.GOLD_WRITTEN, BadCase.Status.REVIEWED)


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sidecar_summary(path: Path) -> tuple[Counter, set[int], set[int]]:
    """Rows per provenance source, and the pair and bad-case ids a sidecar names.

    The sidecar is JSONL ``{"row", "source" | "provenance", "pair_id", "bad_case_id", ...}``.
    """
    counts: Counter = Counter()
    pair_ids: set[int] = set()
    bad_case_ids: set[int] = set()
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            counts[str(row.get("provenance") or row.get("source") or "unknown")] += 1
            pair = row.get("pair_id", row.get("pair"))
            bad_case = row.get("bad_case_id", row.get("bad_case"))
            if isinstance(pair, int):
                pair_ids.add(pair)
            if isinstance(bad_case, int):
                bad_case_ids.add(bad_case)
    return counts, pair_ids, bad_case_ids


def check_filters(filters: dict[str, Any]) -> None:
    """Refuse filters the export would not understand (unknown keys, bad dates) before writing anything;
    errors raised inside the export itself are bugs, not the caller's input, and are not caught here."""
    from annotation.services.exports import ExportFilters

    try:
        ExportFilters.coerce(filters)
    except (TypeError, ValueError) as exc:
        raise ApplicationError(ERR_BAD_FILTERS.format(error=exc)) from None


def _export(*, kind: str, filters: dict[str, Any], data: Path, sidecar: Path) -> None:
    from annotation.services.exports import dataset_export  # the world engineer's; imported late

    with data.open("w", encoding="utf-8") as out, sidecar.open("w", encoding="utf-8") as side:
        dataset_export(kind=kind, filters=filters, out=out, sidecar=side)


def snapshot_count(*, kind: str, filters: dict[str, Any]) -> int:
    """How many rows a snapshot with these filters would hold, without writing or freezing anything
    (the export runs into memory; bad cases are not moved)."""
    import io

    from annotation.services.exports import dataset_export  # imported late, as in _export

    if kind not in dict(export_kind_choices()):
        raise ApplicationError(ERR_UNKNOWN_KIND.format(kind=kind))
    check_filters(filters)
    out, side = io.StringIO(), io.StringIO()
    dataset_export(kind=kind, filters=filters, out=out, sidecar=side)
    return sum(1 for line in out.getvalue().splitlines() if line.strip())


def snapshot_rows(*, snapshot, limit: int = 20) -> list[dict[str, Any]]:
    """The first ``limit`` rows of a frozen snapshot, for its preview page."""
    rows = []
    try:
        with Path(snapshot.path).open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    rows.append(json.loads(line))
                if len(rows) >= limit:
                    break
    except FileNotFoundError:
        return []
    return rows


def _freeze(tmp: Path, digest: str) -> Path:
    """Move the files to their content address and make them read-only (idempotent)."""
    final = Path(settings.ARTIFACTS_ROOT) / "snapshots" / digest
    if not (final / DATA_FILE).exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    for name in (DATA_FILE, SIDECAR_FILE):
        (final / name).chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return final


def snapshot_create(
    *, name: str, kind: str, filters: dict[str, Any] | None = None, created_by=None, note: str = ""
) -> DatasetSnapshot:
    """Export ``kind`` with ``filters`` into an immutable snapshot and move its bad cases on."""
    filters = {} if filters is None else filters
    if not name.strip():
        raise ApplicationError(ERR_NAME)
    if kind not in dict(export_kind_choices()):
        raise ApplicationError(ERR_UNKNOWN_KIND.format(kind=kind))
    if not isinstance(filters, dict):
        raise ApplicationError(ERR_FILTERS)
    check_filters(filters)
    root = Path(settings.ARTIFACTS_ROOT) / "snapshots"
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        _export(kind=kind, filters=filters, data=tmp / DATA_FILE, sidecar=tmp / SIDECAR_FILE)
        counts, pair_ids, bad_case_ids = sidecar_summary(tmp / SIDECAR_FILE)
        rows = sum(1 for line in (tmp / DATA_FILE).open(encoding="utf-8") if line.strip())
        if rows == 0:
            raise ApplicationError(ERR_EMPTY)
        digest = sha256_file(tmp / DATA_FILE)
        final = _freeze(tmp, digest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _record(
        name=name.strip(),
        kind=kind,
        filters=filters,
        final=final,
        digest=digest,
        rows=rows,
        counts=counts,
        pair_ids=pair_ids,
        bad_case_ids=bad_case_ids,
        created_by=created_by,
        note=note,
    )


@transaction.atomic
def _record(
    *, name, kind, filters, final, digest, rows, counts, pair_ids, bad_case_ids, created_by, note
) -> DatasetSnapshot:
    snapshot = DatasetSnapshot(
        name=name,
        kind=kind,
        filters=filters,
        path=str(final / DATA_FILE),
        sidecar_path=str(final / SIDECAR_FILE),
        sha256=digest,
        row_count=rows,
        counts_by_provenance=dict(sorted(counts.items())),
        created_by=created_by,
        note=note,
    )
    snapshot.full_clean()
    snapshot.save()
    snapshot.pairs.set(PreferencePair.objects.filter(pk__in=pair_ids))
    snapshot.bad_cases.set(BadCase.objects.filter(pk__in=bad_case_ids))
    moved = list(
        BadCase.objects.filter(pk__in=bad_case_ids, status__in=_BAD_CASE_MOVES_FROM).values_list("pk", flat=True)
    )
    BadCase.objects.filter(pk__in=moved).update(status=BadCase.Status.IN_DATASET, updated_at=timezone.now())
    audit_record(
        actor=created_by,
        action="snapshot.create",
        instance=snapshot,
        after={"sha256": digest, "rows": rows, "kind": kind, "bad_cases_in_dataset": moved},
    )
    return snapshot


PROBE_FILE = "probe.jsonl"
PROBE_ROWS = 64  # more than the engine's probe_size (the paper: 20), so a larger probe_size still finds rows


def probe_file_for(*, snapshots: list[DatasetSnapshot], rows: int = PROBE_ROWS) -> str:
    """A fixed probe set for a PPO/REPO job launched from the platform: ``rows`` prompt rows of its
    snapshots, picked by the hash of each row (the same snapshots always give the same probe, spread over
    the file rather than its first dialogues), written once, read-only, under
    ``ARTIFACTS_ROOT/probes/<sha256>/``. The engine answers them greedily every ``probe_every`` steps; the
    rows are also training prompts, so the probe tracks the policy, it is not a held-out score."""
    lines = []
    for snapshot in snapshots:
        with Path(snapshot.path).open(encoding="utf-8") as handle:
            lines += [line.rstrip("\n") for line in handle if line.strip()]
    chosen = sorted(set(lines), key=lambda line: hashlib.sha256(line.encode("utf-8")).hexdigest())[:rows]
    text = "".join(line + "\n" for line in chosen)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    final = Path(settings.ARTIFACTS_ROOT) / "probes" / digest / PROBE_FILE
    if not final.exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".tmp-{os.getpid()}-{PROBE_FILE}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, final)
        final.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return str(final)
