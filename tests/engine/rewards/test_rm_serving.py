"""The RM served by vLLM's pooling ``/classify`` endpoint matches the in-process scorer."""

import pytest

from engine.rewards.rm import RewardModelScorer
from engine.rewards.rm_serving import VLLMRewardClient, classify_scores, export_for_serving, served_meta
from tests.engine.rewards.helpers import start_pooling_server, stop_process_group

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


def test_served_rm_gives_the_in_process_scores(trained_rm, preference_file, tmp_path):
    run_dir, _, _ = trained_rm
    _, rows = preference_file
    exported = export_for_serving(run_dir, tmp_path / "served")
    prompts = [r["prompt"] for r in rows[:6]]
    replies = [r["chosen"][-1]["content"] for r in rows[:3]] + [r["rejected"][-1]["content"] for r in rows[3:6]]
    expected = RewardModelScorer.from_dir(run_dir).score(prompts=prompts, replies=replies)
    process, root = start_pooling_server(exported, tmp_path / "vllm.log")
    try:
        client = VLLMRewardClient(root_url=root, model="rm", model_dir=exported, batch_size=4)
        served = client.score(prompts=prompts, replies=replies)
        # torch-free: the server's own /tokenize renders the chat template, /classify scores the ids
        meta = served_meta(exported)
        conversations = [[*p, {"role": "assistant", "content": r}] for p, r in zip(prompts, replies, strict=True)]
        raw = classify_scores(root_url=root, model="rm", conversations=conversations, max_length=meta["max_length"])
        torch_free = [s - meta["offset"] for s in raw]
    finally:
        stop_process_group(process)
    assert served == pytest.approx(expected, abs=2e-3)
    assert torch_free == pytest.approx(expected, abs=2e-3)
    assert client.offset == RewardModelScorer.from_dir(run_dir).offset
