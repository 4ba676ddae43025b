"""The training-time probe (docs/method.md, "The evaluation protocol"): the ``probe/score`` the engine logs every
``probe_every`` steps (the judge on held-out dialogues), read from ``training_jobs.JobMetric``."""

from __future__ import annotations

from django.db.models import QuerySet

from engine.rundir import PROBE_SCORE
from training_jobs.models import JobMetric, TrainingJob


def probe_jobs() -> QuerySet[TrainingJob]:
    """Jobs that logged at least one probe score, newest first."""
    ids = JobMetric.objects.filter(data__has_key=PROBE_SCORE).values("job_id")
    return TrainingJob.objects.filter(pk__in=ids).order_by("-created_at", "-id")


def probe_curve(*, job: TrainingJob) -> dict:
    """Steps and scores in order, with the start, best and last scores and the gain of the last over the start."""
    points = [
        (m.step, float(m.data[PROBE_SCORE]))
        for m in JobMetric.objects.filter(job=job, data__has_key=PROBE_SCORE).order_by("step")
        if isinstance(m.data.get(PROBE_SCORE), int | float)
    ]
    scores = [s for _, s in points]
    start, last = (scores[0], scores[-1]) if scores else (None, None)
    gain = 100.0 * (last - start) / abs(start) if scores and start else None
    best = max(points, key=lambda p: p[1]) if points else None
    return {
        "job": job,
        "steps": [s for s, _ in points],
        "scores": scores,
        "start": start,
        "last": last,
        "best_step": best[0] if best else None,
        "best": best[1] if best else None,
        "gain_pct": gain,
    }
