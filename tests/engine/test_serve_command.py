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


def _checkpoint(tmp_path, positions: int):
    (tmp_path / "config.json").write_text(f'{{"max_position_embeddings": {positions}}}', encoding="utf-8")
    return tmp_path


def test_a_server_never_asks_for_more_positions_than_its_checkpoint_declares(tmp_path):
    # vLLM refuses to start when --max-model-len exceeds the checkpoint's positions (the served RM of the
    # tiny base declares 1024 while deployments default to 2048): serve the checkpoint's own length.
    model = _checkpoint(tmp_path, 1024)
    for runner in ("pooling", "generate"):
        command = vllm_command(model=model, port=1, options=ServeOptions(runner=runner, max_model_len=2048))
        assert _flag(command, "--max-model-len") == "1024" and "--hf-overrides" not in command
    # the reward model is never extended, even when deployments extend positions (its scores are training's)
    pooled = vllm_command(
        model=model, port=1, options=ServeOptions(runner="pooling", max_model_len=2048, extend_positions=True)
    )
    assert _flag(pooled, "--max-model-len") == "1024" and "--hf-overrides" not in pooled


def test_a_chat_server_extends_positions_when_asked(tmp_path):
    model = _checkpoint(tmp_path, 1024)
    command = vllm_command(model=model, port=1, options=ServeOptions(max_model_len=2048, extend_positions=True))
    assert _flag(command, "--max-model-len") == "2048"
    assert _flag(command, "--hf-overrides") == '{"max_position_embeddings": 2048}'
    # a checkpoint with room to spare keeps the length asked for
    roomy = vllm_command(model=_checkpoint(tmp_path, 40960), port=1, options=ServeOptions(max_model_len=2048))
    assert _flag(roomy, "--max-model-len") == "2048"
