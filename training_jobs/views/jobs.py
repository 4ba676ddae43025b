"""Job dashboard pages: list, submission (with the hyperparameter partial), live job page, cancel."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from engine.config import PRESETS, config_class
from engine.configio import field_help
from kernel.errors import ApplicationError
from kernel.roles import Role, role_required
from kernel.status import Status
from training_jobs import selectors
from training_jobs.models import Method, TrainingJob
from training_jobs.services.engine_config import (
    BUDGET_KEYS,
    PRESET_AUTO,
    PRESET_CHOICES,
    budget_copy,
    hyperparameter_defaults,
)
from training_jobs.services.jobs import job_cancel, job_create
from training_jobs.views.jobs_forms import JobForm, hyperparameters_from

ML = (Role.ML_ENGINEER,)


@role_required(*ML)
@require_GET
def job_list(request):
    page = selectors.job_list_page(
        status=request.GET.get("status", ""), method=request.GET.get("method", ""), page=request.GET.get("page", 1)
    )
    context = {"page": page, "statuses": Status.choices, "methods": Method.choices}
    return render(request, "training_jobs/job_list.html", context)


def _hyper_context(*, method: str, preset: str, budget_from: TrainingJob | None, posted: dict | None = None) -> dict:
    """The hyperparameter inputs: a named preset's values, or with ``auto`` empty inputs (empty = the
    value of the preset the worker picks) showing both presets' values as placeholders."""
    presets = {name: hyperparameter_defaults(method=method, preset=name) for name in PRESETS}
    first = presets[PRESETS[0]]
    values = dict(presets[preset]) if preset in presets else dict.fromkeys(first, "")
    if budget_from is not None:
        try:  # the budget in completions: a GRPO form shows the prompts that match the source's replies
            copied = budget_copy(
                source_method=budget_from.method, source_config=budget_from.config, method=method, hyper={}
            )
        except ApplicationError:  # the submit says why in words; the form shows the raw budget meanwhile
            copied = {k: v for k, v in budget_from.config.items() if k in BUDGET_KEYS}
        values.update({k: v for k, v in copied.items() if k in values})
    if posted:
        values.update({k: v for k, v in posted.items() if k in values})
    helps = field_help(config_class(method))
    fields = [
        {
            "name": name,
            "value": "" if value is None else value,
            "is_bool": isinstance(first[name], bool),
            "placeholder": " · ".join(f"{p} {_shown(presets[p][name])}" for p in PRESETS),
            "help": helps[name],
        }
        for name, value in values.items()
    ]
    common = [f for f in fields if f["name"] in COMMON_FIELDS]
    groups: dict[str, list] = {}
    for f in fields:
        if f["name"] not in COMMON_FIELDS:
            groups.setdefault(_field_group(f["name"]), []).append(f)
    return {
        "hyper_fields": fields,
        "common_fields": common,
        "advanced_groups": sorted(groups.items(), key=lambda kv: ADVANCED_GROUPS.index(kv[0])),
        "advanced_count": len(fields) - len(common),
        "preset": preset,
        "budget_keys": BUDGET_KEYS,
        "budget_from": budget_from,
        "budget_runs": selectors.jobs_for_budget(),  # the latest 100: the page must not list 10k runs
    }


# The few fields people change from run to run (shown up front); every other field is under "Advanced".
COMMON_FIELDS = frozenset(
    {"learning_rate", "max_steps", "num_epochs", "per_device_batch_size", "lora_r", "kl_coef", "beta", "seed"}
)
ADVANCED_GROUPS = ("Budget and batching", "Lengths and generation", "LoRA", "Rewards", "Optimiser", "Logging and other")


def _field_group(name: str) -> str:
    """The "Advanced" fold's group of a config field, from its name."""
    if name.startswith("lora_") or name == "target_modules":
        return "LoRA"
    if name.startswith("rewards") or name.startswith("judge") or name in ("n", "rm_path", "use_rules"):
        return "Rewards"
    if "length" in name or "tokens" in name or name in ("temperature", "top_p", "top_k"):
        return "Lengths and generation"
    if name in BUDGET_KEYS or "batch" in name or "accumulation" in name or "epoch" in name or "steps" in name:
        return "Budget and batching"
    if any(k in name for k in ("lr", "learning", "warmup", "weight_decay", "clip", "optim", "adam", "scheduler")):
        return "Optimiser"
    return "Logging and other"


