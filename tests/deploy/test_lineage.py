"""Lineage both ways: version → job → snapshots → pairs, bad cases, excellent turns, annotators (and the rows
later rejected in review); bad case → the version that produced it, trained on it and fixed it."""

import json

import pytest

from annotation.models import BadCase, ExcellentTurn, PreferencePair
from registry.services import version_register
from tests.annotation.factories import make_dialogue, make_world
from training_jobs.models import DatasetSnapshot, TrainingJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree(role_users, tmp_path):
    base = version_register(name="tiny", kind="base", base_model="/m/tiny", method="base")
    old = version_register(name="old", kind="policy", base_model="/m/tiny", base=base, method="sft")
    dialogue = make_dialogue(make_world())
    a, b = dialogue.candidates.order_by("pk")
    kept = PreferencePair.objects.create(
        dialogue=dialogue,
        turn=3,
        chosen=a,
        rejected=b,
        provenance="language_expert",
        annotator=role_users["language_expert"],
    )
    rejected = PreferencePair.objects.create(
        dialogue=dialogue, turn=3, chosen=b, rejected=a, provenance="bd_expert", annotator=role_users["bd_expert"]
    )
    bad = BadCase.objects.create(
        dialogue=dialogue,
        turn=3,
        model_reply="Our target is 690.",
        model_version=old,
        category="internal_term_leak",
        created_by=role_users["reviewer"],
    )
    excellent = ExcellentTurn.objects.create(dialogue=dialogue, turn=1, flagged_by=role_users["admin"])
    sidecar = tmp_path / "sidecar.jsonl"
    rows = [
        {"pair_id": kept.pk},
        {"pair_id": rejected.pk},
        {"bad_case_id": bad.pk},
        {"excellent_turn_id": excellent.pk},
    ]
    sidecar.write_text("".join(json.dumps({"row": i, **r}) + "\n" for i, r in enumerate(rows)))
    snap = DatasetSnapshot.objects.create(
        name="prefs",
        kind="preference",
        path=str(tmp_path / "data.jsonl"),
        sidecar_path=str(sidecar),
        sha256="ab" * 32,
        row_count=4,
    )
    snap.pairs.add(kept, rejected)
    snap.bad_cases.add(bad)
    job = TrainingJob.objects.create(name="repo-1", method="repo", base_model=base)
    job.snapshots.add(snap)
    new = version_register(name="new", kind="policy", base_model="/m/tiny", base=base, method="repo")
    job.output_model = new
    job.save(update_fields=["output_model"])
    bad.fixed_in = new
    bad.save(update_fields=["fixed_in"])
    return {
        "base": base,
        "old": old,
        "new": new,
        "job": job,
        "bad": bad,
        "kept": kept,
        "rejected": rejected,
        "excellent": excellent,
    }


def test_down_from_a_version_through_the_api(tree, api):
    data = api.get(f"/api/deploy/versions/{tree['new'].pk}/lineage/").json()
    assert data["base"]["name"] == "tiny" and data["jobs"][0]["id"] == tree["job"].pk
    snap = data["snapshots"][0]
    assert snap["pairs"] == sorted([tree["kept"].pk, tree["rejected"].pk])
    assert snap["bad_cases"] == [tree["bad"].pk] and snap["excellent_turns"] == [tree["excellent"].pk]
    assert data["annotators"] == ["u_admin", "u_bd_expert", "u_language_expert", "u_reviewer"]
    assert data["rejected_later"] == 0 and data["bad_cases_fixed"][0]["id"] == tree["bad"].pk
    base = api.get(f"/api/deploy/versions/{tree['base'].pk}/lineage/").json()
    assert [v["name"] for v in base["derived"]] == ["old", "new"]


def test_a_version_whose_snapshot_rows_were_rejected_later_says_so(tree, api, client_for):
    tree["rejected"].delete()  # a reviewer's reject deletes the pair
    data = api.get(f"/api/deploy/versions/{tree['new'].pk}/lineage/").json()
    assert data["rejected_later"] == 1 and data["snapshots"][0]["rejected_later"] == {"pairs": 1, "bad_cases": 0}
    note = "1 row(s) of the snapshots this version was trained on were later rejected in review."
    assert data["rejected_note"] == note
    page = client_for("ml_engineer").get(f"/deploy/versions/{tree['new'].pk}/lineage/").content.decode()
    assert note in page and "job #" in page and "u_language_expert" in page


def test_up_from_a_bad_case_to_the_version_that_fixed_it(tree, api, client_for):
    data = api.get(f"/api/deploy/bad-cases/{tree['bad'].pk}/lineage/").json()
    assert data["produced_by"]["name"] == "old" and data["fixed_in"]["name"] == "new"
    assert [v["name"] for v in data["trained_into"]] == ["new"] and data["snapshots"][0]["name"] == "prefs"
    page = client_for("ml_engineer").get(f"/deploy/bad-cases/{tree['bad'].pk}/lineage/").content.decode()
    assert f'href="/deploy/models/{tree["new"].pk}/">new</a>' in page
    version_page = client_for("ml_engineer").get(f"/deploy/models/{tree['new'].pk}/").content.decode()
    assert f"/deploy/versions/{tree['new'].pk}/lineage/" in version_page and "tiny</a>" in version_page


def test_annotators_and_evaluators_cannot_read_lineage(tree, client_for):
    for role in ("language_expert", "bd_expert", "reviewer", "evaluator"):
        client = client_for(role)
        assert client.get(f"/deploy/versions/{tree['new'].pk}/lineage/").status_code == 403
        assert client.get(f"/api/deploy/versions/{tree['new'].pk}/lineage/").status_code == 403
        assert client.get(f"/api/deploy/bad-cases/{tree['bad'].pk}/lineage/").status_code == 403
