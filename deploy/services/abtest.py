"""The A/B report of a serving slot: per version, the production metrics with their uncertainty.

- hotel response rate = conversations where the hotel replied / conversations;
- task success rate = conversations where the price came down to the target / conversations;
- each with a 95% Wilson score interval, and each challenger compared with the slot's production
  version (else the version with the most conversations) by a two-sided two-proportion z-test (pooled);
- guardrail hit rate per rule = conversations with at least one hit of the rule / conversations;
- latency p50/p95 over the conversations that carried ``latency_ms`` (linear interpolation between
  order statistics, as numpy's default).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

from deploy.intake_models import ProductionConversation
from registry.models import ModelVersion

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of k successes in n trials ((0, 0) when n is 0).

    >>> [round(x, 4) for x in wilson(5, 10)]
    [0.2366, 0.7634]
    """
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """``(z, two-sided p)`` of the pooled two-proportion z-test of k2/n2 against k1/n1 (0, 1 when undefined).

    >>> [round(x, 4) for x in two_proportion_z(40, 100, 55, 100)]
    [2.124, 0.0337]
    """
    if n1 == 0 or n2 == 0:
        return (0.0, 1.0)
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return (0.0, 1.0)
    z = (k2 / n2 - k1 / n1) / se
    return (z, math.erfc(abs(z) / math.sqrt(2)))


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0–100), linear between order statistics; None for no values.

    >>> percentile([10, 20, 30, 40], 50), percentile([10, 20, 30, 40], 95)
    (25.0, 38.5)
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def _rate(k: int, n: int) -> dict[str, Any]:
    low, high = wilson(k, n)
    return {"k": k, "n": n, "rate": k / n if n else 0.0, "low": low, "high": high}


def slots() -> list[str]:
    return sorted(set(ProductionConversation.objects.values_list("slot", flat=True)))


def ab_report(slot: str) -> dict[str, Any]:
    """The report of one slot (see the module docstring); ``versions`` in the baseline-first order."""
    rows = list(
        ProductionConversation.objects.filter(slot=slot).values_list(
            "version_id", "hotel_replied", "price_reduced_to_target", "latency_ms", "guardrail_hits", "occurred_at"
        )
    )
    by_version: dict[int, list] = defaultdict(list)
    for row in rows:
        by_version[row[0]].append(row)
    versions = {v.pk: v for v in ModelVersion.objects.filter(pk__in=by_version)}
    production = [pk for pk, v in versions.items() if v.stage == ModelVersion.Stage.PRODUCTION and v.slot == slot]
    order = sorted(by_version, key=lambda pk: (pk not in production, -len(by_version[pk]), pk))
    baseline = order[0] if order else None
    rules: set[str] = set()
    report = []
    for pk in order:
        conv = by_version[pk]
        n = len(conv)
        replied = sum(1 for r in conv if r[1])
        success = sum(1 for r in conv if r[2])
        latencies = [r[3] for r in conv if r[3] is not None]
        hits: Counter = Counter()
        for r in conv:
            for rule in {h.get("rule") for h in r[4] or []}:
                hits[rule] += 1
        rules |= set(hits)
        entry = {
            "version": versions[pk],
            "id": pk,
            "name": versions[pk].name,
            "stage": versions[pk].stage,
            "is_baseline": pk == baseline,
            "conversations": n,
            "response": _rate(replied, n),
            "success": _rate(success, n),
            "hits": {rule: {"k": k, "rate": k / n} for rule, k in sorted(hits.items())},
            "latency_p50": percentile(latencies, 50),
            "latency_p95": percentile(latencies, 95),
        }
        report.append(entry)
    base = report[0] if report else None
    for entry in report:
        for metric in ("response", "success"):
            if base is None or entry is base:
                entry[metric]["z"] = entry[metric]["p"] = None
                continue
            z, p = two_proportion_z(base[metric]["k"], base[metric]["n"], entry[metric]["k"], entry[metric]["n"])
            entry[metric]["z"], entry[metric]["p"] = z, p
        entry["hit_rates"] = [entry["hits"].get(rule, {"k": 0, "rate": 0.0}) for rule in sorted(rules)]
    return {"slot": slot, "versions": report, "rules": sorted(rules), "chart": _chart(by_version, versions, order)}


def _chart(by_version: dict[int, list], versions: dict, order: list[int]) -> dict[str, Any]:
    """Per day and version: response and success rates (for Chart.js)."""
    days = sorted({r[5].date().isoformat() for rows in by_version.values() for r in rows})
    series = []
    for pk in order:
        per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for r in by_version[pk]:
            cell = per_day[r[5].date().isoformat()]
            cell[0] += 1
            cell[1] += bool(r[1])
            cell[2] += bool(r[2])
        series.append(
            {
                "name": versions[pk].name,
                "response": [per_day[d][1] / per_day[d][0] if d in per_day else None for d in days],
                "success": [per_day[d][2] / per_day[d][0] if d in per_day else None for d in days],
            }
        )
    return {"days": days, "series": series}


def ab_report_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report without model rows (for the API)."""
    return {
        **report,
        "versions": [{k: v for k, v in entry.items() if k != "version"} for entry in report["versions"]],
    }
