"""Eval sets and systems (``sets``), generation runs and responses (``runs``), panels and judgments (``judgments``),
studies (``studies``)."""

from .judgments import Expertise, FixStatus, Judgment, PanelAssignment, PanelMember
from .runs import EvalRun, Response
from .sets import EvalItem, EvalSet, EvalSystem
from .studies import Study

__all__ = [
    "EvalItem",
    "EvalRun",
    "EvalSet",
    "EvalSystem",
    "Expertise",
    "FixStatus",
    "Judgment",
    "PanelAssignment",
    "PanelMember",
    "Response",
    "Study",
]
