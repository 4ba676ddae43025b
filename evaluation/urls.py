"""Pages of the evaluation app: the evaluator's panel, eval sets and runs, consensus, reports, probes, studies,
exports."""

from django.urls import path

from evaluation.views import consensus, exports, panels, probe, reports, sets, studies

app_name = "evaluation"
urlpatterns = [
    path("", panels.panel_home, name="panel_home"),
    path("panel/expertise/", panels.panel_expertise, name="panel_expertise"),
    path("panel/next/", panels.panel_next, name="panel_next"),
    path("panel/<int:pk>/", panels.panel_item, name="panel_item"),
    path("sets/", sets.eval_set_list_view, name="eval_set_list"),
    path("sets/new/", sets.eval_set_create_view, name="eval_set_create"),
    path("sets/<int:pk>/", sets.eval_set_detail, name="eval_set_detail"),
    path("sets/<int:pk>/freeze/", sets.eval_set_freeze_view, name="eval_set_freeze"),
    path("sets/<int:pk>/version/", sets.eval_set_version_view, name="eval_set_version"),
    path("sets/<int:pk>/systems/", sets.eval_system_create_view, name="eval_system_create"),
    path("sets/<int:pk>/runs/", sets.eval_run_create_view, name="eval_run_create"),
    path("sets/<int:pk>/runs/live/", sets.eval_set_runs, name="eval_set_runs"),
    path("sets/<int:pk>/report/", reports.eval_report_view, name="eval_report"),
    path("sets/<int:pk>/report.<str:fmt>", reports.eval_report_download, name="eval_report_download"),
    path("sets/<int:pk>/verify/", reports.bad_cases_verify_view, name="bad_cases_verify"),
    path("sets/<int:pk>/consensus/", consensus.consensus_queue, name="consensus_queue"),
    path("items/<int:pk>/consensus/", consensus.consensus_item, name="consensus_item"),
    path("probe/", probe.probe_view, name="probe"),
    path("studies/", studies.study_list, name="study_list"),
    path("studies/new/", studies.study_new, name="study_new"),
    path("studies/<int:pk>/", studies.study_detail, name="study_detail"),
    path("studies/<int:pk>/live/", studies.study_live, name="study_live"),
    path("export/", exports.export_home, name="export"),
    path("export/<str:kind>.<str:fmt>", exports.export_download, name="export_download"),
]
