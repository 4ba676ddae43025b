"""Real architectures' dimensions, without downloads: randomly initialised models with the shape of
Qwen3-0.6B .. Qwen3-32B for memory and throughput measurements, their parameter counts, and the
memory model of the PPO / REPO loop (docs/engine.md, "Memory model").

The values are those of each model's published ``config.json`` (the Hugging Face model cards).
Random weights produce gibberish, but every tensor has the real size, so the memory and the time of
a training step are those of the real model at the same sequence lengths.

    python -m engine bootstrap --shape qwen3-0.6b --out DIR       (random weights + the tiny tokenizer)
    python -m engine.shapes                                        (the "what fits where" table)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3


@dataclass(frozen=True)
class Shape:
    """One decoder-only architecture's dimensions (``config.json`` of the model card)."""

    name: str
    family: str  # "qwen3" (q/k RMSNorm, no qkv bias) or "qwen2" (qkv bias)
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    head_dim: int = 128
    tied_embeddings: bool = False

    # -- parameter counts ------------------------------------------------------------------------
    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of every linear layer of one decoder layer (what ``all-linear`` LoRA adapts)."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        return {
            "q_proj": (h, q),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (q, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    def layer_params(self) -> int:
        linear = sum(a * b for a, b in self.linear_shapes().values())
        norms = 2 * self.hidden
        if self.family == "qwen3":
            norms += 2 * self.head_dim  # q_norm, k_norm
        else:
            linear += (self.heads + 2 * self.kv_heads) * self.head_dim  # q, k, v biases
        return linear + norms

    def params(self) -> int:
        """All parameters of the base (embeddings, layers, final norm, LM head unless tied)."""
        embed = self.vocab * self.hidden
        return embed * (1 if self.tied_embeddings else 2) + self.layers * self.layer_params() + self.hidden

    def lora_params(self, rank: int) -> int:
        """Parameters of one rank-``rank`` LoRA adapter on every linear layer of the decoder."""
        return self.layers * sum(rank * (a + b) for a, b in self.linear_shapes().values())

    # -- building --------------------------------------------------------------------------------
    def hf_config(self):
        """The transformers config (Qwen3Config or Qwen2Config) of this shape."""
        from transformers import Qwen2Config, Qwen3Config

        common = {
            "vocab_size": self.vocab,
            "hidden_size": self.hidden,
            "intermediate_size": self.intermediate,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "tie_word_embeddings": self.tied_embeddings,
            "max_position_embeddings": 40960,
            "rope_theta": 1_000_000.0,
            "attention_dropout": 0.0,
        }
        if self.family == "qwen3":
            return Qwen3Config(head_dim=self.head_dim, **common)
        return Qwen2Config(**common)

    def scaled(self, *, layers: int | None = None, width: int = 1, vocab: int | None = None) -> Shape:
        """A smaller variant with the same structure (for fast tests): ``width`` divides the hidden,
        intermediate and head counts; ``layers`` and ``vocab`` replace theirs."""
        hidden, heads = self.hidden // width, max(1, self.heads // width)
        head_dim = self.head_dim if width == 1 else max(8, self.head_dim // width)
        if self.family == "qwen2":  # no head_dim of its own: hidden / heads
            head_dim = hidden // heads
        return dataclasses.replace(
            self,
            name=f"{self.name}/scaled",
            hidden=hidden,
            intermediate=self.intermediate // width,
            heads=heads,
            kv_heads=max(1, self.kv_heads // width),
            head_dim=head_dim,
            layers=layers or self.layers,
            vocab=vocab or self.vocab,
        )


SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 3072, 151936, tied_embeddings=True),
        Shape("qwen3-1.7b", "qwen3", 2048, 28, 16, 8, 6144, 151936, tied_embeddings=True),
        Shape("qwen2.5-1.5b", "qwen2", 1536, 28, 12, 2, 8960, 151936, tied_embeddings=True),
        Shape("qwen2.5-7b", "qwen2", 3584, 28, 28, 4, 18944, 152064),
        Shape("qwen3-8b", "qwen3", 4096, 36, 32, 8, 12288, 151936),
        Shape("qwen3-14b", "qwen3", 5120, 40, 40, 8, 17408, 151936),
        Shape("qwen3-32b", "qwen3", 5120, 64, 64, 8, 25600, 151936),
    )
}


