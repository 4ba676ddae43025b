"""Build the engine's ``config.json`` from what the dashboard chose (the web app writes it, the engine
validates it again when it starts). The engine's own dataclasses are the one source of defaults and
checks: the form is prefilled from them and every ``ConfigError`` becomes a 400.

The preset (``tiny`` for a CPU, the ``paper``'s values for GPUs) belongs to the machine that trains, not
to the web host: a job submitted with preset ``auto`` keeps only the values its owner chose, checked
under both presets, and the GPU worker that claims it resolves the preset from what it has
(``preset_for_this_worker``) and completes the config before it writes ``config.json``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from typing import Any

from django.conf import settings

from annotation.services.exports import EXPORT_KINDS
from engine.config import PRESETS, ConfigError, config_class, config_from_dict
from kernel.errors import ApplicationError
from rewards.models import RewardConfig
from rewards.services.remote import judge_endpoint
from training_jobs.models import DatasetSnapshot, Method
from training_jobs.services.snapshots import probe_file_for

PRESET_AUTO = "auto"  # the worker that runs the job picks tiny or paper
PRESET_CHOICES = (PRESET_AUTO, *PRESETS)
# The inputs the platform fills in itself; the form shows every other scalar field of the config.
PLATFORM_KEYS = frozenset(
    {"method", "base_model", "dataset", "eval_dataset", "rewards", "probe_dataset", "calibration_dataset"}
)
# What "same budget as run X" copies: how much data and compute a run gets, not how it learns.
BUDGET_KEYS = (
    "max_steps",
    "num_epochs",
    "per_device_batch_size",
    "gradient_accumulation_steps",
    "max_prompt_length",
    "max_response_length",
    "lora_r",
    "lora_alpha",
    "seed",
)
# Which snapshot kinds each method trains on: the export kinds that name it among their trainers.
METHOD_SNAPSHOT_KINDS: dict[str, tuple[str, ...]] = {
    method: tuple(kind.name for kind in EXPORT_KINDS if method in kind.trainers) for method in Method.values
}
RL_METHODS = (Method.PPO, Method.GRPO, Method.REPO)
PROBED_METHODS = (Method.PPO, Method.REPO)  # the methods whose trainer runs the training-time probe

ERR_SNAPSHOT_KIND = "A {method} job trains on {kinds} snapshots; {name!r} is {kind}."
ERR_NO_SNAPSHOT = "Choose at least one dataset snapshot."
ERR_SNAPSHOT_MISSING = "Snapshot {name!r} has no file at {path} (was the artifacts directory moved?)."
ERR_REWARD_REQUIRED = "A {method} job needs a reward configuration."
ERR_RM_REQUIRED = "The PPO baseline is rewarded by the RM alone: its reward configuration needs a reward model."
ERR_BAD_HYPER = "Hyperparameter {key!r}: {error}"
ERR_CONFIG = "The engine rejects this configuration: {error}"
ERR_GRPO_GROUP = (
    "GRPO samples {group} replies per prompt: {completions} completions per step is not a multiple of it "
    "(choose a batch that is, or another group size)."
)


def preset_for_this_worker() -> str:
    """What ``auto`` means on the machine running this code (the worker that claimed the job):
    ``settings.PARLEY_PRESET`` when it names a preset, else ``paper`` where a GPU is visible and
    ``tiny`` elsewhere."""
    if settings.PARLEY_PRESET in PRESETS:
        return settings.PARLEY_PRESET
    return "paper" if shutil.which("nvidia-smi") else "tiny"


def hyperparameter_defaults(*, method: str, preset: str) -> dict[str, Any]:
    """The scalar fields of ``method``'s engine config, with a named preset's values (form prefill)."""
    cls = config_class(method)
    config = cls.preset(preset, base_model="-", dataset="-")
    values = config.to_dict()
    return {
        f.name: values[f.name]
        for f in dataclasses.fields(cls)
        if f.name not in PLATFORM_KEYS and _is_scalar(values[f.name])
    }


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def coerce_hyperparameters(*, method: str, raw: dict[str, Any], preset: str) -> dict[str, Any]:
    """Form strings → the types of the defaults. "" is null where the field allows it, or, with preset
    ``auto``, "the preset's value" (the field is left out)."""
    defaults = hyperparameter_defaults(method=method, preset=preset if preset in PRESETS else PRESETS[0])
    hints = {f.name: f.type for f in dataclasses.fields(config_class(method))}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in defaults:
            raise ApplicationError(ERR_BAD_HYPER.format(key=key, error="not a field of this method"))
        if preset == PRESET_AUTO and isinstance(value, str) and not value.strip():
            continue
        values[key] = _coerce(key, value, defaults[key], str(hints.get(key, "")))
    return values


def _coerce(key: str, value: Any, default: Any, hint: str) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if text == "" and "None" in hint:
            return None
        if isinstance(default, bool) or hint == "bool":
            return text.lower() in ("1", "true", "on", "yes")
        if isinstance(default, int) or hint.startswith("int"):
            return int(text)
        if isinstance(default, float) or hint.startswith("float"):
            return float(text)
    except ValueError:
        raise ApplicationError(ERR_BAD_HYPER.format(key=key, error=f"{text!r} is not a number")) from None
    return text


def reward_sources(reward_config: RewardConfig | None) -> dict[str, Any]:
    """The engine's ``RewardSourcesConfig`` dict for a stored reward configuration."""
    if reward_config is None:
        return {}
    rm = reward_config.reward_model
    judge = None
    endpoint = judge_endpoint(reward_config)  # the one place a config's judge is resolved (a live deployment)
    if endpoint is not None and endpoint.model:
        judge = {
            "base_url": endpoint.base_url,
            "model": endpoint.model,
            "rubric": reward_config.rubric.document if reward_config.rubric else None,
            **({"evidence_chars": endpoint.evidence_chars} if endpoint.evidence_chars is not None else {}),
        }
    return {
        # An RM model version registered by a job keeps its run dir (adapter + score head + offset).
        "rm_path": (rm.lineage.get("run_dir") or rm.adapter_path) if rm else None,
        "judge": judge,
        "rules": reward_config.rule_set.document if reward_config.rule_set else None,
        "n": reward_config.n,
    }


