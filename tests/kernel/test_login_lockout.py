"""Login protection: django-axes locks a username out after AXES_FAILURE_LIMIT wrong passwords from one
address (the right password then fails too), the API's tokens get the same limit per address, and
Django's standard password validators refuse weak passwords."""

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from rest_framework.authtoken.models import Token

from tests.fixtures.services import PASSWORD

LOGIN = "/accounts/login/"
API = "/api/jobs/jobs/"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def post_login(client, username, password, ip="203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_right_password_logs_in(client, role_users):
    response = post_login(client, "u_reviewer", PASSWORD)
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(role_users["reviewer"].pk)


@pytest.mark.django_db
def test_lockout_after_the_failure_limit_even_with_the_right_password(client, role_users):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert post_login(client, "u_reviewer", "wrong-password").status_code in (200, 429)
    response = post_login(client, "u_reviewer", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address is not locked out of the same account (a guesser cannot lock everyone out).
    assert post_login(client, "u_reviewer", PASSWORD, ip="198.51.100.9").status_code == 302


@pytest.mark.django_db
def test_a_success_resets_the_count(client, role_users):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        post_login(client, "u_reviewer", "wrong-password")
    assert post_login(client, "u_reviewer", PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        post_login(client, "u_reviewer", "wrong-password")
    assert post_login(client, "u_reviewer", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_api_locks_out_an_address_that_guesses_tokens(client, role_users):
    good = Token.objects.create(user=role_users["ml_engineer"]).key
    assert client.get(API, HTTP_AUTHORIZATION=f"Token {good}", REMOTE_ADDR="203.0.113.8").status_code == 200
    for n in range(settings.AXES_FAILURE_LIMIT):
        bad = client.get(API, HTTP_AUTHORIZATION=f"Token {n:040d}", REMOTE_ADDR="203.0.113.8")
        assert bad.status_code in (401, 403)
    locked = client.get(API, HTTP_AUTHORIZATION=f"Token {good}", REMOTE_ADDR="203.0.113.8")
    assert locked.status_code == 429
    assert "wrong token" in locked.json()["detail"]
    assert client.get(API, HTTP_AUTHORIZATION=f"Token {good}", REMOTE_ADDR="198.51.100.10").status_code == 200


@pytest.mark.django_db
def test_the_api_counts_the_address_behind_the_proxy(client, role_users, settings):
    settings.PARLEY_BEHIND_PROXY = True
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.get(API, HTTP_AUTHORIZATION=f"Token {n:040d}", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    good = Token.objects.create(user=role_users["ml_engineer"]).key
    # The client cannot escape by writing another address before the proxy's: the last one counts.
    forged = client.get(API, HTTP_AUTHORIZATION=f"Token {good}", HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.9")
    assert forged.status_code == 429


@pytest.mark.parametrize("weak", ["12345678", "password123", "abcdefgh", "1234567890123"])
def test_standard_password_validators_refuse_weak_passwords(weak):
    with pytest.raises(ValidationError):
        validate_password(weak)


def test_a_long_uncommon_password_passes():
    validate_password("correct horse battery staple")
