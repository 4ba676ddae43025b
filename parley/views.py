"""Home dashboard and health check."""

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static

from kernel.roles import EVERYONE, Role, public, role_required, user_roles
from parley.selectors import home_stats, next_steps


@role_required(*EVERYONE)
def home(request):
    labels = [Role(r).label for r in sorted(user_roles(request.user)) if r in Role.values]
    return render(
        request,
        "parley/home.html",
        {"stats": home_stats(request.user), "role_labels": labels, "next_steps": next_steps(request.user)},
    )


@public
def health(request):
    """Liveness for load balancers: the database answers. Public by design (no data in it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@public
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links: send them to the static icon (no 404)."""
    return redirect(static("parley/favicon.svg"), permanent=True)
