"""The negotiation data model: projects, SOPs, guidelines, cases, dialogues, candidates, preference pairs,
bad cases and the append-only audit log. Queues and answers live in ``annotation/models/queues.py``,
model-generated alternatives at a branch in ``annotation/models/generation.py``."""

from .audit import AuditEvent
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
    "AuditEvent",
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
