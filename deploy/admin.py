"""Read-only views of the gateway's rows: routes and guardrails change through the API's services
(audited), exchanges are a log."""

from django.contrib import admin

from deploy.gateway_models import GatewayExchange, SlotGuardrail, SlotRoute
from kernel.api_keys import ApiKey


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SlotRoute)
class SlotRouteAdmin(ReadOnly):
    list_display = ("slot", "version", "weight", "created_at")


@admin.register(SlotGuardrail)
class SlotGuardrailAdmin(ReadOnly):
    list_display = ("slot", "mode", "retries", "created_at")


@admin.register(GatewayExchange)
class GatewayExchangeAdmin(ReadOnly):
    list_display = ("at", "requested_model", "version", "hotel_id", "status", "latency_ms", "retries", "fallback")
    list_filter = ("status", "fallback", "guardrail_mode", "slot")
    search_fields = ("exchange_id", "hotel_id")


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnly):
    """Only hashes are stored: keys are created (and shown once) on the API keys page or by the command."""

    list_display = ("prefix", "name", "owner", "created_at", "expires_at", "revoked_at", "last_used_at")
    exclude = ("key_hash",)