def _shown(value) -> str:
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _chosen(value: str | None, choices, default: str) -> str:
    return value if value in choices else default


@role_required(*ML)
@require_GET
def job_hyperparameters(request):
    """htmx partial: the hyperparameter inputs for a method and preset, optionally with run X's budget."""
    method = request.GET.get("method", Method.REPO)
    if method not in Method.values:
        return HttpResponseBadRequest("Unknown method.")
    preset = _chosen(request.GET.get("preset"), PRESET_CHOICES, PRESET_AUTO)
    budget = TrainingJob.objects.filter(pk=request.GET.get("budget_from") or None).first()
    context = _hyper_context(method=method, preset=preset, budget_from=budget)
    return render(request, "training_jobs/partials/hyperparameters.html", context)


@role_required(*ML)
def job_new(request):
    if request.method == "POST":
        form = JobForm(request.POST)
        hyper = hyperparameters_from(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                job = job_create(
                    name=data["name"],
                    method=data["method"],
                    preset=data["preset"] or PRESET_AUTO,
                    base_model=data["base_model"],
                    snapshots=list(data["snapshots"]),
                    reward_config=data["reward_config"],
                    hyperparameters=hyper,
                    processes=data["processes"],
                    nodes=data["nodes"] or 1,
                    queue=data["queue"],
                    priority=data["priority"],
                    budget_from=data["budget_from"],
                    created_by=request.user,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            except ValidationError as exc:  # the row's full_clean: field errors land on the form's fields
                form.add_error(None, exc)
            else:
                messages.success(request, f"Job {job.pk} queued on {job.queue}.")
                return redirect("training_jobs:job_detail", pk=job.pk)
        method = _chosen(request.POST.get("method"), Method.values, Method.REPO)
        preset = _chosen(request.POST.get("preset"), PRESET_CHOICES, PRESET_AUTO)
        context = {"form": form, **_hyper_context(method=method, preset=preset, budget_from=None, posted=hyper)}
        return render(request, "training_jobs/job_new.html", context, status=400)
    method = _chosen(request.GET.get("method"), Method.values, Method.REPO)
    preset = _chosen(request.GET.get("preset"), PRESET_CHOICES, PRESET_AUTO)
    budget = TrainingJob.objects.filter(pk=request.GET.get("budget_from") or None).first()
    form = JobForm(initial={"method": method, "preset": preset, "queue": "gpu", "budget_from": budget})
    context = {"form": form, **_hyper_context(method=method, preset=preset, budget_from=budget)}
    return render(request, "training_jobs/job_new.html", context)


@role_required(*ML)
@require_GET
def job_detail(request, pk: int):
    try:
        job = selectors.job_get(pk=pk)
    except TrainingJob.DoesNotExist:
        raise Http404("No such job.") from None
    context = {
        "job": job,
        "log": selectors.job_log(job=job),
        "samples": selectors.job_samples(job=job),
        "nodes": selectors.job_nodes(job=job),
    }
    if request.htmx:  # htmx stops polling on status 286 once the job has finished
        return render(request, "training_jobs/partials/job_live.html", context, status=286 if job.is_terminal else 200)
    context["series"] = selectors.job_metric_series(job=job)
    return render(request, "training_jobs/job_detail.html", context)


@role_required(*ML)
@require_GET
def job_metrics(request, pk: int):
    """The chart data of one job (the job page refreshes its charts from it while the job runs)."""
    job = get_object_or_404(TrainingJob, pk=pk)
    return JsonResponse({"status": job.status, **selectors.job_metric_series(job=job)})


def back(request, pk: int):
    """Return to the page the button was on (the queue view or the job page), never off-site."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("training_jobs:job_detail", pk=pk)


@role_required(*ML)
@require_http_methods(["GET", "POST"])
def job_cancel_view(request, pk: int):
    """GET: a confirmation page saying what cancelling does; POST (its button): cancel."""
    job = get_object_or_404(TrainingJob, pk=pk)
    if request.method == "GET":
        target = request.GET.get("next", "")
        safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
        context = {"job": job, "next": target if safe else ""}
        return render(request, "training_jobs/job_cancel.html", context, status=409 if job.is_terminal else 200)
    try:
        job = job_cancel(job=job, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return back(request, pk)
    messages.success(
        request,
        f"Job {job.pk} cancelled."
        if job.status == Status.CANCELLED
        else f"Cancelling job {job.pk}: the engine stops at its next step.",
    )
    return back(request, pk)
