"""The reward playground, its htmx lookups, and the one-click rule examples from bad cases and excellent replies."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.models import BadCase, ExcellentTurn
from kernel.roles import role_required
from rewards.forms import BadCaseExampleForm, PlaygroundForm
from rewards.selectors import (
    DEFAULT_NAME,
    agent_turns,
    dialogue_by_external_id,
    dialogue_messages,
    dialogue_search,
    rule_ids,
    rule_set_latest,
    turn_labels,
)
from rewards.services.examples import (
    CATEGORY_RULES,
    rule_example_from_bad_case,
    rule_example_from_excellent_turn,
)
from rewards.services.playground import playground_evaluate
from rewards.services.seed import reward_defaults_seed
from rewards.services.versions import RewardDocumentError
from rewards.views.documents import KINDS, REWARD_ROLES, draft_session_key

SCORE_PARAMS = ("dialogue", "reply")


@role_required(*REWARD_ROLES)
def reward_playground(request):
    """Scores on POST, or on a GET link to a turn (``?dialogue=…&turn=…``); other GET parameters
    (``?rule_set=default@3``) only preselect the form."""
    reward_defaults_seed(user=request.user)
    params = request.POST if request.method == "POST" else request.GET
    scoring = request.method == "POST" or any(params.get(key) for key in SCORE_PARAMS)
    form = PlaygroundForm(params) if scoring else PlaygroundForm(initial=params.dict())
    context = {"form": form, "result": None}
    dialogue = dialogue_by_external_id(external_id=params.get("dialogue", ""))
    if dialogue is not None:
        context["turns"] = agent_turns(dialogue=dialogue)
    status = 200
    if scoring and form.is_valid():
        context.update(_score(form.cleaned_data))
    elif scoring:
        status = 400
    partial = "rewards/partials/playground_result.html"
    return render(request, partial if request.htmx else "rewards/playground.html", context, status=status)


def _score(data: dict) -> dict:
    result = playground_evaluate(
        reply=data["reply"],
        task=data["task"],
        history=data["history"],
        rule_document=data["rule_set"].document,
        config=data["config"],
        assumed_r_model=data["assumed_r_model"],
        sop=data["sop"],
        stage=data["message"].stage if data["message"] is not None else None,
    )
    context = {"result": result, "rule_set": data["rule_set"], "config": data["config"]}
    dialogue, message = data["dialogue_row"], data["message"]
    if dialogue is not None:
        labels = turn_labels(dialogue=dialogue, turn=message.index)
        context.update(
            dialogue=dialogue,
            turn=message.index,
            messages_before=dialogue_messages(dialogue=dialogue)[: message.index],
            bad_case_rows=[(b, CATEGORY_RULES.get(b.category)) for b in labels["bad_cases"]],
            excellent=labels["excellent"],
            rule_ids=rule_ids(),
        )
    return context


@role_required(*REWARD_ROLES)
def playground_dialogues(request):
    """htmx: dialogue ids matching the typed text (a datalist)."""
    rows = dialogue_search(query=request.GET.get("dialogue", ""))
    return render(request, "rewards/partials/dialogue_options.html", {"dialogues": rows})


@role_required(*REWARD_ROLES)
def playground_turns(request):
    """htmx: the agent turns of the chosen dialogue (a select's options)."""
    dialogue = dialogue_by_external_id(external_id=request.GET.get("dialogue", ""))
    turns = agent_turns(dialogue=dialogue) if dialogue is not None else []
    return render(request, "rewards/partials/turn_options.html", {"turns": turns, "dialogue": dialogue})


def _example_saved(request, *, name: str, base: int | None, row) -> object:
    messages.success(request, f"Saved rule set {row.name} v{row.version}: {row.note}")
    url = KINDS["rule_set"].url("diff", name=name)
    return redirect(f"{url}?a={base}&b={row.version}" if base else url)


def _example_refused(request, *, exc: RewardDocumentError, name: str):
    draft = getattr(exc, "draft", None)
    if draft is not None:  # the editor can start from the document with the example already in place
        request.session[draft_session_key(name)] = {
            "document": draft.document,
            "note": draft.note,
            "base_version": draft.base_version,
        }
    context = {"errors": exc.messages, "name": name, "has_draft": draft is not None}
    return render(request, "rewards/example_refused.html", context, status=400)


@role_required(*REWARD_ROLES)
@require_POST
def example_from_bad_case(request, pk: int):
    bad_case = get_object_or_404(BadCase.objects.select_related("dialogue__case"), pk=pk)
    form = BadCaseExampleForm(request.POST)
    if not form.is_valid():
        errors = [m for ms in form.errors.values() for m in ms]
        return render(request, "rewards/example_refused.html", {"errors": errors}, status=400)
    name = request.POST.get("rule_set") or DEFAULT_NAME
    base = rule_set_latest(name=name)
    try:
        row = rule_example_from_bad_case(
            bad_case=bad_case, user=request.user, rule_id=form.cleaned_data["rule"] or None, name=name
        )
    except RewardDocumentError as exc:
        return _example_refused(request, exc=exc, name=name)
    return _example_saved(request, name=name, base=base.version if base else None, row=row)


@role_required(*REWARD_ROLES)
@require_POST
def example_from_excellent(request, pk: int):
    excellent = get_object_or_404(ExcellentTurn.objects.select_related("dialogue__case"), pk=pk)
    name = request.POST.get("rule_set") or DEFAULT_NAME
    base = rule_set_latest(name=name)
    try:
        row = rule_example_from_excellent_turn(excellent=excellent, user=request.user, name=name)
    except RewardDocumentError as exc:
        return _example_refused(request, exc=exc, name=name)
    return _example_saved(request, name=name, base=base.version if base else None, row=row)
