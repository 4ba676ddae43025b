"""API keys (kernel.api_keys): hashed, expiring, revocable; the self-service page, the command, and the
REST API's authentication with them (the lockout still counts wrong keys)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from kernel.api_keys import ApiKey, api_key_create, api_key_revoke, key_hash
from kernel.errors import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_lockout_left():
    from django.core.cache import cache

    cache.clear()  # wrong keys count per address, in the process-wide cache


LINEAGE_URL = "/api/deploy/ab/chase/"


def test_only_the_hash_and_prefix_are_stored(role_users):
    row, key = api_key_create(owner=role_users["ml_engineer"], name="crm")
    assert key.startswith(row.prefix + "_") and row.key_hash == key_hash(key)
    stored = ApiKey.objects.filter(pk=row.pk).values()[0]
    assert key not in {str(v) for v in stored.values()}
    assert row.expires_at - timezone.now() > timedelta(days=89)


@pytest.mark.parametrize("role", ["language_expert", "bd_expert", "reviewer", "evaluator"])
def test_only_ml_engineers_and_admins_hold_keys(role_users, role):
    with pytest.raises(ApplicationError):
        api_key_create(owner=role_users[role], name="x")
    api_key_create(owner=role_users["admin"], name="x")


def test_a_key_authenticates_the_rest_api_until_revoked_or_expired(role_users):
    row, key = api_key_create(owner=role_users["ml_engineer"], name="script")
    api = APIClient()
    for scheme in ("Bearer", "Token"):
        api.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
        assert api.get(LINEAGE_URL).status_code == 200
    row.refresh_from_db()
    assert row.last_used_at is not None
    api_key_revoke(key=row, actor=role_users["ml_engineer"])
    answer = api.get(LINEAGE_URL)
    assert answer.status_code in (401, 403) and "revoked" in answer.json()["detail"]
    other, key2 = api_key_create(owner=role_users["ml_engineer"], name="old")
    ApiKey.objects.filter(pk=other.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key2}")
    assert "expired" in api.get(LINEAGE_URL).json()["detail"]


def test_wrong_keys_lock_the_address_out(role_users, settings):
    settings.AXES_FAILURE_LIMIT = 3
    _, key = api_key_create(owner=role_users["ml_engineer"], name="ok")
    api = APIClient(REMOTE_ADDR="10.9.9.9")
    api.credentials(HTTP_AUTHORIZATION="Bearer pk_00000000_guess")
    assert [api.get(LINEAGE_URL).status_code for _ in range(3)] == [403, 403, 403]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get(LINEAGE_URL).status_code == 429


def test_self_service_page_shows_the_key_once_and_revokes_with_confirmation(client_for, role_users):
    client = client_for("ml_engineer")
    page = client.post("/deploy/keys/", {"name": "dialogue system", "days": "30"})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    row = ApiKey.objects.get(name="dialogue system")
    shown = page.context["new_key"]
    assert key_hash(shown) == row.key_hash and shown in page.content.decode()
    listing = client.get("/deploy/keys/").content.decode()
    assert shown not in listing and row.prefix in listing
    confirm = client.get(f"/deploy/keys/{row.pk}/revoke/")
    assert confirm.status_code == 200 and b"cannot be restored" in confirm.content
    row.refresh_from_db()
    assert row.revoked_at is None  # GET only asks
    client.post(f"/deploy/keys/{row.pk}/revoke/")
    row.refresh_from_db()
    assert row.revoked_at is not None


def test_a_user_cannot_see_or_revoke_another_users_key(client_for, role_users):
    from tests.fixtures.services import make_user

    other = make_user("other_ml", "ml_engineer")
    row, _ = api_key_create(owner=other, name="theirs")
    client = client_for("ml_engineer")
    assert b"theirs" not in client.get("/deploy/keys/").content
    assert client.post(f"/deploy/keys/{row.pk}/revoke/").status_code == 404


def test_bad_name_or_days_is_a_message_not_a_500(client_for):
    client = client_for("ml_engineer")
    for data in ({"name": "", "days": "30"}, {"name": "x", "days": "zero"}, {"name": "x", "days": "9999"}):
        answer = client.post("/deploy/keys/", data, follow=True)
        assert answer.status_code == 200 and not ApiKey.objects.exists()


@pytest.mark.parametrize("role", ["language_expert", "bd_expert", "reviewer", "evaluator"])
def test_annotators_and_evaluators_cannot_reach_keys(client_for, role):
    client = client_for(role)
    assert client.get("/deploy/keys/").status_code == 403
    assert client.post("/deploy/keys/", {"name": "x", "days": "3"}).status_code == 403


def test_command_prints_the_key_once(role_users):
    out = StringIO()
    call_command("api_key_create", "--user", "u_ml_engineer", "--name", "cron", stdout=out, stderr=StringIO())
    key = out.getvalue().strip()
    assert ApiKey.objects.get(name="cron").key_hash == key_hash(key)
    with pytest.raises(CommandError, match="Only ML engineers"):
        call_command("api_key_create", "--user", "u_evaluator", "--name", "x", stdout=StringIO(), stderr=StringIO())


def test_slot_routes_and_guardrail_through_the_api(role_users):
    from deploy.gateway_models import SlotGuardrail, SlotRoute
    from kernel.models import AuditEvent
    from registry.services import version_register

    version_register(name="p1", kind="policy", base_model="/m", method="repo")
    version_register(name="p2", kind="policy", base_model="/m", method="repo")
    version_register(name="rm", kind="reward_model", base_model="/m", method="rm")
    _, key = api_key_create(owner=role_users["ml_engineer"], name="ops")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = "/api/deploy/slots/chase/routes/"
    ok = api.put(url, {"routes": [{"version": "p1", "weight": 3}, {"version": "p2", "weight": 1}]}, format="json")
    assert ok.status_code == 200 and ok.json()["routes"] == [
        {"version": "p1", "weight": 3.0},
        {"version": "p2", "weight": 1.0},
    ]
    for bad in ([{"version": "rm", "weight": 1}], [{"version": "p1", "weight": -1}], [{"version": "zz", "weight": 1}],
                [{"version": "p1", "weight": 0}], "nope"):  # fmt: skip
        answer = api.put(url, {"routes": bad}, format="json")
        assert answer.status_code == 400, bad
    assert SlotRoute.objects.count() == 2
    guard = "/api/deploy/slots/chase/guardrail/"
    assert api.put(guard, {"mode": "fallback", "fallback_reply": "Thanks, {hotel}."}, format="json").status_code == 200
    assert SlotGuardrail.objects.get(slot="chase").mode == "fallback"
    assert api.put(guard, {"mode": "block"}, format="json").status_code == 400
    assert api.put(guard, {"rules": ["no_such_rule"]}, format="json").status_code == 400
    assert api.put(guard, {"fallback_reply": "a\u0000b"}, format="json").status_code == 400
    assert AuditEvent.objects.filter(object_type="deploy.slotroute", object_id="chase").exists()
    evaluator = APIClient()
    evaluator.force_authenticate(role_users["evaluator"])
    assert evaluator.get(guard).status_code == 403
