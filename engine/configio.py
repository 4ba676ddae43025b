"""JSON (de)serialisation for the engine's config dataclasses (see engine/config.py): unknown keys,
wrong types and bad values become one-line :class:`ConfigError` messages naming the field; and the
fields described (name, JSON type, default, help) for the CLI's ``--help`` and the job form."""

from __future__ import annotations

import dataclasses
import json
import textwrap
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


# ---------------------------------------------------------------------------------------------------
# the fields described: what a config file may contain
# ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FieldDoc:
    """One key a config file may hold; nested objects' keys are dotted (``rewards.judge.model``)."""

    name: str
    type: str  # in JSON's words: string, integer, number, boolean, object, list of string, ... | null
    default: str  # as JSON
    help: str


def config_fields(cls: type, *, prefix: str = "") -> list[FieldDoc]:
    """Every field of a config dataclass in declaration order, then the keys of its nested objects.

    >>> from engine.config import RewardSourcesConfig
    >>> [f.name for f in config_fields(RewardSourcesConfig)][:3]
    ['rm_path', 'judge', 'judge.base_url']
    >>> config_fields(RewardSourcesConfig)[0].type, config_fields(RewardSourcesConfig)[0].default
    ('string | null', 'null')
    """
    hints = typing.get_type_hints(cls)
    docs = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        docs.append(FieldDoc(prefix + f.name, json_type(hint), _default_json(f), f.metadata.get("help", "")))
        nested = [t for t in _options(hint) if dataclasses.is_dataclass(t)]
        if nested:
            docs += config_fields(nested[0], prefix=f"{prefix}{f.name}.")
    return docs


def field_help(cls: type) -> dict[str, str]:
    """``{field name: help}`` of the top-level fields (the job form shows them beside each input)."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def describe_config(cls: type) -> str:
    """The keys of ``cls``'s config file, one per line with type and default, the help under it."""
    lines = []
    for doc in config_fields(cls):
        lines.append(f"  {doc.name}  ({doc.type}, default {doc.default})")
        lines.append(
            textwrap.fill(
                doc.help, width=100, initial_indent=" " * 6, subsequent_indent=" " * 6, break_on_hyphens=False
            )
        )
    return "\n".join(lines)


def json_type(hint: Any) -> str:
    """A type hint in JSON's words.

    >>> json_type(int | None), json_type(list[str] | str), json_type(dict[str, Any] | str | None)
    ('integer | null', 'list of string | string', 'object | string | null')
    """
    options = _options(hint)
    if len(options) > 1:
        return " | ".join(json_type(o) for o in options)
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint) or (Any,)
        return f"list of {json_type(item)}"
    if dataclasses.is_dataclass(hint) or hint is dict or typing.get_origin(hint) is dict:
        return "object"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(hint, "any")


def _options(hint: Any) -> tuple[Any, ...]:
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)


def _default_json(f: dataclasses.Field) -> str:
    if f.default_factory is not dataclasses.MISSING:  # a nested config: its own keys say their defaults
        default = f.default_factory()
        return "{}" if dataclasses.is_dataclass(default) else json.dumps(default)
    return json.dumps(f.default, ensure_ascii=False)


def read_json(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None
