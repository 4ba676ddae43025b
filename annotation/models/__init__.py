"""The negotiation data model: projects, SOPs, guidelines, cases, dialogues, candidates, preference pairs
and bad cases. Queues and answers live in ``annotation/models/queues.py``, model-generated alternatives
at a branch in ``annotation/models/generation.py``; the audit log is the kernel's (``kernel.models``)."""

from .core import (
    SOP,
    Candidate,
    Dialogue,
    Guideline,
    Message,
    NegotiationCase,
    Project,
    SOPClause,
    SOPStage,
    Ticket,
)
from .generation import BranchGeneration
from .labels import BadCase, ExcellentTurn, PreferencePair
from .queues import AnnotationItem, AnnotationQueue, Answer, Assignment, GoldDecision, Lens

__all__ = [
    "Answer",
    "AnnotationItem",
    "AnnotationQueue",
    "Assignment",
    "GoldDecision",
    "Lens",
    "SOP",
    "BadCase",
    "BranchGeneration",
    "Candidate",
    "Dialogue",
    "ExcellentTurn",
    "Guideline",
    "Message",
    "NegotiationCase",
    "PreferencePair",
    "Project",
    "SOPClause",
    "SOPStage",
    "Ticket",
]
