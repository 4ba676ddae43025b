"""Candidates, preference pairs, bad cases and excellent turns for one scripted dialogue.

A bad reply is written for a concrete situation (an agent turn of the script) so that it exhibits one
bad-case category of docs/domain.md and nothing else; its good counterpart is the script's own message.
"""

from __future__ import annotations

import random

from engine.demo.cases import round5
from engine.demo.dialogues import AgentTurn, Script
from engine.demo.phrases import AGENT, OBJECTIONS, price_list
from engine.demo.vocab import CATEGORY_CLAUSE, CATEGORY_REASONS, CATEGORY_SEVERITY

BAD = {
    "en": {
        "internal_term_leak": (
            "Our target price for the {room} is {price}. Can you update work order {order} to that today?",
            "The system ticket says target price {price} for the {room}; please confirm so I can close the ticket.",
        ),
        "price_confusion": (
            "Could you set the selling price of the {room} to {net}? That is what you receive anyway.",
            "If you sell at {price}, you'll receive {price} after commission, so nothing changes for you.",
        ),
        "pushed_after_acceptable_offer": (
            "Thanks, but could you go a bit lower, maybe {below}?",
            "Hmm, {below} would be even better. Can you stretch a little more?",
        ),
        "silence_as_agreement": (
            "Since we haven't heard back, we'll take it that {asks} is fine and update your listing today.",
        ),
        "over_promise": ("If you set {asks}, I guarantee you'll rank first in {city} and your bookings will double.",),
        "hallucination": (
            "{fake} right next to you sells the same room at {fake_price}, and we'll give you a free month of ads.",
        ),
        "ticket_ignored": ("Would {first_ask} work for you?",),
        "wrong_stage": ("Hi, please lower the {room} to {price} today.",),
        "repeated_confirmation": (
            "Great. So {deal}, confirmed? Just to double-check: {deal}. Please confirm {deal} once more.",
        ),
        "rigid_script": (
            "Our platform has many users and a lower price brings more orders. Please lower your price to {price}.",
        ),
        "tone": (
            "Your price is higher than everyone else's. Lower the {room} to {price} today or you lose your ranking.",
        ),
        "mixed_language": ("您好, could you do {asks}? 这样 conversion 会更好, thanks 哈.",),
        "reasoning_leak": (
            "<think>The hotel is hesitant; the target is {price} and the net is {net}, so I should push.</think> "
            "Could we do {asks}?",
            "Reasoning: objection handled, next ask the target {price}. Reply: Could we do {asks}?",
        ),
        "too_long": (
            "As you know, {platform} is one of the largest travel platforms, with millions of travellers every "
            "month, and we always work closely with our hotel partners to make sure that prices are "
            "competitive, that listings are attractive, and that guests have a great experience from booking "
            "to check-out, which is why I am writing to you today in such detail. ",
        ),
    },
    "zh": {
        "internal_term_leak": ("我们{room}的目标价是{price}元，麻烦今天按工单{order}改一下。",),
        "price_confusion": ("{room}售价能不能改成{net}元？反正您到手也是这个数。",),
        "pushed_after_acceptable_offer": ("谢谢，不过能不能再低一点，{below}元？",),
        "silence_as_agreement": ("您一直没回复，我们就默认{asks}同意了，今天帮您更新。",),
        "over_promise": ("只要{asks}，我保证您在{city}排名第一，订单翻倍。",),
        "hallucination": ("您隔壁的{fake}同样房型只卖{fake_price}元，我们还免费送您一个月广告。",),
        "ticket_ignored": ("{first_ask}可以吗？",),
        "wrong_stage": ("您好，{room}今天降到{price}元吧。",),
        "repeated_confirmation": ("好的。那就{deal}，确认吗？再确认一下：{deal}。麻烦再确认一次{deal}。",),
        "rigid_script": ("我们平台用户很多，降价能带来更多订单。请把价格降到{price}元。",),
        "tone": ("您的价格比谁都贵。今天{room}必须降到{price}元，不然排名就没了。",),
        "mixed_language": ("Hi，{asks} ok吗？这样conversion会更好，thanks。",),
        "reasoning_leak": ("<think>酒店在犹豫，目标价{price}，底价{net}，应该继续施压。</think>{asks}可以吗？",),
        "too_long": (
            "众所周知，{platform}是最大的旅行平台之一，每个月有数百万旅客，我们一直和酒店伙伴紧密合作，"
            "确保价格有竞争力、页面有吸引力、客人从预订到离店都有很好的体验，所以今天特别详细地跟您说明。",
        ),
    },
}
_FAKE_COMPETITORS = ("Grand Royal Hotel", "Imperial Palace Inn", "Skyline Luxury Suites", "Blue Ocean Plaza")

