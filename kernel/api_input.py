"""What the REST API reads from a request body, checked before any serializer sees it (docs/operations.md,
"API input"). DRF's ``DEFAULT_PARSER_CLASSES`` are these:

- a body larger than ``PARLEY_API_MAX_BODY_BYTES`` is a 413, read no further than that;
- JSON is parsed with ``kernel.text``'s bounds (nesting depth, digits per number, finite numbers) and
  must be UTF-8;
- every string in it, keys included, and every form field passes ``kernel.text.text_problem``: NUL,
  lone surrogates, control characters, bidirectional and zero-width characters are a 400 naming the
  field (``messages[0].content: contains a NUL character …``), never a 500 and never written.

Length limits belong to the serializers and to the models' ``full_clean`` (``kernel.fields``).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

from kernel.errors import ApplicationErrors
from kernel.text import json_document, json_problems, json_text_is_clean, text_problem

TOO_LARGE = "The body is larger than {limit} bytes: send less at a time."


class BodyRefused(ApplicationErrors):
    """Every problem of a refused body (the API answers ``{"detail", "errors"}``)."""


def _limit() -> int:
    return settings.PARLEY_API_MAX_BODY_BYTES


def _check_declared_length(parser_context) -> None:
    request = (parser_context or {}).get("request")
    meta = getattr(request, "META", {}) if request is not None else {}
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BodyRefused(["Content-Length is not a number"]) from None
    if declared > _limit():
        raise BodyRefused([TOO_LARGE.format(limit=_limit())], status=413)


class CleanJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        _check_declared_length(parser_context)
        raw = stream.read(_limit() + 1) if stream is not None else b""
        if len(raw) > _limit():  # a chunked body declares no length
            raise BodyRefused([TOO_LARGE.format(limit=_limit())], status=413)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BodyRefused([f"body: not UTF-8 (byte {exc.start})"]) from None
        try:
            data = json_document(text)
        except ValueError as exc:
            raise BodyRefused([f"body: {exc}"]) from None
        if not json_text_is_clean(text) and (problems := json_problems(data)):
            raise BodyRefused(problems)
        return data


def _form_problems(data) -> list[str]:
    problems = []
    for key in data:
        if problem := text_problem(key):
            problems.append(f"a field name {problem}")
            continue
        for value in data.getlist(key):
            if isinstance(value, str) and (problem := text_problem(value)):
                problems.append(f"{key}: {problem}")
    return problems


class CleanFormParser(FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        _check_declared_length(parser_context)
        data = super().parse(stream, media_type, parser_context)
        if problems := _form_problems(data):
            raise BodyRefused(problems)
        return data


class CleanMultiPartParser(MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        _check_declared_length(parser_context)
        result = super().parse(stream, media_type, parser_context)
        if problems := _form_problems(result.data):
            raise BodyRefused(problems)
        return result
