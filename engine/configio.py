"""JSON (de)serialisation for the engine's config dataclasses (see engine/config.py): unknown keys,
wrong types and bad values become one-line :class:`ConfigError` messages naming the field."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Self


class ConfigError(ValueError):
    """A config that cannot be used; the message is one line meant for the job's log."""


# ---------------------------------------------------------------------------------------------------
# (de)serialisation shared by every config dataclass
# ---------------------------------------------------------------------------------------------------
class Serialisable:
    method: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {"method": self.method, **data} if self.method else data

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "") -> Self:
        where = where or (f"{cls.method} config" if cls.method else cls.__name__)
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a JSON object")
        data = dict(data)
        method = data.pop("method", cls.method)
        if cls.method and method != cls.method:
            raise ConfigError(f"{where}: 'method' is {method!r}, expected {cls.method!r}")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for key in data:
            if key not in names:
                raise ConfigError(f"{where}: unknown key {key!r}")
        kwargs = {key: _coerce(value, hints[key], f"{where}: {key}") for key, value in data.items()}
        obj = cls(**kwargs)
        errors = obj.errors()
        if errors:
            raise ConfigError(f"{where}: {errors[0]}")
        return obj

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a JSON file written by :meth:`to_dict` (see also :func:`load_config`)."""
        return cls.from_dict(read_json(path))

    def errors(self) -> list[str]:
        """Value problems (ranges, required fields); empty when the config is usable."""
        return []

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against a field's type hint, building nested config dataclasses."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _coerce(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        return hint.from_dict(value, where=where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list")
        (item,) = typing.get_args(hint) or (Any,)
        return [_coerce(v, item, where) for v in value]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected an object")
        return value
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{where}: expected {hint.__name__}, got a boolean")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {type(value).__name__}")
    return value


def read_json(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None
