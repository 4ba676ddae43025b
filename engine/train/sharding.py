"""``parallel: fsdp`` for the PPO / REPO loop: FSDP2 (``torch.distributed.fsdp.fully_shard``) over the
shared base, its LoRA adapters and the value head, and the helpers the loop needs around sharded
(DTensor) parameters.

What is sharded, each its own FSDP group (docs/engine.md, "Sharding the loop"):

- every decoder layer, with the ``policy``, ``value`` and frozen ``reward`` LoRA weights inside it;
- the backbone's final norm, as the group of the backbone, the module the loop calls for hidden states;
- the value head (a group of its own, so its gradient is reduced by FSDP like the adapters').

Finer groups inside each layer (its attention and MLP, or each projection) and FSDP's prefetch are
switches (``fsdp_unit``, ``fsdp_prefetch``; :func:`shard_actor_critic`): what is held gathered during
the step against the number of all-gathers and their overlap with compute.

The embedding and the LM head (frozen; V x H each, one matrix when tied) are not FSDP groups: each
rank keeps its contiguous slice of vocabulary rows and the ranks combine their slices
(engine/train/vocab_parallel.py, the embedding lookup, the head's log-probs and entropy, and whole
logits for generation). FSDP would gather the whole (V, H) matrix for every use, twice its size for a
moment (the all-gather's buffer and the parameter), and the loop calls the head inside the
non-reentrant checkpoint of each log-prob chunk (engine/train/memory.py), where an FSDP module is
gathered again in the recomputation with other saved-tensor metadata, which torch's checkpoint
rejects (seen at micro-batch 1).

Peft's adapter switching keeps working: the adapters live inside the same decoder layers and only the
active one is in a forward's graph, so only its gradients exist and are reduce-scattered. The RM's
score head stays replicated (frozen, tiny).

Checkpoints stay portable: :func:`full_tensor` gathers a sharded tensor to a plain one, so the
trainable state, the optimiser's state and the delivered adapter are written as full tensors, the
same files a replicated (DDP) run writes; :func:`shard_like` cuts a full tensor back into the local
shard of a parameter on load, for any world size.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from engine.train.ppo_config import FSDP_UNITS
from engine.train.vocab_parallel import shard_vocabulary

PARALLEL_MODES = ("ddp", "fsdp")
_SUBLAYERS = ("self_attn", "mlp")
_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _dtensor_type():
    from torch.distributed.tensor import DTensor

    return DTensor


def is_sharded(tensor: Any) -> bool:
    """True for a DTensor (a parameter, gradient or optimiser state sharded by FSDP)."""
    return dist.is_available() and isinstance(tensor, _dtensor_type())


def full_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """The whole tensor: a DTensor gathered from every rank (a collective: all ranks must call it in the
    same order), a plain tensor as it is."""
    return tensor.full_tensor() if is_sharded(tensor) else tensor


def shard_like(full: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``full`` (a plain tensor of ``like``'s global shape) as ``like`` is laid out: for a DTensor, this
    rank's shard, cut locally (no communication: every rank holds the same ``full``)."""
    if not is_sharded(like):
        return full.to(device=like.device, dtype=like.dtype)
    from torch.distributed.tensor import distribute_tensor

    full = full.to(device=like.device, dtype=like.dtype)
    return distribute_tensor(full, like.device_mesh, like.placements, src_data_rank=None)


