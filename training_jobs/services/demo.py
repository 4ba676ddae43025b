"""The jobs side of the demo world: a finished RM job and a finished REPO job, really run by the engine on
the tiny model, so an ML engineer has charts, samples and logs to look at on first login.

Kept apart from the annotation seeding (``annotation.services.demo``): it needs the tiny model on disk,
which ``make run`` builds after ``seed_demo``. The jobs go through the same services as the dashboard
(``snapshot_create``, ``job_create``) and are run here, in this process, by the same claim and
supervisor a GPU worker uses (``job_claim`` + ``job_supervise``: the engine is a subprocess either way).
A worker that happens to take the job's queue message first runs it instead; this waits for it.
Idempotent: a demo job that already succeeded is kept; one that failed or was cancelled is left in the
list and a fresh one is run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model

from kernel.errors import ApplicationError
from kernel.status import Action, Status, lease_owner_name
from registry.models import ModelVersion
from registry.services import base_model_default_ensure, version_register
from rewards.models import RewardConfig, RuleSetVersion
from rewards.services.seed import DEMO_JUDGE_CONFIG
from training_jobs.models import DatasetSnapshot, TrainingJob
from training_jobs.services.jobs import job_create
from training_jobs.services.leases import job_claim
from training_jobs.services.runner import job_fail_unexpected, job_supervise
from training_jobs.services.snapshots import snapshot_create

RM_JOB, REPO_JOB = "demo reward model", "demo REPO policy"
PREFS_SNAPSHOT, PROMPTS_SNAPSHOT = "demo preferences", "demo prompts"
REWARD_CONFIG = "demo: RM + rules"
JUDGE_REWARD_CONFIG = "demo: RM + judge + rules"  # when make run has served the demo judge (all three sources)
UNTUNED = "tiny-default (untuned)"
DEMO_PRESET = "tiny"  # seconds on a CPU; the job page says which preset ran
WAIT_S = 900.0
ERR_NO_MODEL = "The tiny base model is not built yet ({path}): run `python -m engine bootstrap` first."
ERR_FAILED = "The demo job {name!r} ended {status}: {error}"


@dataclass
class DemoJobsResult:
    rm: TrainingJob
    repo: TrainingJob
    untuned: ModelVersion
    ran: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _ml_engineer():
    return get_user_model().objects.filter(username="mlengineer").first()


def _snapshot(*, name: str, kind: str, user) -> DatasetSnapshot:
    existing = DatasetSnapshot.objects.filter(name=name, kind=kind).order_by("-created_at").first()
    return existing or snapshot_create(name=name, kind=kind, created_by=user, note="Demo world (seed_demo_jobs).")


def job_run_here(job: TrainingJob, *, wait_s: float = WAIT_S) -> TrainingJob:
    """Run a queued job in this process as a worker would (claim its lease, supervise the engine), or,
    when a worker already claimed it, wait for that worker to finish it."""
    owner = lease_owner_name(task_id=f"seed-demo-{job.pk}")
    claim = job_claim(job_id=job.pk, owner=owner)
    if claim.action == Action.START:
        try:
            job_supervise(job=claim.row, owner=owner)
        except Exception as exc:
            job_fail_unexpected(job_id=job.pk, owner=owner, error=f"{type(exc).__name__}: {exc}")
            raise
    deadline = time.monotonic() + wait_s
    job.refresh_from_db()
    while not job.is_terminal and time.monotonic() < deadline:
        time.sleep(1)
        job.refresh_from_db()
    return job


def _finished_job(*, name: str, ran: list[str], seconds: dict, **create) -> TrainingJob:
    done = TrainingJob.objects.filter(name=name, status=Status.SUCCEEDED).order_by("-finished_at").first()
    if done is not None:
        return done
    started = time.monotonic()
    # one left queued or running by an interrupted seed (a worker or the sweep carries it on): wait for it
    active = TrainingJob.objects.filter(name=name, status__in=[Status.QUEUED, Status.RUNNING]).first()
    job = job_run_here(active or job_create(name=name, preset=DEMO_PRESET, **create))
    if job.status != Status.SUCCEEDED:
        raise ApplicationError(ERR_FAILED.format(name=name, status=job.status, error=job.error[-2000:]))
    ran.append(name)
    seconds[name] = round(time.monotonic() - started, 1)
    return job


def untuned_policy_ensure(base: ModelVersion, *, name: str = UNTUNED) -> ModelVersion:
    """The base model as a policy version with no adapter: the "before" system of the demo eval set and of
    every study (eval systems are policy versions; this one generates with the base weights alone)."""
    existing = ModelVersion.objects.filter(name=name).first()
    if existing is not None:
        return existing
    return version_register(
        name=name,
        kind=ModelVersion.Kind.POLICY,
        base_model=base.base_model,
        base=base,
        method="base",
        description="The tiny base model with no fine-tuning, registered as a policy so that evaluation can "
        "compare it with the demo REPO policy.",
        lineage={"base_model": {"id": base.pk, "name": base.name}, "note": "no training: the base weights"},
    )


def demo_jobs_seed() -> DemoJobsResult:
    """The RM job, then the REPO job rewarded by that RM and the default rule set (both on the tiny
    preset), and the untuned base registered as a policy. Raises ``ApplicationError`` when the tiny model
    is missing or a job fails (its error and log tail in the message)."""
    base = base_model_default_ensure()
    if not (Path(base.base_model) / "config.json").exists():
        raise ApplicationError(ERR_NO_MODEL.format(path=base.base_model))
    user = _ml_engineer()
    ran: list[str] = []
    seconds: dict[str, float] = {}
    rm = _finished_job(
        name=RM_JOB,
        ran=ran,
        seconds=seconds,
        method="rm",
        base_model=base,
        snapshots=[_snapshot(name=PREFS_SNAPSHOT, kind="preference", user=user)],
        created_by=user,
    )
    rules = RuleSetVersion.objects.filter(name="default").order_by("-version").first()
    judged = RewardConfig.objects.filter(name=DEMO_JUDGE_CONFIG).first()
    if judged is not None:  # the demo judge is served (make run): the RM, the judge and the rules
        reward, _ = RewardConfig.objects.get_or_create(
            name=JUDGE_REWARD_CONFIG,
            defaults={
                "reward_model": rm.output_model,
                "rule_set": judged.rule_set or rules,
                "rubric": judged.rubric,
                "judge_base_url": judged.judge_base_url,
                "judge_model": judged.judge_model,
                "n": 100.0,
                "created_by": user,
            },
        )
    else:
        reward, _ = RewardConfig.objects.get_or_create(
            name=REWARD_CONFIG,
            defaults={"reward_model": rm.output_model, "rule_set": rules, "n": 100.0, "created_by": user},
        )
    repo = _finished_job(
        name=REPO_JOB,
        ran=ran,
        seconds=seconds,
        method="repo",
        base_model=base,
        snapshots=[_snapshot(name=PROMPTS_SNAPSHOT, kind="prompts", user=user)],
        reward_config=reward,
        created_by=user,
    )
    return DemoJobsResult(rm=rm, repo=repo, untuned=untuned_policy_ensure(base), ran=ran, seconds=seconds)
