"""Import and export pages."""

urlpatterns: list = []
