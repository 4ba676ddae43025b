"""Lineage both ways, across the layers (deploy sits on top, so it may read them all).

Down from a version: its base, the job that trained it, the job's snapshots, and the pairs, bad cases,
excellent turns and annotators behind them (read from each snapshot's provenance sidecar, so rows a
reviewer rejected after the snapshot was frozen are still named, and counted as rejected later). Up
from a bad case: the version that produced it, the snapshots that trained on its gold reply, the
versions trained on those, and the version verified to fix it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from annotation.models import BadCase, ExcellentTurn, PreferencePair
from evaluation.models import EvalRun
from registry.models import ModelVersion
from training_jobs.models import DatasetSnapshot

MAX_IDS = 500


def _sidecar_ids(path: str) -> dict[str, set[int]]:
    ids: dict[str, set[int]] = {"pair_id": set(), "bad_case_id": set(), "excellent_turn_id": set()}
    try:
        with Path(path).open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                row = json.loads(line)
                for key in ids:
                    if isinstance(row.get(key), int):
                        ids[key].add(row[key])
    except (OSError, ValueError):
        pass
    return ids


def _brief(version: ModelVersion | None) -> dict | None:
    if version is None:
        return None
    return {"id": version.pk, "name": version.name, "kind": version.kind, "stage": version.stage, "slot": version.slot}


def snapshot_lineage(snapshot: DatasetSnapshot) -> dict[str, Any]:
    """A snapshot's rows: what the sidecar named at freezing time, and how many of those are gone since
    (a reviewer's reject deletes a pair)."""
    named = _sidecar_ids(snapshot.sidecar_path)
    pair_ids = named["pair_id"] | set(snapshot.pairs.values_list("pk", flat=True))
    bad_ids = named["bad_case_id"] | set(snapshot.bad_cases.values_list("pk", flat=True))
    pairs = PreferencePair.objects.filter(pk__in=pair_ids)
    live_pairs = set(pairs.values_list("pk", flat=True))
    bad_cases = BadCase.objects.filter(pk__in=bad_ids)
    live_bad = set(bad_cases.values_list("pk", flat=True))
    excellent = ExcellentTurn.objects.filter(pk__in=named["excellent_turn_id"])
    annotators = (
        set(pairs.exclude(annotator=None).values_list("annotator__username", flat=True))
        | set(bad_cases.exclude(created_by=None).values_list("created_by__username", flat=True))
        | set(excellent.exclude(flagged_by=None).values_list("flagged_by__username", flat=True))
    )
    return {
        "id": snapshot.pk,
        "name": snapshot.name,
        "kind": snapshot.kind,
        "sha256": snapshot.sha256,
        "rows": snapshot.row_count,
        "pairs": sorted(live_pairs)[:MAX_IDS],
        "bad_cases": sorted(live_bad)[:MAX_IDS],
        "excellent_turns": sorted(excellent.values_list("pk", flat=True))[:MAX_IDS],
        "annotators": sorted(annotators),
        "rejected_later": {"pairs": len(pair_ids - live_pairs), "bad_cases": len(bad_ids - live_bad)},
    }


def version_lineage(version: ModelVersion) -> dict[str, Any]:
    """Everything a version came from and what came of it."""
    jobs = list(version.produced_by.prefetch_related("snapshots").order_by("pk"))
    snapshots = [snapshot_lineage(s) for job in jobs for s in job.snapshots.order_by("pk")]
    rejected = sum(s["rejected_later"]["pairs"] + s["rejected_later"]["bad_cases"] for s in snapshots)
    runs = EvalRun.objects.filter(systems__model_version=version).select_related("eval_set").order_by("-pk")
    return {
        "version": {**_brief(version), "method": version.method, "tags": version.tags, "base_path": version.base_model},
        "base": _brief(version.base),
        "derived": [_brief(v) for v in version.derived.order_by("pk")],
        "jobs": [{"id": j.pk, "name": j.name, "method": j.method, "status": j.status} for j in jobs],
        "snapshots": snapshots,
        "annotators": sorted({a for s in snapshots for a in s["annotators"]}),
        "rejected_later": rejected,
        "rejected_note": (
            f"{rejected} row(s) of the snapshots this version was trained on were later rejected in review."
            if rejected
            else ""
        ),
        "bad_cases_produced": list(version.bad_cases.order_by("pk").values("id", "category", "status")[:MAX_IDS]),
        "bad_cases_fixed": list(version.fixed_bad_cases.order_by("pk").values("id", "category", "status")[:MAX_IDS]),
        "eval_runs": [
            {"id": r.pk, "eval_set": r.eval_set_id, "eval_set_name": r.eval_set.name, "status": r.status} for r in runs
        ],
    }


def bad_case_lineage(bad_case: BadCase) -> dict[str, Any]:
    """Up from a bad case: who produced it, what trained on it, what fixed it."""
    snapshots = DatasetSnapshot.objects.filter(bad_cases=bad_case).order_by("pk")
    trained = ModelVersion.objects.filter(produced_by__snapshots__in=snapshots).distinct().order_by("pk")
    return {
        "bad_case": {"id": bad_case.pk, "category": bad_case.category, "status": bad_case.status},
        "produced_by": _brief(bad_case.model_version),
        "snapshots": [{"id": s.pk, "name": s.name, "sha256": s.sha256} for s in snapshots],
        "trained_into": [_brief(v) for v in trained],
        "fixed_in": _brief(bad_case.fixed_in),
    }
