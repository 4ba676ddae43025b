"""An over-long RL prompt drops its oldest whole turns and keeps the system message with the case."""

from transformers import AutoTokenizer

from engine.train.ppo_data import encode_prompt, fit_prompt


def _dialogue(turns: int) -> list[dict]:
    messages = [{"role": "system", "content": "CASE: Deluxe King now 780, target 690. Reply in English."}]
    for i in range(turns):
        role = "assistant" if i % 2 == 0 else "user"
        messages.append({"role": role, "content": f"turn {i}: " + "words " * 20})
    return messages


def test_long_dialogue_keeps_the_case_and_the_last_turn(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    messages = _dialogue(12)
    full, dropped = fit_prompt(tok, messages, max_length=10_000)
    assert dropped == 0
    limit = len(full) // 2
    ids, dropped = fit_prompt(tok, messages, max_length=limit)
    text = tok.decode(ids)
    assert len(ids) <= limit and dropped > 0
    assert "CASE: Deluxe King now 780" in text  # the system message survives whole
    assert "turn 11:" in text and "turn 0:" not in text  # newest kept, oldest dropped
    assert ids == encode_prompt(tok, messages, max_length=limit)
    # never half a message: every kept turn appears from its start
    kept = [i for i in range(12) if f"turn {i}:" in text]
    assert kept == list(range(12 - len(kept), 12))


def test_when_nothing_but_the_case_fits_the_prompt_keeps_its_end(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    ids, dropped = fit_prompt(tok, _dialogue(3), max_length=8)
    assert len(ids) == 8 and dropped == 3
