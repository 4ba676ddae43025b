"""The one way Parley writes CSV: cells a spreadsheet would run as a formula are defused.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``@SUM(...)``, DDE); an imported dialogue or a note
can contain one. Such a cell gets a leading apostrophe (OWASP's advice: the spreadsheet shows the text,
runs nothing). Numbers stay numbers (``-0.5`` written from a float is not text); dicts and lists are
written as JSON, then escaped like any text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell that no spreadsheet runs."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[dict], fields: Iterable[str]) -> str:
    """A CSV document: a header of ``fields``, then one line per row (other keys ignored)."""
    fields = tuple(fields)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items() if k in fields})
    return out.getvalue()
