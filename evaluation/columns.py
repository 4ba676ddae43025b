"""The columns of the evaluation report, defined once: the report page's table and charts, the paired
comparison's metrics, the CSV download and ``manage.py eval_report`` all list them from here.

A column is a key of a system's report row (``evaluation.selectors.reports``), what the table calls it,
the eval-set kinds whose report shows it, and how to read it. Pure (no Django), like ``metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.vocab import EVAL_SET_KINDS, FIXED_STATUSES

ONLINE, BAD_CASE = EVAL_SET_KINDS
BOTH = (ONLINE, BAD_CASE)


@dataclass(frozen=True)
class Column:
    key: str  # the row's key (``skills.fluency`` for a skill), the CSV header and the comparison's metric
    label: str  # the table's header
    kinds: tuple[str, ...] = BOTH  # the eval-set kinds whose report shows it
    statuses: tuple[str, ...] = ()  # a fix-status rate: the consensus statuses it counts
    percent: bool = True  # a 0–100 share; False for the 1–5 rating and the pre-scores
    interval: bool = True  # the report gives a bootstrap interval (and the comparison may use it)
    within: str = ""  # the row's sub-dict holding it (``skills``, ``prescores``), "" for the row itself

    @property
    def name(self) -> str:
        """The key inside ``within``."""
        return self.key.split(".", 1)[1] if self.within else self.key

    def value(self, row: dict[str, Any]) -> Any:
        """This column's value in a system's report row (None when the row has none)."""
        holder = (row.get(self.within) or {}) if self.within else row
        return holder.get(self.name)


# The headline metrics, in the order of the table: per eval-set kind, the paper's measures.
HEADLINE = (
    Column("avg_rating", "avg rating", (ONLINE,), percent=False),
    Column("excellent_share", "≥1 excellent", (ONLINE,)),
    Column("fix_rate", "fix rate", (BAD_CASE,), statuses=FIXED_STATUSES),
    Column("clean_fix_rate", "clean fix", (BAD_CASE,), statuses=("clean",)),
    Column("minor_issue_rate", "minor", (BAD_CASE,), statuses=("minor_issues",)),
    Column("major_issue_rate", "major", (BAD_CASE,), statuses=("major_issues",)),
    Column("unresolved_rate", "unresolved", (BAD_CASE,), statuses=("unresolved",)),
    Column("severe_unresolved_rate", "severe unresolved", (BAD_CASE,), statuses=("severe_unresolved",)),
)
# The four binary skills' pass rates (short headers: the table is wide).
SKILL_COLUMNS = tuple(
    Column(f"skills.{skill}", label, within="skills")
    for skill, label in (
        ("fluency", "fluency"),
        ("workflow_compliance", "workflow"),
        ("negotiation_effectiveness", "negotiation"),
        ("scope_understanding", "scope"),
    )
)
# The automatic scores of the systems' responses, averaged (no interval: not from the raters).
PRESCORE_COLUMNS = tuple(
    Column(f"prescores.{key}", label, percent=key == "rf_violation_share", interval=False, within="prescores")
    for key, label in (
        ("rf_points", "RF points"),
        ("rf_violation_share", "RF violations"),
        ("judge_points", "judge"),
        ("rm_score", "RM"),
    )
)
# A fix-status rate's key → the statuses it counts (``metrics.status_rates``).
STATUS_RATES = {column.key: column.statuses for column in HEADLINE if column.statuses}


def headline(kind: str) -> tuple[Column, ...]:
    """The headline columns of a report on an eval set of ``kind``."""
    return tuple(column for column in HEADLINE if kind in column.kinds)


def table_columns(kind: str) -> tuple[Column, ...]:
    """Every metric column of the report page's table, after the system, model version, n and pending."""
    return (*headline(kind), *SKILL_COLUMNS, *PRESCORE_COLUMNS)


def comparison_keys(kind: str) -> list[str]:
    """The metrics a paired comparison can use: per-item values the report has intervals for."""
    return [column.key for column in (*headline(kind), *SKILL_COLUMNS)]


# The CSV download: who and what, then every headline metric (blank where the kind has none), then the
# nested parts as JSON.
CSV_FIELDS = (
    "eval_set",
    "version",
    "kind",
    "system",
    "model_version",
    "n",
    "pending",
    *(column.key for column in HEADLINE),
    "skills",
    "ci",
    "prescores",
)
