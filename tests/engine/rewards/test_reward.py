"""RepoReward: the batch interface the PPO/REPO trainer uses, the TRL reward-function interface,
metrics, and the overlap of the judge's calls with RM scoring."""

import json
import math
import time

import pytest

from engine.config import RewardSourcesConfig
from engine.prompting import to_chat
from engine.rewards import RepoReward, RewardBatch, RewardJudge, enhanced_reward
from engine.rewards.rules import RULE_IDS
from tests.engine.rewards.helpers import TASK, closed_port

HISTORY = [
    {"role": "agent", "content": "Hello, this is Lily from the platform. Could 690 work for the Deluxe King?"},
    {"role": "hotel", "content": "ok 680 max"},
]
PROMPT = to_chat(HISTORY, case=TASK, sop=None)
REPLIES = [
    "Great, 680 works for the Deluxe King. Thank you, it goes live on Monday!",  # clean
    "Our target price was 690, could you go a bit lower?",  # internal term + pushing past the offer
]


class FixedRM:
    """Stands in for the trained RM in the wiring tests (the real one: test_reward_real.py)."""

    def __init__(self, scores):
        self.scores = scores

    def score(self, *, prompts, replies):
        return self.scores[: len(replies)]


class JudgeWatchingRM(FixedRM):
    """Scores only once the judge has sent a request: it can finish only if the judge runs meanwhile."""

    def __init__(self, scores, judge):
        super().__init__(scores)
        self.judge, self.saw_judge_in_flight = judge, False

    def score(self, *, prompts, replies):
        deadline = time.monotonic() + 60
        while self.judge.stats.calls == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.saw_judge_in_flight = self.judge.stats.calls > 0 and self.judge.stats.verdicts == 0
        return super().score(prompts=prompts, replies=replies)


def test_batch_interface_computes_all_four_values():
    reward = RepoReward(rm=FixedRM([2.0, 2.0]), judge=None, rules=None, n=100.0)
    batch = reward.score(prompts=[PROMPT, PROMPT], replies=REPLIES, tasks=[TASK, TASK])
    assert isinstance(batch, RewardBatch)
    assert batch.r_model == [2.0, 2.0] and batch.e_judge == [0.0, 0.0]
    assert batch.e_func[0] == 0.0 and batch.rule_hits[0] == []
    assert set(batch.rule_hits[1]) == {"internal_term_leak", "continued_after_acceptable_offer"}
    assert batch.e_func[1] == -70.0
    assert batch.r_total == [2.0, enhanced_reward(2.0, 0.0, -70.0)] == [2.0, pytest.approx(0.6)]
    assert batch.judge_hits == [[], []]


def test_metrics_have_the_agreed_keys():
    batch = RepoReward(rm=FixedRM([1.0, -1.0])).score(prompts=[PROMPT] * 2, replies=REPLIES, tasks=[TASK] * 2)
    metrics = batch.as_metrics()
    for key in ("reward/r_model", "reward/e_judge", "reward/e_func", "reward/r_total"):
        assert key in metrics
    assert {f"rules/{rule}" for rule in RULE_IDS} <= set(metrics)
    assert metrics["rules/internal_term_leak"] == 0.5 and metrics["rules/format"] == 0.0
    assert metrics["reward/r_model"] == 0.0
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())


def test_without_rm_r_total_is_zero_and_without_rules_e_func_is_zero():
    batch = RepoReward().score(prompts=[PROMPT] * 2, replies=REPLIES, tasks=[TASK] * 2)
    assert batch.r_model == [0.0, 0.0] and batch.r_total == [0.0, 0.0] and batch.e_func[1] < 0
    off = RepoReward(rm=FixedRM([1.0, 1.0]), use_rules=False)
    batch = off.score(prompts=[PROMPT] * 2, replies=REPLIES, tasks=[TASK] * 2)
    assert batch.e_func == [0.0, 0.0] and batch.r_total == [1.0, 1.0] and "rules/format" not in batch.as_metrics()


def test_mismatched_batch_sizes_are_an_error():
    with pytest.raises(ValueError, match="batch sizes"):
        RepoReward().score(prompts=[PROMPT], replies=REPLIES, tasks=[TASK])


def test_trl_reward_function_interface_reads_the_task_column():
    reward = RepoReward(rm=FixedRM([2.0, 2.0]))
    assert reward.__name__ == "repo_reward"
    completions = [[{"role": "assistant", "content": r}] for r in REPLIES]
    logged = {}
    out = reward([PROMPT, PROMPT], completions, task=[TASK, json.dumps(TASK)], log_metric=logged.__setitem__)
    assert out == [2.0, pytest.approx(0.6)]
    assert logged["reward/r_total"] == pytest.approx(1.3)
    assert reward([PROMPT], ["plain text reply"], task_json=[json.dumps(TASK)]) == [2.0]
    with pytest.raises(KeyError, match="task"):
        reward([PROMPT], ["x"])


