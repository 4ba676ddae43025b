"""The app's URLs plus two views that fail on purpose: the 500 and 400 pages need a view that raises."""

from django.core.exceptions import SuspiciousOperation
from django.urls import path

from kernel.roles import public
from parley.urls import urlpatterns as app_patterns


@public
def boom(request):
    raise RuntimeError("a bug, on purpose")


@public
def suspicious(request):
    raise SuspiciousOperation("malformed, on purpose")


urlpatterns = [path("test-boom/", boom), path("test-suspicious/", suspicious), *app_patterns]
