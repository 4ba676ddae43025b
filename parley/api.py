"""API schema and docs: published to every logged-in user (never public)."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from kernel.roles import EVERYONE, HasRole


class SchemaView(SpectacularAPIView):
    permission_classes = [HasRole]
    required_roles = EVERYONE


class SchemaDocsView(SpectacularSwaggerView):
    permission_classes = [HasRole]
    required_roles = EVERYONE
