"""Studies: the paper's comparison of methods at one budget, launched and evaluated from the platform.

``study_create`` checks everything, then creates the study and one training job per method in one
transaction (a refused method writes nothing). Every job gets the same budget counted in *completions*
(replies, or training rows for SFT and DPO) per optimiser step and the same number of steps: GRPO's
prompts per step are the budget divided by its group (``training_jobs.services.engine_config``), so its
group does not multiply the replies it samples. ``study_advance`` (Celery beat, every
``PARLEY_STUDY_ADVANCE_S``) queues an eval run of each version a job registered, and of the start policy,
on the study's online set and its bad-case set; the study page reads the results as they arrive.
"""

from __future__ import annotations

from django.db import transaction

from evaluation.models import EvalRun, EvalSet, EvalSystem, Study
from evaluation.services.runs import eval_run_create
from evaluation.services.sets import eval_system_get_or_create
from kernel.audit import audit_record
from kernel.errors import ApplicationError
from kernel.status import Status
from registry.models import ModelVersion
from rewards.models import RewardConfig
from training_jobs.models import DatasetSnapshot, Method
from training_jobs.services.demo import untuned_policy_ensure
from training_jobs.services.engine_config import METHOD_SNAPSHOT_KINDS, batch_for_completions, reward_sources
from training_jobs.services.jobs import job_create

# The paper's five methods (the RM is an input of the study, not one of its arms).
STUDY_METHODS = (Method.SFT, Method.DPO, Method.PPO, Method.GRPO, Method.REPO)
MAX_STEPS = 100_000
MAX_COMPLETIONS = 4096  # per optimiser step
MAX_ACCUMULATION = 1024
MAX_GROUP = 64
MAX_SEED = 2**31 - 1
MAX_NEW_TOKENS = 2048

ERR_NAME = "A study needs a name."
ERR_NO_METHODS = "Choose at least one method."
ERR_UNKNOWN_METHOD = "Unknown method {method!r}: a study compares {methods}."
ERR_DUPLICATE_METHOD = "{method} is chosen twice: a study trains each method once."
ERR_NUMBER = "{label} must be a whole number between {low} and {high}."
ERR_NOT_DIVISIBLE = "{completions} completions per step do not split into {accumulation} accumulation steps."
ERR_NO_SNAPSHOT_FOR = "No snapshot of the set fits {method}: it trains on {kinds} snapshots."
ERR_SET_KIND = "The {role} set must be a frozen {kind} eval set."
ERR_BASE = "The base model must be a registered model version of method 'base'."


