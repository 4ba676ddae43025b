"""Merging an adapter into full weights: the engine command on the tiny model, and the job that runs it
through the launcher and registers the result as a new (base) version."""

import subprocess
import sys

import pytest
from django.db import transaction

from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from kernel.status import Status
from registry.merge import NO_ADAPTER, merge_execute, merge_request
from registry.models import MergeJob, ModelVersion
from registry.services import loadable_model_missing, version_register


def _random_adapter(tiny_model, out):
    """A LoRA adapter with random (non-identity) weights, so the merge visibly changes the model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    config = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(out)
    return out


def test_the_engine_refuses_a_missing_adapter_with_one_line(tiny_model, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "merge", "--base", str(tiny_model), "--adapter", str(tmp_path / "none"),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "no adapter_config.json" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.django_db(transaction=True)
def test_a_merge_job_on_the_tiny_model_registers_a_loadable_base(tiny_model, tmp_path, settings, role_users):
    import torch
    from safetensors.torch import load_file

    settings.ARTIFACTS_ROOT = tmp_path / "artifacts"
    adapter = _random_adapter(tiny_model, tmp_path / "adapter")
    base = version_register(name="tiny", kind="base", base_model=str(tiny_model), method="base")
    policy = version_register(
        name="sft-1", kind="policy", base_model=str(tiny_model), base=base, adapter_path=str(adapter), method="sft"
    )
    with pytest.raises(ApplicationError) as refused:
        merge_request(source=base, name="x")
    assert refused.value.message == NO_ADAPTER
    with transaction.atomic():
        job = merge_request(source=policy, name="sft-1-merged", actor=role_users["ml_engineer"], queue="nowhere")
    job = merge_execute(job=MergeJob.objects.get(pk=job.pk))
    assert job.status == Status.SUCCEEDED, job.error
    merged = job.output
    assert (merged.kind, merged.name, merged.adapter_path, merged.tags) == ("base", "sft-1-merged", "", ["merged"])
    assert merged.lineage["merged_from"]["id"] == policy.pk
    assert loadable_model_missing(merged.base_model) == []
    before, after = load_file(f"{tiny_model}/model.safetensors"), load_file(f"{merged.base_model}/model.safetensors")
    q = next(k for k in after if k.endswith("q_proj.weight"))
    k = next(k for k in after if k.endswith("k_proj.weight"))
    assert not torch.equal(before[q], after[q])  # the adapter's change is folded in
    assert torch.equal(before[k], after[k])  # a module the adapter did not touch stays as it was
    assert not any("lora" in key for key in after)
    assert AuditEvent.objects.filter(
        action="create", object_type="registry.modelversion", object_id=str(merged.pk)
    ).exists()
    assert ModelVersion.objects.filter(kind="base").count() == 2


@pytest.mark.django_db
def test_the_version_page_queues_a_merge(client_for, django_capture_on_commit_callbacks):
    policy = version_register(name="sft-2", kind="policy", base_model="/m/b", adapter_path="/a/sft-2", method="sft")
    client = client_for("ml_engineer")
    assert "Queue merge job" in client.get(f"/deploy/models/{policy.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        answer = client.post(f"/deploy/models/{policy.pk}/merge/", {"name": "sft-2-full", "register_as": "policy"})
    assert answer.status_code == 302
    job = MergeJob.objects.get()
    assert (job.source, job.name, job.register_as, job.status) == (policy, "sft-2-full", "policy", "queued")
    assert client_for("evaluator").post(f"/deploy/models/{policy.pk}/merge/", {"name": "y"}).status_code == 403
