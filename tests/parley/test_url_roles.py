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


# Blind annotation: walk every page an annotator may open, with the ids of real objects, and look for
# another annotator's answer on an item that is not finished (docs/annotation-model.md "Blind by default").
SECRET_NOTE, SECRET_GOLD = "SECRET-NOTE-of-annotator-A", "SECRET-GOLD-reply-of-annotator-A"


def _blind_world(*, blind: bool = True):
    from annotation.services.answers import answer_submit
    from annotation.services.assignment import annotation_task_next
    from tests.annotation.factories import make_queue, make_world
    from tests.fixtures.services import make_user

    world = make_world()
    a = make_user("blind_a", Role.LANGUAGE_EXPERT, Role.BD_EXPERT)
    b = make_user("blind_b", Role.LANGUAGE_EXPERT, Role.BD_EXPERT)
    pairwise = make_queue(world, dialogues=1, target_overlap=2, blind=blind)
    bad_case = make_queue(world, dialogues=0, kind="bad_case", lens="bd", target_overlap=2, blind=blind)
    held = annotation_task_next(user=a, queue=pairwise)
    answer_submit(assignment_id=held.pk, user=a, data={"side": "A", "strength": "3", "note": SECRET_NOTE})
    held = annotation_task_next(user=a, queue=bad_case)
    gold = {"gold_reply": SECRET_GOLD, "category": "tone", "severity": "minor", "clause": "2.1", "note": SECRET_NOTE}
    answer_submit(assignment_id=held.pk, user=a, data=gold)
    return world, a, b, pairwise, bad_case


def _annotator_pages(ids: list[str]):
    """Every GET path an annotator may open, each int converter tried with each of ``ids``."""
    import itertools

    from annotation.views.library import HISTORY_TYPES

    for route, pattern in app_patterns():
        roles = declared_roles(pattern)
        if route.startswith("^") or "(?P" in route or roles == PUBLIC or Role.LANGUAGE_EXPERT not in (roles or ()):
            continue
        slots = re.findall(r"<(?:(\w+):)?(\w+)>", route)
        choices = [ids if conv == "int" else list(HISTORY_TYPES) if conv == "slug" else ["x"] for conv, _ in slots]
        for values in itertools.product(*choices):
            parts = re.split(r"<(?:\w+:)?\w+>", route)
            yield "/" + "".join(p + v for p, v in zip(parts, [*values, ""], strict=True))


@pytest.mark.django_db
def test_annotator_sees_no_other_answer_on_an_open_blind_item_anywhere(client):
    from annotation.models import AnnotationItem, Answer, Assignment, BadCase

    world, a, b, pairwise, bad_case = _blind_world()
    ids = {
        str(pk)
        for model in (AnnotationItem, Answer, Assignment, BadCase)
        for pk in model.objects.values_list("pk", flat=True)
    }
    ids |= {str(world["project"].pk), str(pairwise.pk), str(bad_case.pk), "3"}
    ids |= {str(pk) for pk in pairwise.items.values_list("dialogue_id", flat=True)}
    client.force_login(b)
    walked = 0
    for path in _annotator_pages(sorted(ids)):
        response = client.get(path)
        body = response.content.decode(errors="replace")
        assert SECRET_NOTE not in body and SECRET_GOLD not in body, f"{path} shows annotator A's answer to B"
        walked += response.status_code == 200
    assert walked > 10


@pytest.mark.django_db
def test_blind_ends_when_the_item_is_finished_and_never_applies_to_reviewers(client, role_users):
    from annotation.services.answers import answer_submit
    from annotation.services.assignment import annotation_task_next

    world, a, b, pairwise, bad_case = _blind_world()
    item = pairwise.items.get()
    history = f"/annotation/history/item/{item.pk}/"
    client.force_login(role_users[Role.REVIEWER])
    assert SECRET_NOTE in client.get(history).content.decode()
    client.force_login(a)
    assert SECRET_NOTE in client.get(history).content.decode()  # one's own answer is always visible
    held = annotation_task_next(user=b, queue=pairwise)
    answer_submit(assignment_id=held.pk, user=b, data={"side": "A", "strength": "3", "note": "b's note"})
    client.force_login(b)
    assert SECRET_NOTE in client.get(history).content.decode()  # both slots answered: the item is finished


@pytest.mark.django_db
def test_a_queue_created_not_blind_shows_answers_to_every_annotator(client):
    from annotation.models import BadCase

    world, a, b, pairwise, bad_case = _blind_world(blind=False)
    client.force_login(b)
    item = pairwise.items.get()
    assert SECRET_NOTE in client.get(f"/annotation/history/item/{item.pk}/").content.decode()
    bad = BadCase.objects.get(answers__item__queue=bad_case)
    assert SECRET_GOLD in client.get(f"/annotation/bad-cases/{bad.pk}/").content.decode()


# The admin (kernel/admin_site.py): staff status alone does not open it; annotators and evaluators never
# reach it, and its blind change lists hide what the app's pages hide (docs/operations.md, "The admin").
def _admin_paths() -> list[str]:
    from django.contrib import admin
    from django.urls import reverse

    paths = ["/admin/"]
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        paths += [reverse(f"{name}_changelist"), reverse(f"{name}_add"), reverse(f"{name}_change", args=[999999])]
    return paths


@pytest.mark.django_db
@pytest.mark.parametrize("role", [r.value for r in Role])
def test_the_admin_walk_by_role_for_staff_with_every_permission(client, role):
    from django.contrib.auth.models import Permission

    from tests.fixtures.services import make_user

    user = make_user(f"staff_{role}", role, is_staff=True)
    user.user_permissions.set(Permission.objects.all())  # Django's own permissions would let anyone in
    client.force_login(user)
    reaches = role in (Role.ADMIN, Role.ML_ENGINEER, Role.REVIEWER)
    paths = _admin_paths()
    assert len(paths) > 60
    for path in paths:
        status = client.get(path).status_code
        if reaches:
            assert status in (200, 302, 403), (path, status)  # 302: a missing object; 403: read-only audit log
        else:
            assert status == 302, f"{role} (staff) reached {path}: {status}"
            assert client.get(path)["Location"].startswith("/admin/login/")
    if reaches:
        assert client.get("/admin/annotation/preferencepair/").status_code == 200


@pytest.mark.django_db
def test_admin_change_lists_keep_blind_items_blind_for_non_superusers(rf):
    from django.contrib import admin

    from annotation.models import BadCase, PreferencePair

    world, a, b, pairwise, bad_case = _blind_world()
    root = make_superuser()
    for model in (PreferencePair, BadCase):
        model_admin = admin.site._registry[model]
        request = rf.get("/admin/")
        request.user = b  # were an annotator ever let in, the change list would show nothing of A's
        assert not model_admin.get_queryset(request).exists(), model
        request.user = a
        assert model_admin.get_queryset(request).exists(), model
        request.user = root
        assert model_admin.get_queryset(request).exists(), model


def make_superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser(username="root-blind", password="a-long-password-1")
