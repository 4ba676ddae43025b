"""Pages of the deploy app (deployments and the gateway land here; the model pages are the registry's)."""

app_name = "deploy"
urlpatterns: list = []