def test_a_dead_judge_is_neutral_and_runs_while_the_rm_scores():
    judge = RewardJudge(base_url=f"http://127.0.0.1:{closed_port()}/v1", model="m", retries=2, backoff=0.5)
    rm = JudgeWatchingRM([1.0, 1.0], judge)
    batch = RepoReward(rm=rm, judge=judge).score(prompts=[PROMPT] * 2, replies=REPLIES, tasks=[TASK] * 2)
    assert rm.saw_judge_in_flight  # the judge's requests were out before RM scoring finished
    assert batch.e_judge == [0.0, 0.0] and batch.judge_failures == 2
    assert batch.as_metrics()["judge/failures"] == 2.0


class CountingRM(FixedRM):
    calls = 0

    def score(self, *, prompts, replies):
        self.calls += 1
        return super().score(prompts=prompts, replies=replies)


def test_start_sends_the_judge_calls_and_leaves_the_rm_and_the_rules_to_result():
    """The trainer's forward passes run between ``start`` and ``result``: the judge must be out by then."""
    judge = RewardJudge(base_url=f"http://127.0.0.1:{closed_port()}/v1", model="m", retries=0)
    rm = CountingRM([1.0, 1.0])
    pending = RepoReward(rm=rm, judge=judge).start(prompts=[PROMPT] * 2, replies=REPLIES, tasks=[TASK] * 2)
    deadline = time.monotonic() + 60
    while judge.stats.calls < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert judge.stats.calls == 2 and rm.calls == 0  # both calls sent with no result() asked for yet
    batch = pending.result()
    assert rm.calls == 1 and batch.judge_failures == 2 and batch.rule_hits[1]
    assert pending.result() is batch  # finished once


def test_constant_r_model_enhances_through_start_and_result():
    from engine.train.ppo_rewards import ConstantRModel

    reward = ConstantRModel(RepoReward(judge=None), r_model=1.0, n=100.0)
    batch = reward.start(prompts=[PROMPT] * 2, replies=REPLIES, tasks=[TASK] * 2).result()
    assert batch.r_model == [1.0, 1.0] and batch.r_total == [1.0, pytest.approx(enhanced_reward(1.0, 0.0, -70.0))]
    assert reward.score(prompts=[PROMPT] * 2, replies=REPLIES, tasks=[TASK] * 2).r_total == batch.r_total


def test_from_config_builds_rules_only_and_reads_a_rule_file(tmp_path):
    from engine.rewards.rules import default_rule_set

    doc = default_rule_set().to_dict()
    next(r for r in doc["rules"] if r["id"] == "internal_term_leak")["points"] = -1.0
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(doc))
    reward = RepoReward.from_config(RewardSourcesConfig(rules=str(path), n=50.0))
    batch = reward.score(prompts=[PROMPT], replies=["Our target price is 690."], tasks=[TASK])
    assert batch.e_func == [-1.0] and reward.n == 50.0 and reward.rm is None and reward.judge is None


def test_a_failed_judge_call_is_not_a_free_pass():
    """A failed verdict scores 0, about the best outcome under a deduction rubric; in the reward it
    takes the batch mean of the successful verdicts, and the failure rate is logged with an alarm."""
    import doctest

    from engine.rewards import reward as reward_module
    from engine.rewards.judge import JudgeVerdict
    from engine.rewards.reward import JUDGE_FAILURE_ALARM, RewardBatch, judge_terms

    assert doctest.testmod(reward_module).failed == 0
    verdicts = [JudgeVerdict(ok=True, e_judge=-30.0), JudgeVerdict(ok=True, e_judge=0.0), JudgeVerdict.failed("x")]
    assert judge_terms(verdicts) == [-30.0, 0.0, -15.0]
    assert judge_terms([JudgeVerdict.failed("x")]) == [0.0]

    def batch(failures: int, size: int = 10) -> dict:
        return RewardBatch(
            r_model=[1.0] * size, e_judge=[0.0] * size, e_func=[0.0] * size, r_total=[1.0] * size,
            rule_hits=[[] for _ in range(size)], judge_hits=[[] for _ in range(size)],
            judge_failures=failures, judge_ids=("over_promise",),
        ).as_metrics()  # fmt: skip

    calm, alarming = batch(1), batch(int(JUDGE_FAILURE_ALARM * 10) + 1)
    assert calm["judge/failure_rate"] == 0.1 and calm["judge/failure_alarm"] == 0.0
    assert alarming["judge/failure_rate"] > JUDGE_FAILURE_ALARM and alarming["judge/failure_alarm"] == 1.0
