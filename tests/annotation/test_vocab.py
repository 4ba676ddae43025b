"""The Django choices of the closed vocabularies are the engine's (``engine.vocab``), value for value and
label for label: the model fields, their ``TextChoices`` and the forms that offer them."""

import doctest

import pytest

import kernel.choices
from annotation.forms_data import ExportForm
from annotation.models import BadCase, Candidate, Dialogue, Lens, Message, NegotiationCase, PreferencePair
from annotation.models.labels import Provenance
from engine import vocab
from evaluation.models import EvalSet, Judgment
from evaluation.models.judgments import FixStatus
from registry.models import ModelVersion
from training_jobs.views.jobs_forms import SnapshotForm

# (TextChoices, the model field that stores it or None, the engine's pairs)
MIRRORS = [
    (Dialogue.Source, Dialogue._meta.get_field("source"), vocab.DIALOGUE_SOURCE_CHOICES),
    (Message.Role, Message._meta.get_field("role"), vocab.MESSAGE_ROLE_CHOICES),
    (Candidate.Source, Candidate._meta.get_field("source"), vocab.CANDIDATE_SOURCE_CHOICES),
    (NegotiationCase.HotelType, NegotiationCase._meta.get_field("hotel_type"), vocab.HOTEL_TYPE_CHOICES),
    (NegotiationCase.Language, NegotiationCase._meta.get_field("language"), vocab.LANGUAGE_CHOICES),
    (Lens, None, vocab.LENS_CHOICES),
    (Provenance, PreferencePair._meta.get_field("provenance"), vocab.PROVENANCE_CHOICES),
    (PreferencePair.Strength, PreferencePair._meta.get_field("strength"), vocab.STRENGTH_CHOICES),
    (BadCase.Category, BadCase._meta.get_field("category"), vocab.BAD_CASE_CATEGORY_CHOICES),
    (BadCase.Severity, BadCase._meta.get_field("severity"), vocab.SEVERITY_CHOICES),
    (EvalSet.Kind, EvalSet._meta.get_field("kind"), vocab.EVAL_SET_KIND_CHOICES),
    (FixStatus, Judgment._meta.get_field("fix_status"), vocab.FIX_STATUS_CHOICES),
    (ModelVersion.Kind, ModelVersion._meta.get_field("kind"), vocab.MODEL_KIND_CHOICES),
    (ModelVersion.Stage, ModelVersion._meta.get_field("stage"), vocab.MODEL_STAGE_CHOICES),
]


@pytest.mark.parametrize(("choices", "field", "pairs"), MIRRORS, ids=lambda x: getattr(x, "__name__", None))
def test_django_choices_are_the_engine_vocabulary(choices, field, pairs):
    assert choices.choices == list(pairs)
    if field is not None:
        assert list(field.choices) == list(pairs)


def test_lens_answers_go_to_their_provenance():
    assert {lens: vocab.LENS_PROVENANCE[lens] for lens in Lens.values} == {
        Lens.LANGUAGE: Provenance.LANGUAGE_EXPERT,
        Lens.BD: Provenance.BD_EXPERT,
    }


def test_database_constraints_name_the_same_values():
    role_check = next(c for c in Message._meta.constraints if c.name == "message_role_valid")
    assert dict(role_check.condition.children)["role__in"] == list(vocab.MESSAGE_ROLES)
    kind_check = next(c for c in EvalSet._meta.constraints if c.name == "evalset_kind_valid")
    assert dict(kind_check.condition.children)["kind__in"] == list(vocab.EVAL_SET_KINDS)


def test_forms_offer_the_vocabulary():
    assert list(ExportForm().fields["provenance"].choices) == list(vocab.PROVENANCE_CHOICES)
    assert list(SnapshotForm().fields["provenance"].choices) == list(vocab.PROVENANCE_CHOICES)


def test_text_choices_doctest():
    assert doctest.testmod(kernel.choices).failed == 0
