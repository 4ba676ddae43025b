"""REST routes of the evaluation app."""

urlpatterns: list = []
