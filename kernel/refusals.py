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


NUL_REFUSED = "{field}: contains a NUL character (U+0000), which cannot be stored; nothing was saved."


class RefuseNulMiddleware:
    """A form or query value holding NUL is refused with a 400 before any view runs: PostgreSQL's text and
    jsonb cannot hold it, so every view would otherwise fail on it in its own way (a 500 at the query).
    Other unstorable text (controls, bidi, lengths) is each field's own check (``kernel.text``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for data in (request.GET, request.POST) if request.method == "POST" else (request.GET,):
            for field, values in data.lists():
                if "\x00" in field or any("\x00" in value for value in values if isinstance(value, str)):
                    name = field.replace("\x00", "\\0")[:60]
                    return refused(request, ApplicationError(NUL_REFUSED.format(field=name)))
        return self.get_response(request)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "errors": exc.messages}, status=exc.status)
    if isinstance(exc, ValidationError):
        return Response({"detail": " ".join(exc.messages), "errors": exc.messages}, status=400)
    return exception_handler(exc, context)
