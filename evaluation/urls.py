"""Pages of the evaluation app."""

app_name = "evaluation"
urlpatterns: list = []
