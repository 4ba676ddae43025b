"""What the blind panel and the consensus page show. Nothing here returns a system's name: the panel
page knows responses only by label, the consensus page by a neutral number."""

from __future__ import annotations

import random
import statistics
from collections import Counter

from engine.vocab import SKILLS
from evaluation.models import EvalItem, Judgment, PanelAssignment, Response
from evaluation.services.consensus import disagreement
from evaluation.services.panels import labels_for


def _transcript(item: EvalItem, responses_at: dict[int, list[dict]], *, full_context: bool = False) -> list[dict]:
    """The dialogue with each evaluated turn replaced by its responses (the original agent message at that
    turn is one system's reply, gold, so showing it would unblind the panel).

    By default the dialogue stops at the last evaluated turn: the hotel's original messages after it
    answer the original (gold) reply, so their coherence with one response would give gold away.
    ``full_context`` shows the whole original dialogue (the rater asks for it on the page)."""
    rows = []
    last = max(item.turns) if item.turns else None
    for message in item.dialogue.messages.order_by("index"):
        if not full_context and last is not None and message.index > last:
            break
        if message.index in item.turns:
            rows.append({"turn": message.index, "responses": responses_at.get(message.index, [])})
        else:
            rows.append({"turn": message.index, "message": message})
    return rows


def panel_view(*, assignment: PanelAssignment, full_context: bool = False) -> dict:
    """Template context of one rater's item: labels in the rater's stored order, texts, the case."""
    item = assignment.item
    labels = labels_for(assignment.order)
    by_system = {system_id: label for label, system_id in labels}
    responses_at: dict[int, list[dict]] = {}
    for response in Response.objects.filter(item=item, system_id__in=by_system):
        responses_at.setdefault(response.turn, []).append(
            {"label": by_system[response.system_id], "text": response.text}
        )
    for group in responses_at.values():
        group.sort(key=lambda r: r["label"])
    return {
        "item": item,
        "eval_set": item.eval_set,
        "case": item.dialogue.case.to_task(),
        "labels": [label for label, _ in labels],
        "transcript": _transcript(item, responses_at, full_context=full_context),
        "hidden_after": 0 if full_context else _messages_after(item),
        "bad_case": item.bad_case,
        "turns": item.turns,
    }


def _messages_after(item: EvalItem) -> int:
    """How many original messages follow the last evaluated turn (what the default view leaves out)."""
    return item.dialogue.messages.filter(index__gt=max(item.turns)).count() if item.turns else 0


def consensus_order(item: EvalItem) -> list[int]:
    """A stable neutral order of the item's systems for the lead (seeded by the item, not by system ids,
    whose creation order could hint which is which)."""
    ids = sorted(set(Judgment.objects.filter(item=item).values_list("system_id", flat=True)))
    random.Random(item.pk).shuffle(ids)
    return ids


def _suggestion(judgments: list[Judgment]) -> dict:
    """The median rating, the most common status and the majority per skill: the form's starting point."""
    ratings = [j.rating for j in judgments if j.rating is not None]
    statuses = Counter(j.fix_status for j in judgments if j.fix_status)
    turns = Counter(t for j in judgments for t in j.excellent_turns or [])
    return {
        "rating": int(statistics.median_low(ratings)) if ratings else None,
        "fix_status": statuses.most_common(1)[0][0] if statuses else "",
        "excellent_turns": sorted(t for t, n in turns.items() if n * 2 > len(judgments)),
        "skills": {s: sum(bool((j.skills or {}).get(s)) for j in judgments) * 2 > len(judgments) for s in SKILLS},
    }


def consensus_context(*, item: EvalItem) -> dict:
    """The dialogue around the rated turns for the consensus page: the case and the original messages up
    to the last evaluated turn, the evaluated turns marked (their replies are listed per response)."""
    if item.dialogue is None:
        return {"case": None, "transcript": []}
    return {"case": item.dialogue.case.to_task(), "transcript": _transcript(item, {})}


def consensus_view(*, item: EvalItem) -> list[dict]:
    """Per system (as "Response N"): its texts, the raters' judgments, their disagreement, the current
    consensus or a suggestion."""
    out = []
    for number, system_id in enumerate(consensus_order(item), start=1):
        raw = list(Judgment.objects.filter(item=item, system_id=system_id, consensus=False).order_by("expertise"))
        final = Judgment.objects.filter(item=item, system_id=system_id, consensus=True).first()
        start = (
            {
                "rating": final.rating,
                "fix_status": final.fix_status,
                "excellent_turns": final.excellent_turns,
                "skills": final.skills,
            }
            if final
            else _suggestion(raw)
        )
        texts = Response.objects.filter(item=item, system_id=system_id).order_by("turn").values("turn", "text")
        out.append(
            {
                "number": number,
                "system_id": system_id,
                "texts": list(texts),
                "judgments": raw,
                "disagreement": disagreement(raw),
                "consensus": final,
                "form": start,
            }
        )
    return out
