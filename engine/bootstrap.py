"""The tiny base model: the embedded default for ``make run``, the tests and the demo (no download).

``build_tiny_model`` trains a byte-level BPE tokenizer on the demo corpus, builds a small
Qwen3-architecture causal LM (head_dim 64: vLLM's CPU attention rejects smaller heads), gives it a
Qwen-style chat template whose end-of-turn token is the eos, and pre-trains it on the demo dialogues
for a minute or two on the CPU so that greedy generation writes recognisable BD messages. Everything
is seeded: the same seed on the same machine gives the same files. Another machine may not: float
kernels differ by CPU, so the weights (and what greedy decoding writes) differ slightly, and no test may
depend on one build's outputs (``parley-tiny.json`` records the weights' hash and the CPU).

``ensure_tiny_model`` builds it once per machine into a cache outside the clone
(``$PARLEY_MODEL_CACHE`` or ``~/.cache/parley/models``), under a file lock so that concurrent test
runs and helpers wait for one build instead of racing. Any HF checkpoint works in its place.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from engine.tinymodel import corpus, pretrain, tokenizer

# Bump when the corpus, tokenizer, architecture or pre-training changes: the cache key includes it.
GENERATOR_VERSION = 1
DONE_MARKER = "parley-tiny.json"


def cache_root() -> Path:
    return Path(os.environ.get("PARLEY_MODEL_CACHE") or Path.home() / ".cache" / "parley" / "models")


def cached_path(*, seed: int = 0) -> Path:
    return cache_root() / f"tiny-v{GENERATOR_VERSION}-s{seed}"


def is_built(path: Path) -> bool:
    return (Path(path) / DONE_MARKER).is_file()


@contextmanager
def _locked(lock_path: Path):
    """An exclusive ``fcntl`` lock: other processes block here until the holder is done."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_tiny_model(*, out: Path, seed: int = 0, pretrain_steps: int | None = None) -> Path:
    """Build the tiny model into ``out`` (created; must not hold another model) and return it."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    chats = corpus.training_chats(seed=seed)
    tok = tokenizer.train_tokenizer(corpus.tokenizer_texts(chats), seed=seed)
    model = pretrain.build_model(tok, seed=seed)
    threads = torch.get_num_threads()
    # The build runs once per machine; the tests pin torch to one thread, but this may use two.
    torch.set_num_threads(max(threads, min(2, os.cpu_count() or 1)))
    try:
        stats = pretrain.pretrain(model, tok, chats, seed=seed, steps=pretrain_steps)
    finally:
        torch.set_num_threads(threads)
    pretrain.save(model, tok, out)
    info = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        # Not reproducible across CPUs (float kernels differ by instruction set): the hash tells two builds
        # apart when a test result differs between machines (docs/engine.md, "Tests on any build").
        "weights_sha256": _sha256(out / "model.safetensors"),
        "torch_threads": max(threads, min(2, os.cpu_count() or 1)),
        "cpu": _cpu_name(),
        "corpus": corpus.source_name(),
        "chats": len(chats),
        "build_s": round(time.monotonic() - started, 1),
        **stats,
    }
    (out / DONE_MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cpuinfo(field: str) -> str:
    """The first ``field`` line's value in /proc/cpuinfo ("" where there is none)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(field)), "")


def _cpu_name() -> str:
    return _cpuinfo("model name")


