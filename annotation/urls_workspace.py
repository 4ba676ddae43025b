"""The annotation workspace: queues, tasks, review, agreement, dashboards, library, bad cases, history."""

from django.urls import path

from annotation.views import dashboard, library, review, workspace

urlpatterns = [
    path("", workspace.workspace, name="workspace"),
    path("queues/new/", workspace.queue_new, name="queue_new"),
    path("queues/preview.json", workspace.queue_preview_count, name="queue_preview_count"),
    path("queues/<int:queue_id>/", workspace.queue_detail, name="queue_detail"),
    path("queues/<int:queue_id>/toggle/", workspace.queue_toggle, name="queue_toggle"),
    path("queues/<int:queue_id>/next/", workspace.task_next, name="task_next"),
    path("queues/<int:queue_id>/done/", workspace.queue_done, name="queue_done"),
    path("queues/<int:queue_id>/mine/", workspace.answer_previous, name="answer_previous"),
    path("queues/<int:queue_id>/disagreements/", review.queue_disagreements, name="queue_disagreements"),
    path("answers/<int:answer_id>/change/", workspace.answer_change_view, name="answer_change"),
    path("tasks/<int:assignment_id>/", workspace.task, name="task"),
    path("tasks/<int:assignment_id>/release/", workspace.task_release, name="task_release"),
    path("review/", review.review_queue, name="review_queue"),
    path("review/<int:item_id>/", review.review_item, name="review_item"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/<int:project_id>/", dashboard.project_dashboard, name="project_dashboard"),
    path("dialogues/", library.dialogue_list, name="dialogues"),
    path("dialogues/<int:dialogue_id>/", library.dialogue_detail, name="dialogue"),
    path("dialogues/<int:dialogue_id>/turns/<int:turn>/branch/", library.branch, name="branch"),
    path(
        "dialogues/<int:dialogue_id>/turns/<int:turn>/branch/generate/", library.branch_generate, name="branch_generate"
    ),
    path("dialogues/<int:dialogue_id>/turns/<int:turn>/excellent/", library.excellent_add, name="excellent_add"),
    path("excellent/", library.excellent_list, name="excellent_list"),
    path("bad-cases/", library.bad_cases, name="bad_cases"),
    path("bad-cases/<int:bad_case_id>/", library.bad_case_edit, name="bad_case"),
    path("bad-cases/<int:bad_case_id>/status/", library.bad_case_status, name="bad_case_status"),
    path("history/<slug:kind>/<int:object_id>/", library.history, name="history"),
    path("guidelines/<int:guideline_id>/", library.guideline, name="guideline"),
]
