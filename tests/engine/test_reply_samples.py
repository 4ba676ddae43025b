"""What the PPO/REPO loop logs per sample for the job page: prompt, hotel message, named rule evidence."""

from engine.rewards.reward import RewardBatch
from engine.rewards.rules.document import Violation
from engine.train.ppo import reply_samples


def test_a_sample_carries_the_prompt_the_hotels_message_and_each_broken_rules_evidence():
    batch = RewardBatch(
        r_model=[0.1],
        e_judge=[0.0],
        e_func=[-30.0],
        r_total=[0.05],
        rule_hits=[["internal_term_leak"]],
        judge_hits=[["tone"]],
        violations=[[Violation("internal_term_leak", -30.0, (0, 10), "Our target")]],
    )
    rows = [{"prompt": [{"role": "system", "content": "The case"}, {"role": "user", "content": "700 at most"}]}]
    (sample,) = reply_samples(rows, ["Our target is 690"], batch, limit=2)
    assert sample["prompt"] == "The case" and sample["hotel_message"] == "700 at most"
    assert sample["prompt_text"] == "700 at most" and sample["rules"] == ["internal_term_leak"]
    assert sample["evidence"] == [{"rule": "internal_term_leak", "points": -30.0, "evidence": "Our target"}]
    assert sample["judge_hits"] == ["tone"]
