"""Walk the whole URL conf: no URL is public by accident and every view admits only its declared roles."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from kernel.roles import PUBLIC, Role

PUBLIC_NAMES = {"login", "logout", "health"}
SAMPLE = {"int": "999999", "slug": "x", "str": "x", "uuid": "00000000-0000-0000-0000-000000000000", "path": "x"}


def walk(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def concrete(route: str) -> str | None:
    """A request path for a route: converters get sample values; regex routes are skipped (admin's)."""
    if route.startswith("^") or "(?P" in route:
        return None
    path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "x"), route)
    return "/" + path


def declared_roles(pattern: URLPattern):
    view = pattern.callback
    for holder in (view, getattr(view, "view_class", None), getattr(view, "cls", None)):
        roles = getattr(holder, "parley_roles", None) or getattr(holder, "required_roles", None)
        if roles:
            return roles
    return None


def app_patterns():
    for route, pattern in walk(get_resolver()):
        if route.startswith("admin/") or route.startswith("static/"):
            continue  # Django admin guards itself (staff login), see test_admin_requires_staff
        yield route, pattern


def test_every_view_declares_roles():
    missing = [route for route, pattern in app_patterns() if declared_roles(pattern) is None]
    assert missing == [], f"views without a role declaration: {missing}"


def test_only_login_logout_health_are_public():
    public = {p.name for _, p in app_patterns() if declared_roles(p) == PUBLIC}
    assert public <= PUBLIC_NAMES


@pytest.mark.django_db
def test_anonymous_is_sent_to_login_everywhere(client):
    checked = 0
    for route, pattern in app_patterns():
        path = concrete(route)
        if path is None or declared_roles(pattern) == PUBLIC:
            continue
        response = client.get(path)
        assert response.status_code in (302, 401, 403), f"{path} answered {response.status_code} to anonymous"
        if response.status_code == 302:
            assert "/accounts/login/" in response["Location"], path
        checked += 1
    assert checked >= 3


@pytest.mark.django_db
def test_users_without_the_role_get_403(client, role_users):
    checked = 0
    for route, pattern in app_patterns():
        path = concrete(route)
        roles = declared_roles(pattern)
        if path is None or roles == PUBLIC:
            continue
        outsiders = [r for r in Role if r.value not in roles and r != Role.ADMIN]
        for role in outsiders:
            client.force_login(role_users[role.value])
            response = client.get(path)
            assert response.status_code == 403, f"{role.value} got {response.status_code} on {path}"
            checked += 1
    restricted = [
        r
        for r, p in app_patterns()
        if concrete(r) and declared_roles(p) not in (PUBLIC, None) and set(declared_roles(p)) != set(Role)
    ]
    assert (checked > 0) == bool(restricted)


@pytest.mark.django_db
def test_role_required_refuses_other_roles(rf, role_users):
    from django.core.exceptions import PermissionDenied
    from django.http import HttpResponse

    from kernel.roles import role_required

    view = role_required(Role.REVIEWER)(lambda request: HttpResponse("ok"))
    request = rf.get("/x")
    request.user = role_users["reviewer"]
    assert view(request).status_code == 200
    request.user = role_users["bd_expert"]
    with pytest.raises(PermissionDenied):
        view(request)
    request.user = role_users["admin"]
    assert view(request).status_code == 200


@pytest.mark.django_db
def test_admin_requires_staff(client, role_users):
    client.force_login(role_users["ml_engineer"])
    assert client.get("/admin/").status_code == 302
    client.logout()
    assert client.get("/admin/annotation/dialogue/").status_code == 302


@pytest.mark.django_db
def test_health_is_public(client):
    assert client.get("/health/").json() == {"status": "ok"}


@pytest.mark.django_db
def test_home_shows_roles_and_nav(client, role_users):
    client.force_login(role_users["ml_engineer"])
    page = client.get("/").content.decode()
    assert "ML engineer" in page


@pytest.mark.django_db
def test_nav_marks_only_the_longest_matching_entry(rf, role_users):
    from parley.navigation import nav_items

    request = rf.get("/jobs/rewards/")
    request.user = role_users["ml_engineer"]
    active = [item["label"] for item in nav_items(request) if item["active"]]
    assert active == ["Rewards"]
