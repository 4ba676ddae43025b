"""Rollouts on a vLLM server (OpenAI-compatible completions) that serves the policy as a LoRA adapter.

After every policy update the trainer saves the adapter and pushes it to the server: unload the old
one, then load the new one under the same name (``/v1/unload_lora_adapter`` and
``/v1/load_lora_adapter``; the server needs ``--enable-lora`` and
``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``). A fresh load gets a fresh LoRA id inside vLLM, so no
cached copy of the old weights can answer. Then a **drift check** asks the server for a few greedy
tokens with their log-probs and compares them with the trainer's own log-probs for the same tokens:
if the server still serves old weights (a failed or skipped push) the check raises
:class:`AdapterDriftError` instead of letting PPO train on another policy's samples.

The server runs with ``--logprobs-mode processed_logprobs`` (engine/serve.py): a sampled token's
log-prob is that of the distribution it was drawn from (after temperature, top-k, top-p, penalties),
which the loop's sampled drift check compares with the trainer's at the training temperature; a
greedy request gets no temperature, so the greedy check's trainer side is computed at temperature 1.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import torch

from engine.rollout import RolloutBatch, cut_replies, left_pad
from engine.serve import lora_load, lora_unload


def sampling_fields(*, greedy: bool, temperature: float, top_p: float, seed: int | None) -> dict:
    """Every sampling field of a rollout request, explicit, so that neither the server's defaults nor a
    checkpoint's generation_config.json (Qwen3 ships ``top_k: 20``) can reshape the distribution the
    loss assumes: plain sampling at ``temperature`` / ``top_p`` over the whole vocabulary, no penalties,
    no minimum length, one choice per prompt. (The server also runs with ``--generation-config vllm``.)

    >>> sampling_fields(greedy=False, temperature=1.0, top_p=1.0, seed=7)["top_k"]
    -1
    """
    fields = {
        "n": 1, "top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0, "presence_penalty": 0.0,
        "frequency_penalty": 0.0, "min_tokens": 0, "ignore_eos": False,
    }  # fmt: skip
    if greedy:
        return {**fields, "temperature": 0.0, "top_p": 1.0}
    return {**fields, "temperature": temperature, "top_p": top_p, "seed": seed}


class AdapterDriftError(RuntimeError):
    """The server's log-probs do not match the trainer's: it is not serving the trained policy."""


class VLLMError(RuntimeError):
    """The vLLM server refused a request (the message holds its answer)."""


def mean_abs_drift(trainer: torch.Tensor, server: torch.Tensor) -> float:
    """Mean |log p_trainer - log p_server| over the checked tokens.

    >>> mean_abs_drift(torch.tensor([-1.0, -2.0]), torch.tensor([-1.1, -1.9]))
    0.1
    """
    return round(float((trainer - server).abs().mean()), 6)


class VLLMClient:
    """The few endpoints the trainer needs, over one keep-alive HTTP client."""

    def __init__(self, base_url: str, *, timeout: float = 300.0):
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(timeout=timeout)

    def _post(self, path: str, payload: dict) -> httpx.Response:
        response = self.http.post(f"{self.base_url}{path}", json=payload)
        if response.status_code >= 400:
            raise VLLMError(f"POST {path} -> {response.status_code}: {response.text[:500]}")
        return response

    def push_adapter(self, *, name: str, path: str) -> None:
        """Unload ``name`` (absent is fine), then load it from ``path``."""
        lora_unload(self.base_url, name=name, client=self.http)
        lora_load(self.base_url, name=name, path=path, client=self.http)

    def complete(self, *, model: str, prompts: list[list[int]], **params) -> list[dict]:
        """One completion per token-id prompt, in prompt order, with token ids and log-probs."""
        payload = {"model": model, "prompt": prompts, "logprobs": 0, "return_token_ids": True, **params}
        choices = self._post("/completions", payload).json()["choices"]
        return sorted(choices, key=lambda c: c["index"])

    def close(self) -> None:
        self.http.close()


class VLLMRollout:
    """The ``vllm`` rollout backend of the PPO / REPO loop."""

    def __init__(self, *, client: VLLMClient, lora_name: str, adapter_root: Path, tokenizer, config):
        self.client, self.lora_name, self.adapter_root = client, lora_name, Path(adapter_root)
        self.tokenizer, self.config = tokenizer, config
        self.last_prompts: list[list[int]] = []

    def generate(
        self, prompts: list[list[int]], *, greedy: bool = False, max_tokens: int | None = None
    ) -> RolloutBatch:
        cfg, tok = self.config, self.tokenizer
        max_tokens = max_tokens or cfg.max_response_length
        # vLLM's sampler has its own RNG; seeding it from torch's keeps a resumed run reproducible.
        seed = None if greedy else int(torch.randint(0, 2**31 - 1, ()).item())
        sampling = sampling_fields(greedy=greedy, temperature=cfg.temperature, top_p=cfg.top_p, seed=seed)
        choices = self.client.complete(model=self.lora_name, prompts=prompts, max_tokens=max_tokens, **sampling)
        self.last_prompts = prompts
        replies = [list(c["token_ids"]) for c in choices]
        response_ids, response_mask, ended = cut_replies(
            replies, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, max_tokens=max_tokens
        )
        ended = ended | torch.tensor([c.get("finish_reason") == "stop" for c in choices])
        logprobs = torch.zeros_like(response_mask)
        for i, choice in enumerate(choices):
            values = [v if v is not None else 0.0 for v in choice["logprobs"]["token_logprobs"]]
            n = int(response_mask[i].sum())
            logprobs[i, :n] = torch.tensor(values[:n])
        query_ids, query_mask = left_pad(prompts, pad_id=tok.pad_token_id)
        texts = [c["text"] for c in choices]
        return RolloutBatch(query_ids, query_mask, response_ids, response_mask, texts, ended, logprobs)

    def push(self, save_adapter: Callable[[Path], str], *, step: int) -> str:
        """Save the current policy adapter (``save_adapter(dir) -> adapter dir``) and load it on the
        server; older pushed copies are removed."""
        target = self.adapter_root / f"step-{step:06d}-{random.getrandbits(32):08x}"
        path = save_adapter(target)
        self.client.push_adapter(name=self.lora_name, path=path)
        for old in self.adapter_root.glob("step-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)
        return path

    def drift_check(self, trainer_logprobs: Callable[[RolloutBatch], torch.Tensor], *, prompt: list[int]) -> float:
        """Greedy tokens from the server with its log-probs vs the trainer's log-probs for them;
        raises :class:`AdapterDriftError` past ``config.drift_tolerance``. Returns the drift."""
        sample = self.generate([prompt], greedy=True, max_tokens=self.config.drift_check_tokens)
        mask = sample.response_mask.bool()
        drift = mean_abs_drift(trainer_logprobs(sample)[mask], sample.sampler_logprobs[mask])
        if drift > self.config.drift_tolerance:
            raise AdapterDriftError(
                f"vLLM adapter {self.lora_name!r} disagrees with the trainer: mean |delta log p| = {drift:.4f} "
                f"over {int(mask.sum())} tokens (tolerance {self.config.drift_tolerance}). The server is "
                "serving stale or different weights; check that the adapter push succeeded."
            )
        return drift
