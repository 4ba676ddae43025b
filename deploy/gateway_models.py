"""The gateway's rows: how a slot routes (weights between versions), its guardrail policy, and the log of
every exchange. Written by ``deploy.gateway`` (exchanges, write-behind) and the admin / services (routes,
guardrails)."""

from django.db import models
from django.db.models import Q


class SlotRoute(models.Model):
    """One version's share of a slot's traffic (A/B). A slot without routes goes to its production version."""

    slot = models.CharField(max_length=100, db_index=True)
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.CASCADE, related_name="routes")
    weight = models.FloatField(help_text="Relative share of the slot's hotels (any non-negative number).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["slot", "version"], name="slotroute_unique"),
            models.CheckConstraint(condition=Q(weight__gte=0), name="slotroute_weight"),
        ]
        ordering = ["slot", "version_id"]

    def __str__(self) -> str:
        return f"{self.slot} → {self.version_id} ({self.weight:g})"


class SlotGuardrail(models.Model):
    """What the gateway does when a reply breaks a rule (engine/rewards/rules), per slot."""

    class Mode(models.TextChoices):
        FLAG = "flag", "Flag (log only)"
        REGENERATE = "regenerate", "Regenerate, then fall back"
        FALLBACK = "fallback", "Fall back to the safe reply"

    slot = models.CharField(max_length=100, unique=True)
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.REGENERATE)
    retries = models.PositiveSmallIntegerField(default=2, help_text="Regenerations before the fallback (K).")
    rules = models.JSONField(
        default=list, blank=True, help_text="Rule ids that trigger it (empty: every rule of the default set)."
    )
    fallback_reply = models.TextField(
        blank=True, help_text="The safe reply; {hotel} is the hotel's name. Empty: the built-in one."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"guardrail {self.slot}: {self.mode}"


class GatewayExchange(models.Model):
    """One request to ``/v1/chat/completions`` and what was answered (written behind the response)."""

    exchange_id = models.CharField(max_length=64, unique=True)
    key = models.ForeignKey("kernel.ApiKey", null=True, on_delete=models.SET_NULL, related_name="+")
    requested_model = models.CharField(max_length=200)
    slot = models.CharField(max_length=100, blank=True, db_index=True)
    version = models.ForeignKey("registry.ModelVersion", null=True, on_delete=models.PROTECT, related_name="+")
    hotel_id = models.CharField(max_length=200, blank=True)
    case = models.ForeignKey("annotation.NegotiationCase", null=True, on_delete=models.SET_NULL, related_name="+")
    request = models.JSONField(help_text="The request body as received (messages, case, sampling).")
    reply = models.TextField(blank=True)
    status = models.PositiveSmallIntegerField(default=200)
    error = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True)
    stream = models.BooleanField(default=False)
    guardrail_mode = models.CharField(max_length=20, blank=True)
    verdicts = models.JSONField(default=list, blank=True, help_text='[{"attempt", "rule", "evidence"}]')
    retries = models.PositiveSmallIntegerField(default=0)
    fallback = models.BooleanField(default=False)
    conversation = models.OneToOneField(
        "deploy.ProductionConversation", null=True, on_delete=models.SET_NULL, related_name="exchange"
    )
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.exchange_id