def ensure_tiny_model(*, seed: int = 0) -> Path:
    """The cached tiny model for ``seed``, built on first use (once per machine, under a lock)."""
    path = cached_path(seed=seed)
    if is_built(path):
        return path
    with _locked(path.with_name(path.name + ".lock")):
        if is_built(path):  # another process built it while we waited
            return path
        partial = path.with_name(path.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        build_tiny_model(out=partial, seed=seed)
        shutil.rmtree(path, ignore_errors=True)
        partial.rename(path)
    return path


def install_tiny_model(*, out: Path, seed: int = 0, force: bool = False) -> Path:
    """``python -m engine bootstrap``: copy the cached model (built if needed) to ``out``."""
    out = Path(out)
    if is_built(out) and not force:
        return out
    if force:
        shutil.rmtree(cached_path(seed=seed), ignore_errors=True)
    source = ensure_tiny_model(seed=seed)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(source, out)
    return out


# -- the demo judge: a LoRA adapter of the tiny base, cached beside it ---------------------------------
def demo_judge_key(base: Path) -> str:
    """What the built judge depends on: its training data and builder, the judge's prompt template
    (``PROMPT_VERSION``), the default rubric, the base's weights (the tiny model is built per machine and
    differs between CPUs) and the platform that trains it (:func:`platform_id`); any change builds a new
    one, so a cache shared between machines never hands one machine's build to another."""
    from engine.demo import judge_data
    from engine.rewards.judge_prompt import PROMPT_VERSION
    from engine.rewards.rubric import default_rubric
    from engine.tinymodel import judge

    digest = hashlib.sha256()
    for module in (judge_data, judge):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(PROMPT_VERSION.encode())
    digest.update(default_rubric().fingerprint().encode())
    digest.update(_base_weights_sha256(Path(base)).encode())
    digest.update(platform_id().encode())
    return digest.hexdigest()[:12]


def platform_id() -> str:
    """What a build's floats depend on besides its inputs: torch's version, the kernels it dispatches to
    (``avx2``, ``avx512``...) and the CPU with its instruction-set flags (``avx512_bf16``, ``amx``...)."""
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: "")()
    return f"torch {torch.__version__}; {capability}; {_cpu_name()}; flags {_cpu_flags_digest()}"


def _cpu_flags_digest() -> str:
    return hashlib.sha256(" ".join(sorted(_cpuinfo("flags").split())).encode()).hexdigest()[:12]


def _base_weights_sha256(base: Path) -> str:
    """The base's weights hash as its build recorded it (hashed here for a base built elsewhere)."""
    try:
        return json.loads((base / DONE_MARKER).read_text(encoding="utf-8"))["weights_sha256"]
    except (OSError, ValueError, KeyError):
        return _sha256(base / "model.safetensors")


def demo_judge_path(*, seed: int = 0, base_seed: int = 0) -> Path:
    """Where the demo judge of ``seed`` on the tiny base of ``base_seed`` is cached (the base built if
    needed: the key holds its weights' hash)."""
    base = ensure_tiny_model(seed=base_seed)
    return cache_root() / f"demo-judge-t{GENERATOR_VERSION}-b{base_seed}-s{seed}-{demo_judge_key(base)}"


def ensure_demo_judge(*, seed: int = 0, base_seed: int = 0) -> Path:
    """The cached demo judge trained with ``seed`` on the tiny base of ``base_seed`` (a directory with
    ``adapter/`` and ``demo-judge.json``), built on first use (once per machine, under a lock; a few CPU
    minutes, more when the first attempt stays on its plateau: ``judge.train_judge``)."""
    from engine.tinymodel import judge

    path = demo_judge_path(seed=seed, base_seed=base_seed)
    if (path / judge.META_FILE).is_file():
        return path
    base = ensure_tiny_model(seed=base_seed)
    with _locked(path.with_name(path.name + ".lock")):
        if (path / judge.META_FILE).is_file():
            return path
        partial = path.with_name(path.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        threads = torch.get_num_threads()
        torch.set_num_threads(max(threads, min(2, os.cpu_count() or 1)))
        try:
            stats = judge.train_judge(base=base, out=partial, seed=seed, progress=print)
        finally:
            torch.set_num_threads(threads)
        info = {
            "base": str(base),
            "base_weights_sha256": _base_weights_sha256(base),
            "platform": platform_id(),
            **stats,
        }
        (partial / judge.META_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(path, ignore_errors=True)
        partial.rename(path)
    return path


def install_demo_judge(*, out: Path, seed: int = 0, base_seed: int = 0) -> Path:
    """``python -m engine bootstrap --judge``: copy the cached demo judge (built if needed) to ``out``."""
    out = Path(out)
    source = ensure_demo_judge(seed=seed, base_seed=base_seed)
    from engine.tinymodel import judge

    meta = out / judge.META_FILE
    if meta.is_file() and json.loads(meta.read_text(encoding="utf-8")).get("key") == source.name:
        return out
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(source, out)
    info = json.loads((out / judge.META_FILE).read_text(encoding="utf-8"))
    (out / judge.META_FILE).write_text(json.dumps({**info, "key": source.name}, indent=2) + "\n", encoding="utf-8")
    return out
