"""Pages of the deploy app."""

from django.urls import path

from deploy import views

app_name = "deploy"
urlpatterns = [
    path("", views.model_list, name="model_list"),
    path("models/<int:pk>/", views.model_detail, name="model_detail"),
]