def get_shape(name: str) -> Shape:
    try:
        return SHAPES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown shape {name!r}; known: {', '.join(SHAPES)}") from None


def random_model(shape: Shape, *, dtype=None, seed: int = 0):
    """A randomly initialised causal LM of ``shape`` (HF's own initialisation, seeded)."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(shape.hf_config(), dtype=dtype or torch.float32)


def write_shape_model(shape: Shape, *, out: Path, tokenizer_dir: Path, dtype=None, seed: int = 0) -> Path:
    """Save a random model of ``shape`` with ``tokenizer_dir``'s tokenizer (e.g. the tiny model's;
    its ids are a prefix of the shape's vocabulary) as an HF checkpoint directory the loop can load."""
    from transformers import AutoTokenizer

    if len(AutoTokenizer.from_pretrained(tokenizer_dir)) > shape.vocab:
        raise ValueError(f"the tokenizer of {tokenizer_dir} has more tokens than {shape.name}'s vocabulary")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = random_model(shape, dtype=dtype, seed=seed)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(out)
    generation = Path(tokenizer_dir) / "generation_config.json"
    if generation.is_file():
        (out / "generation_config.json").write_text(generation.read_text(encoding="utf-8"), encoding="utf-8")
    return out


# --------------------------------------------------------------------------------------------------
# The memory model (docs/engine.md, "Memory model"): bytes per rank of the PPO / REPO loop
# --------------------------------------------------------------------------------------------------
BASE_BYTES = 2  # bf16 base on GPUs
ADAPTER_BYTES = 4  # peft keeps the adapters in float32 over a bf16 base
TRAINABLE_BYTES = 4 + 4 + 8  # float32 weight (the master copy itself) + gradient + AdamW m and v


# Bytes the autograd graph keeps per token and decoder layer, per unit of (hidden, intermediate,
# q = heads x head_dim, kv = kv_heads x head_dim), measured with saved-tensor hooks on random Qwen3
# layers with all-linear LoRA in training mode (exact fit over six shapes; SDPA attention). A bf16 base
# also keeps the float32 copies of the inputs that peft casts for its float32 adapters.
ACTIVATION_COEFFICIENTS = {4: (16, 16, 12, 12), 2: (28, 10, 12, 8)}


def activation_bytes_per_token(shape: Shape, *, checkpointing: bool, base_bytes: int = BASE_BYTES) -> int:
    """Bytes the autograd graph keeps per token of one forward pass (policy or critic) through the
    decoder: every layer's saved tensors; with checkpointing, only each layer's input hidden state plus
    one layer's saved tensors while it is recomputed."""
    ch, ci, cq, ckv = ACTIVATION_COEFFICIENTS[base_bytes]
    q, kv = shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim
    per_layer = ch * shape.hidden + ci * shape.intermediate + cq * q + ckv * kv
    if checkpointing:
        return shape.layers * base_bytes * shape.hidden + per_layer
    return shape.layers * per_layer


def logits_bytes_per_token(
    shape: Shape, *, chunked: bool, chunk_tokens: int = 0, tokens: int = 1, copies: int = 5
) -> float:
    """float32 vocabulary-sized tensors alive at the log-prob computation's peak, per reply token:
    ``copies`` of them (the LM head's output, its division by the temperature, the log-softmax, and
    the entropy's softmax and product: 5; 6 when the entropy's are kept in the graph too). Chunked, one
    chunk's worth (``chunk_tokens`` positions of each row), spread over all ``tokens``."""
    per_token = copies * 4 * shape.vocab
    if not chunked:
        return per_token
    return per_token * min(chunk_tokens, tokens) / max(tokens, 1)


