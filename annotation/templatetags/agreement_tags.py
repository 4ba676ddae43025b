"""``{{ value|coef }}``: an agreement coefficient to three decimals, "—" when undefined (nan or None)."""

import math

from django import template

register = template.Library()


@register.filter
def coef(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.3f}"
