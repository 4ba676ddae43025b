"""Formatting for the report: metrics with a fixed number of decimals, dict lookups by variable key."""

from django import template

register = template.Library()


@register.filter
def metric(value, digits: int = 2) -> str:
    """``4.6333`` → ``4.63``; None (not applicable or undefined) → ``–``."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.{int(digits)}f}"


@register.filter
def get(mapping, key):
    """``row.ci|get:key`` for keys with dots or from variables."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def cell(row, column):
    """``row|cell:column``: a report row's value in an ``evaluation.columns.Column``."""
    return column.value(row)
