"""The slots page: routes (A/B shares) and guardrail per slot, for ML engineers and admins; every change is
checked (shares sum to 100, policies of the slot's base only), shown before → after, applied only once
confirmed, and audited. The browser half is tests/e2e/test_deploy.py."""

import pytest

from deploy.gateway_models import SlotGuardrail, SlotRoute
from deploy.services.gateway_config import slot_routes_set
from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from registry.services import version_register, version_stage_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    base = version_register(name="tiny", kind="base", base_model="/m/tiny", method="base")
    other = version_register(name="other", kind="base", base_model="/m/other", method="base")
    old = version_register(name="sft-v1", kind="policy", base_model="/m/tiny", base=base, method="sft")
    new = version_register(name="repo-v2", kind="policy", base_model="/m/tiny", base=base, method="repo")
    alien = version_register(name="pol-x", kind="policy", base_model="/m/other", base=other, method="sft")
    rm = version_register(name="rm-1", kind="reward_model", base_model="/m/tiny", base=base, method="rm")
    for v in (old, new):
        version_stage_set(version=v, stage="staging", slot="chase")
    version_stage_set(version=old, stage="production")
    return {"old": old, "new": new, "alien": alien, "rm": rm, "base": base}


@pytest.mark.parametrize("role", ["language_expert", "bd_expert", "reviewer", "evaluator"])
def test_other_roles_cannot_reach_the_slots_pages(world, client_for, role):
    client = client_for(role)
    for url in ("/deploy/slots/", "/deploy/slots/chase/"):
        assert client.get(url).status_code == 403
    assert client.post("/deploy/slots/chase/routes/", {"share_1": "100", "confirm": "yes"}).status_code == 403
    assert client.post("/deploy/slots/chase/guardrail/", {"mode": "flag", "confirm": "yes"}).status_code == 403
    assert not SlotRoute.objects.exists() and not SlotGuardrail.objects.exists()


def test_the_page_lists_only_policies_of_the_slots_base(world, client_for):
    page = client_for("ml_engineer").get("/deploy/slots/chase/").content.decode()
    assert "sft-v1" in page and "repo-v2" in page and "100.0%" in page
    assert "pol-x" not in page and "rm-1" not in page
    listing = client_for("admin").get("/deploy/slots/").content.decode()
    assert "chase" in listing and "sft-v1: 100.0%" in listing


def test_routes_are_confirmed_before_they_shift_traffic_then_audited(world, client_for):
    client = client_for("ml_engineer")
    fields = {f"share_{world['old'].pk}": "90", f"share_{world['new'].pk}": "10"}
    answer = client.post("/deploy/slots/chase/routes/", fields)
    assert answer.status_code == 200 and not SlotRoute.objects.exists()  # only asked
    text = answer.content.decode()
    assert "Change the traffic of slot chase?" in text and "10.0%" in text and 'name="confirm"' in text
    assert not AuditEvent.objects.filter(object_type="deploy.slotroute").exists()  # the check wrote nothing
    answer = client.post("/deploy/slots/chase/routes/", {**fields, "confirm": "yes"})
    assert answer.status_code == 302
    assert dict(SlotRoute.objects.values_list("version__name", "weight")) == {"sft-v1": 90.0, "repo-v2": 10.0}
    event = AuditEvent.objects.get(object_type="deploy.slotroute", object_id="chase")
    assert event.note == "slots page" and len(event.after["routes"]) == 2
    # clearing every share removes the split (after a confirmation saying who serves then)
    cleared = {f"share_{world['old'].pk}": "", f"share_{world['new'].pk}": ""}
    assert (
        "sft-v1</strong> (production) will serve every hotel"
        in client.post("/deploy/slots/chase/routes/", cleared).content.decode()
    )
    client.post("/deploy/slots/chase/routes/", {**cleared, "confirm": "yes"})
    assert not SlotRoute.objects.exists()


@pytest.mark.parametrize(
    ("shares", "needle"),
    [
        ({"old": "60", "new": "30"}, "must sum to 100% (they sum to 90%)"),
        ({"old": "abc"}, "must be a number"),
        ({"old": "150", "new": "-50"}, "between 0 and 100"),
        ({"old": "50", "alien": "50"}, "pol-x was trained on other, but slot chase serves tiny"),
        ({"old": "50", "rm": "50"}, "rm-1 is not a policy"),
        ({"old": "nan", "new": "100"}, "between 0 and 100"),
    ],
)
def test_bad_routes_are_a_400_in_words_and_write_nothing(world, client_for, shares, needle):
    fields = {f"share_{world[k].pk}": v for k, v in shares.items()}
    for confirm in ("", "yes"):
        answer = client_for("ml_engineer").post("/deploy/slots/chase/routes/", {**fields, "confirm": confirm})
        assert answer.status_code == 400 and needle in answer.content.decode()
    assert not SlotRoute.objects.exists()
    assert not AuditEvent.objects.filter(object_type="deploy.slotroute").exists()


def test_the_service_refuses_versions_of_another_base(world):
    with pytest.raises(ApplicationError, match="pol-x was trained on other"):
        slot_routes_set(slot="chase", routes=[{"version": "sft-v1", "weight": 1}, {"version": "pol-x", "weight": 1}])
    with pytest.raises(ApplicationError, match="sum to 100"):
        slot_routes_set(slot="chase", routes=[{"version": "sft-v1", "weight": 1}], percent=True)


def test_guardrail_is_confirmed_then_audited_and_bad_input_is_a_400(world, client_for):
    client = client_for("admin")
    fields = {"mode": "fallback", "retries": "1", "rules": ["price_mismatch"], "fallback_reply": "Thanks, {hotel}."}
    answer = client.post("/deploy/slots/chase/guardrail/", fields)
    assert answer.status_code == 200 and not SlotGuardrail.objects.exists()
    assert "Change the guardrail of slot chase?" in answer.content.decode()
    assert client.post("/deploy/slots/chase/guardrail/", {**fields, "confirm": "yes"}).status_code == 302
    row = SlotGuardrail.objects.get(slot="chase")
    assert (row.mode, row.retries, row.rules, row.fallback_reply) == (
        "fallback",
        1,
        ["price_mismatch"],
        "Thanks, {hotel}.",
    )
    assert AuditEvent.objects.get(object_type="deploy.slotguardrail").note == "slots page"
    for bad, needle in [
        ({"mode": "explode"}, "mode: one of"),
        ({"mode": "regenerate", "retries": "9"}, "retries: an integer from 0 to"),
        ({"mode": "regenerate", "retries": "x"}, "whole number"),
        ({"mode": "flag", "rules": ["no_such_rule"]}, "rules: a list of rule ids"),
        ({"mode": "flag", "fallback_reply": "a\x00b"}, "fallback_reply"),
    ]:
        answer = client.post("/deploy/slots/chase/guardrail/", {"retries": "1", **bad, "confirm": "yes"})
        assert answer.status_code == 400 and needle in answer.content.decode(), bad
    assert SlotGuardrail.objects.get(slot="chase").mode == "fallback"
    assert AuditEvent.objects.filter(object_type="deploy.slotguardrail").count() == 1


def test_a_slot_name_with_odd_characters_is_a_404(world, client_for):
    assert client_for("ml_engineer").get("/deploy/slots/a%20b/").status_code == 404
