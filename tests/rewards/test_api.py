"""REST API for reward documents (token auth): versions, read, save (400 lists every problem), rules score."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from engine.rewards.rules import EXAMPLE_TASKS
from rewards.models import RuleSetVersion
from rewards.services.seed import reward_defaults_seed
from tests.fixtures.services import token_client

pytestmark = pytest.mark.django_db
BASE = "/api/jobs/rewards"


@pytest.fixture
def api(role_users) -> APIClient:
    reward_defaults_seed()
    return token_client(role_users["ml_engineer"])


def test_list_read_and_save_a_version(api):
    assert [v["version"] for v in api.get(f"{BASE}/rule-sets/default/versions/").json()] == [1]
    latest = api.get(f"{BASE}/rule-sets/default/latest/").json()
    document = latest["document"]
    document["rules"][5]["points"] = -12
    created = api.post(
        f"{BASE}/rule-sets/default/versions/",
        {"document": document, "note": "scripted", "base_version": 1},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["version"] == 2 and created.json()["created_by"] == "u_ml_engineer"
    assert api.get(f"{BASE}/rule-sets/default/versions/2/").json()["note"] == "scripted"
    assert api.get(f"{BASE}/rubrics/default/latest/").json()["document"]["rules"]
    assert api.get(f"{BASE}/rule-sets/default/versions/9/").status_code == 404


def test_a_refused_save_is_400_with_every_problem(api):
    document = RuleSetVersion.objects.get(name="default").document
    document["rules"][0]["params"]["patterns"] = ["("]
    response = api.post(f"{BASE}/rule-sets/default/versions/", {"document": document, "note": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0].startswith("rule 'internal_term_leak': bad regex")
    assert api.post(f"{BASE}/rule-sets/default/versions/", {"note": "x"}, format="json").status_code == 400
    assert RuleSetVersion.objects.count() == 1


def test_score_a_reply_with_the_rules(api):
    body = {"reply": "Our target price is 690.", "task": EXAMPLE_TASKS["en"], "rule_set": "default@1"}
    response = api.post(f"{BASE}/score/", body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["rule_set"] == "default@1" and data["e_func"] == -30.0
    fired = [r for r in data["rules"] if r["fired"]]
    assert [(r["rule"], r["evidence"].lower(), r["span"]) for r in fired] == [
        ("internal_term_leak", "our target", [0, 10])
    ]
    bad = api.post(f"{BASE}/score/", {**body, "task": {"hotel": {}}, "history": [{"role": "bot"}]}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"task", "history"}
    assert api.post(f"{BASE}/score/", {**body, "rule_set": "default@x"}, format="json").status_code == 400


def test_other_roles_are_refused(role_users):
    assert token_client(role_users["bd_expert"]).get(f"{BASE}/rule-sets/default/versions/").status_code == 403
    assert APIClient().get(f"{BASE}/rule-sets/default/versions/").status_code in (401, 403)
