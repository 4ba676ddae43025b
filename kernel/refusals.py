"""Where a refused service call becomes a response: the one place for pages, htmx fragments and the API.

- ``ApplicationErrorMiddleware``: an ``ApplicationError`` a page view lets through becomes its status
  with the message, as a page (the app's own ``<app>/refused.html`` when it has one) or, for htmx, as a
  fragment the page swaps in.
- ``api_exception_handler`` (DRF's ``EXCEPTION_HANDLER``): the same error as
  ``{"detail": message, "errors": [each problem]}``; a model's ``ValidationError`` as a 400 of the same
  shape; everything else as DRF answers it.
"""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.response import Response
from rest_framework.views import exception_handler

from kernel.errors import ApplicationError

FRAGMENT = "kernel/partials/error.html"
PAGE = "kernel/refused.html"


def refused(request: HttpRequest, error: ApplicationError, *, template: str = "", context=None) -> HttpResponse:
    """``error`` as a response with its status: ``template`` (a page that shows ``error`` itself), else the
    app's ``refused.html`` or the kernel's; an htmx request always gets the fragment."""
    context = {**(context or {}), "error": error.message}
    if request.htmx:
        names = [FRAGMENT]
    elif template:
        names = [template]
    else:
        app = request.resolver_match.app_name if request.resolver_match else ""
        names = [f"{app}/refused.html", PAGE] if app else [PAGE]
    return render(request, names, context, status=error.status)  # the first of ``names`` that exists


class ApplicationErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ApplicationError):
            return refused(request, exception)
        return None


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "errors": exc.messages}, status=exc.status)
    if isinstance(exc, ValidationError):
        messages = validation_messages(exc)
        return Response({"detail": " ".join(messages), "errors": messages}, status=400)
    return exception_handler(exc, context)


def validation_messages(exc: ValidationError) -> list[str]:
    """A model's ``ValidationError`` as messages that name their field (``note: Ensure this value …``)."""
    if hasattr(exc, "error_dict"):
        return [
            f"{field}: {message}" if field != "__all__" else message
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return list(exc.messages)
