"""Scoring a reply with a served reward model: a deployment of a reward-model version (vLLM's pooling
runner) answers ``/classify``; where it is reached comes from ``deploy.selectors`` (``live_endpoint`` for a
given version, ``served_reward_model`` for "whichever RM is served"). Torch-free: the server tokenises with
the tokenizer saved beside the exported weights (``engine.rewards.rm_serving.classify_scores``); the
offset stored there centres the score as in training.

The reward playground (``rewards.services.remote.rm_score``) calls :func:`served_rm_score` through the hook
``deploy.apps`` installs (rewards sits below deploy), so it scores with two local HTTP requests instead
of an engine subprocess that loads torch and the model; the chat playground scores every reply with it."""

from __future__ import annotations

from dataclasses import dataclass

from deploy.selectors import Endpoint, live_endpoint, served_reward_model
from engine.prompting import to_chat
from engine.rewards import rm_serving
from engine.rewards.enhancement import training_reward
from registry.models import ModelVersion

NO_RM = "No reward model is served: deploy one (a reward-model version) to see RM scores here."
NO_JUDGE = "No judge configured."
TIMEOUT_S = 30.0


def _score(version: ModelVersion, endpoint: Endpoint, prompt: list[dict], reply: str) -> float:
    from rewards.services.remote import rm_run_dir

    run_dir = rm_run_dir(version)
    if run_dir is None:
        raise RuntimeError(f"{version.name} has no trained reward-model run directory")
    meta = rm_serving.served_meta(rm_serving.served_dir(run_dir))
    root = endpoint.base_url.removesuffix("/").removesuffix("/v1")
    conversation = [*prompt, {"role": "assistant", "content": reply}]
    raw = rm_serving.classify_scores(
        root_url=root, model=endpoint.model, conversations=[conversation], max_length=meta["max_length"],
        timeout=TIMEOUT_S,
    )  # fmt: skip
    return raw[0] - meta["offset"]


def served_rm_score(version: ModelVersion, *, prompt: list[dict], reply: str) -> float | None:
    """``version``'s centred score of ``reply`` after ``prompt`` (chat messages) when a healthy deployment
    serves it; None when none does. Raises when the server fails (the caller says so in words)."""
    endpoint = live_endpoint(version)
    return None if endpoint is None else _score(version, endpoint, prompt, reply)


@dataclass
class ReplyReward:
    """What the chat playground shows under a reply: the served RM's score (or why there is none), the
    rules' points, and R_total by the one ``training_reward``."""

    rm_version: str
    rm_score: float | None
    rm_note: str
    e_func: float
    e_judge: float
    judge_note: str
    r_total: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def reply_reward(*, case: dict, history: list[dict], reply: str, e_func: float, n: float = 100.0) -> ReplyReward:
    """Score a chat-playground reply (``history``: the dialogue before it, agent/hotel roles)."""
    served = served_reward_model()
    score, note, name = None, NO_RM, ""
    if served is not None:
        version, endpoint = served
        name = version.name
        try:
            score = _score(version, endpoint, to_chat(history, case=case, sop=None), reply)
            note = ""
        except Exception as exc:  # the reply still shows; the page says why there is no score
            note = f"RM unavailable: {type(exc).__name__}: {str(exc)[:200]}"
    r_total = training_reward(r_model=score, e_judge=0.0, e_func=e_func, n=n)
    return ReplyReward(name, score, note, e_func, 0.0, NO_JUDGE, r_total)
