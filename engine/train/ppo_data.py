"""Prompt rows for the RL loop and a resumable, seeded order over them.

Rows are the prompt export (``engine.demo.datasets.prompt_rows`` or a dataset snapshot): JSONL of
``{"prompt": [chat messages], "task": case}``. The stream's whole state is ``(epoch, position)``, so
a checkpoint that stores it resumes on exactly the next batch.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from engine.jsonl import iter_jsonl
from engine.prompting import chat_ids
from engine.task import task_errors


def read_prompt_rows(paths: list[str]) -> list[dict[str, Any]]:
    """Read and check JSONL prompt rows; a broken row is an error naming its file and line."""
    rows = []
    for path in paths:
        for number, row in iter_jsonl(path):
            if not isinstance(row.get("prompt"), list) or not row["prompt"]:
                raise ValueError(f"{path}:{number}: 'prompt' must be a non-empty list of chat messages")
            errors = task_errors(row.get("task"))
            if errors:
                raise ValueError(f"{path}:{number}: task: {errors[0]}")
            rows.append(row)
    if not rows:
        raise ValueError(f"no prompt rows in {', '.join(paths)}")
    return rows


def fit_prompt(
    tokenizer, messages: list[dict[str, str]], *, max_length: int, template_kwargs: dict | None = None
) -> tuple[list[int], int]:
    """The chat template with the generation prompt, at most ``max_length`` tokens, and how many
    whole messages were dropped to get there (0 = untruncated).

    An over-long dialogue drops its *oldest whole turns* after the system message, never the system
    message itself (it holds the case: rooms, prices, rivals, the SOP) nor the last message (what the
    reply answers). Only when the system message and the last message alone do not fit is the prompt
    cut to its last ``max_length`` tokens, counted as every message but the last dropped.
    """
    ids = chat_ids(tokenizer, messages, kwargs=template_kwargs)
    if len(ids) <= max_length:
        return ids, 0
    head = 1 if messages[0].get("role") == "system" else 0
    kept = list(messages)
    dropped = 0
    while len(kept) > head + 1:
        kept = kept[:head] + kept[head + 1 :]
        dropped += 1
        ids = chat_ids(tokenizer, kept, kwargs=template_kwargs)
        if len(ids) <= max_length:
            return ids, dropped
    return chat_ids(tokenizer, messages, kwargs=template_kwargs)[-max_length:], len(messages) - 1


def encode_prompt(
    tokenizer, messages: list[dict[str, str]], *, max_length: int, template_kwargs: dict | None = None
) -> list[int]:
    """:func:`fit_prompt`'s token ids: the case kept, the oldest turns dropped first."""
    return fit_prompt(tokenizer, messages, max_length=max_length, template_kwargs=template_kwargs)[0]


class PromptStream:
    """Batches of rows in a seeded order, reshuffled every epoch; ``state_dict`` resumes it exactly.

    >>> stream = PromptStream([{"i": i} for i in range(5)], seed=0)
    >>> [len(stream.next_batch(2)) for _ in range(3)], stream.state_dict()
    ([2, 2, 2], {'epoch': 1, 'position': 1})
    """

    def __init__(self, rows: list[dict[str, Any]], *, seed: int):
        self.rows, self.seed = rows, seed
        self.epoch, self.position = 0, 0

    def _order(self, epoch: int) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 10_007 + epoch)
        return torch.randperm(len(self.rows), generator=generator).tolist()

    def next_batch(self, size: int) -> list[dict[str, Any]]:
        batch = []
        while len(batch) < size:
            order = self._order(self.epoch)
            take = order[self.position : self.position + size - len(batch)]
            batch += [self.rows[i] for i in take]
            self.position += len(take)
            if self.position >= len(order):
                self.epoch, self.position = self.epoch + 1, 0
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def total_steps(*, num_rows: int, batch_size: int, num_epochs: float, max_steps: int | None) -> int:
    """Optimiser steps of the run: ``max_steps`` when set, else ``num_epochs`` passes over the rows.

    >>> total_steps(num_rows=100, batch_size=8, num_epochs=2.0, max_steps=None)
    25
    """
    if max_steps is not None:
        return max_steps
    return max(1, math.ceil(num_epochs * num_rows / batch_size))
