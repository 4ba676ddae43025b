"""The vocabulary-parallel embedding and LM head of ``parallel: fsdp`` (engine/train/vocab_parallel.py),
two gloo ranks on the CPU against the whole matrices: a random one-layer Qwen3 of 37 tokens (odd, so
the ranks' slices are uneven), tied and untied. Each rank has its own rows of data, of another batch
size and length than the other rank's (data parallelism: the ranks never see the same tokens).

Checked on every rank: the embedding lookup; the whole logits of ``forward`` (refused with a graph);
the loop's log-prob function (``chunked_logprobs``, chunks of 2 with a temperature) — log-probs,
entropy and the gradient of a loss of both w.r.t. the hidden states, against the unsharded head; and
greedy ``generate`` under ``synced_gpus``."""

from __future__ import annotations

import copy
import os

import pytest
import torch
import torch.multiprocessing as mp

from engine.train.vocab_parallel import vocab_bounds
from tests.fixtures.engine import free_port

VOCAB, HIDDEN, WORLD = 37, 16, 2
TOLERANCE = 1e-5


def test_vocab_bounds_cover_the_vocabulary_contiguously_and_unevenly():
    assert [vocab_bounds(37, 2, r) for r in range(2)] == [(0, 19), (19, 37)]
    assert [vocab_bounds(10, 4, r) for r in range(4)] == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert [vocab_bounds(8, 2, r) for r in range(2)] == [(0, 4), (4, 8)]
    with pytest.raises(ValueError, match="cannot be split"):
        vocab_bounds(3, 4, 0)


def _model(tied: bool):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)  # the same weights on every rank
    config = Qwen3Config(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, head_dim=8, tie_word_embeddings=tied, eos_token_id=None, pad_token_id=0,
    )  # fmt: skip
    model = Qwen3ForCausalLM(config).eval().requires_grad_(False)
    assert (model.get_output_embeddings().weight is model.get_input_embeddings().weight) == tied
    return model


def _rank_data(rank: int):
    """This rank's rows: rank r has 2 + r rows of 5 + 2r positions."""
    gen = torch.Generator().manual_seed(100 + rank)
    rows, length = 2 + rank, 5 + 2 * rank
    ids = torch.randint(0, VOCAB, (rows, length), generator=gen)
    hidden = torch.randn(rows, length, HIDDEN, generator=gen)
    weights = torch.randn(rows, length, generator=gen)
    return ids, hidden, weights


def _stats(head, hidden, tokens, weights):
    from engine.train.memory import chunked_logprobs

    hidden = hidden.clone().requires_grad_(True)
    logprobs, ent = chunked_logprobs(
        hidden, head, tokens, temperature=0.7, chunk_size=2, entropy=True, entropy_grad=True
    )  # fmt: skip
    ((logprobs * weights).sum() - 0.3 * (ent * weights).sum()).backward()
    return logprobs.detach(), ent.detach(), hidden.grad


def _close(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    assert a.shape == b.shape, (what, a.shape, b.shape)
    assert torch.allclose(a, b, atol=TOLERANCE, rtol=TOLERANCE), (what, float((a - b).abs().max()))


def _worker(rank: int, world: int, port: int, tied: bool) -> None:
    import torch.distributed as dist

    from engine.train.memory import plain_logprobs
    from engine.train.vocab_parallel import VocabParallelEmbedding, VocabParallelHead, shard_vocabulary

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = _model(tied)
        whole = copy.deepcopy(model)
        place = shard_vocabulary(model, rank=rank, world_size=world, group=dist.new_group(ranks=list(range(world))))
        embedding, head = model.get_input_embeddings(), model.get_output_embeddings()
        assert isinstance(embedding, VocabParallelEmbedding) and isinstance(head, VocabParallelHead)
        assert head.weight.shape == (place.end - place.start, HIDDEN)
        assert (head.weight is embedding.weight) == tied  # a tied pair keeps one slice
        ids, hidden, weights = _rank_data(rank)

        _close(embedding(ids), whole.get_input_embeddings()(ids), "embedding")
        with torch.no_grad():
            _close(head(hidden), whole.get_output_embeddings()(hidden), "whole logits")
        with pytest.raises(RuntimeError, match="without a graph"):  # training goes through the log-prob function
            head(hidden.clone().requires_grad_(True))

        sharded = _stats(head, hidden, ids, weights)
        reference = _stats(whole.get_output_embeddings(), hidden, ids, weights)
        truth = plain_logprobs(hidden, whole.get_output_embeddings(), ids, temperature=0.7, entropy=True)
        for got, want, what in zip(sharded, reference, ("log-probs", "entropy", "hidden-state gradient"), strict=True):
            _close(got, want, what)
        _close(sharded[0], truth[0], "log-probs against log_softmax")
        _close(sharded[1], truth[1], "entropy against the softmax's")
        assert float(sharded[2].abs().max()) > 1e-3  # the gradient is not trivially zero

        prompt = ids[:, : 3 + rank]
        kwargs = {"max_new_tokens": 4, "do_sample": False, "pad_token_id": 0}
        asked = []
        head.register_forward_hook(lambda module, args, out: asked.append(tuple(args[0].shape)))
        with torch.no_grad():
            got = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), synced_gpus=True, **kwargs)
            want = whole.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), **kwargs)
        assert torch.equal(got, want), (got, want)
        # generate gathers the whole logits of the last position only, prefill included
        assert asked and all(shape[1] == 1 for shape in asked), asked
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_vocab_parallel_matches_the_whole_vocabulary_and_its_gradients(tied):
    mp.spawn(_worker, args=(WORLD, free_port(), tied), nprocs=WORLD)
