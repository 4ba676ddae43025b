"""API schema and docs: published to every logged-in user (never public)."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotation.services.exports import export_kind_choices
from kernel.roles import EVERYONE, HasRole


class SchemaView(SpectacularAPIView):
    permission_classes = [HasRole]
    required_roles = EVERYONE


class SchemaDocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its script served from a URL rather than inline, and without the inline style of
    drf-spectacular's template: the page satisfies the Content-Security-Policy (kernel/security.py)."""

    permission_classes = [HasRole]
    required_roles = EVERYONE
    template_name = "parley/swagger_ui.html"


def snapshot_kind_choices() -> list[tuple[str, str]]:
    return export_kind_choices()


# The dataset snapshot's ``kind`` enum gets a name of its own in the schema (settings' ENUM_NAME_OVERRIDES).
SNAPSHOT_KIND_CHOICES = snapshot_kind_choices()
