"""Merge a LoRA adapter into its base: full weights a server can load without the adapter
(``python -m engine merge --base B --adapter A --out O``).

peft's ``merge_and_unload`` folds ``B·A·alpha/r`` into each targeted weight; the result is saved as
safetensors with the base's tokenizer (and chat template) beside it, so the output directory is a
loadable checkpoint on its own. The merge runs in float32 on the CPU unless a GPU is there (then in the
base's dtype) and writes into a temporary sibling first, renamed at the end: a crash leaves no
half-written model at ``out``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

MERGE_FILE = "merge.json"


class MergeError(ValueError):
    """Bad input: a missing base or adapter, or an output that already exists."""


def merge_adapter(*, base: str | Path, adapter: str | Path, out: str | Path, force: bool = False) -> Path:
    base, adapter, out = Path(base), Path(adapter), Path(out)
    if not (base / "config.json").is_file():
        raise MergeError(f"--base {base}: no config.json (not a model directory)")
    if not (adapter / "adapter_config.json").is_file():
        raise MergeError(f"--adapter {adapter}: no adapter_config.json (not a LoRA adapter)")
    if out.exists() and not force:
        raise MergeError(f"--out {out} already exists (pass --force to replace it)")

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp, safe_serialization=True)
    AutoTokenizer.from_pretrained(base).save_pretrained(tmp)
    (tmp / MERGE_FILE).write_text(json.dumps({"base": str(base), "adapter": str(adapter)}, indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out
