"""Which base model an adapter was trained on, and a refusal when it is not the policy's.

A LoRA adapter (an SFT or DPO policy, the reward model) only means something on the weights it was
trained on: loaded on another base of the same architecture it loads without an error and computes
nonsense. The RL loop therefore checks, before it attaches the RM to the policy's base or starts the
policy from an ``init_adapter``, that both name the same base.

A base is identified by a fingerprint of its checkpoint directory: its ``config.json`` without the
fields that name a path or a library version, and, per weight file, its size and a hash of its first
and last 4 MiB (a fine-tune changes nearly every tensor, so two different weight sets differ there;
reading 8 MiB a file keeps the check instant on a 60 GB checkpoint). A base that is not a local
directory (a hub name) is identified by its name.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

_SAMPLE = 4 << 20
_VOLATILE = ("_name_or_path", "transformers_version", "torch_dtype", "dtype", "use_cache")


def base_fingerprint(base: str | Path) -> str:
    """``sha256:...`` of the checkpoint directory ``base``, or ``name:BASE`` for a hub name / a path
    that is not here."""
    path = Path(base)
    if not (path / "config.json").is_file():
        return f"name:{base}"
    digest = hashlib.sha256()
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    stable = {k: v for k, v in config.items() if k not in _VOLATILE}
    digest.update(json.dumps(stable, sort_keys=True).encode())
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        size = weights.stat().st_size
        digest.update(f"{weights.name}:{size}".encode())
        with weights.open("rb") as handle:
            digest.update(handle.read(_SAMPLE))
            if size > 2 * _SAMPLE:
                handle.seek(size - _SAMPLE)
                digest.update(handle.read(_SAMPLE))
    return f"sha256:{digest.hexdigest()}"


class BaseMismatchError(ValueError):
    """An adapter was trained on another base than the policy's."""


def check_same_base(
    *, what: str, trained_on: str | None, fingerprint: str | None = None, policy_base: str | Path
) -> None:
    """Refuse (``BaseMismatchError``, in words) when ``what`` (an adapter, trained on the base
    ``trained_on`` whose fingerprint, when it was recorded, is ``fingerprint``) does not sit on
    ``policy_base``. Equal paths pass at once; otherwise the fingerprints decide."""
    if not trained_on and not fingerprint:
        raise BaseMismatchError(
            f"{what} does not say which base model it was trained on, so it cannot be checked against the "
            f"policy's base {policy_base}; retrain it with this version of Parley."
        )
    if trained_on and Path(str(trained_on)).resolve() == Path(str(policy_base)).resolve():
        return
    expected = fingerprint or base_fingerprint(trained_on)
    actual = base_fingerprint(policy_base)
    if expected != actual:
        raise BaseMismatchError(
            f"{what} was trained on the base model {trained_on or '(unnamed)'}, not on the policy's base "
            f"{policy_base} (their weights differ). An adapter only works on the weights it was trained on: "
            "train it on the policy's base, or pick the policy's base it was trained on."
        )
