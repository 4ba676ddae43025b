"""Run comparison, the queue view (reprioritise / cancel) and dataset snapshots."""

import json
from pathlib import Path

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from kernel.errors import ApplicationError
from kernel.roles import Role, role_required
from training_jobs import selectors
from training_jobs.models import DatasetSnapshot, TrainingJob
from training_jobs.services.jobs import job_reprioritise
from training_jobs.services.snapshots import snapshot_count, snapshot_create, snapshot_rows
from training_jobs.views.jobs import back
from training_jobs.views.jobs_forms import SnapshotForm

ML = (Role.ML_ENGINEER,)
MAX_COMPARED = 8
ERR_COMPARE = "Pick between one and {n} jobs to compare."


@role_required(*ML)
@require_GET
def job_compare(request):
    try:
        pks = [int(pk) for pk in request.GET.getlist("jobs")]
    except ValueError:
        pks = []
    if not 1 <= len(pks) <= MAX_COMPARED:
        return render(request, "training_jobs/compare.html", {"error": ERR_COMPARE.format(n=MAX_COMPARED)}, status=400)
    return render(request, "training_jobs/compare.html", selectors.compare_jobs(pks=pks))


@role_required(*ML)
@require_GET
def queue_view(request):
    return render(request, "training_jobs/queue.html", {"queues": selectors.queue_overview()})


@role_required(*ML)
@require_POST
def job_priority(request, pk: int):
    job = get_object_or_404(TrainingJob, pk=pk)
    try:
        job_reprioritise(job=job, priority=int(request.POST.get("priority", "")), actor=request.user)
    except ValueError:
        messages.error(request, "Priority must be a whole number.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return back(request, pk)


@role_required(*ML)
def snapshot_list(request):
    form = SnapshotForm(request.POST or None)
    status = 200
    count = None
    if request.method == "POST" and request.POST.get("action") == "count":  # how many rows, nothing frozen
        if form.is_valid():
            try:
                count = snapshot_count(kind=form.cleaned_data["kind"], filters=form.filters())
            except ApplicationError as exc:
                form.add_error(None, exc.message)
        context = {"form": form, "snapshots": selectors.snapshots_list(), "count": count}
        return render(request, "training_jobs/snapshots.html", context, status=200 if count is not None else 400)
    if request.method == "POST":
        if form.is_valid():
            try:
                snap = snapshot_create(
                    name=form.cleaned_data["name"],
                    kind=form.cleaned_data["kind"],
                    filters=form.filters(),
                    created_by=request.user,
                    note=form.cleaned_data["note"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            except ValidationError as exc:  # the row's full_clean: field errors land on the form's fields
                form.add_error(None, exc)
            else:
                messages.success(request, f"Snapshot {snap.name}: {snap.row_count} rows, sha256 {snap.sha256[:12]}…")
                return redirect("training_jobs:snapshot_list")
        status = 400
    return render(
        request, "training_jobs/snapshots.html", {"form": form, "snapshots": selectors.snapshots_list()}, status=status
    )


@role_required(*ML)
@require_GET
def snapshot_detail(request, pk: int):
    """A frozen snapshot: its numbers and its first rows (the JSONL as the trainer reads it)."""
    snap = get_object_or_404(DatasetSnapshot, pk=pk)
    rows = [json.dumps(row, ensure_ascii=False, indent=1) for row in snapshot_rows(snapshot=snap)]
    return render(request, "training_jobs/snapshot_detail.html", {"snapshot": snap, "rows": rows})


@role_required(*ML)
@require_GET
def snapshot_download(request, pk: int):
    snap = get_object_or_404(DatasetSnapshot, pk=pk)
    path = Path(snap.path)
    if not path.is_file():
        raise Http404("The snapshot's file is not on this server.")
    filename = f"snapshot-{snap.pk}-{snap.kind}-{snap.sha256[:12]}.jsonl"
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename, content_type="application/jsonl")
