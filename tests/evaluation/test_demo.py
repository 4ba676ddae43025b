"""The demo eval sets on top of the demo world."""

import pytest
from django.core.management import call_command

from evaluation.models import EvalSet, PanelMember, Response
from evaluation.services.demo import eval_demo_seed

pytestmark = pytest.mark.django_db


def test_demo_sets_from_the_demo_world(role_users):
    from annotation.services.demo import demo_world_seed

    demo_world_seed(scale=8, seed=0, password="x-demo-password")
    result = eval_demo_seed(online=5, bad_cases=3)
    online = EvalSet.objects.get(name="demo-online")
    assert online.is_frozen and online.items.count() == 5
    assert Response.objects.filter(item__eval_set=online).count() == sum(len(i.turns) for i in online.items.all())
    assert result.responses >= Response.objects.filter(item__eval_set=online).count()
    assert PanelMember.objects.filter(user=role_users["evaluator"]).exists()
    call_command("seed_eval_demo")  # idempotent
    assert EvalSet.objects.filter(name="demo-online").count() == 1
