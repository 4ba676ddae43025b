"""Hostile judgment imports on PostgreSQL: refused by line number through the command, nothing written."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from evaluation.models import EvalItem, EvalSet, EvalSystem, Judgment

pytestmark = pytest.mark.django_db
GOOD = json.dumps({"eval_set": "s", "kind": "online", "dialogue": "d1", "system": "A", "rater": "r1", "rating": 4})


HOSTILE = {
    "NUL in the rater": (GOOD.replace('"r1"', '"r\\u0000"'), "NUL character"),
    "lone surrogate in the system": (GOOD.replace('"A"', '"A\\ud800"'), "lone surrogate"),
    "bidi control in the dialogue": (GOOD.replace('"d1"', '"d\\u202e1"'), "bidirectional control"),
    "5000-digit rating": (GOOD.replace('"rating": 4', '"rating": ' + "4" * 5000), "numbers may have at most 40"),
    "deep nesting": (GOOD.replace('"rating": 4', '"rating": ' + "[" * 100_000 + "]" * 100_000), "nested more"),
    "bare CR inside the line": (GOOD.replace(', "system"', ',\r "system"'), "carriage return"),
    "eval set name longer than its column": (GOOD.replace('"s"', json.dumps("s" * 201)), "the limit is 200"),
    "rater longer than its column": (GOOD.replace('"r1"', json.dumps("r" * 151)), "the limit is 150"),
    "invalid UTF-8": (GOOD.replace('"r1"', '"r\udcff"'), "invalid UTF-8"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_judgment_line_is_refused_by_number(tmp_path, capsys, name):
    assert connection.vendor == "postgresql"
    bad, expected = HOSTILE[name]
    path = tmp_path / "j.jsonl"
    second = GOOD.replace('"r1"', '"r2"')
    path.write_bytes(b"\n".join([second.encode(), bad.encode("utf-8", "surrogateescape"), b""]))
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_judgments", str(path))
    err = capsys.readouterr().err
    assert "line 2:" in err and expected in err, err
    assert "line 1:" not in err and "line 3:" not in err
    assert not (Judgment.objects.exists() or EvalSet.objects.exists() or EvalItem.objects.exists())
    assert not EvalSystem.objects.exists()
