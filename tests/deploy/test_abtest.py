"""The A/B report: statistics against hand-computed values, the page, the promote step, and roles."""

import datetime as dt
import math

import pytest

from deploy.services.abtest import ab_report, percentile, two_proportion_z, wilson
from deploy.services.intake import intake_conversations
from kernel.models import AuditEvent
from registry.models import ModelVersion
from registry.services import version_register, version_stage_set
from tests.deploy.conftest import conversation

pytestmark = pytest.mark.django_db


def test_wilson_interval_by_hand():
    # 4/10: p = .4, centre = (.4 + z²/20) / (1 + z²/10), half = z·sqrt(.024 + z²/400) / (1 + z²/10)
    assert [round(x, 4) for x in wilson(4, 10)] == [0.1682, 0.6873]
    assert [round(x, 4) for x in wilson(7, 10)] == [0.3968, 0.8922]
    assert wilson(0, 0) == (0.0, 0.0)
    low, high = wilson(0, 20)
    assert low == 0.0 and round(high, 4) == 0.1611


def test_two_proportion_z_by_hand():
    # pooled .55, se = sqrt(.55·.45·(1/10 + 1/10)) = .222486, z = .3 / se
    z, p = two_proportion_z(4, 10, 7, 10)
    assert math.isclose(z, 0.3 / math.sqrt(0.55 * 0.45 * 0.2)) and round(z, 4) == 1.3484
    assert round(p, 4) == 0.1775
    # the paper's production response rates at 1000 conversations each: 46.72% → 58.86%
    z, p = two_proportion_z(467, 1000, 589, 1000)
    assert round(z, 2) == 5.46 and p < 1e-6
    assert two_proportion_z(0, 0, 1, 2) == (0.0, 1.0)


def test_percentiles_by_hand():
    assert percentile([400, 100, 300, 200], 50) == 250.0
    assert percentile([100, 200, 300, 400], 95) == 385.0
    assert percentile([], 50) is None


def _outcome(replied: bool, success: bool) -> dict:
    return {"hotel_replied": replied, "price_reduced_to_target": success, "ticket_closed": success}


@pytest.fixture
def ab(db):
    """Slot "chase": old (production) 4/10 replied, 1/10 success; new (staging) 7/10 replied, 3/10 success."""
    old = version_register(name="old", kind="policy", base_model="/m/b", method="repo")
    new = version_register(name="new", kind="policy", base_model="/m/b", method="repo")
    for v in (old, new):
        version_stage_set(version=v, stage="staging", slot="chase")
    version_stage_set(version=old, stage="production")
    day = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    batch = []
    for i in range(10):
        hits = [{"rule": "too_long", "evidence": ""}] if i < 2 else []
        batch.append(
            conversation(
                f"old-{i}",
                old,
                outcome=_outcome(i < 4, i < 1),
                guardrail_hits=hits,
                latency_ms=[100, 200, 300, 400][i] if i < 4 else None,
                occurred_at=(day + dt.timedelta(days=i % 2)).isoformat(),
            )
        )
        batch.append(
            conversation(
                f"new-{i}",
                new,
                outcome=_outcome(i < 7, i < 3),
                latency_ms=50.0,
                occurred_at=(day + dt.timedelta(days=i % 2)).isoformat(),
            )
        )
    intake_conversations(batch, source="api")
    return old, new


def test_the_report_matches_hand_computed_values(ab):
    old, new = ab
    report = ab_report("chase")
    base, challenger = report["versions"]
    assert (base["name"], base["is_baseline"], challenger["name"]) == ("old", True, "new")
    assert (base["conversations"], base["response"]["k"], base["success"]["k"]) == (10, 4, 1)
    assert [round(x, 4) for x in (base["response"]["low"], base["response"]["high"])] == [0.1682, 0.6873]
    assert [round(x, 4) for x in (challenger["response"]["low"], challenger["response"]["high"])] == [0.3968, 0.8922]
    assert round(challenger["response"]["z"], 4) == 1.3484 and round(challenger["response"]["p"], 4) == 0.1775
    assert base["response"]["p"] is None
    assert base["hits"] == {"too_long": {"k": 2, "rate": 0.2}} and challenger["hit_rates"] == [{"k": 0, "rate": 0.0}]
    assert (base["latency_p50"], base["latency_p95"]) == (250.0, 385.0)
    assert (challenger["latency_p50"], challenger["latency_p95"]) == (50.0, 50.0)
    assert report["chart"]["days"] == ["2026-12-01", "2026-12-02"]
    assert report["chart"]["series"][0]["response"] == [0.4, 0.4]  # old: replied 0, 2 (day 1) and 1, 3 (day 2)


def test_the_page_and_the_api_show_the_report(ab, client_for, api):
    page = client_for("ml_engineer").get("/deploy/ab/chase/")
    text = page.content.decode()
    assert page.status_code == 200 and "Task success rate" in text and "[0.168, 0.687]" in text
    assert "z = 1.35, p = 0.1775" in text and "vendor/chartjs/chart.umd.min.js" in text and "ab-series" in text
    data = api.get("/api/deploy/ab/chase/").json()
    assert [v["name"] for v in data["versions"]] == ["old", "new"]
    for role in ("language_expert", "bd_expert", "reviewer", "evaluator"):
        assert client_for(role).get("/deploy/ab/chase/").status_code == 403
        assert client_for(role).post(f"/deploy/ab/chase/promote/{ab[1].pk}/").status_code == 403


def test_promote_asks_first_then_moves_the_winner_to_production_audited(ab, client_for, role_users):
    old, new = ab
    client = client_for("ml_engineer")
    confirm = client.get(f"/deploy/ab/chase/promote/{new.pk}/").content.decode()
    assert "Promote new to production?" in confirm and "old</strong>, will be retired" in confirm
    assert ModelVersion.objects.get(pk=new.pk).stage == "staging"
    done = client.post(f"/deploy/ab/chase/promote/{new.pk}/", follow=True)
    assert "new now serves slot chase in production. old is retired." in done.content.decode()
    assert dict(ModelVersion.objects.values_list("name", "stage")) == {"old": "retired", "new": "production"}
    event = AuditEvent.objects.get(action="promote")
    assert (event.object_id, event.actor, event.note) == (str(new.pk), role_users["ml_engineer"], "A/B report")
    again = client.post(f"/deploy/ab/chase/promote/{old.pk}/", follow=True)
    assert "Only a staging or production version can be promoted" in again.content.decode()


def test_the_api_promotes_too(ab, api):
    answer = api.post("/api/deploy/ab/chase/promote/", {"version": ab[1].pk}, format="json")
    assert answer.status_code == 200 and answer.json()["stage"] == "production"
