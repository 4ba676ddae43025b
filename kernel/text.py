"""The one check for text that people or files put into the database (docs/import-schema.md, "Limits and
refusals"): forms, imports and the API call it, so the same input is refused with the same words everywhere.

Refused, never silently changed:
- NUL (PostgreSQL's text and jsonb cannot hold it) and lone surrogates (not encodable as UTF-8);
- other control characters except tab and newline, and a carriage return that does not end a line;
- bidirectional controls and zero-width characters (a price written with U+202E reads differently on the
  page from what the reward rules see; a zero-width space splits a term a rule looks for);
- text longer than the field's limit.

``json_line`` parses one JSONL line with bounds (nesting depth, digits per number, finite numbers), and
``json_problems`` walks a parsed value and lists every string or number the database would not take.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from kernel.errors import ApplicationError

MAX_DEPTH = 20  # objects and lists inside each other in one imported line
MAX_NUMBER_CHARS = 40  # digits, sign, point and exponent of one JSON number
MAX_INT = 2**53  # beyond this an integer loses precision as a float and fits no integer column

# Bidirectional formatting characters and zero-width characters: rejected wherever text is stored.
INVISIBLE = {
    **{c: "a bidirectional control" for c in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"},
    **{c: "a bidirectional control" for c in "\u2066\u2067\u2068\u2069"},
    **{c: "a zero-width character" for c in "\u200b\u200c\u200d\u2060\ufeff\u180e"},
}


def _name(char: str) -> str:
    return f"U+{ord(char):04X}" + (f" ({unicodedata.name(char)})" if unicodedata.name(char, "") else "")


_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff" + "".join(INVISIBLE) + "]|\r(?!\n)")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored (the first reason), or None. One regular expression: fast on 8k messages."""
    found = _REFUSED.search(value)
    if found is None:
        return None
    char, at = found.group(), found.start() + 1
    code = ord(char)
    if code == 0:
        return f"contains a NUL character (U+0000) at position {at}"
    if 0xD800 <= code <= 0xDFFF:
        return f"contains a lone surrogate (U+{code:04X}) at position {at}"
    if char == "\r":
        return f"contains a carriage return (\\r) that does not end a line, at position {at}"
    if char in INVISIBLE:
        return f"contains {_name(char)}, {INVISIBLE[char]}, at position {at}; remove it"
    return f"contains the control character U+{code:04X} at position {at}"


def clean_text(value: Any, *, field: str, max_len: int, required: bool = False) -> str:
    """``value`` when it is a string that can be stored in ``field``; else ``ApplicationError`` (400)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ApplicationError(f"{field}: must be text")
    problem = text_problem(value)
    if problem:
        raise ApplicationError(f"{field}: {problem}")
    if len(value) > max_len:
        raise ApplicationError(f"{field}: {len(value)} characters, the limit is {max_len}")
    if required and not value.strip():
        raise ApplicationError(f"{field}: required")
    return value


def text_error(value: Any, *, field: str, max_len: int, required: bool = False) -> str | None:
    """``clean_text``'s message instead of the exception (for validators that collect every problem)."""
    try:
        clean_text(value, field=field, max_len=max_len, required=required)
    except ApplicationError as error:
        return error.message
    return None


def _number(literal: str, kind):
    if len(literal) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number of {len(literal)} characters; numbers may have at most {MAX_NUMBER_CHARS}")
    value = kind(literal)
    if kind is float and not math.isfinite(value):
        raise ValueError(f"the number {literal[:20]} is out of range")
    if kind is int and abs(value) > MAX_INT:
        raise ValueError(f"the integer {literal[:20]} is out of range (at most {MAX_INT})")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def json_line(text: str) -> Any:
    """One JSONL line parsed, or ``ValueError`` with a message a person can act on."""
    if "\r" in text:
        column = text.index("\r") + 1
        raise ValueError(f"a carriage return (\\r) inside the line at column {column}; lines end with \\n or \\r\\n")
    return json_document(text)


def json_document(text: str) -> Any:
    """A whole JSON document (an API body: any whitespace between values) parsed with ``json_line``'s bounds."""
    try:
        return json.loads(
            text,
            parse_int=lambda s: _number(s, int),
            parse_float=lambda s: _number(s, float),
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}" if exc.lineno > 1 else f"column {exc.colno}"
        raise ValueError(f"malformed JSON: {exc.msg} at {where}") from None
    except RecursionError:
        raise ValueError(f"objects and lists are nested more than {MAX_DEPTH} deep") from None


# The fast path for a whole JSON document (an API body): escapes that could stand for a refused character,
# refused characters written as themselves (C0 controls cannot be: JSON forbids them raw inside strings).
_REFUSED_ESCAPE = re.compile(
    r"\\(?:u(?:00[01][0-9a-f]|007f|00[89][0-9a-f]|d[89a-f]|200[b-f]|202[a-e]|206[0-9]|feff|061c|180e)|[bfr])",
    re.IGNORECASE,
)
_REFUSED_RAW = re.compile("[\x7f-\x9f\ud800-\udfff" + "".join(INVISIBLE) + "]")
_ESCAPE_PAIR = re.compile(r"\\.")
_BARE_STRING = re.compile(r'"[^"]*"')  # once every escape pair is gone
_BRACKET = re.compile(r"[\[\]{}]")


def json_text_is_clean(text: str) -> bool:
    """True when the JSON document ``text`` (already parsed without error) has no string or key that
    ``text_problem`` could refuse and nests at most ``MAX_DEPTH`` deep: regular expressions over the text,
    several times faster than ``json_problems``' walk. False means "walk it" (an emoji written as a
    surrogate-pair escape, or a tab written ``\\u0009``, also goes the slow way)."""
    if _REFUSED_ESCAPE.search(text):
        return False
    if ("\x7f" in text) if text.isascii() else bool(_REFUSED_RAW.search(text)):
        return False
    depth = deepest = 0
    for bracket in _BRACKET.findall(_BARE_STRING.sub("", _ESCAPE_PAIR.sub("", text))):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest <= MAX_DEPTH


def json_problems(value: Any, *, path: str = "") -> list[str]:
    """Every string (keys included) in a parsed JSON value that ``text_problem`` refuses, with its path, and
    nesting deeper than ``MAX_DEPTH`` (the parser stops only at Python's recursion limit)."""
    problems: list[str] = []
    stack = [(path, value, 0)]
    while stack:
        where, item, depth = stack.pop()
        if isinstance(item, dict | list) and depth >= MAX_DEPTH:
            problems.append(f"{where or 'value'}: objects and lists are nested more than {MAX_DEPTH} deep")
            continue
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                problems.append(f"{where or 'value'}: {problem}")
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                problem = text_problem(key)
                if problem:
                    problems.append(f"{where or 'object'}: a key {problem}")
                    continue
                stack.append((child_path, child, depth + 1))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", child, depth + 1) for i, child in enumerate(item))
    return sorted(problems)


def split_lines(chunks) -> Iterator[bytes]:
    """Lines of an upload split on ``\\n`` only (Django's ``File`` iteration also splits on a bare ``\\r``,
    which would renumber every later line and cut a JSON value in two)."""
    pending: list[bytes] = []  # pieces of a line longer than a chunk (no quadratic joins)
    for chunk in chunks:
        *lines, rest = chunk.split(b"\n")
        for line in lines:
            yield b"".join([*pending, line, b"\n"])
            pending = []
        if rest:
            pending.append(rest)
    if pending:
        yield b"".join(pending)
