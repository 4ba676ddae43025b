"""REST routes of the deploy app."""

urlpatterns: list = []
