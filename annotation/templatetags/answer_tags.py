"""Filling an answer panel again with what was posted (or answered before): a value by a name held in a
variable."""

from django import template

register = template.Library()


@register.filter
def lookup(values, name):
    """``values[name]`` for a dict (or "" when absent or when ``values`` is not a dict)."""
    return values.get(name, "") if isinstance(values, dict) else ""