def shard_actor_critic(
    ac,
    *,
    world_size: int,
    device: torch.device | str | None = None,
    reshard_after_forward: bool = True,
    prefetch: bool | None = None,
    unit: str = "layer",
) -> None:
    """Apply FSDP2 to ``ac`` (an :class:`engine.train.ppo_model.ActorCritic`) in place, over
    ``world_size`` ranks of the default process group, each rank's shards on ``device`` (default: where
    ``ac`` is; build it on the host and pass the GPU, so that no rank ever holds the whole base there).
    Call after every adapter (the RM's included) has been added and before the optimiser is built: it
    replaces the parameters by DTensors.

    ``unit``: what one FSDP group (one all-gather, the weights gathered at a time) is in each decoder
    layer: ``layer``, the whole layer; ``sublayer``, its attention and its MLP apart (the norms stay in
    the layer's group); ``linear``, each projection apart (q, k, v, o, gate, up, down with their
    adapters). Finer units hold less gathered at once, for more, smaller all-gathers.
    ``prefetch``: FSDP's default overlap of the next unit's all-gather with this one's work (see
    :func:`_no_prefetch`); ``None`` = on for CUDA, where it overlaps on its own streams, off elsewhere,
    where every collective is synchronous and a prefetch only holds a unit more for nothing."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    device = torch.device(device) if device is not None else ac.device
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    mesh = init_device_mesh(device.type, (world_size,))
    base = ac.model.get_base_model()
    backbone = base.model
    layers = getattr(backbone, "layers", None)
    if layers is None:
        raise ValueError(f"parallel fsdp: {type(backbone).__name__} has no .layers to shard")
    # The embedding and the LM head (tied or not): this rank's rows of the vocabulary, on the device,
    # outside FSDP (engine/train/vocab_parallel.py); the whole matrices are freed
    vocab_group = dist.new_group(ranks=list(range(world_size)))
    shard_vocabulary(base, rank=dist.get_rank(), world_size=world_size, group=vocab_group, device=device)
    kwargs = {"mesh": mesh, "reshard_after_forward": reshard_after_forward}
    if unit not in FSDP_UNITS:
        raise ValueError(f"fsdp unit must be one of {', '.join(FSDP_UNITS)}, not {unit!r}")
    if prefetch is None:
        prefetch = device.type == "cuda"
    units = []
    for layer in layers:
        for part in _sub_units(layer, unit):
            fully_shard(part, **kwargs)
            units.append(part)
        fully_shard(layer, **kwargs)
        units.append(layer)
    ignored = set(base.get_input_embeddings().parameters())
    for root, extra in ((backbone, {"ignored_params": ignored}), (ac.value_head, {})):  # roots the loop calls
        fully_shard(root, **kwargs, **extra)
        # FSDP keeps a root's weights gathered from its forward to its backward (the final norm here)
        root.set_reshard_after_forward(reshard_after_forward, recurse=False)
    if not prefetch:
        for module in units:
            _no_prefetch(module)
    for module in ac.frozen_heads:  # replicated, frozen; FSDP moved the rest
        module.to(device)


def _sub_units(layer: nn.Module, unit: str) -> list[nn.Module]:
    """The modules of ``layer`` that get an FSDP group of their own before the layer's (which keeps
    the rest): none for ``layer``; the attention and the MLP for ``sublayer``; each projection, with
    its LoRA wrapper, for ``linear``."""
    parts = [getattr(layer, name) for name in _SUBLAYERS if hasattr(layer, name)] if unit != "layer" else []
    if unit == "linear":
        parts = [getattr(part, name) for part in parts for name in _PROJECTIONS if hasattr(part, name)]
    return parts


def _no_prefetch(module) -> None:
    """At most one unit's weights gathered at a time (torch 2.13's FSDP2 defaults hold up to three):

    - forward: with a blocking all-gather FSDP keeps a unit's flat all-gather buffer (its whole size)
      until the next unit's copy-out, to overlap the two; an "async" unshard that the pre-forward hook
      waits on at once frees it right after the copy-out instead;
    - backward: with no explicit list FSDP gathers the unit that ran before this one in the forward
      while this one's backward runs; an explicit list disables that default, and the unit itself
      (already gathered when the list is read) makes the prefetch a no-op.

    ``_set_unshard_async_op`` is torch's own (underscored, documented in its docstring; read in 2.13's
    ``torch/distributed/fsdp/_fully_shard``); an empty backward list would not do: FSDP takes an empty
    list for "use the default"."""
    module._set_unshard_async_op(True)
    module.set_modules_to_backward_prefetch([module])


def clip_grad_norm(params: Iterable[nn.Parameter], max_norm: float) -> torch.Tensor:
    """:func:`torch.nn.utils.clip_grad_norm_` (2-norm) over sharded and plain gradients together: the
    shards' squares are summed over ranks, a plain gradient (the same on every rank) counts once."""
    grads = [p.grad for p in params if p.grad is not None]
    sharded = [g for g in grads if is_sharded(g)]
    plain = [g for g in grads if not is_sharded(g)]
    device = grads[0].device if grads else torch.device("cpu")
    local = torch.zeros((), dtype=torch.float64, device=device)
    for grad in sharded:
        local += grad.to_local().double().pow(2).sum()
    if sharded and dist.is_initialized():
        dist.all_reduce(local, op=dist.ReduceOp.SUM)
    for grad in plain:
        local += grad.double().pow(2).sum()
    total = local.sqrt().float()
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for grad in grads:
        target = grad.to_local() if is_sharded(grad) else grad
        target.mul_(coef.to(device=target.device, dtype=target.dtype))
    return total


def full_optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """``optimizer.state_dict()`` with every sharded tensor gathered (a collective), so a checkpoint
    holds the same plain tensors whatever the world size and the parallel mode. Plain tensors are the
    optimiser's own (save them before the next step, or copy them)."""
    state = optimizer.state_dict()
    state["state"] = {
        index: {key: full_tensor(value) if isinstance(value, torch.Tensor) else value for key, value in entry.items()}
        for index, entry in state["state"].items()
    }
    return state


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load a full (gathered) optimiser state into an optimiser over sharded or plain parameters: each
    parameter-shaped tensor becomes that parameter's local shard."""
    optimizer.load_state_dict(state)
    for group in optimizer.param_groups:
        for param in group["params"]:
            if not is_sharded(param):
                continue
            entry = optimizer.state.get(param, {})
            for key, value in list(entry.items()):
                if isinstance(value, torch.Tensor) and not is_sharded(value) and value.shape == param.shape:
                    entry[key] = shard_like(value, param)


def bucketed_all_reduce_mean(tensors: list[torch.Tensor], *, world_size: int, bucket_bytes: int) -> int:
    """Average ``tensors`` over ranks in place with one all-reduce per bucket of at most ``bucket_bytes``
    (tensors of one dtype and device flattened together, as DDP's buckets); returns the number of
    all-reduce calls."""
    from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

    calls = 0
    groups: dict[tuple, list[torch.Tensor]] = {}
    for tensor in tensors:
        groups.setdefault((tensor.dtype, tensor.device), []).append(tensor)
    for group in groups.values():
        bucket: list[torch.Tensor] = []
        size = 0
        for tensor in [*group, None]:
            nbytes = 0 if tensor is None else tensor.numel() * tensor.element_size()
            if bucket and (tensor is None or size + nbytes > bucket_bytes):
                flat = _flatten_dense_tensors(bucket)
                dist.all_reduce(flat, op=dist.ReduceOp.SUM)
                flat /= world_size
                for out, reduced in zip(bucket, _unflatten_dense_tensors(flat, bucket), strict=True):
                    out.copy_(reduced)
                calls += 1
                bucket, size = [], 0
            if tensor is not None:
                bucket.append(tensor)
                size += nbytes
    return calls
