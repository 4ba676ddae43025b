"""Model fields and validators for text people or files put into the database (docs/operations.md,
"Length limits"). ``LimitedTextField`` is a ``TextField`` whose ``max_length`` is validated like a
``CharField``'s (``full_clean``, model forms, the admin) and whose text passes ``kernel.text``'s check;
``JSONLimitValidator`` bounds a JSON field's encoded size and refuses the strings ``kernel.text`` refuses.
The services that write these rows call ``full_clean``, so a 1 MB note is a 400 naming the field."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.deconstruct import deconstructible

from kernel.text import json_problems, text_problem

NOTE_CHARS = 2000  # a note on an answer, a pair, a judgment, a snapshot, a document version
REASON_CHARS = 4000  # a reviewer's reason
DESCRIPTION_CHARS = 4000  # a project's, an eval set's or a model version's description
CLAUSE_CHARS = 4000  # one SOP clause
GUIDELINE_CHARS = 200_000  # a guideline in Markdown
JSON_SMALL_BYTES = 64 * 1024  # a case's benefits or competitors, tags, filters, hyperparameters, hits
JSON_DOCUMENT_BYTES = 1024 * 1024  # a rule set or rubric document, an eval item's turns


@deconstructible
class StorableTextValidator:
    """Refuses what ``kernel.text.text_problem`` refuses (NUL, lone surrogates, controls, bidi, zero-width)."""

    def __call__(self, value) -> None:
        if isinstance(value, str) and (problem := text_problem(value)):
            raise ValidationError(problem, code="unstorable")

    def __eq__(self, other) -> bool:
        return isinstance(other, StorableTextValidator)


@deconstructible
class DatabaseTextValidator:
    """Refuses only what the database cannot store: NUL (PostgreSQL text) and lone surrogates (not UTF-8).
    For text that logs what happened (a conversation, a model's reply): a bidi or zero-width character a
    model wrote is part of the record, so it is kept there and shown, not refused."""

    def __call__(self, value) -> None:
        if isinstance(value, str) and (problem := text_problem(value)) and ("NUL" in problem or "surrogate" in problem):
            raise ValidationError(problem, code="unstorable")

    def __eq__(self, other) -> bool:
        return isinstance(other, DatabaseTextValidator)


@deconstructible
class JSONLimitValidator:
    """A JSON value of at most ``max_bytes`` once encoded, whose strings ``kernel.text`` accepts."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes

    def __call__(self, value) -> None:
        size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
        if size > self.max_bytes:
            raise ValidationError(f"{size} bytes of JSON, the limit is {self.max_bytes}", code="too_large")
        if problems := json_problems(value):
            raise ValidationError(problems[0], code="unstorable")

    def __eq__(self, other) -> bool:
        return isinstance(other, JSONLimitValidator) and other.max_bytes == self.max_bytes


class LimitedTextField(models.TextField):
    """``TextField(max_length=…)`` validated as a ``CharField`` is; no database change (PostgreSQL ``text``).
    ``logged=True`` for text that records a conversation or a model's output: only what the database cannot
    store is refused (``DatabaseTextValidator``); otherwise everything ``kernel.text`` refuses."""

    def __init__(self, *args, logged: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if self.max_length is None:
            raise TypeError("LimitedTextField needs max_length")
        self.logged = logged
        self.validators.append(MaxLengthValidator(self.max_length))
        self.validators.append(DatabaseTextValidator() if logged else StorableTextValidator())

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.logged:
            kwargs["logged"] = True
        return name, path, args, kwargs
