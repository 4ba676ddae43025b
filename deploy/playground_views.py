"""The chat playground page (ML engineers and admins): start a conversation with one or two deployed
versions, a demo case and a reward config (whose judge judges each reply), talk as the hotel (naming the
turn's SOP stage if you like), turn a reply into a bad case."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.models import BadCase
from deploy.selectors import served_versions
from deploy.services.playground import (
    conversation_load,
    conversation_new,
    conversation_say,
    demo_cases,
    playground_bad_case,
    playground_branch,
    reward_config_choices,
    reward_config_default,
    reward_config_pick,
    stage_choices,
    stage_pick,
    suggested_category,
)
from deploy.serving_models import Deployment
from kernel.errors import ApplicationError
from kernel.roles import Role, role_required
from kernel.status import ACTIVE


def _index(raw: str, field: str) -> int:
    if not raw.isdigit():
        raise ApplicationError(f"{field} must be a whole number (got {raw[:20]!r}).")
    return int(raw)


def _context(conversation=None, error: str = "") -> dict:
    sides = []
    if conversation is not None:
        for s, side in enumerate(conversation.sides):
            rows = [
                {**m, "turn": t, "side": s, "category": suggested_category(m) if m["role"] == "agent" else ""}
                for t, m in enumerate(side.messages)
            ]
            sides.append({"version": side.version, "messages": rows})
    served = served_versions()
    chosen = conversation.config if conversation is not None else reward_config_default()
    return {
        "served": served,
        "cases": demo_cases(),
        "configs": reward_config_choices(),
        "config_chosen": chosen.pk if chosen is not None else None,
        "stages": stage_choices(),
        "conversation": conversation,
        "sides": sides,
        "token": conversation.token() if conversation else "",
        "error": error,
        "categories": BadCase.Category.choices,
        "severities": BadCase.Severity.choices,
        # Deployments that do not answer yet, with why (vLLM missing, still starting, crashed): on the page.
        "waiting": Deployment.objects.filter(status__in=ACTIVE).exclude(state=Deployment.State.HEALTHY),
    }


@role_required(Role.ML_ENGINEER)
@require_http_methods(["GET", "POST"])
def playground(request):
    """GET: pick versions and a case. POST: the hotel says something (a new conversation when no token)."""
    if request.method == "GET":
        return render(request, "deploy/playground.html", _context())
    token = request.POST.get("state", "")
    config = reward_config_pick(request.POST.get("config", ""))
    stage = stage_pick(request.POST.get("stage", ""))
    if token:
        conversation = conversation_load(token)
        if "config" in request.POST:  # the say form may switch the config from this turn on
            conversation.config = config
    else:
        versions = [request.POST.get("version_a", ""), request.POST.get("version_b", "")]
        conversation = conversation_new(case_key=request.POST.get("case", ""), versions=versions, config=config)
    try:
        conversation = conversation_say(conversation, text=request.POST.get("message", ""), stage=stage)
    except ApplicationError as error:
        return render(request, "deploy/playground.html", _context(conversation, error.message), status=error.status)
    return render(request, "deploy/playground.html", _context(conversation))


@role_required(Role.ML_ENGINEER)
@require_POST
def playground_bad_case_view(request):
    conversation = conversation_load(request.POST.get("state", ""))
    side = _index(request.POST.get("side", ""), "side")
    turn = _index(request.POST.get("turn", ""), "turn")
    data = {k: request.POST.get(k, "") for k in ("gold_reply", "category", "severity", "clause")}
    try:
        bad_case = playground_bad_case(conversation=conversation, side=side, turn=turn, data=data, actor=request.user)
    except ApplicationError as error:
        return render(request, "deploy/playground.html", _context(conversation, error.message), status=error.status)
    messages.success(request, f"Bad case {bad_case.pk} created for {bad_case.model_version.name}, turn {turn}.")
    return redirect("deploy:bad_case_lineage", pk=bad_case.pk)


@role_required(Role.ML_ENGINEER)
@require_POST
def playground_branch_view(request):
    conversation = conversation_load(request.POST.get("state", ""))
    side = _index(request.POST.get("side", ""), "side")
    turn = _index(request.POST.get("turn", ""), "turn")
    candidate = playground_branch(conversation=conversation, side=side, turn=turn, actor=request.user)
    messages.success(
        request,
        f"The reply of {candidate.model_version.name} is branch candidate {candidate.pk} at turn {turn} of dialogue "
        f"{candidate.dialogue.external_id} (project Playground), ready for a pairwise queue.",
    )
    return render(request, "deploy/playground.html", _context(conversation))