_ANY_TURN = ("internal_term_leak", "tone", "mixed_language", "too_long", "reasoning_leak")
_PRICE_TURN = ("price_confusion", "over_promise", "hallucination")
_NEGOTIATING = {"request", "persuade", "chase", *OBJECTIONS}
LANGUAGE_LENS = {"tone", "mixed_language", "too_long", "rigid_script", "repeated_confirmation"}
PROVENANCE_ANNOTATOR = {"production": None, "language_expert": "language", "bd_expert": "bd", "sop_path": "bd"}
GOOD_MODEL, BAD_MODEL = "parley-sft-v1", "qwen3-32b-base"


def categories_for(turn: AgentTurn, *, n_tickets: int) -> list[str]:
    """The bad-case categories a reply at ``turn`` can meaningfully show."""
    found = list(_ANY_TURN)
    if turn.kind in _NEGOTIATING:
        found += _PRICE_TURN
        if n_tickets > 1 and turn.kind in ("request", "chase"):
            found.append("ticket_ignored")
    if turn.kind in OBJECTIONS:
        found.append("rigid_script")
    if turn.kind == "greeting":
        found.append("wrong_stage")
    if turn.kind == "follow_up":
        found.append("silence_as_agreement")
    if turn.kind in ("close", "close_now"):  # the hotel's offer is at or below the target
        found.append("pushed_after_acceptable_offer")
    if turn.kind in ("close", "close_now", "close_partial"):
        found.append("repeated_confirmation")
    return found


def bad_reply(*, rng: random.Random, category: str, turn: AgentTurn, case: dict, good: str) -> str:
    """A reply at ``turn`` that shows ``category`` (docs/domain.md, "Bad-case categories")."""
    lang = case["language"]
    first = case["tickets"][0]
    names = {c["name"] for t in case["tickets"] for c in t["competitors"]}
    offers = turn.ctx.get("offer") or [int(first["target_price"])]
    values = {
        **turn.ctx,
        "order": f"WO-{rng.randint(10000, 99999)}",
        "net": int(first["net_price"]),
        "below": round5(offers[0] * 0.95),
        "fake": next(n for n in _FAKE_COMPETITORS if n not in names),
        "fake_price": round5(first["target_price"] * 0.8),
        "first_ask": price_list([(first["room_type"], int(first["target_price"]))], language=lang),
        "deal": turn.ctx.get("deal") or turn.ctx["asks"],
    }
    text = rng.choice(BAD[lang][category]).format(**values)
    if category == "too_long":
        return f"{good} {text * 4}".strip()
    return text


def alternative_good(*, rng: random.Random, turn: AgentTurn, lang: str, actual: str) -> str | None:
    """Another good phrasing of the same move, or None when the template has only one."""
    options = [t.format(**turn.ctx) for t in AGENT[lang][turn.kind]]
    options = [o for o in options if o != actual]
    return rng.choice(options) if options else None


