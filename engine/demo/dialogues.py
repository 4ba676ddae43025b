"""One negotiation dialogue as a script that walks the SOP stages (docs/domain.md, "The SOP").

A hotel message carries the stage of the agent message it answers; system notes (silence) carry none.
Besides the messages, the script remembers each agent turn's template kind and the values it used, so
the annotation generator can write good and bad alternatives for exactly that situation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from engine.demo.cases import counter_offer, giving_in_offer, round5
from engine.demo.phrases import (
    AGENT,
    AGENT_NAMES,
    DATES,
    HOTEL,
    NO_REPLY_NOTE,
    OBJECTIONS,
    PLATFORM,
    offer_list,
    price_list,
)

# chase_to_target: objection, counter, chase, the hotel meets the target; give_in: the first offer is
# already at or below the target; partial: the hotel stops between target and current.
SCENARIOS = ("chase_to_target", "give_in", "partial", "refused", "no_reply")
SCENARIO_WEIGHTS = (0.35, 0.15, 0.15, 0.15, 0.2)


@dataclass(frozen=True)
class AgentTurn:
    turn: int  # index of the agent message in ``messages``
    stage: str
    kind: str  # template key in engine.demo.phrases.AGENT, or an objection id
    ctx: dict  # the placeholder values this turn used


@dataclass
class Script:
    messages: list[dict] = field(default_factory=list)
    agent_turns: list[AgentTurn] = field(default_factory=list)
    outcome: dict = field(default_factory=dict)


class _Writer:
    """Appends messages in one language with one set of placeholder values."""

    def __init__(self, *, rng: random.Random, case: dict, city_display: str):
        self.rng = rng
        self.lang = case["language"]
        self.script = Script()
        tickets = case["tickets"]
        first = tickets[0]
        near = first["competitors"][0]
        self.rooms = [t["room_type"] for t in tickets]
        self.targets = [int(t["target_price"]) for t in tickets]  # prices are whole numbers in the text
        self.ctx = {
            "me": rng.choice(AGENT_NAMES[self.lang]),
            "platform": PLATFORM[self.lang],
            "hotel": case["hotel"]["name"],
            "city": city_display,
            "asks": price_list(list(zip(self.rooms, self.targets, strict=True)), language=self.lang),
            "room": first["room_type"],
            "price": int(first["target_price"]),
            "net_at": round5(first["target_price"] * first["net_price"] / first["current_price"]),
            "competitor": near["name"],
            "comp_price": int(near["price"]),
            "benefit": case["benefits"][0] if case.get("benefits") else "",
            "date": rng.choice(DATES[self.lang]),
        }

    def agent(self, kind: str, stage: str, **values) -> None:
        ctx = {**self.ctx, **values}
        text = self.rng.choice(AGENT[self.lang][kind]).format(**ctx)
        self.script.agent_turns.append(AgentTurn(turn=len(self.script.messages), stage=stage, kind=kind, ctx=ctx))
        self.script.messages.append({"role": "agent", "content": text, "stage": stage})

    def hotel(self, kind: str, stage: str, prices: list[int] | None = None) -> None:
        offer = offer_list(prices, rooms=self.rooms, language=self.lang) if prices else ""
        text = self.rng.choice(HOTEL[self.lang][kind]).format(offer=offer)
        self.script.messages.append({"role": "hotel", "content": text, "stage": stage})

    def silence(self) -> None:
        self.script.messages.append({"role": "system", "content": NO_REPLY_NOTE[self.lang], "stage": None})

    def deal(self, prices: list[int]) -> str:
        return price_list(list(zip(self.rooms, prices, strict=True)), language=self.lang)


def build_script(*, rng: random.Random, case: dict, scenario: str, city_display: str) -> Script:
    """The messages of one dialogue of ``scenario`` over ``case``, plus its outcome."""
    w = _Writer(rng=rng, case=case, city_display=city_display)
    n = len(case["tickets"])
    w.agent("greeting", "greeting")
    if scenario == "no_reply":
        return _no_reply(w)
    w.hotel("ack", "greeting")
    w.agent("request", "state_request")
    if scenario == "give_in":
        offers = [giving_in_offer(rng=rng, ticket=t) for t in case["tickets"]]
        w.hotel("give_in", "state_request", offers)
        w.agent("close_now", "accept_close", deal=w.deal(offers), offer=offers)
        w.hotel("thanks", "accept_close")
        return _done(w, replied=True, reduced="target", closed=n, follow_up=False)
    objection = rng.choice(OBJECTIONS)
    w.hotel(objection, "state_request")
    w.agent(objection, "handle_objection", objection=objection)
    if rng.random() < 0.4:  # a second hesitation before any number: persuade with the case's facts
        w.hotel(rng.choice(("what_do_we_get", "cheapest")), "handle_objection")
        w.agent("persuade", "persuade")
    counters = [counter_offer(rng=rng, ticket=t) for t in case["tickets"]]
    w.hotel("counter", "persuade" if w.script.messages[-1]["stage"] == "persuade" else "handle_objection", counters)
    w.agent("chase", "continue_chase", offer=counters)
    follow_up = objection == "owner"
    if scenario == "chase_to_target":
        w.hotel("accept", "continue_chase", w.targets)
        w.agent("close", "accept_close", deal=w.deal(w.targets), offer=w.targets)
        if rng.random() < 0.5:
            w.hotel("thanks", "accept_close")
        return _done(w, replied=True, reduced="target", closed=n, follow_up=False)
    if scenario == "partial":
        w.hotel("hold", "continue_chase", counters)
        w.agent("close_partial", "accept_close", deal=w.deal(counters), offer=counters)
        return _done(w, replied=True, reduced="partial", closed=0, follow_up=follow_up)
    w.hotel("refuse", "continue_chase")
    w.agent("close_refused", "accept_close")
    return _done(w, replied=True, reduced="refused", closed=0, follow_up=True)


def _no_reply(w: _Writer) -> Script:
    w.silence()
    w.agent("follow_up", "no_reply_follow_up")
    replied = w.rng.random() < 0.4
    if replied:
        w.hotel("late", "no_reply_follow_up")
        w.agent("later", "no_reply_follow_up")
    return _done(w, replied=replied, reduced="none", closed=0, follow_up=True)


def _done(w: _Writer, *, replied: bool, reduced: str, closed: int, follow_up: bool) -> Script:
    w.script.outcome = {
        "hotel_replied": replied,
        "price_reduced": reduced,
        "tickets_closed": closed,
        "follow_up_needed": follow_up,
    }
    return w.script
