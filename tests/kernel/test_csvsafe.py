"""CSV exports never hand a spreadsheet a formula: one helper writes every CSV (kernel/csvsafe.py)."""

import csv
import io
import re
from pathlib import Path

import pytest

from evaluation.services.exports import JUDGMENT_FIELDS, _csv
from kernel.csvsafe import csv_cell, csv_text

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_cells_get_an_apostrophe(value):
    assert csv_cell(value) == "'" + value


def test_numbers_and_plain_text_are_untouched():
    assert csv_cell(-0.5) == -0.5 and csv_cell(3) == 3 and csv_cell("hello = world") == "hello = world"
    assert csv_cell({"a": "=1"}) == '{"a": "=1"}'
    assert csv_cell(["=1"]).startswith("[")


def test_evaluation_csv_export_escapes_hostile_cells():
    field = JUDGMENT_FIELDS[-1]
    text = _csv([{field: value} for value in HOSTILE], JUDGMENT_FIELDS)
    cells = [row[field] for row in csv.DictReader(io.StringIO(text))]
    assert cells == ["'" + v for v in HOSTILE]
    assert csv_text([{"a": "=1", "b": 2}], ["a"]) == "a\r\n'=1\r\n"


def test_every_csv_writer_goes_through_the_helper():
    writers = re.compile(r"csv\.(writer|DictWriter)\(")
    offenders = [
        str(p.relative_to(ROOT))
        for p in ROOT.glob("*/**/*.py")
        if not {".venv", "node_modules", "tests", "var"} & set(p.relative_to(ROOT).parts)
        and writers.search(p.read_text(encoding="utf-8", errors="replace"))
    ]
    assert offenders == ["kernel/csvsafe.py"]
