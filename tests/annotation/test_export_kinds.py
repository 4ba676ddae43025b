"""The export-kind registry (``annotation.services.exports.EXPORT_KINDS``): every list of kinds derives from
it, each kind exports and freezes into a snapshot through it, and a new entry needs no other file."""

import io
import json
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from annotation.forms_data import ExportForm
from annotation.models import BadCase, Dialogue, ExcellentTurn, PreferencePair
from annotation.services import export_rows, exports
from annotation.services.demo import demo_world_seed
from annotation.services.exports import EXPORT_KINDS, KINDS, ExportKind, export_kind, export_kind_choices
from training_jobs.models import DatasetSnapshot, Method
from training_jobs.services import snapshots
from training_jobs.services.engine_config import METHOD_SNAPSHOT_KINDS
from training_jobs.views.jobs_forms import SnapshotForm


def test_every_list_of_kinds_is_the_registry():
    names = [k.name for k in EXPORT_KINDS]
    assert list(KINDS) == names == ["preference", "preference-implicit", "kto", "sft", "prompts"]
    assert export_kind_choices() == [(k.name, k.label) for k in EXPORT_KINDS]
    assert list(DatasetSnapshot._meta.get_field("kind").choices) == export_kind_choices()
    assert list(SnapshotForm().fields["kind"].choices) == export_kind_choices()
    assert list(ExportForm().fields["kind"].choices) == export_kind_choices()
    with pytest.raises(ValueError, match="Unknown export kind 'csv'"):
        export_kind("csv")


def test_each_method_trains_on_the_kinds_that_name_it():
    assert {t for k in EXPORT_KINDS for t in k.trainers} <= set(Method.values)
    assert METHOD_SNAPSHOT_KINDS == {
        "rm": ("preference", "preference-implicit"),
        "sft": ("sft",),
        "dpo": ("preference", "preference-implicit"),
        "ppo": ("prompts",),
        "grpo": ("prompts",),
        "repo": ("prompts",),
    }


def test_the_admin_offers_each_kind_on_the_models_it_names(rf, django_user_model, db):
    request = rf.get("/")
    request.user = django_user_model(is_superuser=True, is_staff=True)
    models = {"preferencepair": PreferencePair, "badcase": BadCase, "excellentturn": ExcellentTurn}
    models["dialogue"] = Dialogue
    for name, model in models.items():
        offered = {a for a in admin.site._registry[model].get_actions(request) if a.startswith("export_")}
        expected = {f"export_{k.name.replace('-', '_')}" for k in EXPORT_KINDS if name in k.admin_models}
        assert offered == expected, name


@pytest.fixture
def demo(db):
    return demo_world_seed(scale=8, seed=0, password="x")


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_exports_and_freezes_through_the_registry(demo, kind):
    out = io.StringIO()
    stats = exports.dataset_export(kind=kind, filters=None, out=out)
    assert stats.rows == len(out.getvalue().splitlines()) > 0
    snapshot = snapshots.snapshot_create(name=f"{kind} v1", kind=kind)
    assert snapshot.kind == kind and snapshot.row_count == stats.rows
    assert Path(snapshot.path).read_text(encoding="utf-8") == out.getvalue()  # byte for byte the export


def test_the_export_page_and_the_command_list_every_kind(client_for, tmp_path, demo):
    page = client_for("ml_engineer").get(reverse("annotation:data_export")).content.decode()
    assert all(f"<dt>{k.name}</dt>" in page for k in EXPORT_KINDS)
    call_command("export_dataset", kind="kto", out=str(tmp_path / "kto.jsonl"), stdout=io.StringIO())
    assert (tmp_path / "kto.jsonl").read_text().count("\n") > 0


# -- a new kind: one entry --------------------------------------------------------------------------------
EXCELLENT_SFT = ExportKind(
    name="excellent-sft",
    label="Excellent replies only (SFT)",
    rows=lambda f: export_rows.sft_rows(exports._excellent(f), BadCase.objects.none()),
    description="excellent turns as prompt-completion rows",
    trl_format="prompt-completion (SFTTrainer)",
    trainers=("sft",),
)


def test_a_new_entry_reaches_the_form_the_export_and_the_snapshots(demo, monkeypatch, client_for):
    monkeypatch.setattr(exports, "EXPORT_KINDS", (*EXPORT_KINDS, EXCELLENT_SFT))
    assert ("excellent-sft", "Excellent replies only (SFT)") in ExportForm().fields["kind"].choices
    snapshot = snapshots.snapshot_create(name="excellent", kind="excellent-sft")
    rows = [json.loads(line) for line in open(snapshot.path, encoding="utf-8")]
    assert len(rows) == ExcellentTurn.objects.count() > 0 and set(rows[0]) == {"prompt", "completion"}
    response = client_for("ml_engineer").get(
        reverse("annotation:data_export"), {"kind": "excellent-sft", "download": 1}
    )
    assert response.status_code == 200 and len(b"".join(response.streaming_content).splitlines()) == len(rows)
