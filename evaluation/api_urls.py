"""REST routes of the evaluation app (under /api/eval/)."""

from django.urls import path

from evaluation import api

urlpatterns = [
    path("sets/", api.EvalSetListApi.as_view(), name="eval-api-sets"),
    path("sets/<int:pk>/report/", api.EvalReportApi.as_view(), name="eval-api-report"),
    path("panel/next/", api.PanelNextApi.as_view(), name="eval-api-panel-next"),
    path("panel/<int:pk>/", api.PanelSubmitApi.as_view(), name="eval-api-panel-submit"),
]
