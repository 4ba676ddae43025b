"""Walk every POST endpoint of the app and every POST form its pages render, and send each one empty,
duplicate, oversized and hostile input: no 5xx anywhere (a refusal is a 4xx in words, or a redirect).

The world is the seeded demo (dialogues, queues, users, reward documents, eval sets), so the routes'
ids resolve to real rows; each route is also tried with an id that does not exist. The user is the
demo admin (every role), so the role checks let every view run its own validation.
"""

import re
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.parley.test_url_roles import app_patterns

pytestmark = pytest.mark.django_db

SKIP = {"logout", "login"}  # logging out ends the walk; the login form has its own throttling tests
HOSTILE = [
    "",
    "\x00",
    "x" * 100_000,
    "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>",
    "-1",
    "1e309",
    "NaN",
    "9" * 5000,
    "' OR 1=1 --",
    "../../etc/passwd",
    "\u202eevil\u200b",
    "[]",
    '{"__proto__": 1}',
]
# A lone surrogate cannot be encoded by the test client: it goes as raw UTF-8-ish bytes instead.
RAW_BODIES = [b"%ED%A0%80=%ED%A0%80", b"a=%00&b=%FF%FE", b"\xff\xfe\x00garbage", b"=" * 10_000]
# Which table an id in a route names (by the route's text before the id); the rest get 1.
ID_MODELS = [
    ("queue_id", "annotation.AnnotationQueue"),
    ("assignment_id", "annotation.Assignment"),
    ("answer_id", "annotation.Answer"),
    ("item_id", "annotation.AnnotationItem"),
    ("project_id", "annotation.Project"),
    ("dialogue_id", "annotation.Dialogue"),
    ("bad_case_id", "annotation.BadCase"),
    ("guideline_id", "annotation.Guideline"),
    ("object_id", "annotation.AnnotationItem"),
    ("examples/bad-case/", "annotation.BadCase"),
    ("examples/excellent/", "annotation.ExcellentTurn"),
    ("snapshots/", "training_jobs.DatasetSnapshot"),
    ("jobs/jobs/", "training_jobs.TrainingJob"),
    ("panel/", "evaluation.PanelAssignment"),
    ("sets/", "evaluation.EvalSet"),
    ("items/", "evaluation.EvalItem"),
    ("models/", "registry.ModelVersion"),
    ("versions/", "registry.ModelVersion"),
    ("bad-cases/", "annotation.BadCase"),
    ("jobs/", "training_jobs.TrainingJob"),
]


class _Forms(HTMLParser):
    """The POST forms of a page: (action, [field names])."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, list[str]]] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._open = (attrs.get("method") or "get").lower() == "post"
            if self._open:
                self.forms.append((attrs.get("action") or "", []))
        elif self._open and tag in ("input", "select", "textarea", "button") and attrs.get("name"):
            if attrs["name"] != "csrfmiddlewaretoken":
                self.forms[-1][1].append(attrs["name"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = False


def _first_id(model_label: str) -> str:
    model = apps.get_model(model_label)
    return str(model.objects.order_by("pk").values_list("pk", flat=True).first() or 1)


def _paths(route: str) -> list[str]:
    """The route with real ids (and real names for slugs), and with an id that does not exist."""
    if route.startswith("^") or "(?P" in route:
        return []

    def real(match: re.Match) -> str:
        converter, name = match.group(1) or "str", match.group(2)
        if converter == "int":
            before = route[: match.start()]
            for key, label in ID_MODELS:
                if key == name or (name == "pk" and before.endswith(key)):
                    return _first_id(label)
            return "1"
        if name == "name":
            return "demo" if "rule-sets" in route or "rubrics" in route else "x"
        return {"kind": "item", "slot": "default", "fmt": "csv"}.get(name, "x")

    with_real = "/" + re.sub(r"<(?:(\w+):)?(\w+)>", real, route)
    missing = "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "999999" if m.group(1) == "int" else "zz", route)
    return list(dict.fromkeys([with_real, missing]))


@pytest.fixture
def demo(settings):
    settings.DEBUG = False
    call_command("seed_demo", scale=4)
    return get_user_model().objects.get(username="admin")


def test_every_post_endpoint_and_form_refuses_bad_input_without_a_5xx(client, demo):
    client.force_login(demo)
    client.raise_request_exception = False  # a 500 is counted (with its path), not raised
    failures: list[str] = []
    targets: dict[str, set[str]] = {}
    for route, pattern in app_patterns():
        if pattern.name in SKIP:
            continue
        for path in _paths(route):
            targets.setdefault(path, set())
            page = client.get(path)
            if page.status_code >= 500:
                failures.append(f"GET {path} {page.status_code}")
            if page.status_code == 200 and "text/html" in page.get("Content-Type", ""):
                parser = _Forms()
                parser.feed(page.content.decode(errors="replace"))
                for action, names in parser.forms:
                    url = action if action.startswith("/") else path
                    if any(url.rstrip("/").endswith(s) for s in ("/logout", "/login")):
                        continue
                    targets.setdefault(url, set()).update(names)
    assert len(targets) > 50, targets.keys()
    sent = 0
    for url, names in sorted(targets.items()):
        names = names or {"name", "text", "id", "value"}
        bodies = [{}] + [{name: value for name in names} for value in HOSTILE]
        bodies.append({name: ["1", "1", "x"] for name in names})  # a field sent several times
        for body in bodies:
            for _ in range(2 if body == bodies[1] else 1):  # duplicate: the same post twice
                response = client.post(url, body)
                sent += 1
                if response.status_code >= 500:
                    failures.append(f"{url} {response.status_code} on {str(body)[:120]}")
        for raw in RAW_BODIES:
            response = client.post(url, raw, content_type="application/x-www-form-urlencoded")
            sent += 1
            if response.status_code >= 500:
                failures.append(f"{url} {response.status_code} on raw {raw[:40]!r}")
        response = client.post(url, b'{"a": [[[[[[[[[[1]]]]]]]]]], "b": "\\u0000"}', content_type="application/json")
        sent += 1
        if response.status_code >= 500:
            failures.append(f"{url} {response.status_code} on hostile JSON")
    assert failures == [], "\n".join(failures)
    assert sent > 1000


def test_a_nul_in_any_form_value_is_a_400_in_words(client_for):
    client = client_for("ml_engineer")
    response = client.post("/jobs/rewards/playground/", {"reply": "fine\x00"})
    assert response.status_code == 400
    assert "reply: contains a NUL character (U+0000); remove it" in response.content.decode()
    assert client.get("/annotation/dialogues/", {"q": "\x00"}).status_code == 400
