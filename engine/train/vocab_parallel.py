"""The vocabulary-parallel embedding and LM head of ``parallel: fsdp`` (docs/engine.md, "Sharding").

The base's embedding and LM head are frozen (LoRA does not adapt them), V x H each and one matrix when
the model ties them (Qwen3-0.6B: 151 936 x 1 024, 594 MB in float32). FSDP would gather the whole
matrix for every use; instead each rank keeps only its contiguous slice of vocabulary rows
(:func:`vocab_bounds`: uneven when the world size does not divide V, the first ``V % W`` ranks one row
more) and the ranks combine what their slices give:

- **Embedding** (:class:`VocabParallelEmbedding`): every rank looks up the ids of *every* rank (they
  hold different rows of data: this is data parallelism, not tensor parallelism, so the ids are
  all-gathered first), ids outside its slice masked to row 0 and their rows zeroed; the partial
  embeddings are summed over ranks and each rank receives its own rows (a reduce-scatter). Frozen: no
  graph.
- **Head, log-probs and entropy** (:class:`VocabParallelHead`, used by
  ``engine.train.memory._chunk_stats``, the loop's one log-prob function): the hidden states of every
  rank are all-gathered (:func:`gather_rows`), each rank computes the logits of its vocabulary slice
  for all of them, and the log-softmax terms are combined over ranks: the log-sum-exp from each
  slice's own (all-reduce max, then all-reduce sum of ``exp(lse_slice - max)``), the taken token's
  logit by masking it on the ranks that do not hold it and an all-reduce sum, the entropy's
  ``sum p z`` as a sum over slices weighted by ``exp(lse_slice - lse)``. The sums are autograd-aware
  (:class:`_AllReduceSum`: the backward all-reduces the gradient, because every rank's loss depends
  on every slice), and the row gather's backward sums the gradients of a rank's rows over ranks and
  hands them back to their owner (a reduce-scatter): the hidden-state gradient is the unsharded one.
- **Full logits** (``VocabParallelHead.forward``, no graph): for transformers' ``generate`` (rollouts
  and the probe's greedy replies, every rank in the loop under ``synced_gpus``), which asks the head
  for the last position only, and ``policy_logits``. Each rank's slice of the logits of every rank's
  rows is all-gathered and each rank keeps its own rows: ``(rows, V)``.

Every call is a collective over :attr:`VocabParallel.group`: all ranks must make it in the same order
with their own (possibly differently shaped) rows, as FSDP's forward passes already require.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def vocab_bounds(vocab: int, world_size: int, rank: int) -> tuple[int, int]:
    """Rows ``[start, end)`` of rank ``rank``: contiguous, as even as possible (the first
    ``vocab % world_size`` ranks hold one row more). Refuses a vocabulary smaller than the world."""
    if vocab < world_size:
        raise ValueError(f"vocabulary sharding: {vocab} rows cannot be split over {world_size} ranks")
    base, extra = divmod(vocab, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


@dataclass(frozen=True)
class VocabParallel:
    """This rank's place in the vocabulary: its rows ``[start, end)`` of ``vocab``, over ``group``."""

    vocab: int
    start: int
    end: int
    rank: int
    world_size: int
    group: object = None  # a process group; None = the default one

    @property
    def widest(self) -> int:
        """The most rows any rank holds (rank 0's)."""
        return vocab_bounds(self.vocab, self.world_size, 0)[1]


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the backward sums the gradient over ranks too (each rank's loss reads the sum)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        out = tensor.contiguous().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


class _GatherRows(torch.autograd.Function):
    """Every rank's rows ``(n_r, ...)``, each padded to the most rows ``widest``, stacked in rank order:
    ``(world * widest, ...)``. Backward: a rank's rows were used on every rank, so their gradient is the
    sum over ranks of that rank's block: a reduce-scatter (each rank receives the sum of its own block
    only, half an all-reduce's traffic)."""

    @staticmethod
    def forward(ctx, rows: torch.Tensor, widest: int, world: int, group) -> torch.Tensor:
        ctx.n, ctx.widest, ctx.group = rows.shape[0], widest, group
        return _gather_padded(rows, widest, world, group)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return _own_block_summed(grad, ctx.widest, ctx.group)[: ctx.n], None, None, None


def _own_block_summed(gathered: torch.Tensor, widest: int, group) -> torch.Tensor:
    """This rank's ``widest``-row block of a ``(world * widest, ...)`` tensor, summed over ranks."""
    out = gathered.new_empty((widest, *gathered.shape[1:]))
    dist.reduce_scatter_tensor(out, gathered.contiguous(), op=dist.ReduceOp.SUM, group=group)
    return out


def _gather_padded(rows: torch.Tensor, widest: int, world: int, group) -> torch.Tensor:
    padded = rows.new_zeros((widest, *rows.shape[1:]))
    padded[: rows.shape[0]] = rows
    out = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(out, padded.contiguous(), group=group)
    return torch.cat(out)


@dataclass(frozen=True)
class Rows:
    """Where this rank's rows sit among the gathered ones: rank ``rank``'s block of ``widest`` rows, of
    which the first ``n`` are real; ``shape`` = the leading shape they had."""

    n: int
    widest: int
    rank: int
    shape: tuple[int, ...]

    def own(self, gathered: torch.Tensor) -> torch.Tensor:
        """This rank's results of a ``(world * widest, ...)`` tensor, back in the leading shape."""
        begin = self.rank * self.widest
        return gathered[begin : begin + self.n].reshape(*self.shape, *gathered.shape[1:])


class _VocabModule(nn.Module):
    """A frozen ``(rows, H)`` slice of the vocabulary with its place (:class:`VocabParallel`)."""

    def __init__(self, weight: nn.Parameter, place: VocabParallel):
        super().__init__()
        self.weight = weight
        self.place = place

    def max_over_ranks(self, value: int, device: torch.device) -> int:
        """The largest ``value`` of any rank (a collective)."""
        count = torch.tensor([value], device=device)
        dist.all_reduce(count, op=dist.ReduceOp.MAX, group=self.place.group)
        return int(count.item())

    def _rows_of_all(self, rows: torch.Tensor, *, grad: bool) -> tuple[torch.Tensor, Rows]:
        """All ranks' rows of a ``(..., X)`` (or ``(...)`` for ids) tensor, flattened and gathered."""
        place = self.place
        shape = tuple(rows.shape[:-1]) if rows.is_floating_point() else tuple(rows.shape)
        flat = rows.reshape(-1, rows.shape[-1]) if rows.is_floating_point() else rows.reshape(-1)
        widest = self.max_over_ranks(flat.shape[0], flat.device)
        if grad:
            gathered = _GatherRows.apply(flat, widest, place.world_size, place.group)
        else:
            gathered = _gather_padded(flat.detach(), widest, place.world_size, place.group)
        return gathered, Rows(flat.shape[0], widest, place.rank, shape)


class VocabParallelEmbedding(_VocabModule):
    """``nn.Embedding`` over this rank's rows of the vocabulary (frozen): see the module doc."""

    @torch.no_grad()
    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        place = self.place
        ids, rows = self._rows_of_all(input_ids, grad=False)
        inside = (ids >= place.start) & (ids < place.end)
        out = F.embedding(torch.where(inside, ids - place.start, 0), self.weight)
        out = out * inside.unsqueeze(-1).to(out.dtype)
        own = _own_block_summed(out, rows.widest, place.group)  # every rank's rows of its own ids, summed
        return own[: rows.n].reshape(*rows.shape, own.shape[-1])


class VocabParallelHead(_VocabModule):
    """The LM head over this rank's rows of the vocabulary (frozen), and the collectives the loop's
    log-prob function combines its slices with: see the module doc."""

    def __init__(self, weight: nn.Parameter, place: VocabParallel, bias: nn.Parameter | None = None):
        super().__init__(weight, place)
        self.bias = bias

    def gather_rows(self, hidden: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Rows]:
        """Every rank's hidden states ``(N_all, H)`` (with a graph back to this rank's) and tokens
        ``(N_all,)``, and where this rank's rows are among them."""
        hidden_all, rows = self._rows_of_all(hidden, grad=True)
        tokens_all, _ = self._rows_of_all(tokens, grad=False)
        return hidden_all, tokens_all, rows

    def local_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The logits of this rank's vocabulary slice, ``(..., end - start)``."""
        return F.linear(hidden, self.weight, self.bias)

    def logsumexp(self, local_lse: torch.Tensor) -> torch.Tensor:
        """The log-sum-exp over the whole vocabulary from each slice's own."""
        top = local_lse.detach().clone()
        dist.all_reduce(top, op=dist.ReduceOp.MAX, group=self.place.group)
        return top + torch.log(self.sum(torch.exp(local_lse - top)))

    def pick(self, logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The logit of each token, whichever rank holds its row."""
        inside = (tokens >= self.place.start) & (tokens < self.place.end)
        local = torch.where(inside, tokens - self.place.start, 0)
        picked = logits.gather(-1, local.unsqueeze(-1)).squeeze(-1)
        return self.sum(torch.where(inside, picked, torch.zeros_like(picked)))

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum over ranks, with the gradient summed back."""
        return _AllReduceSum.apply(tensor, self.place.group)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """The whole vocabulary's logits of this rank's ``hidden`` ``(..., H)`` -> ``(..., V)``, with no
        graph (generation, the greedy probe, ``policy_logits``): the loop's log-probs take the
        vocabulary-parallel path of ``engine.train.memory`` instead."""
        if torch.is_grad_enabled() and hidden.requires_grad:
            raise RuntimeError("VocabParallelHead gives whole logits without a graph; train through reply_logprobs")
        place = self.place
        with torch.no_grad():
            hidden_all, rows = self._rows_of_all(hidden, grad=False)
            local = self.local_logits(hidden_all)
            padded = local.new_zeros((local.shape[0], place.widest))
            padded[:, : local.shape[1]] = local
            slices = [torch.empty_like(padded) for _ in range(place.world_size)]
            dist.all_gather(slices, padded, group=place.group)
            widths = [
                end - start
                for start, end in (vocab_bounds(place.vocab, place.world_size, r) for r in range(place.world_size))
            ]
            whole = torch.cat([s[:, :w] for s, w in zip(slices, widths, strict=True)], dim=-1)
            return rows.own(whole)


def shard_vocabulary(base: nn.Module, *, rank: int, world_size: int, group=None, device=None) -> VocabParallel:
    """Replace ``base``'s input embedding and LM head (a transformers causal LM) by this rank's
    vocabulary-parallel slices, in place, tied or not (a tied pair keeps one slice, shared); the whole
    matrices are freed. Returns this rank's place."""
    embedding, head = base.get_input_embeddings(), base.get_output_embeddings()
    tied = head is not None and head.weight is embedding.weight
    vocab = embedding.weight.shape[0]
    if head is not None and head.weight.shape[0] != vocab:
        raise ValueError(f"vocabulary sharding: the head has {head.weight.shape[0]} rows, the embedding {vocab}")
    start, end = vocab_bounds(vocab, world_size, rank)
    place = VocabParallel(vocab, start, end, rank, world_size, group)

    def cut(weight: torch.Tensor) -> nn.Parameter:
        return nn.Parameter(weight.detach()[start:end].to(device=device).clone(), requires_grad=False)

    emb_slice = cut(embedding.weight)
    base.set_input_embeddings(VocabParallelEmbedding(emb_slice, place))
    if head is not None:
        bias = getattr(head, "bias", None)
        bias = None if bias is None else cut(bias)
        base.set_output_embeddings(VocabParallelHead(emb_slice if tied else cut(head.weight), place, bias))
    return place
