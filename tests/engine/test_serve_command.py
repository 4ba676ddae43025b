"""The one vLLM command (engine/serve.py): a chat server with runtime LoRA, or a pooling server for a
reward model's /classify."""

import pytest

from engine.serve import ServeOptions, vllm_command


def _flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_a_chat_server_serves_adapters_with_vllms_own_sampling_defaults():
    command = vllm_command(model="/m/tiny", port=8001, options=ServeOptions(served_name="tiny", max_loras=3))
    assert _flag(command, "--generation-config") == "vllm" and "--enable-lora" in command
    assert _flag(command, "--max-loras") == "3" and "--runner" not in command
    assert "--structured-outputs-config" in command


def test_a_reward_model_server_is_a_pooling_runner_without_lora():
    options = ServeOptions(served_name="rm-1", runner="pooling", extra=("--enable-prefix-caching",))
    command = vllm_command(model="/runs/rm/served", port=8002, options=options)
    assert _flag(command, "--runner") == "pooling" and _flag(command, "--served-model-name") == "rm-1"
    for absent in ("--enable-lora", "--max-loras", "--generation-config", "--structured-outputs-config"):
        assert absent not in command
    assert command[-1] == "--enable-prefix-caching" and _flag(command, "--model") == "/runs/rm/served"


def test_an_unknown_runner_is_refused():
    with pytest.raises(ValueError, match="runner must be"):
        vllm_command(model="/m", port=1, options=ServeOptions(runner="embed"))
