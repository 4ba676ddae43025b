"""Serving the reward model with vLLM: export a merged model, and a client for the pooling ``/classify``.

vLLM serves LoRA adapters for generation, but an RM adapter also carries a trained ``score`` head
(``modules_to_save``), which vLLM's LoRA does not load. So the adapter is merged into the base and
saved as an ordinary ``*ForSequenceClassification`` checkpoint; vLLM 0.32 runs that architecture as a
pooling model (``classify``). The client sends token ids (tokenised exactly as in training, so the
server cannot tokenise differently), asks for raw logits (``use_activation: false``; the default would
apply a sigmoid/softmax and hide the sign), and subtracts the offset stored next to the model.

    python -m engine export-rm --run-dir RM_RUN        # writes RM_RUN/served
    engine.serve.vllm_command(model=RM_RUN/served, options=ServeOptions(runner="pooling", ...))

A deployment of a reward model (``deploy``) serves the exported directory; the web side scores through it
with :func:`classify_scores`, which needs no torch and no tokenizer: the server's own ``/tokenize`` renders
the chat template (the tokenizer saved with the weights, as in training), then ``/classify`` scores the ids.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from engine.rundir import RM_META_FILE, RM_SERVED_DIR


def served_dir(run_dir: str | Path) -> Path:
    """Where ``export-rm`` puts a trained RM's servable checkpoint."""
    return Path(run_dir) / RM_SERVED_DIR


def is_exported(path: str | Path) -> bool:
    return (Path(path) / "config.json").is_file() and (Path(path) / RM_META_FILE).is_file()


def export_for_serving(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Merge the RM adapter (LoRA + score head) into its base and save a servable checkpoint (default:
    ``RUN/served``), written into a temporary directory and renamed at the end."""
    from engine.rewards.rm import RewardModelScorer

    out = Path(out_dir) if out_dir is not None else served_dir(run_dir)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    _export(RewardModelScorer.from_dir(run_dir), run_dir, tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def _export(scorer, run_dir: str | Path, out: Path) -> Path:
    merged = scorer.model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.config.pad_token_id = scorer.tokenizer.pad_token_id
    merged.save_pretrained(out)
    scorer.tokenizer.save_pretrained(out)
    shutil.copyfile(Path(run_dir) / RM_META_FILE, out / RM_META_FILE)  # the offset travels with the weights
    return out


class VLLMRewardClient:
    """``score(*, prompts, replies)`` through a vLLM server's ``/classify`` endpoint (centred floats).

    ``model_dir`` is the exported model (its tokenizer and ``rm_meta.json``); ``root_url`` the server
    without ``/v1``.
    """

    def __init__(
        self, *, root_url: str, model: str, model_dir: str | Path, timeout: float = 60.0, batch_size: int = 64
    ):
        from transformers import AutoTokenizer

        meta = json.loads((Path(model_dir) / RM_META_FILE).read_text(encoding="utf-8"))
        self.root_url, self.model, self.timeout, self.batch_size = root_url.rstrip("/"), model, timeout, batch_size
        self.offset, self.max_length = float(meta["offset"]), int(meta["max_length"])
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def encode(self, prompt: list[dict], reply: str) -> list[int]:
        from trl.data_utils import _tokenize

        ids = _tokenize(self.tokenizer, list(prompt) + [{"role": "assistant", "content": reply}])["input_ids"]
        return ids[-self.max_length :]

    def raw_scores(self, *, prompts: list[list[dict]], replies: list[str]) -> list[float]:
        import httpx

        encoded = [self.encode(p, r) for p, r in zip(prompts, replies, strict=True)]
        out: list[float] = []
        with httpx.Client(timeout=self.timeout) as client:
            for start in range(0, len(encoded), self.batch_size):
                body = {"model": self.model, "input": encoded[start : start + self.batch_size], "use_activation": False}
                response = client.post(f"{self.root_url}/classify", json=body)
                response.raise_for_status()
                data = sorted(response.json()["data"], key=lambda d: d["index"])
                out += [float(d["probs"][0]) for d in data]
        return out

    def score(self, *, prompts: list[list[dict]], replies: list[str]) -> list[float]:
        return [s - self.offset for s in self.raw_scores(prompts=prompts, replies=replies)]


def served_meta(model_dir: str | Path) -> dict:
    """``offset`` and ``max_length`` stored beside the exported weights."""
    meta = json.loads((Path(model_dir) / RM_META_FILE).read_text(encoding="utf-8"))
    return {"offset": float(meta["offset"]), "max_length": int(meta["max_length"])}


def classify_scores(
    *, root_url: str, model: str, conversations: list[list[dict]], max_length: int, timeout: float = 30.0
) -> list[float]:
    """Raw scores of whole conversations (the prompt messages plus the assistant's reply) from a served RM,
    torch-free: ``/tokenize`` with the messages (no generation prompt: the conversation ends with the reply,
    as ``trl``'s tokenisation in training), the last ``max_length`` ids, then ``/classify`` with raw logits."""
    import httpx

    root = root_url.rstrip("/")
    with httpx.Client(timeout=timeout) as client:
        encoded = []
        for messages in conversations:
            body = {"model": model, "messages": messages, "add_generation_prompt": False}
            response = client.post(f"{root}/tokenize", json=body)
            response.raise_for_status()
            encoded.append(response.json()["tokens"][-max_length:])
        response = client.post(f"{root}/classify", json={"model": model, "input": encoded, "use_activation": False})
        response.raise_for_status()
        data = sorted(response.json()["data"], key=lambda d: d["index"])
    return [float(d["probs"][0]) for d in data]
