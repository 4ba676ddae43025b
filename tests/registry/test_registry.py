"""The model registry: registering base models, and its pages (still under /deploy/)."""

import pytest
from django.urls import reverse

from registry.models import ModelVersion
from registry.services import DEFAULT_BASE_NAME, base_model_default_ensure, base_model_register

pytestmark = pytest.mark.django_db


def test_the_default_base_model_is_registered_once():
    first, again = base_model_default_ensure(), base_model_default_ensure()
    assert first.pk == again.pk and first.name == DEFAULT_BASE_NAME and first.method == "base"
    assert ModelVersion.objects.count() == 1


def test_pages_keep_their_paths_and_list_what_is_registered(client_for, tmp_path):
    path = tmp_path / "qwen3-32b"
    path.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (path / name).write_text("{}")
    model = base_model_register(name="qwen-32b", path=str(path), description="shared storage")
    client = client_for("ml_engineer")
    assert reverse("registry:model_list") == "/deploy/"
    assert reverse("registry:model_detail", args=[model.pk]) == f"/deploy/models/{model.pk}/"
    assert "qwen-32b" in client.get("/deploy/").content.decode()
    assert str(path) in client.get(f"/deploy/models/{model.pk}/").content.decode()
    assert client_for("evaluator").get("/deploy/").status_code == 403
