"""Export training data in TRL's dataset formats with a provenance sidecar.

``dataset_export`` writes a training JSONL (training columns only) and a sidecar JSONL whose line ``i``
is ``{"row": i, ...provenance}``. The training_jobs app freezes dataset snapshots through it.

``EXPORT_KINDS`` is the one list of export kinds: each entry names the kind, its TRL format, the engine
methods that train on it, and its row source (the rows themselves are built in ``export_rows``). The
export page, the ``export_dataset`` command, the admin's "export selected" actions, the dataset
snapshots' kinds and the snapshot kinds each training method accepts all read it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from annotation.models import BadCase, Dialogue, ExcellentTurn, PreferencePair, Project
from annotation.services import export_rows
from kernel.audit import audit_record


@dataclass(frozen=True)
class ExportFilters:
    """Which rows to export. ``provenance`` and ``reviewed_only`` apply where the rows have them:
    provenance to pairs; reviewed to pairs (``reviewed``) and bad cases (status reviewed or later).
    Dates compare with the row's creation date (the dialogue's for ``prompts``), both ends inclusive.
    ``ids`` with ``selection`` (a model name: ``preferencepair``, ``badcase``, ``excellentturn``,
    ``dialogue``) exports only those rows of that model: the admin actions export a selection."""

    project: Project | int | str | None = None
    provenance: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    reviewed_only: bool = False
    ids: tuple[int, ...] = ()
    selection: str = ""

    @classmethod
    def coerce(cls, value: ExportFilters | dict | None) -> ExportFilters:
        """Accept the dataclass, a plain dict of its fields (JSON from a snapshot request) or None."""
        if isinstance(value, ExportFilters):
            return value
        data = dict(value or {})
        for key in ("date_from", "date_to"):
            if isinstance(data.get(key), str):
                data[key] = dt.date.fromisoformat(data[key])
        for key in ("provenance", "ids"):
            if key in data:
                data[key] = tuple(data[key] or ())
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        project = self.project.pk if isinstance(self.project, Project) else self.project
        return {
            "project": project,
            "provenance": list(self.provenance),
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "reviewed_only": self.reviewed_only,
            "ids": list(self.ids),
            "selection": self.selection,
        }


@dataclass
class ExportStats:
    kind: str
    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # rows per provenance (pairs) or source
    filters: dict = field(default_factory=dict)


def _scoped(qs, filters: ExportFilters, *, dialogue_path: str = "dialogue__"):
    project = filters.project
    if isinstance(project, Project):
        qs = qs.filter(**{f"{dialogue_path}project": project})
    elif isinstance(project, int):
        qs = qs.filter(**{f"{dialogue_path}project_id": project})
    elif isinstance(project, str) and project:
        qs = qs.filter(**{f"{dialogue_path}project__name": project})
    if filters.date_from:
        qs = qs.filter(created_at__date__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(created_at__date__lte=filters.date_to)
    if filters.selection:  # a selection of one model: the kind's other sources contribute nothing
        qs = qs.filter(id__in=filters.ids) if qs.model._meta.model_name == filters.selection else qs.none()
    return qs


def _pairs(filters: ExportFilters):
    qs = _scoped(PreferencePair.objects.all(), filters)
    if filters.provenance:
        qs = qs.filter(provenance__in=filters.provenance)
    return qs.filter(reviewed=True) if filters.reviewed_only else qs


def _bad_cases(filters: ExportFilters):
    qs = _scoped(BadCase.objects.all(), filters)
    return qs.filter(export_rows.reviewed_bad_cases()) if filters.reviewed_only else qs


def _excellent(filters: ExportFilters):
    return _scoped(ExcellentTurn.objects.all(), filters)


Rows = Iterator[tuple[dict, dict]]  # (training row, provenance), streamed


@dataclass(frozen=True)
class ExportKind:
    """One kind of training file."""

    name: str  # in file names, URLs, snapshots (``DatasetSnapshot.kind``) and the command line
    label: str
    rows: Callable[[ExportFilters], Rows]
    description: str  # what the rows are, for the export page
    trl_format: str  # TRL's dataset type the rows follow
    trainers: tuple[str, ...] = ()  # the engine methods (``training_jobs`` ``Method``) that train on it
    admin_action: str = ""  # the admin's "export selected" action for ``admin_models`` ("" = none)
    admin_models: tuple[str, ...] = ()  # model names (``_meta.model_name``) whose rows the action exports


EXPORT_KINDS = (
    ExportKind(
        name="preference",
        label="Preference (explicit prompt)",
        rows=lambda f: export_rows.preference_rows(_pairs(f), implicit=False),
        description="prompt / chosen / rejected, with margin from the preference strength",
        trl_format="preference, explicit prompt (RewardTrainer, DPOTrainer)",
        trainers=("rm", "dpo"),
        admin_action="Export selected pairs (TRL preference JSONL)",
        admin_models=("preferencepair",),
    ),
    ExportKind(
        name="preference-implicit",
        label="Preference (implicit prompt)",
        rows=lambda f: export_rows.preference_rows(_pairs(f), implicit=True),
        description="chosen and rejected each carry the whole conversation",
        trl_format="preference, implicit prompt",
        trainers=("rm", "dpo"),
    ),
    ExportKind(
        name="kto",
        label="Unpaired (KTO)",
        rows=lambda f: export_rows.kto_rows(_excellent(f), _bad_cases(f)),
        description="excellent turns (true) and bad-case model replies (false)",
        trl_format="unpaired preference (KTOTrainer)",
        admin_action="Export selected (TRL KTO JSONL)",
        admin_models=("badcase", "excellentturn"),
    ),
    ExportKind(
        name="sft",
        label="Prompt-completion (SFT)",
        rows=lambda f: export_rows.sft_rows(_excellent(f), _bad_cases(f)),
        description="bad-case gold replies and excellent turns",
        trl_format="prompt-completion (SFTTrainer)",
        trainers=("sft",),
        admin_action="Export selected gold / excellent replies (TRL SFT JSONL)",
        admin_models=("badcase", "excellentturn"),
    ),
    ExportKind(
        name="prompts",
        label="Prompt-only (PPO / GRPO / REPO)",
        rows=lambda f: export_rows.prompt_rows(_scoped(Dialogue.objects.all(), f, dialogue_path="")),
        description="every agent turn with its case as task",
        trl_format="prompt-only, plus the task data the rewards read",
        trainers=("ppo", "grpo", "repo"),
        admin_action="Export agent turns of selected dialogues (TRL prompt-only JSONL)",
        admin_models=("dialogue",),
    ),
)
KINDS = tuple(kind.name for kind in EXPORT_KINDS)
ERROR_UNKNOWN_KIND = "Unknown export kind {kind!r}; choose one of: {kinds}"


def export_kind(name: str) -> ExportKind:
    for kind in EXPORT_KINDS:
        if kind.name == name:
            return kind
    raise ValueError(ERROR_UNKNOWN_KIND.format(kind=name, kinds=", ".join(k.name for k in EXPORT_KINDS)))


def export_kind_choices() -> list[tuple[str, str]]:
    """``(name, label)`` of every export kind: the export form's and the dataset snapshots' choices."""
    return [(kind.name, kind.label) for kind in EXPORT_KINDS]


def export_rows_for(*, kind: str, filters: ExportFilters | dict | None = None) -> Rows:
    """(training row, provenance) pairs of ``kind``, streamed."""
    return export_kind(kind).rows(ExportFilters.coerce(filters))


# One encoder for the whole export: json.dumps(..., ensure_ascii=False) builds a new one per call.
_json = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode  # rows are plain trees


def dumps(row: dict) -> str:
    """One JSONL line, exactly ``json.dumps(row)`` (Chinese kept readable); a row whose prompt was
    encoded once per dialogue (``export_rows.PreencodedRow``) has it spliced in instead of re-encoded."""
    prompt_json = getattr(row, "prompt_json", None)
    if prompt_json is None or next(iter(row)) != "prompt":
        return _json(row) + "\n"
    rest = _json({k: v for k, v in row.items() if k != "prompt"})
    return '{"prompt": ' + prompt_json + (", " + rest[1:] if len(rest) > 2 else "}") + "\n"


def dataset_export(
    *, kind: str, filters: ExportFilters | dict | None, out: TextIO, sidecar: TextIO | None = None
) -> ExportStats:
    """Write the ``kind`` rows selected by ``filters`` to ``out`` and their provenance to ``sidecar``."""
    export_kind(kind)  # an unknown kind fails before anything is written
    f = ExportFilters.coerce(filters)
    stats = ExportStats(kind=kind, filters=f.to_dict())
    counts: Counter[str] = Counter()
    for index, (row, meta) in enumerate(export_rows_for(kind=kind, filters=f)):
        out.write(dumps(row))
        if sidecar is not None:
            sidecar.write(dumps({"row": index, **meta}))
        counts[meta.get("provenance") or meta["source"]] += 1
        stats.rows = index + 1
    stats.counts = dict(counts)
    return stats


def export_recorded(*, actor, kind: str, filters: ExportFilters, part: str = "training") -> None:
    """Audit a download from the web (who took which data)."""
    audit_record(
        actor=actor, action="export", object_type="dataset", object_id=kind, after={"part": part, **filters.to_dict()}
    )
