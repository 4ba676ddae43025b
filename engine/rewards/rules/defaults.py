"""The default rule set (the rule list of docs/method.md; the bad-case categories of docs/domain.md),
English and Chinese.

The set itself is the document ``default_rules.json`` beside this module, the same JSON the web app
stores and edits, so the seed and an edited version are diffed like for like. Points are *our
choice*: leaking internals and pushing past an acceptable offer break the paper's hard rules and cost
most (-30 to -40); style slips cost least (-10 to -20). The enhancement clips their sum at ±n.

Cue lists of ``price_mismatch``: a number counts as a claim about the hotel's current price, its net
price or a competitor's price only after such a cue in its clause; ``suggest_cues`` ("how about",
"to", "调到") mark a proposal instead, so suggesting the target price is never a mismatch.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from engine.rewards.rules.document import RuleSet

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.json")

# The cases the rule examples run against unless an example brings its own ``task``.
EXAMPLE_TASKS = {
    "en": {
        "hotel": {"name": "Harbour View Hotel", "type": "business", "city": "Shanghai"},
        "tickets": [
            {
                "id": "T1",
                "room_type": "Deluxe King",
                "current_price": 780.0,
                "net_price": 663.0,
                "target_price": 690.0,
                "currency": "CNY",
                "competitors": [
                    {"name": "Riverside Inn", "price": 699.0},
                    {"name": "Bund Garden Hotel", "price": 720.0},
                ],
            },
            {
                "id": "T2",
                "room_type": "Twin Room",
                "current_price": 650.0,
                "net_price": 552.5,
                "target_price": 580.0,
                "currency": "CNY",
                "competitors": [{"name": "Riverside Inn", "price": 585.0}],
            },
        ],
        "benefits": ["homepage exposure for 7 days"],
        "language": "en",
    },
    "zh": {
        "hotel": {"name": "海景酒店", "type": "business", "city": "上海"},
        "tickets": [
            {
                "id": "T1",
                "room_type": "豪华大床房",
                "current_price": 780.0,
                "net_price": 663.0,
                "target_price": 690.0,
                "currency": "CNY",
                "competitors": [{"name": "江景酒店", "price": 699.0}, {"name": "外滩花园酒店", "price": 720.0}],
            }
        ],
        "benefits": ["首页曝光7天"],
        "language": "zh",
    },
}


@cache
def _default_document() -> str:
    return DEFAULT_RULES_PATH.read_text(encoding="utf-8")


def default_rule_set() -> RuleSet:
    """A fresh copy of the default rule set (callers may edit it)."""
    return RuleSet.from_dict(json.loads(_default_document()))


DEFAULT_VERSION = default_rule_set().version
