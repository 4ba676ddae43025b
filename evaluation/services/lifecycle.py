"""Close the loop on bad cases: a consensus "fixed" verdict moves the bad case to ``fixed`` in the system's
model version; a newer version that breaks a fixed case again flags it ``regressed``. Audited."""

from __future__ import annotations

from django.db import transaction

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


@transaction.atomic
def bad_cases_verify(*, eval_set: EvalSet, system: EvalSystem, actor=None) -> dict[str, list[int]]:
    """Apply the consensus fix statuses of ``system`` on ``eval_set`` to the bad cases behind its items."""
    if eval_set.kind != EvalSet.Kind.BAD_CASE:
        raise ApplicationError(ERR_NOT_BAD_CASE_SET)
    version = system.model_version
    if version is None:
        raise ApplicationError(ERR_NO_MODEL)
    out: dict[str, list[int]] = {"fixed": [], "regressed": [], "skipped": []}
    verdicts = Judgment.objects.filter(
        item__eval_set=eval_set, item__bad_case__isnull=False, system=system, consensus=True
    ).select_related("item__bad_case__fixed_in")
    note = f"{eval_set} consensus for {system.name}"
    for verdict in verdicts:
        bad_case = BadCase.objects.select_for_update().get(pk=verdict.item.bad_case_id)
        fixed = verdict.fix_status in FIXED_STATUSES
        if fixed and bad_case.status != BadCase.Status.FIXED:
            if not bad_case.gold_reply:  # the model keeps a reply without gold in "open" (DB constraint)
                out["skipped"].append(bad_case.pk)
                continue
            _move(bad_case, status=BadCase.Status.FIXED, fixed_in=version, actor=actor, note=note)
            out["fixed"].append(bad_case.pk)
        elif not fixed and bad_case.status == BadCase.Status.FIXED and _is_newer(version, bad_case.fixed_in):
            _move(bad_case, status=BadCase.Status.REGRESSED, fixed_in=bad_case.fixed_in, actor=actor, note=note)
            out["regressed"].append(bad_case.pk)
    return out