def _whole(value, *, label: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        value = None
    try:
        number = int(str(value).strip()) if value is not None else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise ApplicationError(ERR_NUMBER.format(label=label, low=f"{low:,}", high=f"{high:,}"))
    return number


def study_budget(
    *, max_steps, completions_per_step, accumulation=1, grpo_group=2, seed=0, max_response_length=None
) -> dict:
    """The checked budget: whole numbers within bounds (form strings accepted), completions splitting
    evenly into the accumulation steps."""
    budget = {
        "max_steps": _whole(max_steps, label="Steps", low=1, high=MAX_STEPS),
        "completions_per_step": _whole(completions_per_step, label="Completions per step", low=1, high=MAX_COMPLETIONS),
        "accumulation": _whole(accumulation, label="Accumulation steps", low=1, high=MAX_ACCUMULATION),
        "grpo_group": _whole(grpo_group, label="GRPO group size", low=2, high=MAX_GROUP),
        "seed": _whole(seed, label="Seed", low=0, high=MAX_SEED),
    }
    if max_response_length not in (None, ""):
        budget["max_response_length"] = _whole(max_response_length, label="Reply length", low=1, high=MAX_NEW_TOKENS)
    if budget["completions_per_step"] % budget["accumulation"]:
        raise ApplicationError(
            ERR_NOT_DIVISIBLE.format(completions=budget["completions_per_step"], accumulation=budget["accumulation"])
        )
    return budget


def method_hyperparameters(*, method: str, budget: dict) -> dict:
    """One method's share of the budget: the same steps, accumulation and seed, and a per-device batch
    that consumes ``completions_per_step / accumulation`` completions per forward pass (GRPO: that many
    divided by its group, in prompts)."""
    per_pass = budget["completions_per_step"] // budget["accumulation"]
    hyper = {
        "max_steps": budget["max_steps"],
        "gradient_accumulation_steps": budget["accumulation"],
        "seed": budget["seed"],
        **batch_for_completions(method=method, completions=per_pass, num_generations=budget["grpo_group"]),
    }
    if "max_response_length" in budget:
        hyper["max_response_length"] = budget["max_response_length"]
    return hyper


def _check_methods(methods: list[str]) -> list[str]:
    if not methods:
        raise ApplicationError(ERR_NO_METHODS)
    seen: list[str] = []
    for method in methods:
        if method not in STUDY_METHODS:
            raise ApplicationError(
                ERR_UNKNOWN_METHOD.format(method=method, methods=", ".join(m.upper() for m in STUDY_METHODS))
            )
        if method in seen:
            raise ApplicationError(ERR_DUPLICATE_METHOD.format(method=method.upper()))
        seen.append(method)
    return [m for m in STUDY_METHODS if m in seen]  # the paper's order


def _check_set(eval_set: EvalSet | None, *, kind: str, role: str) -> None:
    if eval_set is None or eval_set.kind != kind or not eval_set.is_frozen:
        raise ApplicationError(ERR_SET_KIND.format(role=role, kind=kind.replace("_", "-")))


def snapshots_for(*, method: str, snapshots: list[DatasetSnapshot]) -> list[DatasetSnapshot]:
    """The snapshots of the study's set that ``method`` trains on (its kinds)."""
    chosen = [s for s in snapshots if s.kind in METHOD_SNAPSHOT_KINDS[method]]
    if not chosen:
        kinds = " or ".join(METHOD_SNAPSHOT_KINDS[method])
        raise ApplicationError(ERR_NO_SNAPSHOT_FOR.format(method=method.upper(), kinds=kinds))
    return chosen


def study_create(
    *,
    name: str,
    base_model: ModelVersion | None,
    snapshots: list[DatasetSnapshot],
    methods: list[str],
    budget: dict,
    online_set: EvalSet | None,
    bad_case_set: EvalSet | None,
    reward_config: RewardConfig | None = None,
    max_new_tokens: int = 64,
    created_by=None,
) -> Study:
    """The study and one queued job per method, all with ``budget`` (``study_budget``'s dict); any refused
    input (a method's job included) raises ApplicationError and writes nothing."""
    if not name or not name.strip():
        raise ApplicationError(ERR_NAME)
    if base_model is None or base_model.method != "base":
        raise ApplicationError(ERR_BASE)
    methods = _check_methods(list(methods))
    budget = study_budget(**budget)
    max_new_tokens = _whole(max_new_tokens, label="Eval reply length", low=1, high=MAX_NEW_TOKENS)
    _check_set(online_set, kind=EvalSet.Kind.ONLINE, role="online")
    _check_set(bad_case_set, kind=EvalSet.Kind.BAD_CASE, role="bad-case")
    with transaction.atomic():
        study = Study.objects.create(
            name=name.strip(),
            base_model=base_model,
            reward_config=reward_config,
            methods=methods,
            budget=budget,
            online_set=online_set,
            bad_case_set=bad_case_set,
            max_new_tokens=max_new_tokens,
            created_by=created_by,
        )
        study.snapshots.set(snapshots)
        for method in methods:
            job = job_create(
                name=f"{study.name} · {method.upper()}",
                method=method,
                base_model=base_model,
                snapshots=snapshots_for(method=method, snapshots=snapshots),
                reward_config=reward_config if method in (Method.PPO, Method.GRPO, Method.REPO) else None,
                hyperparameters=method_hyperparameters(method=method, budget=budget),
                created_by=created_by,
            )
            study.jobs.add(job)
        audit_record(
            actor=created_by, action="study.create", instance=study, after={"methods": methods, "budget": budget}
        )
    return study


def _eval_scorers(study: Study) -> dict:
    """The RM and judge of the study's reward configuration score the eval replies too."""
    sources = reward_sources(study.reward_config)
    judge = sources.get("judge") or {}
    return {"rm_dir": sources.get("rm_path") or "", "judge_url": judge.get("base_url") or ""}


def start_policy_name(study: Study) -> str:
    """The name of the start policy: the study's base model registered as a policy with no adapter."""
    return f"{study.base_model.name} (untuned)"


def study_systems(study: Study) -> list[tuple[str, EvalSystem]]:
    """``(label, system)`` of the start policy and of every version the study's jobs registered so far."""
    start = untuned_policy_ensure(study.base_model, name=start_policy_name(study))
    systems = [("start", eval_system_get_or_create(model_version=start))]
    jobs = study.jobs.filter(status=Status.SUCCEEDED, output_model__isnull=False).select_related("output_model")
    order = {m: i for i, m in enumerate(STUDY_METHODS)}
    for job in sorted(jobs, key=lambda j: order.get(j.method, 99)):
        systems.append((job.method, eval_system_get_or_create(model_version=job.output_model)))
    return systems


def study_advance(*, study: Study) -> list[EvalRun]:
    """Queue an eval run on both sets for each system of the study not yet evaluated there (idempotent:
    the study row is locked, a second call finds the runs of the first)."""
    created: list[EvalRun] = []
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        done = {
            (run.eval_set_id, s.pk) for run in study.eval_runs.prefetch_related("systems") for s in run.systems.all()
        }
        for _label, system in study_systems(study):
            for eval_set in (study.online_set, study.bad_case_set):
                if (eval_set.pk, system.pk) in done:
                    continue
                run = eval_run_create(
                    eval_set=eval_set,
                    systems=[system],
                    created_by=study.created_by,
                    max_new_tokens=study.max_new_tokens,
                    **_eval_scorers(study),
                )
                study.eval_runs.add(run)
                created.append(run)
        if created:
            audit_record(
                actor=None, action="study.evaluate", instance=study, after={"eval_runs": [r.pk for r in created]}
            )
    return created


def study_is_settled(study: Study) -> bool:
    """Every job ended and every eval run of the study ended (nothing more will arrive)."""
    active = (Status.QUEUED, Status.RUNNING)
    return not study.jobs.filter(status__in=active).exists() and not study.eval_runs.filter(status__in=active).exists()


def studies_advance() -> int:
    """``study_advance`` for every study still waiting for something; returns the runs queued."""
    queued = 0
    for study in Study.objects.all().order_by("id"):
        if study.jobs.exclude(status__in=(Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)).exists() or (
            len(study_systems(study)) * 2 > study.eval_runs.count()
        ):
            queued += len(study_advance(study=study))
    return queued
