"""REST routes of the annotation app."""

urlpatterns: list = []
