"""Dataset export: the round trip from the generator through the database, filters, sidecar, the page."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from annotation.models import BadCase, PreferencePair
from annotation.services.demo import demo_world_seed
from annotation.services.exports import KINDS, ExportFilters, dataset_export
from engine.demo import generate_world
from engine.demo.datasets import kto_rows, preference_rows, prompt_rows, sft_rows
from engine.vocab import PROVENANCES

N = 40
WORLD = generate_world(seed=0, n_dialogues=N)
EXPECTED = {
    "preference": preference_rows(WORLD),
    "preference-implicit": preference_rows(WORLD, implicit=True),
    "kto": kto_rows(WORLD),
    "sft": sft_rows(WORLD),
    "prompts": prompt_rows(WORLD),
}
COLUMNS = {
    "preference": {"prompt", "chosen", "rejected", "margin"},
    "preference-implicit": {"chosen", "rejected", "margin"},
    "kto": {"prompt", "completion", "label"},
    "sft": {"prompt", "completion"},
    "prompts": {"prompt", "task", "stage"},
}


@pytest.fixture
def project(db):
    return demo_world_seed(scale=N, seed=0, password="x").project


def _export(kind: str, **filters) -> tuple[list[dict], list[dict], object]:
    out, sidecar = io.StringIO(), io.StringIO()
    stats = dataset_export(kind=kind, filters=filters, out=out, sidecar=sidecar)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    meta = [json.loads(line) for line in sidecar.getvalue().splitlines()]
    return rows, meta, stats


def _canonical(rows: list[dict]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_generator_import_export_gives_the_same_rows(project, kind):
    rows, meta, stats = _export(kind)
    assert stats.rows == len(rows) == len(EXPECTED[kind]) > 0
    assert _canonical(rows) == _canonical(EXPECTED[kind])
    assert all(set(r) == COLUMNS[kind] for r in rows)  # training columns only
    assert [m["row"] for m in meta] == list(range(len(rows)))  # the sidecar joins by row number


@pytest.mark.parametrize("kind", KINDS)
def test_each_line_is_exactly_json_dumps_of_its_row(project, kind):
    """Prompts are encoded once per dialogue and spliced in: the bytes must not differ from json.dumps."""
    out = io.StringIO()
    dataset_export(kind=kind, filters=None, out=out)
    for line in out.getvalue().splitlines():
        assert line == json.dumps(json.loads(line), ensure_ascii=False)


def test_sidecar_carries_provenance(project):
    rows, meta, stats = _export("preference")
    first = meta[0]
    pair = PreferencePair.objects.select_related("chosen").get(pk=first["pair_id"])
    assert rows[0]["chosen"][0]["content"] == pair.chosen.text
    assert first["provenance"] == pair.provenance and first["sop_version"] == 1 and first["guideline_version"] == 1
    assert {m["provenance"] for m in meta} == set(PROVENANCES) == set(stats.counts)
    assert {m["annotator"] for m in meta} == {None, "language", "bd"}


def test_filters(project):
    rows, meta, _ = _export("preference", provenance=["bd_expert", "sop_path"])
    assert rows and {m["provenance"] for m in meta} == {"bd_expert", "sop_path"}
    assert _export("preference", reviewed_only=True)[2].rows == 0
    PreferencePair.objects.filter(provenance="production").update(reviewed=True)
    reviewed = _export("preference", reviewed_only=True)[1]
    assert reviewed and {m["provenance"] for m in reviewed} == {"production"}
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    assert _export("preference", date_from=tomorrow.isoformat())[2].rows == 0
    assert _export("prompts", date_to=tomorrow)[2].rows == len(EXPECTED["prompts"])
    assert _export("kto", project="another project")[2].rows == 0
    assert _export("sft", project=project.pk)[2].rows == len(EXPECTED["sft"])
    BadCase.objects.update(status=BadCase.Status.OPEN, gold_reply="")
    assert _export("sft", reviewed_only=True)[2].rows == sum(len(d["excellent_turns"]) for d in WORLD["dialogues"])


def test_ids_pick_a_selection(project):
    ids = list(PreferencePair.objects.order_by("id").values_list("id", flat=True)[:3])
    _, meta, _ = _export("preference", ids=ids, selection="preferencepair")
    assert [m["pair_id"] for m in meta] == ids
    bad = list(BadCase.objects.exclude(gold_reply="").values_list("id", flat=True)[:2])
    _, meta, _ = _export("sft", ids=bad, selection="badcase")  # excellent turns are not part of the selection
    assert sorted(m["bad_case_id"] for m in meta) == sorted(bad)


def test_admin_action_downloads_the_selection(project, client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    ids = list(PreferencePair.objects.order_by("id").values_list("id", flat=True)[:4])
    url = reverse("admin:annotation_preferencepair_changelist")
    response = client.post(url, {"action": "export_preference", "_selected_action": ids})
    assert response.status_code == 200 and response.streaming
    assert len(b"".join(response.streaming_content).splitlines()) == 4


def test_filters_round_trip_through_a_dict():
    filters = ExportFilters(
        project=3, provenance=("bd_expert",), date_from=dt.date(2026, 1, 2), ids=(4,), selection="badcase"
    )
    assert ExportFilters.coerce(filters.to_dict()) == filters


def test_export_command_writes_file_and_sidecar(project, tmp_path, capsys):
    out = tmp_path / "prefs.jsonl"
    call_command("export_dataset", kind="preference", out=str(out), provenance=["language_expert"])
    lines = out.read_text(encoding="utf-8").splitlines()
    sidecar = (tmp_path / "prefs.provenance.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines and len(lines) == len(sidecar)
    assert f"{len(lines)} preference rows" in capsys.readouterr().out


def test_download_page_streams_the_file_and_the_sidecar(project, client_for):
    client = client_for("ml_engineer")
    url = reverse("annotation:data_export")
    assert client.get(url).status_code == 200
    response = client.get(url, {"download": "1", "kind": "kto", "project": project.pk})
    assert response.status_code == 200 and response.streaming
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    assert _canonical([json.loads(x) for x in body.splitlines()]) == _canonical(EXPECTED["kto"])
    side = client.get(url, {"download": "1", "kind": "kto", "part": "sidecar"})
    assert b'"row": 0' in b"".join(side.streaming_content)


def test_download_page_rejects_bad_input_and_other_roles(project, client_for):
    url = reverse("annotation:data_export")
    assert Client().get(url).status_code == 302  # to the login page
    assert client_for("admin").get(url, {"download": "1", "kind": "everything"}).status_code == 400
    assert client_for("admin").get(url, {"download": "1", "kind": "sft", "date_from": "soon"}).status_code == 400
    assert client_for("bd_expert").get(url).status_code == 403


def test_the_loader_builds_the_same_case_as_the_model(project):
    from annotation.models import Dialogue
    from annotation.services.export_rows import DialogueLoader

    heads = Dialogue.objects.values_list("id", "external_id", "source", "case_id", "sop_id")
    contexts = DialogueLoader().load(heads)
    for dialogue in Dialogue.objects.select_related("case").prefetch_related("case__tickets"):
        assert contexts[dialogue.id].case == dialogue.case.to_task()
