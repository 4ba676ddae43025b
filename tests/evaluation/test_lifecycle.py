"""Bad cases verified fixed move to "fixed in" the model version; a newer version that breaks one is "regressed"."""

import pytest

from annotation.models import BadCase
from evaluation.services import lifecycle
from evaluation.services.lifecycle import bad_cases_verify
from kernel.errors import ApplicationError
from kernel.models import AuditEvent

from .factories import judge, make_set, make_system

pytestmark = pytest.mark.django_db


def verdict(eval_set, system, status):
    for item in eval_set.items.all():
        judge(item, system, "task", fix_status=status)
        judge(item, system, "lead", consensus=True, fix_status=status)


def test_fixed_then_regressed(role_users):
    first = make_set(name="bc", kind="bad_case", n=2)
    v1 = make_system("REPO")
    verdict(first, v1, "minor_issues")
    result = bad_cases_verify(eval_set=first, system=v1, actor=role_users["ml_engineer"])
    assert len(result["fixed"]) == 2
    case = BadCase.objects.get(pk=result["fixed"][0])
    assert case.status == "fixed" and case.fixed_in == v1.model_version
    assert AuditEvent.objects.filter(object_type="annotation.badcase", action="change").count() == 2

    v2 = make_system("REPO2")
    second = make_set(name="bc2", kind="bad_case", n=0)
    for item in first.items.all():
        second.items.create(external_id=item.external_id, dialogue=item.dialogue, bad_case=item.bad_case, turns=[2])
    verdict(second, v2, "severe_unresolved")
    result = bad_cases_verify(eval_set=second, system=v2, actor=role_users["ml_engineer"])
    assert len(result["regressed"]) == 2
    case.refresh_from_db()
    assert case.status == "regressed" and case.fixed_in == v1.model_version


def test_unresolved_leaves_an_open_case_alone():
    eval_set = make_set(name="bc", kind="bad_case", n=1)
    system = make_system("REPO")
    verdict(eval_set, system, "unresolved")
    assert bad_cases_verify(eval_set=eval_set, system=system) == {"fixed": [], "regressed": [], "skipped": []}
    assert BadCase.objects.get().status == "in_dataset"


def test_only_bad_case_sets_and_model_systems():
    online = make_set(kind="online", n=1)
    with pytest.raises(ApplicationError, match=lifecycle.ERR_NOT_BAD_CASE_SET):
        bad_cases_verify(eval_set=online, system=make_system("REPO"))
    with pytest.raises(ApplicationError, match="registered model version"):
        bad_cases_verify(eval_set=make_set(name="bc", kind="bad_case", n=1), system=make_system("gold", model=False))


def test_the_plan_lists_what_would_move_and_how_many_raters_each_verdict_rests_on():
    eval_set = make_set(name="bc", kind="bad_case", n=2)
    system = make_system("REPO")
    first, second = eval_set.items.all()
    judge(first, system, "task", fix_status="clean")
    judge(first, system, "lead", consensus=True, fix_status="clean")
    judge(second, system, "task", fix_status="clean")  # judged, no consensus yet
    plan = lifecycle.bad_cases_verify_plan(eval_set=eval_set, system=system)
    assert [(c.item, c.after, c.raters, c.thin) for c in plan.changes] == [(first.external_id, "fixed", 1, True)]
    assert plan.without_consensus == 1
    assert BadCase.objects.filter(status="fixed").count() == 0  # a plan changes nothing
    result = bad_cases_verify(eval_set=eval_set, system=system, include_thin=False)
    assert result["thin"] == [first.bad_case_id] and result["fixed"] == []
    words = lifecycle.verify_report_words(result, system=system)
    assert words == "Applied REPO's verdicts: 1 bad case left alone (consensus from a single rater)."
