"""A migration operation for models that move between apps with their tables kept.

The move itself is state-only (``SeparateDatabaseAndState``: the new app creates the model on the old
table, the old app deletes it, no row moves). What the database does hold under the old app label is the
models' content types; re-labelling them keeps their permissions (and so the role groups' grants) and the
admin's history attached instead of leaving stale rows behind.
"""

from django.db import migrations


def content_types_move(*, models: list[str], old: str, new: str) -> migrations.RunPython:
    """Re-label the content types of ``models`` (lower-case model names) from app ``old`` to ``new``.

    A no-op on a fresh database: content types are created after the migrations, under the new label.
    """

    def forwards(apps, schema_editor) -> None:
        _relabel(apps, models=models, source=old, target=new)

    def backwards(apps, schema_editor) -> None:
        _relabel(apps, models=models, source=new, target=old)

    return migrations.RunPython(forwards, backwards)


def _relabel(apps, *, models: list[str], source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in models:
        # A later ``migrate`` of the new app alone may have created the target already: keep that one.
        if not content_type.objects.filter(app_label=target, model=model).exists():
            content_type.objects.filter(app_label=source, model=model).update(app_label=target)
    content_type.objects.clear_cache()
