"""Turning a refused service call into a 4xx page (or an htmx fragment) with its message."""

from django.http import HttpResponse
from django.shortcuts import render

from annotation.services.errors import AnnotationError


def refused(
    request, error: AnnotationError, *, template: str = "annotation/refused.html", context=None
) -> HttpResponse:
    context = {**(context or {}), "error": error.message}
    if request.htmx:
        template = "annotation/partials/error.html"
    return render(request, template, context, status=error.status)
