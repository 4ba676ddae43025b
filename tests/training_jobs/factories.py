"""Small factories for the training_jobs tests (rows built directly; snapshots from real files)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.conf import settings

from registry.models import ModelVersion
from rewards.models import RewardConfig, RuleSetVersion
from training_jobs.models import DatasetSnapshot

PROMPT_ROW = {
    "prompt": [
        {"role": "system", "content": "You are a BD agent. Hotel: Harbour Inn. Deluxe King 720, ask 620."},
        {"role": "user", "content": "hmm, we are already cheap"},
    ],
    "task": {"hotel": "Harbour Inn"},
}
PREFERENCE_ROW = {
    "prompt": PROMPT_ROW["prompt"],
    "chosen": [{"role": "assistant", "content": "I hear you. Seaview Hotel nearby is at 610; would 620 work?"}],
    "rejected": [{"role": "assistant", "content": "Lower the price now."}],
}


def base_model(*, name: str = "tiny-base", path: str = "/tmp/parley-jobs/tiny") -> ModelVersion:
    return ModelVersion.objects.get_or_create(name=name, defaults={"base_model": path, "method": "base"})[0]


def snapshot(
    *, kind: str = "prompts", rows: int = 4, name: str | None = None, data: list[dict] | None = None
) -> DatasetSnapshot:
    """A snapshot of ``rows`` copies of a small row, or of ``data`` (rows the real engine reads)."""
    if data is not None:
        rows = len(data)
    row = PROMPT_ROW if kind == "prompts" else PREFERENCE_ROW
    text = "".join(json.dumps(r) + "\n" for r in (data if data is not None else [row] * rows))
    digest = hashlib.sha256(text.encode()).hexdigest()
    folder = Path(settings.ARTIFACTS_ROOT) / "test-snapshots" / digest[:12]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.jsonl").write_text(text)
    (folder / "sidecar.jsonl").write_text("".join(json.dumps({"row": i, "source": "demo"}) + "\n" for i in range(rows)))
    return DatasetSnapshot.objects.create(
        name=name or f"{kind}-{rows}",
        kind=kind,
        path=str(folder / "data.jsonl"),
        sidecar_path=str(folder / "sidecar.jsonl"),
        sha256=digest,
        row_count=rows,
        counts_by_provenance={"demo": rows},
    )


def job_payload(**fields) -> dict:
    """The body of ``POST /api/jobs/jobs/`` for a REPO job on a prompts snapshot with the rules-only
    reward config; ``fields`` add to it or replace."""
    return {
        "name": "scripted",
        "method": "repo",
        "base_model": base_model().pk,
        "snapshots": [snapshot().pk],
        "reward_config": reward_config().pk,
        **fields,
    }


def reward_config(*, name: str = "rules-only", reward_model: ModelVersion | None = None) -> RewardConfig:
    rules = RuleSetVersion.objects.get_or_create(name="default", version=1, defaults={"document": {"rules": []}})[0]
    return RewardConfig.objects.get_or_create(name=name, defaults={"rule_set": rules, "reward_model": reward_model})[0]