def annotate(
    *, rng: random.Random, script: Script, case: dict, provenances: list[str], bad_case_category: str | None
) -> dict:
    """candidates, pairs, bad_cases and excellent_turns for one dialogue (keys of the import format)."""
    turns = script.agent_turns
    picked = rng.sample(turns, k=min(len(provenances), len(turns)))
    candidates, pairs = [], []
    for turn, provenance in zip(sorted(picked, key=lambda t: t.turn), provenances, strict=False):
        cands, turn_pairs = _turn_annotations(rng=rng, turn=turn, script=script, case=case, provenance=provenance)
        candidates += cands
        pairs += turn_pairs
    bad_cases = []
    if bad_case_category:
        bad_cases.append(_bad_case(rng=rng, script=script, case=case, category=bad_case_category))
    excellent = [t.turn for t in turns if t.kind in OBJECTIONS or t.kind == "persuade"]
    excellent_turns = excellent[:1] if excellent and rng.random() < 0.35 else []
    return {"candidates": candidates, "pairs": pairs, "bad_cases": bad_cases, "excellent_turns": excellent_turns}


def _turn_annotations(
    *, rng: random.Random, turn: AgentTurn, script: Script, case: dict, provenance: str
) -> tuple[list[dict], list[dict]]:
    lang = case["language"]
    actual = script.messages[turn.turn]["content"]
    options = categories_for(turn, n_tickets=len(case["tickets"]))
    lens = [c for c in options if (c in LANGUAGE_LENS) == (provenance == "language_expert")]
    category = rng.choice(lens or options)
    good_by_human = rng.random() < 0.4
    prefix = f"t{turn.turn}"
    candidates = [
        _candidate(f"{prefix}-a", turn.turn, actual, None if good_by_human else GOOD_MODEL),
        _candidate(
            f"{prefix}-b",
            turn.turn,
            bad_reply(rng=rng, category=category, turn=turn, case=case, good=actual),
            BAD_MODEL,
        ),
    ]
    severity = CATEGORY_SEVERITY[category]
    strength = {"severe": "strong", "major": "clear"}.get(severity) or rng.choice(("slight", "clear"))
    pairs = [
        _pair(turn.turn, f"{prefix}-a", f"{prefix}-b", strength, list(CATEGORY_REASONS[category]), provenance, category)
    ]
    other = alternative_good(rng=rng, turn=turn, lang=lang, actual=actual)
    if other and rng.random() < 0.5:  # two decent replies: a matter of taste, weakly held
        candidates.append(_candidate(f"{prefix}-c", turn.turn, other, GOOD_MODEL))
        pairs.append(_pair(turn.turn, f"{prefix}-a", f"{prefix}-c", "slight", ["language"], provenance, None))
    return candidates, pairs


def _candidate(key: str, turn: int, text: str, model: str | None) -> dict:
    return {"key": key, "turn": turn, "text": text, "source": "model" if model else "human", "model": model}


def _pair(turn, chosen, rejected, strength, reasons, provenance, category) -> dict:
    note = (
        f"Rejected reply shows {category.replace('_', ' ')}." if category else "Both fine; chosen reads more naturally."
    )
    return {
        "turn": turn,
        "chosen": chosen,
        "rejected": rejected,
        "strength": strength,
        "reason_codes": reasons,
        "provenance": provenance,
        "annotator": PROVENANCE_ANNOTATOR[provenance],
        "note": note,
    }


def _bad_case(*, rng: random.Random, script: Script, case: dict, category: str) -> dict:
    n_tickets = len(case["tickets"])
    turns = [t for t in script.agent_turns if category in categories_for(t, n_tickets=n_tickets)]
    turn = rng.choice(turns)
    actual = script.messages[turn.turn]["content"]
    return {
        "turn": turn.turn,
        "model_reply": bad_reply(rng=rng, category=category, turn=turn, case=case, good=actual),
        "category": category,
        "clause": CATEGORY_CLAUSE[category],
        "severity": CATEGORY_SEVERITY[category],
        "gold_reply": actual if rng.random() < 0.8 else None,  # some cases still wait for a gold reply
    }