@dataclass(frozen=True)
class Estimate:
    base: float
    adapters: float
    activations: float
    logits: float
    optimizer_step: float  # foreach AdamW's temporary, alive after the activations are freed

    @property
    def step(self) -> float:
        """What one update micro-step adds at its peak: the forward/backward or the optimiser step."""
        return max(self.activations + self.logits, self.optimizer_step)

    @property
    def total(self) -> float:
        return self.base + self.adapters + self.step


def estimate(
    shape: Shape,
    *,
    ranks: int = 1,
    parallel: str = "ddp",
    lora_rank: int = 64,
    reward_adapter: bool = True,
    micro_batch: int = 8,
    seq_tokens: int = 1024,
    reply_tokens: int = 512,
    checkpointing: bool = True,
    chunk_tokens: int = 64,
    base_bytes: int = BASE_BYTES,
    logit_copies: int = 5,
    optimizer_temporaries: int = 1,
    prefetch: bool = True,
) -> Estimate:
    """Peak bytes per rank of one PPO update micro-step: the frozen base, the trainable ``policy`` and
    ``value`` adapters (weights, gradients, AdamW) and the frozen ``reward`` adapter, the activations of
    one forward pass of ``micro_batch`` x ``seq_tokens`` and the log-prob logits over the reply.

    ``parallel="fsdp"`` shards the base and the adapters over ``ranks``; ``"ddp"`` replicates them. Under
    FSDP a rank also holds whole layers while it uses them: one, or two with ``prefetch`` (FSDP2's default
    on CUDA, ``fsdp_prefetch: auto``: the next layer's all-gather overlaps this one's work).
    """
    shard = ranks if parallel == "fsdp" else 1
    lora = shape.lora_params(lora_rank)
    adapters = 2 * lora * TRAINABLE_BYTES + (lora * ADAPTER_BYTES if reward_adapter else 0)
    tokens = micro_batch * seq_tokens
    activations = tokens * activation_bytes_per_token(shape, checkpointing=checkpointing, base_bytes=base_bytes)
    reply = micro_batch * reply_tokens
    logits = reply * logits_bytes_per_token(
        shape, chunked=chunk_tokens > 0, chunk_tokens=chunk_tokens, tokens=reply_tokens, copies=logit_copies
    )
    if parallel == "fsdp":  # the layer in use gathered whole, and the next one with the prefetch
        base = shape.params() * base_bytes / shard + (2 if prefetch else 1) * shape.layer_params() * base_bytes
    else:
        base = shape.params() * base_bytes
    # foreach AdamW (torch's default for CUDA tensors) allocates one float32 temporary of the trainable
    # size (sqrt(v)); on the CPU torch steps tensor by tensor and the temporaries are negligible.
    optimizer_step = optimizer_temporaries * 2 * lora * 4 / shard
    return Estimate(
        base=base, adapters=adapters / shard, activations=activations, logits=logits, optimizer_step=optimizer_step
    )


def fits_table(*, gpus=(80, 141), ranks=(1, 2, 4, 8), names=("qwen2.5-7b", "qwen3-14b", "qwen3-32b"), **kw) -> str:
    """The "what fits where" table in Markdown: GiB per rank (DDP / FSDP) and whether it fits in
    90% of each card (the rest for the CUDA context, the allocator's fragmentation and NCCL buffers)."""
    head = "| model | ranks | replicated (DDP) GiB/rank | sharded (FSDP) GiB/rank | "
    lines = [head + " | ".join(f"{g} GB card" for g in gpus) + " |"]
    lines.append("|---" * (4 + len(gpus)) + "|")
    for name in names:
        shape = get_shape(name)
        for n in ranks:
            ddp = estimate(shape, ranks=n, parallel="ddp", **kw).total / GIB
            fsdp = estimate(shape, ranks=n, parallel="fsdp", **kw).total / GIB
            cells = []
            for g in gpus:
                usable = 0.9 * g * 1e9 / GIB
                cells.append("DDP or FSDP" if ddp <= usable else "FSDP only" if fsdp <= usable else "no")
            lines.append(f"| {name} | {n} | {ddp:.1f} | {fsdp:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    sys.stdout.write(fits_table() + "\n")
