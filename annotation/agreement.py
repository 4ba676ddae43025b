"""Inter-annotator agreement: Krippendorff's alpha, Cohen's kappa, Fleiss' kappa.

Small pure functions over plain Python lists (no Django, no numpy) so that the evaluation app, the
dashboards and the tests share one definition. Each is checked against a reference implementation in
``tests/annotation/test_agreement.py`` (``krippendorff``, scikit-learn, statsmodels).

An undefined coefficient (no pairable values, or no variation to disagree about) is ``nan``, never an
exception: a dashboard shows "—" for a queue with one answer instead of failing.
"""

import math
from collections import Counter
from collections.abc import Hashable, Sequence

LEVELS = ("nominal", "ordinal", "interval", "ratio")
WEIGHTS = (None, "linear", "quadratic")


def _delta_squared(level: str, c, k, n_v: dict, ordered: list) -> float:
    """The squared difference δ²(c, k) of Krippendorff (2011), section "Distance functions"."""
    if c == k:
        return 0.0
    if level == "nominal":
        return 1.0
    if level == "interval":
        return float(c - k) ** 2
    if level == "ratio":
        return ((c - k) / (c + k)) ** 2
    # ordinal: (Σ_{g=c..k} n_g − (n_c + n_k)/2)², over the ordered values between c and k inclusive.
    lo, hi = sorted((ordered.index(c), ordered.index(k)))
    between = sum(n_v[g] for g in ordered[lo : hi + 1])
    return (between - (n_v[c] + n_v[k]) / 2) ** 2


def _coincidences(reliability_data: Sequence[Sequence]) -> Counter:
    """o_ck = Σ_u (number of c–k pairs in unit u) / (m_u − 1), over units with m_u ≥ 2 pairable values."""
    n_units = max((len(row) for row in reliability_data), default=0)
    o: Counter = Counter()
    for u in range(n_units):
        values = [row[u] for row in reliability_data if u < len(row) and row[u] is not None]
        m_u = len(values)
        if m_u < 2:
            continue
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    o[(c, k)] += 1.0 / (m_u - 1)
    return o


def krippendorff_alpha(reliability_data: Sequence[Sequence[Hashable | None]], level: str = "nominal") -> float:
    """Krippendorff's alpha: α = 1 − D_o / D_e = 1 − (n − 1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck.

    Krippendorff, K. (2011). "Computing Krippendorff's Alpha-Reliability". Annenberg School for
    Communication, University of Pennsylvania. Rows are raters, columns are units, ``None`` is a
    missing value; ``level`` picks δ² (nominal for categories and A/B choices, ordinal or interval
    for 1–5 ratings, ratio for positive magnitudes).

    >>> data = [[None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
    ...         [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
    ...         [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4]]
    >>> round(krippendorff_alpha(data, "nominal"), 6)
    0.691358
    >>> round(krippendorff_alpha(data, "interval"), 6)
    0.810845
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    o = _coincidences(reliability_data)
    n_v: Counter = Counter()
    for (c, _k), weight in o.items():
        n_v[c] += weight
    n = sum(n_v.values())
    ordered = sorted(n_v) if level != "nominal" else list(n_v)
    observed = sum(w * _delta_squared(level, c, k, n_v, ordered) for (c, k), w in o.items())
    expected = sum(n_v[c] * n_v[k] * _delta_squared(level, c, k, n_v, ordered) for c in n_v for k in n_v)
    if n <= 1 or expected == 0:
        return math.nan
    return 1.0 - (n - 1) * observed / expected


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable], weights: str | None = None) -> float:
    """Cohen's kappa for two raters: κ = 1 − Σ w_ij O_ij / Σ w_ij E_ij.

    Cohen, J. (1960). "A coefficient of agreement for nominal scales". Educational and Psychological
    Measurement 20(1). Weighted form: Cohen, J. (1968). "Weighted kappa". Psychological Bulletin 70(4).
    Categories are the sorted union of both raters' labels; ``weights`` "linear" uses |i − j| and
    "quadratic" (i − j)² over their positions (as scikit-learn's ``cohen_kappa_score``).

    >>> round(cohen_kappa(["a", "a", "b", "b"], ["a", "b", "b", "b"]), 4)
    0.5
    >>> round(cohen_kappa([1, 2, 3, 4], [1, 2, 4, 4], weights="quadratic"), 4)
    0.9167
    """
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, not {weights!r}")
    if len(a) != len(b):
        raise ValueError("both raters must label the same units")
    if not a:
        return math.nan
    labels = sorted(set(a) | set(b))
    pos = {label: i for i, label in enumerate(labels)}
    n = len(a)
    observed = Counter((pos[x], pos[y]) for x, y in zip(a, b, strict=True))
    row, col = Counter(pos[x] for x in a), Counter(pos[y] for y in b)

    def w(i: int, j: int) -> float:
        if weights is None:
            return 0.0 if i == j else 1.0
        return float(abs(i - j)) if weights == "linear" else float((i - j) ** 2)

    disagree_o = sum(w(i, j) * count / n for (i, j), count in observed.items())
    disagree_e = sum(w(i, j) * row[i] * col[j] / n**2 for i in row for j in col)
    if disagree_e == 0:
        return math.nan
    return 1.0 - disagree_o / disagree_e


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa for many raters: κ = (P̄ − P̄_e) / (1 − P̄_e).

    Fleiss, J. L. (1971). "Measuring nominal scale agreement among many raters". Psychological
    Bulletin 76(5). ``table`` is units × categories with the number of raters who put each unit in each
    category; every unit must have the same number of raters n ≥ 2.

    >>> round(fleiss_kappa([[3, 0], [0, 3], [2, 1], [3, 0]]), 4)
    0.625
    """
    if not table:
        return math.nan
    n = sum(table[0])
    if n < 2 or any(sum(row) != n for row in table):
        raise ValueError("every unit needs the same number of raters (at least two)")
    units = len(table)
    p_bar = sum((sum(x * x for x in row) - n) / (n * (n - 1)) for row in table) / units
    p_j = [sum(row[j] for row in table) / (units * n) for j in range(len(table[0]))]
    p_e = sum(p * p for p in p_j)
    if p_e == 1:
        return math.nan
    return (p_bar - p_e) / (1 - p_e)
