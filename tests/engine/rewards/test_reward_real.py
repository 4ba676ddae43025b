"""RepoReward with the real parts: the tiny trained RM in-process and the judge on a real vLLM server."""

import pytest

from engine.prompting import to_chat
from engine.rewards import RepoReward, RewardJudge, RewardModelScorer, enhanced_reward
from tests.engine.rewards.helpers import TASK
from tests.engine.rewards.test_judge_vllm import RUBRIC

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

HISTORY = [{"role": "agent", "content": "Could 690 work for the Deluxe King?"}, {"role": "hotel", "content": "ok 680"}]


def test_all_four_values_from_real_sources(trained_rm, vllm_server):
    run_dir, _, _ = trained_rm
    judge = RewardJudge(
        base_url=vllm_server.base_url, model=vllm_server.model, rubric=RUBRIC, evidence_chars=0
    )  # hits only: prompt and the longest verdict fit the tiny model's context (no failure can be a cut)
    reward = RepoReward(rm=RewardModelScorer.from_dir(run_dir), judge=judge, rules=None, n=100.0)
    prompt = to_chat(HISTORY, case=TASK, sop=None)
    replies = ["Great, 680 works. Thank you!", "Our target price is 690, can you go a bit lower?"]
    batch = reward.score(prompts=[prompt] * 2, replies=replies, tasks=[TASK] * 2)
    assert batch.judge_failures == 0 and all(r != 0.0 for r in batch.r_model)
    assert batch.e_func[0] == 0.0 and batch.e_func[1] <= -70.0
    for r, j, f, total in zip(batch.r_model, batch.e_judge, batch.e_func, batch.r_total, strict=True):
        assert total == pytest.approx(enhanced_reward(r, j, f, 100.0))
    metrics = batch.as_metrics()
    assert metrics["rules/internal_term_leak"] == 0.5 and "judge/over_promise" in metrics
