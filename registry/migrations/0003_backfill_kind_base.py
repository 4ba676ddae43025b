"""Backfill the new fields from what the rows already said: ``kind`` from ``method`` (base → base, rm →
reward model, anything else → policy) and the ``base`` foreign key from the base path string (the
registered base version with that path; the lineage's base id first when it names one). The path
string stays beside the key."""

from django.db import migrations


def backfill(apps, schema_editor):
    ModelVersion = apps.get_model("registry", "ModelVersion")
    for version in ModelVersion.objects.all():
        version.kind = {"base": "base", "rm": "reward_model"}.get(version.method, "policy")
        version.save(update_fields=["kind"])
    bases = {v.pk: v for v in ModelVersion.objects.filter(kind="base")}
    by_path = {}
    for base in sorted(bases.values(), key=lambda v: v.pk):
        by_path.setdefault(base.base_model, base)
    for version in ModelVersion.objects.exclude(kind="base"):
        named = ((version.lineage or {}).get("base_model") or {}).get("id")
        base = bases.get(named) or by_path.get(version.base_model)
        if base is not None:
            version.base_id = base.pk
            version.save(update_fields=["base"])


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_kind_stage_base")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
