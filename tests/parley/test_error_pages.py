"""Error pages with DEBUG off: a plain explanation and the way back (navigation), never the debug page;
the favicon resolves instead of a 404 on every page; home stat cards link to their lists."""

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

NAV_HOME = 'href="/"'


@pytest.fixture
def debug_off(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.parley.urls_errors"


def _page(response) -> str:
    html = response.content.decode()
    assert "Traceback" not in html and "technical" not in html.lower() and "URLconf" not in html
    assert 'id="error-page"' in html and NAV_HOME in html
    return html


def test_404_explains_and_navigates(debug_off, client_for):
    client = client_for("language_expert")
    response = client.get("/annotation/no-such-page/")
    html = _page(response)
    assert response.status_code == 404 and "There is nothing at this address" in html
    assert 'href="/annotation/">Annotate</a>' in html  # the user's own menu to go on from
    anonymous = Client().get("/no-such-page/")
    assert anonymous.status_code == 404 and "Log in" in _page(anonymous)


def test_403_names_the_reason_and_who_to_ask(debug_off, client_for):
    response = client_for("language_expert").get("/jobs/")
    html = _page(response)
    assert response.status_code == 403 and "Your role does not give access to this page." in html
    assert "ask an admin" in html


def test_500_is_a_plain_page(debug_off, client_for):
    client = client_for("language_expert")
    client.raise_request_exception = False
    response = client.get("/test-boom/")
    html = _page(response)
    assert response.status_code == 500 and "Something went wrong on our side" in html
    assert "on purpose" not in html  # the exception's text is logged, not shown


def test_400_is_a_plain_page(debug_off, client_for):
    response = client_for("language_expert").get("/test-suspicious/")
    assert response.status_code == 400 and "could not be understood" in _page(response)


def test_csrf_failure_says_the_form_expired(debug_off, role_users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(role_users["language_expert"])
    response = client.post("/annotation/queues/1/next/")
    assert response.status_code == 403 and "The form could not be verified" in _page(response)


def test_favicon_is_linked_and_served(client_for):
    client = client_for("language_expert")
    html = client.get("/").content.decode()
    assert 'rel="icon"' in html and "favicon.svg" in html
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith(".svg")
    assert finders.find("parley/favicon.svg")


def test_home_stat_cards_link_to_their_lists_in_the_right_number(client_for):
    from tests.annotation.factories import make_dialogue, make_world

    make_dialogue(make_world())
    html = client_for("language_expert").get("/").content.decode()
    assert '<a class="stat link-card" href="/annotation/dialogues/">' in html
    assert ">Dialogue</div>" in html and ">Preference pairs</div>" in html  # 1 dialogue, 0 pairs
    assert 'href="/annotation/bad-cases/?status=open"' in html
    assert "/deploy/" not in html.split('class="grid stats"')[1].split("</div>\n")[0]  # not for annotators
