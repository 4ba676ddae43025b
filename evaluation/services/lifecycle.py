"""Close the loop on bad cases: a consensus "fixed" verdict moves the bad case to ``fixed`` in the system's
model version; a newer version that breaks a fixed case again flags it ``regressed``. Audited."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count

from annotation.models import BadCase
from engine.vocab import FIXED_STATUSES as FIXED
from evaluation.models import EvalSet, EvalSystem, Judgment
from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError

ERR_NOT_BAD_CASE_SET = "Only bad-case sets verify fixes."
ERR_NO_MODEL = "Only a system with a registered model version can fix a bad case."
# The paper's fix rate counts these three as fixed; the lifecycle uses the same definition.
FIXED_STATUSES = FIXED


def _is_newer(version, than) -> bool:
    return than is None or (version.created_at, version.pk) > (than.created_at, than.pk)


def _move(bad_case: BadCase, *, status: str, fixed_in, actor, note: str) -> None:
    before = audit_snapshot(bad_case, fields=["status", "fixed_in"])
    bad_case.status, bad_case.fixed_in = status, fixed_in
    bad_case.full_clean()
    bad_case.save(update_fields=["status", "fixed_in", "updated_at"])
    after = audit_snapshot(bad_case, fields=["status", "fixed_in"])
    audit_record(actor=actor, action="change", instance=bad_case, before=before, after=after, note=note)


# A verdict resting on fewer raters than this is applied only when the lead says so explicitly.
MIN_RATERS = 2


@dataclass
class PlannedChange:
    """What applying one consensus verdict would do to one bad case, and what the verdict rests on."""

    bad_case_id: int
    item: str  # the dialogue reference of the eval item
    verdict: str  # the consensus fix status
    before: str  # the bad case's status now
    after: str  # its status after applying ("" = unchanged)
    raters: int  # rater judgments behind the consensus
    reason: str = ""  # why it is left alone, in words

    @property
    def thin(self) -> bool:
        return self.raters < MIN_RATERS


@dataclass
class VerifyPlan:
    changes: list[PlannedChange] = field(default_factory=list)  # would move (fixed / regressed)
    unchanged: list[PlannedChange] = field(default_factory=list)  # consensus that changes nothing
    skipped: list[PlannedChange] = field(default_factory=list)  # a fix that cannot be recorded
    without_consensus: int = 0  # judged items of this system that have no consensus yet


def _check(eval_set: EvalSet, system: EvalSystem) -> None:
    if eval_set.kind != EvalSet.Kind.BAD_CASE:
        raise ApplicationError(ERR_NOT_BAD_CASE_SET)
    if system.model_version is None:
        raise ApplicationError(ERR_NO_MODEL)


def bad_cases_verify_plan(*, eval_set: EvalSet, system: EvalSystem) -> VerifyPlan:
    """What :func:`bad_cases_verify` would change, without changing anything: the confirmation page
    lists it, with the number of raters each consensus rests on."""
    _check(eval_set, system)
    version = system.model_version
    raters = dict(
        Judgment.objects.filter(item__eval_set=eval_set, system=system, consensus=False)
        .values("item")
        .annotate(n=Count("id"))
        .values_list("item", "n")
    )
    verdicts = (
        Judgment.objects.filter(item__eval_set=eval_set, item__bad_case__isnull=False, system=system, consensus=True)
        .select_related("item__bad_case__fixed_in")
        .order_by("item__position", "item_id")
    )
    plan = VerifyPlan()
    with_consensus = set()
    for verdict in verdicts:
        with_consensus.add(verdict.item_id)
        bad_case = verdict.item.bad_case
        change = PlannedChange(
            bad_case_id=bad_case.pk,
            item=verdict.item.external_id,
            verdict=verdict.fix_status,
            before=bad_case.status,
            after="",
            raters=raters.get(verdict.item_id, 0),
        )
        fixed = verdict.fix_status in FIXED_STATUSES
        if fixed and bad_case.status != BadCase.Status.FIXED:
            if not bad_case.gold_reply:  # the model keeps a reply without gold in "open" (DB constraint)
                change.reason = "it has no gold reply, which a fixed bad case needs"
                plan.skipped.append(change)
                continue
            change.after = BadCase.Status.FIXED
        elif not fixed and bad_case.status == BadCase.Status.FIXED and _is_newer(version, bad_case.fixed_in):
            change.after = BadCase.Status.REGRESSED
        (plan.changes if change.after else plan.unchanged).append(change)
    plan.without_consensus = len(set(raters) - with_consensus)
    return plan


@transaction.atomic
def bad_cases_verify(
    *, eval_set: EvalSet, system: EvalSystem, actor=None, include_thin: bool = True
) -> dict[str, list[int]]:
    """Apply the consensus fix statuses of ``system`` on ``eval_set`` to the bad cases behind its items.
    ``include_thin=False`` leaves alone the verdicts that rest on fewer than ``MIN_RATERS`` raters
    (reported under ``thin``)."""
    _check(eval_set, system)
    version = system.model_version
    plan = bad_cases_verify_plan(eval_set=eval_set, system=system)
    out: dict[str, list[int]] = {"fixed": [], "regressed": [], "skipped": [c.bad_case_id for c in plan.skipped]}
    if not include_thin:
        out["thin"] = []
    note = f"{eval_set} consensus for {system.name}"
    for change in plan.changes:
        if change.thin and not include_thin:
            out["thin"].append(change.bad_case_id)
            continue
        bad_case = BadCase.objects.select_for_update().get(pk=change.bad_case_id)
        if bad_case.status != change.before:  # changed since the plan was read: leave it
            continue
        if change.after == BadCase.Status.FIXED:
            _move(bad_case, status=BadCase.Status.FIXED, fixed_in=version, actor=actor, note=note)
            out["fixed"].append(bad_case.pk)
        else:
            _move(bad_case, status=BadCase.Status.REGRESSED, fixed_in=bad_case.fixed_in, actor=actor, note=note)
            out["regressed"].append(bad_case.pk)
    return out


def verify_report_words(result: dict[str, list[int]], *, system: EvalSystem) -> str:
    """The outcome of :func:`bad_cases_verify` as a sentence for the flash message."""

    def cases(n: int) -> str:
        return f"{n} bad case{'' if n == 1 else 's'}"

    version = system.model_version
    parts = []
    if result["fixed"]:
        parts.append(f"{cases(len(result['fixed']))} marked fixed in {version}")
    if result["regressed"]:
        parts.append(f"{cases(len(result['regressed']))} flagged as regressed")
    if result["skipped"]:
        parts.append(f"{cases(len(result['skipped']))} left open (no gold reply)")
    if result.get("thin"):
        parts.append(f"{cases(len(result['thin']))} left alone (consensus from a single rater)")
    if not parts:
        return f"Applied {system.name}'s verdicts: nothing changed."
    return f"Applied {system.name}'s verdicts: " + "; ".join(parts) + "."
