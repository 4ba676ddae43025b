"""Import and export pages (included under ``annotation/data/``)."""

from django.urls import path

from annotation.views import data

urlpatterns = [
    path("import/", data.data_import, name="data_import"),
    path("export/", data.data_export, name="data_export"),
]
