"""The report's columns are defined once (``evaluation.columns``): the report rows, the page's table and
charts, the comparison's metrics, the CSV header and ``eval_report`` all follow them."""

import csv
import io
import json
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from engine.vocab import FIX_STATUSES, SKILLS
from evaluation import columns
from evaluation.models import EvalSet
from evaluation.selectors.reports import eval_report, metric_keys
from evaluation.services.judgment_import import judgments_import
from tests.evaluation.test_import import bad_case_lines, online_lines

pytestmark = pytest.mark.django_db
LINES = {"online": online_lines, "bad_case": bad_case_lines}


def test_the_columns_are_consistent_with_the_vocabulary():
    assert {s for c in columns.HEADLINE for s in c.statuses} == set(FIX_STATUSES)
    assert set(columns.STATUS_RATES["fix_rate"]) == {"clean", "minor_issues", "major_issues"}
    assert [c.name for c in columns.SKILL_COLUMNS] == list(SKILLS)
    assert all(columns.headline(kind) for kind in columns.BOTH)
    keys = [c.key for c in (*columns.HEADLINE, *columns.SKILL_COLUMNS, *columns.PRESCORE_COLUMNS)]
    assert len(keys) == len(set(keys))


@pytest.fixture(params=["online", "bad_case"])
def eval_set(request):
    judgments_import(lines=[json.dumps(r) for r in LINES[request.param]("REPO")])
    return EvalSet.objects.get()


def test_report_rows_hold_every_column_of_their_kind(eval_set):
    row = eval_report(eval_set=eval_set)["systems"]["REPO"]
    for column in (*columns.headline(eval_set.kind), *columns.SKILL_COLUMNS):
        assert column.name in (row[column.within] if column.within else row), column.key
    assert all(column.value(row) is not None for column in columns.headline(eval_set.kind))
    assert metric_keys(eval_set=eval_set) == columns.comparison_keys(eval_set.kind)


def test_the_page_the_csv_and_the_command_show_the_columns(eval_set, client_for):
    client = client_for("reviewer")
    page = client.get(reverse("evaluation:eval_report", args=[eval_set.pk])).content.decode()
    headers = re.findall(r"<th>([^<]*)</th>", page.split('<table class="report">')[1].split("</tr>")[0])
    assert headers == [
        "system",
        "model version",
        "n",
        "pending",
        *(c.label for c in columns.table_columns(eval_set.kind)),
    ]
    chart = json.loads(re.search(r'id="chart-data" type="application/json">(.*?)</script>', page).group(1))
    assert len(chart["labels"]) == len(columns.headline(eval_set.kind))
    assert chart["percent"] == (eval_set.kind == "bad_case")  # the online chart holds the 1–5 rating
    body = client.get(reverse("evaluation:eval_report_download", args=[eval_set.pk, "csv"])).content.decode()
    assert tuple(next(csv.reader(io.StringIO(body)))) == columns.CSV_FIELDS
    out = io.StringIO()
    call_command("eval_report", "--eval-set", eval_set.name, stdout=out)
    header = out.getvalue().splitlines()[1].split("\t")
    assert header == ["system", "n", *(c.key for c in columns.headline(eval_set.kind)), "pending"]
