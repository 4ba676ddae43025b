"""The A/B report and the version page in a real browser: the statistics table, the Chart.js chart over
time, the promote confirmation, the lineage link; screenshots."""

import datetime as dt

import pytest

from deploy.services.intake import intake_conversations
from registry.models import ModelVersion
from registry.services import version_register, version_stage_set
from tests.deploy.conftest import conversation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _world():
    base = version_register(name="tiny", kind="base", base_model="/m/tiny", method="base")
    old = version_register(name="sft-v1", kind="policy", base_model="/m/tiny", base=base, method="sft")
    new = version_register(
        name="repo-v2", kind="policy", base_model="/m/tiny", base=base, method="repo", tags=["winter"]
    )
    for v in (old, new):
        version_stage_set(version=v, stage="staging", slot="chase")
    version_stage_set(version=old, stage="production")
    start = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    batch = []
    for i in range(40):
        for version, reply_every, win_every in ((old, 2, 5), (new, 3, 4)):
            outcome = {
                "hotel_replied": i % reply_every != 0,
                "price_reduced_to_target": i % win_every == 0,
                "ticket_closed": False,
            }
            batch.append(
                conversation(
                    f"{version.name}-{i}", version, outcome=outcome, latency_ms=100.0 + i,
                    occurred_at=(start + dt.timedelta(days=i % 4)).isoformat(),
                    guardrail_hits=[{"rule": "too_long", "evidence": ""}] if version == old and i % 10 == 0 else [],
                )
            )  # fmt: skip
    intake_conversations(batch, source="gateway")
    return old, new


def test_ab_report_chart_and_promote(page, login, live_server, role_users, screenshot):
    old, new = _world()
    login(role_users["ml_engineer"])
    page.goto(f"{live_server.url}/deploy/ab/chase/")
    page.wait_for_function("() => window.Chart && Chart.getChart('ab-chart')")
    assert page.evaluate("Chart.getChart('ab-chart').data.datasets.length") == 4
    assert page.evaluate("Chart.getChart('ab-chart').data.labels.length") == 4
    table = page.locator("#ab-table").inner_text()
    assert "sft-v1" in table and "repo-v2" in table and "baseline" in table and "too_long hits" in table
    screenshot("ab-report")
    page.click("tr[data-version=repo-v2] a.button")
    assert "sft-v1, will be retired" in page.inner_text("main")
    screenshot("ab-promote-confirm")
    page.click("button[type=submit]")
    page.wait_for_selector("text=repo-v2 now serves slot chase in production.")
    assert ModelVersion.objects.get(pk=new.pk).stage == "production"
    assert ModelVersion.objects.get(pk=old.pk).stage == "retired"


def test_version_page_with_lineage(page, login, live_server, role_users, screenshot):
    old, new = _world()
    login(role_users["ml_engineer"])
    page.goto(f"{live_server.url}/deploy/models/{new.pk}/")
    assert "Staging" in page.inner_text("#stage") and "winter" in page.inner_text("main")
    screenshot("version-page")
    page.click("#lineage-link")
    page.wait_for_selector("text=Lineage of")
    assert "tiny" in page.inner_text("main")
    screenshot("version-lineage")


def test_slot_routes_and_guardrail_page(page, login, live_server, role_users, screenshot):
    """Shares that do not sum to 100 are refused in words; a valid split is shown before → after and
    applied only when confirmed; the guardrail likewise; the history lists both changes."""
    from deploy.gateway_models import SlotGuardrail, SlotRoute

    old, new = _world()
    login(role_users["ml_engineer"])
    page.goto(f"{live_server.url}/deploy/slots/")
    page.click("tr[data-slot=chase] a")
    page.fill(f"input[name=share_{old.pk}]", "80")
    page.fill(f"input[name=share_{new.pk}]", "10")
    page.click("#routes-form button[type=submit]")
    assert "they sum to 90%" in page.inner_text("#route-errors")
    page.fill(f"input[name=share_{new.pk}]", "20")
    page.click("#routes-form button[type=submit]")
    assert "20.0% of the slot's hotels will talk to another version" in page.inner_text("#confirm-summary")
    screenshot("slot-routes-confirm")
    assert not SlotRoute.objects.exists()
    page.click("button:has-text('Yes, apply to slot chase')")
    page.wait_for_selector("text=Slot chase: routes saved.")
    assert dict(SlotRoute.objects.values_list("version__name", "weight")) == {"sft-v1": 80.0, "repo-v2": 20.0}
    page.select_option("select[name=mode]", "fallback")
    page.check("input[name=rules][value=price_mismatch]")
    page.click("#guardrail-form button[type=submit]")
    assert "Change the guardrail of slot chase?" in page.inner_text("main")
    page.click("button:has-text('Yes, apply to slot chase')")
    page.wait_for_selector("text=Slot chase: guardrail saved (fallback).")
    row = SlotGuardrail.objects.get(slot="chase")
    assert (row.mode, row.rules) == ("fallback", ["price_mismatch"])
    history = page.inner_text("main")
    assert "routes (slots page)" in history and "guardrail (slots page)" in history
    screenshot("slot-page")
