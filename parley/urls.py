"""Root URL conf. Every view declares its roles (kernel.roles); tests/parley/test_url_roles.py walks this."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from kernel.roles import public
from parley import views
from parley.api import SchemaDocsView, SchemaView

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health, name="health"),
    # Browsers ask for /favicon.ico whatever the page says: send them to the static icon (no 404).
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", public(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", public(auth_views.LogoutView.as_view()), name="logout"),
    path("admin/", admin.site.urls),
    path("annotation/", include("annotation.urls")),
    path("jobs/rewards/", include("rewards.urls")),  # reward configuration kept its /jobs/rewards/ pages
    path("jobs/", include("training_jobs.urls")),
    path("eval/", include("evaluation.urls")),
    path("deploy/", include("registry.urls")),  # the model registry kept its /deploy/ pages
    path("deploy/", include("deploy.urls")),
    path("api/", include("parley.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SchemaDocsView.as_view(url_name="api-schema"), name="api-docs"),
]
