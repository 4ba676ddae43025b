"""Pages of the deploy app."""

app_name = "deploy"
urlpatterns: list = []
