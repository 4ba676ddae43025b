"""Engine configs: paper defaults, the tiny preset, JSON round trips, one-line errors, help on every field."""

import doctest
import json
import re
from pathlib import Path

import pytest

import engine.config
import engine.configio
from engine.config import (
    CONFIG_CLASSES,
    ConfigError,
    DPOConfig,
    GRPOConfig,
    RMConfig,
    SFTConfig,
    config_class,
    config_from_dict,
    load_config,
    save_config,
)
from engine.configio import config_fields, field_help
from engine.train.ppo_config import PPOConfig, REPOConfig

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"base_model": "/models/tiny", "dataset": "/data/train.jsonl"}


@pytest.mark.parametrize("cls", [SFTConfig, DPOConfig, RMConfig, GRPOConfig, PPOConfig, REPOConfig])
def test_round_trip_through_json(cls, tmp_path):
    config = cls.preset("tiny", **REQUIRED)
    path = save_config(config, tmp_path / "config.json")
    assert json.loads(path.read_text())["method"] == cls.method
    assert load_config(path) == config
    assert cls.load(path) == config
    assert config_from_dict(config.to_dict()) == config


def test_paper_defaults():
    sft, grpo = SFTConfig(**REQUIRED), GRPOConfig(**REQUIRED)
    assert (sft.lora_r, sft.lora_alpha, sft.learning_rate, sft.warmup_steps) == (64, 64, 1e-6, 2)
    assert sft.per_device_batch_size * sft.gradient_accumulation_steps == 128
    assert sft.max_response_length == 512
    assert (sft.num_epochs, DPOConfig(**REQUIRED).num_epochs, grpo.num_epochs) == (10, 10, 2)
    assert grpo.rewards.n == 100 and grpo.use_enhanced_reward is True


def test_tiny_preset_is_small_and_overridable():
    config = GRPOConfig.preset("tiny", **REQUIRED, max_steps=2)
    assert config.max_steps == 2 and config.max_response_length <= 64 and config.lora_r <= 16
    assert SFTConfig.preset("paper", **REQUIRED) == SFTConfig(**REQUIRED)
    with pytest.raises(ConfigError, match="unknown preset"):
        SFTConfig.preset("huge", **REQUIRED)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"method": "sft", **REQUIRED, "lr": 1}, "sft config: unknown key 'lr'"),
        ({"method": "sft", **REQUIRED, "lora_r": "8"}, "sft config: lora_r: expected int, got str"),
        ({"method": "sft", **REQUIRED, "lora_r": True}, "expected int, got a boolean"),
        ({"method": "sft", "dataset": "d"}, "sft config: base_model is required"),
        ({"method": "dpo", **REQUIRED, "beta": 0}, "dpo config: beta must be > 0"),
        ({"method": "grpo", **REQUIRED, "rewards": {"judge": {"model": "m"}}}, "rewards: judge: judge needs"),
        ({"method": "grpo", **REQUIRED, "rewards": {"nn": 1}}, "rewards: unknown key 'nn'"),
        ({"method": "kto", **REQUIRED}, "unknown method 'kto'"),
        ({**REQUIRED}, "'method' is missing"),
    ],
)
def test_errors_are_one_clear_line(data, message):
    with pytest.raises(ConfigError) as excinfo:
        config_from_dict(data)
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_load_config_reports_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(tmp_path / "bad.json")
    (tmp_path / "sft.json").write_text(json.dumps({"method": "sft", **REQUIRED}))
    with pytest.raises(ConfigError, match="for method 'sft', not 'dpo'"):
        load_config(tmp_path / "sft.json", method="dpo")


# ---------------------------------------------------------------------------------------------------
# every field explains itself (the CLI's --help and the job form show it)
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", list(CONFIG_CLASSES))
def test_every_field_of_every_config_has_help(method):
    """Nested objects included (rewards.*, rewards.judge.*); an override in a subclass needs its own."""
    docs = config_fields(config_class(method))
    assert [d.name for d in docs if not d.help.strip()] == []
    assert {"learning_rate", "rewards.n", "rewards.judge.base_url"} & {d.name for d in docs}


def test_help_cites_only_files_inside_the_repository():
    helps = " ".join(d.help for method in CONFIG_CLASSES for d in config_fields(config_class(method)))
    assert not re.search(r"\b[A-Z]+\.md\b", helps)  # no briefing files a clone does not have
    for cited in set(re.findall(r"docs/[\w/.-]+\.md", helps)):
        assert (ROOT / cited).is_file(), cited


def test_fields_are_described_in_json_terms():
    docs = {d.name: d for d in config_fields(REPOConfig)}
    assert (docs["max_steps"].type, docs["max_steps"].default) == ("integer | null", "null")
    assert (docs["kl_coef"].default, docs["use_enhanced_reward"].default) == ("0.0", "true")  # REPO's overrides
    assert docs["rewards.judge"].type == "object | null"
    assert field_help(PPOConfig)["kl_coef"] != field_help(REPOConfig)["kl_coef"]


@pytest.mark.parametrize("module", [engine.config, engine.configio])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0
