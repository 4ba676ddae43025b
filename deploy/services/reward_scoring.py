"""Scoring a reply with a served reward model: a deployment of a reward-model version (vLLM's pooling
runner) answers ``/classify``; where it is reached comes from ``deploy.selectors`` (``live_endpoint`` for a
given version, ``served_reward_model`` for "whichever RM is served"). Torch-free: the server tokenises with
the tokenizer saved beside the exported weights (``engine.rewards.rm_serving.classify_scores``); the
offset stored there centres the score as in training.

The reward playground (``rewards.services.remote.rm_score``) calls :func:`served_rm_score` through the hook
``deploy.apps`` installs (rewards sits below deploy), so it scores with two local HTTP requests instead
of an engine subprocess that loads torch and the model; the chat playground scores every reply with it.

The chat playground's reply also gets the judge's verdicts when the chosen reward config names a judge
(``rewards.services.remote.judge_score``, which finds the judge where it is served now). A failed judge call
is not a free pass: as in training (``engine.rewards.reward.judge_terms``) a failed verdict carries no
judge term of its own, and for a single reply there are no successful ones to borrow a mean from, so
R_total is computed without E_judge and the page says that the judge failed and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from deploy.selectors import Endpoint, live_endpoint, served_reward_model
from engine.prompting import to_chat
from engine.rewards import rm_serving
from engine.rewards.enhancement import DEFAULT_N, training_reward
from engine.rewards.judge import JudgeVerdict
from engine.rewards.reward import judge_terms
from registry.models import ModelVersion
from rewards.models import RewardConfig
from rewards.services.remote import JUDGE_UNAVAILABLE, judge_endpoint, judge_score

NO_RM = "No reward model is served: deploy one (a reward-model version) to see RM scores here."
CONFIG_RM_NOT_SERVED = (
    "The reward config {config} scores with the reward model {name}, which no healthy deployment serves: "
    "deploy it to see its scores here."
)
NO_JUDGE = "No judge configured."
JUDGE_FAILED = (
    "The judge failed ({reason}): this reply has no E_judge term and R_total is computed without it, as a "
    "training run treats a failed verdict."
)
# What the judge part of a reply's reward says happened (the page words each one).
JUDGE_NONE, JUDGE_OK, JUDGE_FAILED_STATE = "none", "ok", "failed"
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
    rules' points, the judge's verdicts (or why there are none), and R_total by the one
    ``training_reward``. ``e_judge`` is None when the judge failed (no judge term), 0 when there is no
    judge. Stored in the page's signed conversation, so plain JSON values only."""

    rm_version: str
    rm_score: float | None
    rm_note: str
    e_func: float
    e_judge: float | None
    judge_note: str
    r_total: float
    judge_state: str = JUDGE_NONE
    judge_config: str = ""
    judge_hits: list[dict] = field(default_factory=list)  # {"rule", "points", "evidence", "description"}
    judge_checked: int = 0  # rubric rules the judge was asked about (those of the stage)
    stage: str = ""
    n: float = DEFAULT_N

    def as_dict(self) -> dict:
        return asdict(self)


def _judge_part(
    config: RewardConfig | None, *, case: dict, history: list[dict], reply: str, stage: str | None
) -> tuple[str, float, str, list[dict], int]:
    """(state, the E_judge term R_total uses, note, hits, rules checked) for one reply."""
    if judge_endpoint(config) is None:
        return JUDGE_NONE, 0.0, NO_JUDGE, [], 0
    result = judge_score(config=config, reply=reply, task=case, history=history, stage=stage)
    # The engine's term for a verdict, in a batch of one: a failed one gets the mean of the successful
    # verdicts beside it, and there are none, so it adds nothing (not a deduction rubric's best score).
    term = judge_terms([JudgeVerdict(ok=result.available, e_judge=result.e_judge)])[0]
    if not result.available:
        reason = result.note.removeprefix(JUDGE_UNAVAILABLE.format(reason=""))
        return JUDGE_FAILED_STATE, term, JUDGE_FAILED.format(reason=reason), [], 0
    hits = [
        {"rule": v.rule, "points": v.points, "evidence": v.evidence, "description": v.description}
        for v in result.verdicts
        if v.broken
    ]
    return JUDGE_OK, term, "", hits, len(result.verdicts)


def _rm_for(config: RewardConfig | None) -> tuple[ModelVersion, Endpoint | None] | None:
    """The RM that scores a playground reply and where it answers now (None: nowhere): the config's own
    when it names one, else whichever reward model is served (None when none is)."""
    if config is None or config.reward_model is None:
        return served_reward_model()
    return config.reward_model, live_endpoint(config.reward_model)


def reply_reward(
    *,
    case: dict,
    history: list[dict],
    reply: str,
    e_func: float,
    config: RewardConfig | None = None,
    stage: str | None = None,
) -> ReplyReward:
    """Score a chat-playground reply (``history``: the dialogue before it, agent/hotel roles) with the
    config's RM (without one, whichever RM is served), the rules' ``e_func`` and, when ``config`` names
    a judge, the judge at SOP ``stage`` (None: unknown); n is the config's (the paper's 100 without one)."""
    picked = _rm_for(config)
    score, note, name = None, NO_RM, ""
    if picked is not None:
        version, endpoint = picked
        name = version.name
        if endpoint is None:  # only the config's own RM can be picked without being served
            note = CONFIG_RM_NOT_SERVED.format(name=name, config=config.name)
        else:
            try:
                score = _score(version, endpoint, to_chat(history, case=case, sop=None), reply)
                note = ""
            except Exception as exc:  # the reply still shows; the page says why there is no score
                note = f"RM unavailable: {type(exc).__name__}: {str(exc)[:200]}"
    state, term, judge_note, hits, checked = _judge_part(config, case=case, history=history, reply=reply, stage=stage)
    n = config.n if config is not None else DEFAULT_N
    r_total = training_reward(r_model=score, e_judge=term, e_func=e_func, n=n)
    return ReplyReward(
        rm_version=name,
        rm_score=score,
        rm_note=note,
        e_func=e_func,
        e_judge=None if state == JUDGE_FAILED_STATE else term,
        judge_note=judge_note,
        r_total=r_total,
        judge_state=state,
        judge_config=config.name if config is not None else "",
        judge_hits=hits,
        judge_checked=checked,
        stage=stage or "",
        n=n,
    )
