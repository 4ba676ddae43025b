"""Reading the engine's JSONL inputs (prompt rows, replies to score): one reader, so every bad line is
reported the same way, with its file and line number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from engine.configio import ConfigError


def iter_jsonl(path: Path | str) -> Iterator[tuple[int, dict]]:
    """``(line number, row)`` for every non-blank line; a line that is not a JSON object is a
    ``ConfigError`` naming ``path:line``."""
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path}:{number}: must be a JSON object")
        yield number, row
