"""The engine's one vocabulary module: importable anywhere, consistent with itself and with its users."""

import doctest
import subprocess
import sys

import pytest

import engine.vocab as vocab
from engine.demo import DEFAULT_SOP
from engine.demo.vocab import CATEGORY_CLAUSE, CATEGORY_REASONS, CATEGORY_SEVERITY
from engine.prompting import LANGUAGE_NAMES
from engine.rewards.rubric import SOP_STAGES as RUBRIC_STAGES

CHOICES = {name: value for name, value in vars(vocab).items() if name.endswith("_CHOICES")}


def test_doctests():
    assert doctest.testmod(vocab).failed == 0


def test_imports_neither_django_nor_torch():
    code = "import sys, engine.vocab; print(sorted(m for m in ('django', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_every_vocabulary_has_unique_slug_values_and_a_label(name):
    pairs = CHOICES[name]
    assert pairs and len({v for v, _ in pairs}) == len(pairs)
    assert all(value and value == value.strip().lower() and " " not in value and label for value, label in pairs)


def test_value_tuples_follow_their_choices():
    for name, pairs in CHOICES.items():
        derived = [v for v in vars(vocab).values() if v == vocab.values(pairs)]
        assert derived, f"{name} has no tuple of its values beside it"


def test_the_users_of_each_vocabulary_agree_with_it():
    assert [s["key"] for s in DEFAULT_SOP["stages"]] == list(vocab.SOP_STAGES)
    assert [s["name"] for s in DEFAULT_SOP["stages"]] == [label for _, label in vocab.SOP_STAGE_CHOICES]
    assert RUBRIC_STAGES == vocab.SOP_STAGES
    assert set(vocab.MARGINS) == set(vocab.STRENGTHS)
    assert vocab.MARGINS["slight"] < vocab.MARGINS["clear"] < vocab.MARGINS["strong"]
    assert [vocab.SEVERITY_RANK[s] for s in vocab.SEVERITIES] == [1, 2, 3]
    assert set(vocab.LENS_PROVENANCE) == set(vocab.LENSES) and set(vocab.LENS_PROVENANCE.values()) <= set(
        vocab.PROVENANCES
    )
    assert set(vocab.FIXED_STATUSES) < set(vocab.FIX_STATUSES)
    assert LANGUAGE_NAMES == dict(vocab.LANGUAGE_CHOICES)
    for mapping in (CATEGORY_CLAUSE, CATEGORY_REASONS, CATEGORY_SEVERITY):
        assert set(mapping) == set(vocab.BAD_CASE_CATEGORIES)
    assert set(CATEGORY_SEVERITY.values()) <= set(vocab.SEVERITIES)
    assert set(vocab.OUTCOME_FIELDS) == {"hotel_replied", "price_reduced", "tickets_closed", "follow_up_needed"}