def check_snapshots(*, method: str, snapshots: list[DatasetSnapshot]) -> None:
    if not snapshots:
        raise ApplicationError(ERR_NO_SNAPSHOT)
    kinds = METHOD_SNAPSHOT_KINDS[method]
    for snapshot in snapshots:
        if snapshot.kind not in kinds:
            raise ApplicationError(
                ERR_SNAPSHOT_KIND.format(
                    method=method, kinds=" or ".join(kinds), name=snapshot.name, kind=snapshot.kind
                )
            )
        if not os.path.exists(snapshot.path):
            raise ApplicationError(ERR_SNAPSHOT_MISSING.format(name=snapshot.name, path=snapshot.path))


def engine_config_build(
    *,
    method: str,
    base_model_path: str,
    snapshots: list[DatasetSnapshot],
    reward_config: RewardConfig | None,
    hyperparameters: dict[str, Any],
    preset: str,
) -> dict[str, Any]:
    """The validated engine config (a ``to_dict()``), or an ApplicationError naming the first problem. With
    preset ``auto`` only the platform's inputs and the chosen values, valid under every preset; the
    worker completes it (``engine_config_resolve``)."""
    check_snapshots(method=method, snapshots=snapshots)
    if method in RL_METHODS and reward_config is None:
        raise ApplicationError(ERR_REWARD_REQUIRED.format(method=method.upper()))
    if method == Method.PPO and reward_config.reward_model is None:
        raise ApplicationError(ERR_RM_REQUIRED)
    data = {
        **hyperparameters,
        "base_model": base_model_path,
        "dataset": [s.path for s in snapshots] if len(snapshots) > 1 else snapshots[0].path,
    }
    if method in RL_METHODS:
        data["rewards"] = reward_sources(reward_config)
    if method in PROBED_METHODS:
        data["probe_dataset"] = probe_file_for(snapshots=snapshots)
    if preset != PRESET_AUTO:
        return engine_config_resolve(method=method, config=data, preset=preset)
    for name in PRESETS:
        engine_config_resolve(method=method, config=data, preset=name)
    return {"method": method, **data}


def engine_config_resolve(*, method: str, config: dict[str, Any], preset: str) -> dict[str, Any]:
    """``config`` completed with a named preset's values for every field it leaves out."""
    data = {key: value for key, value in config.items() if key != "method"}
    try:
        base = config_class(method).preset(preset, base_model="-", dataset="-").to_dict()
        return config_from_dict({**base, **data, "method": method}).to_dict()
    except ConfigError as exc:
        raise ApplicationError(ERR_CONFIG.format(error=exc)) from None


# ---------------------------------------------------------------------------------------------------
# equal budgets: counted in completions (replies, or training rows for SFT/DPO/RM) per optimiser step
# ---------------------------------------------------------------------------------------------------
def grpo_group_default() -> int:
    """GRPO's group size when a budget names none: the engine's default (the paper's preset)."""
    return int(config_class(Method.GRPO).preset("paper", base_model="-", dataset="-").num_generations)


def completions_per_device_step(*, method: str, config: dict[str, Any]) -> int | None:
    """Replies one process consumes per forward pass: ``per_device_batch_size`` prompts, each answered
    once, except GRPO, which samples ``num_generations`` replies per prompt (the engine multiplies its
    prompt batch by the group). None when the config leaves the batch to the preset."""
    if config.get("per_device_batch_size") is None:
        return None
    batch = int(config["per_device_batch_size"])
    if method == Method.GRPO:
        batch *= int(config.get("num_generations") or grpo_group_default())
    return batch


def batch_for_completions(*, method: str, completions: int, num_generations: int | None = None) -> dict[str, int]:
    """The ``per_device_batch_size`` (and, for GRPO, ``num_generations``) that make one process consume
    ``completions`` replies per forward pass: the prompt count for every method but GRPO, whose prompts
    are ``completions / num_generations`` so that its group does not multiply the budget. With no group
    chosen, GRPO gets the largest one up to the engine's default that divides ``completions``."""
    if method != Method.GRPO:
        return {"per_device_batch_size": int(completions)}
    if num_generations:
        group = int(num_generations)
    else:  # none chosen: the largest group up to the engine's default that divides the budget
        group = next((g for g in range(grpo_group_default(), 1, -1) if completions % g == 0), 0)
        group = group or grpo_group_default()
    if group < 2 or completions % group:
        raise ApplicationError(ERR_GRPO_GROUP.format(group=group, completions=completions))
    return {"per_device_batch_size": completions // group, "num_generations": group}


def budget_copy(*, source_method: str, source_config: dict[str, Any], method: str, hyper: dict[str, Any]) -> dict:
    """``hyper`` with the budget of another run (``BUDGET_KEYS``), its batch converted so that both consume
    the same completions per step (a GRPO run copied from a PPO run of 8 prompts gets 8 / group prompts)."""
    copied = {k: v for k, v in source_config.items() if k in BUDGET_KEYS}
    completions = completions_per_device_step(method=source_method, config=source_config)
    if completions is not None:
        copied.update(
            batch_for_completions(method=method, completions=completions, num_generations=hyper.get("num_generations"))
        )
    return {**hyper, **copied}
