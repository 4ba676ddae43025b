"""The append-only history of who changed what. Rows are never updated or deleted: the model refuses,
and on PostgreSQL a trigger refuses too (``annotation/migrations/0002_audit_append_only.py`` created it
when the log lived in annotation; the table kept its name when it moved here, so the trigger still holds)."""

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    pass


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", "Create"
        CHANGE = "change", "Change"
        REVIEW = "review", "Review"
        DELETE = "delete", "Delete"
        IMPORT = "import", "Import"
        EXPORT = "export", "Export"

    # PROTECT: a user with history is deactivated, never deleted (the trigger refuses the SET NULL anyway).
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        db_table = "annotation_auditevent"
        indexes = [models.Index(fields=["object_type", "object_id", "at"])]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")


from kernel.api_keys import ApiKey  # noqa: E402  (the API keys' model lives beside its services)

__all__ = ["ApiKey", "AppendOnlyError", "AuditEvent"]
