"""Pages of the model registry (mounted at /deploy/, where they have always been)."""

from django.urls import path

from registry import views

app_name = "registry"
urlpatterns = [
    path("", views.model_list, name="model_list"),
    path("models/<int:pk>/", views.model_detail, name="model_detail"),
    path("models/<int:pk>/stage/", views.model_stage, name="model_stage"),
    path("models/<int:pk>/tags/", views.model_tags, name="model_tags"),
    path("models/<int:pk>/merge/", views.model_merge, name="model_merge"),
]
