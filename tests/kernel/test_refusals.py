"""One place turns a service's ApplicationError into a response: a 4xx page (the app's own refusal page
when it has one), an htmx fragment, or the API's ``{"detail", "errors"}``."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse

from kernel.errors import ApplicationError
from kernel.refusals import ApplicationErrorMiddleware, api_exception_handler
from tests.training_jobs import factories
from training_jobs.services import jobs

pytestmark = pytest.mark.django_db

REFUSED = "Unknown history kind."


def test_a_page_view_that_lets_the_error_through_answers_its_status_with_the_app_page(client_for):
    client = client_for("reviewer")
    url = reverse("annotation:history", args=["nonsense", 1])
    page = client.get(url)
    assert page.status_code == 404 and REFUSED in page.content.decode()
    assert "Back to the workspace" in page.content.decode()  # annotation/refused.html, not the kernel's
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 404
    assert fragment.content.decode().strip() == f'<div class="card error" role="alert">{REFUSED}</div>'


def test_an_app_without_its_own_page_gets_the_kernel_page():
    request = RequestFactory().get("/somewhere/")
    request.user, request.htmx, request.resolver_match = AnonymousUser(), False, None
    response = ApplicationErrorMiddleware(lambda r: None).process_exception(
        request, ApplicationError("Not in this state.", status=409)
    )
    assert response.status_code == 409 and "Not in this state." in response.content.decode()
    assert 'id="refusal"' in response.content.decode()


def test_other_exceptions_pass_through_the_middleware():
    request = RequestFactory().get("/")
    assert ApplicationErrorMiddleware(lambda r: None).process_exception(request, KeyError("x")) is None


def test_the_api_answers_a_refusal_with_its_status_message_and_problems(api, monkeypatch):
    monkeypatch.setattr(jobs, "row_enqueue", lambda *a, **kw: None)
    pk = api.post("/api/jobs/jobs/", factories.job_payload(), format="json").json()["id"]
    assert api.post(f"/api/jobs/jobs/{pk}/cancel/").status_code == 200
    again = api.post(f"/api/jobs/jobs/{pk}/cancel/")
    message = jobs.ERR_ALREADY_FINISHED.format(status="cancelled")
    assert again.status_code == 400 and again.json() == {"detail": message, "errors": [message]}


def test_the_api_handler_also_answers_a_models_validation_error_with_a_400():
    response = api_exception_handler(ValidationError({"name": ["Too long."]}), {})
    assert response.status_code == 400 and response.data == {"detail": "name: Too long.", "errors": ["name: Too long."]}
    assert api_exception_handler(KeyError("x"), {}) is None  # DRF's own handler: not an API error
