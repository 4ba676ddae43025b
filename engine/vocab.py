"""The closed vocabularies of Parley, each defined once: the engine, the import checks, the demo world and
the web app's Django choices all read them from here (torch-free and Django-free, so any side can).

Each vocabulary is a tuple of ``(value, label)`` pairs in display order (``*_CHOICES``); the plain tuple
of values beside it is derived. The Django ``TextChoices`` are built from the pairs
(``kernel.choices.text_choices``) and ``tests/annotation/test_vocab.py`` holds them equal, so a value
added here reaches the forms, the models and the validators at once (a model field's choices changing
still needs ``makemigrations``; no SQL).

What is *not* here: the SOP's stages and clauses as a project configures them (data, versioned in the
database; ``SOP_STAGE_CHOICES`` is the default SOP's and the rubric's).
"""

from __future__ import annotations

Choices = tuple[tuple[str, str], ...]


def values(choices: Choices) -> tuple[str, ...]:
    """The values of ``(value, label)`` pairs, in order.

    >>> values((("a", "A"), ("b", "B")))
    ('a', 'b')
    """
    return tuple(value for value, _ in choices)


# -- dialogues -------------------------------------------------------------------------------------------
# The stages of a price-chase negotiation, in order: the default SOP's stages and the judge rubric's scope.
SOP_STAGE_CHOICES: Choices = (
    ("greeting", "Greeting"),
    ("state_request", "State request"),
    ("persuade", "Persuade"),
    ("handle_objection", "Handle objection"),
    ("continue_chase", "Continue chase"),
    ("accept_close", "Accept and close"),
    ("no_reply_follow_up", "No-reply follow-up"),
)
SOP_STAGES = values(SOP_STAGE_CHOICES)

DIALOGUE_SOURCE_CHOICES: Choices = (("production", "Production"), ("curated", "Curated"), ("synthetic", "Synthetic"))
DIALOGUE_SOURCES = values(DIALOGUE_SOURCE_CHOICES)

MESSAGE_ROLE_CHOICES: Choices = (("agent", "Agent (BD)"), ("hotel", "Hotel"), ("system", "System"))
MESSAGE_ROLES = values(MESSAGE_ROLE_CHOICES)

CANDIDATE_SOURCE_CHOICES: Choices = (("model", "Model"), ("human", "Human"))
CANDIDATE_SOURCES = values(CANDIDATE_SOURCE_CHOICES)

HOTEL_TYPE_CHOICES: Choices = (
    ("business", "Business"),
    ("resort", "Resort"),
    ("budget", "Budget"),
    ("boutique", "Boutique"),
    ("apartment", "Apartment"),
)
HOTEL_TYPES = values(HOTEL_TYPE_CHOICES)

LANGUAGE_CHOICES: Choices = (("en", "English"), ("zh", "Chinese"))
LANGUAGES = values(LANGUAGE_CHOICES)

# -- what happened in production (a dialogue's ``outcome``) ---------------------------------------------
# Every key an outcome may carry and the type of its value; all optional.
OUTCOME_FIELDS: dict[str, type] = {
    "hotel_replied": bool,
    "price_reduced": str,  # one of PRICE_REDUCED
    "tickets_closed": int,  # non-negative
    "follow_up_needed": bool,
}
PRICE_REDUCED_CHOICES: Choices = (
    ("target", "To the target or better"),
    ("partial", "Partly"),
    ("refused", "Refused"),
    ("none", "No price talk (no reply)"),
)
PRICE_REDUCED = values(PRICE_REDUCED_CHOICES)

# -- who judges, and where a preference pair came from -----------------------------------------------------
# The two expert lenses of annotation: each answers its own questions and gets its own agreement.
LENS_CHOICES: Choices = (("language", "Language expert"), ("bd", "BD expert"))
LENSES = values(LENS_CHOICES)

# The four sources of preference data.
PROVENANCE_CHOICES: Choices = (
    ("production", "Production case"),
    ("language_expert", "Language expert"),
    ("bd_expert", "BD expert"),
    ("sop_path", "SOP path"),
)
PROVENANCES = values(PROVENANCE_CHOICES)
# The provenance of a pair an annotator of each lens makes.
LENS_PROVENANCE = {"language": "language_expert", "bd": "bd_expert"}

# How much better the chosen reply is, and the reward-model margin each strength becomes (TRL
# RewardTrainer's optional ``margin`` column): a strong preference asks the reward model for a wider gap.
STRENGTH_CHOICES: Choices = (("slight", "Slight"), ("clear", "Clear"), ("strong", "Strong"))
STRENGTHS = values(STRENGTH_CHOICES)
MARGINS = {"slight": 0.5, "clear": 1.0, "strong": 2.0}

# -- bad cases ---------------------------------------------------------------------------------------------
BAD_CASE_CATEGORY_CHOICES: Choices = (
    ("internal_term_leak", "Internal term leaked"),
    ("price_confusion", "Net and selling price confused"),
    ("pushed_after_acceptable_offer", "Pushed after an acceptable offer"),
    ("silence_as_agreement", "Silence taken as agreement"),
    ("over_promise", "Over-promise"),
    ("hallucination", "Hallucinated competitor, price or benefit"),
    ("ticket_ignored", "A ticket ignored"),
    ("wrong_stage", "Wrong stage"),
    ("repeated_confirmation", "Repeated confirmation"),
    ("rigid_script", "Rigid script"),
    ("tone", "Pushy or cold tone"),
    ("mixed_language", "Mixed language"),
    ("too_long", "Far too long"),
    ("reasoning_leak", "Reasoning or system text leaked"),
)
BAD_CASE_CATEGORIES = values(BAD_CASE_CATEGORY_CHOICES)

SEVERITY_CHOICES: Choices = (("minor", "Minor"), ("major", "Major"), ("severe", "Severe"))
# Why the rejected reply of a pair is worse (its failing); an annotator may pick several, the demo world
# tags its pairs with them, and imports and exports carry them as ``reason_codes``.
REASON_CODE_CHOICES: Choices = (
    ("tone", "Tone"),
    ("sop_stage", "SOP stage"),
    ("over_promise", "Over-promise"),
    ("price_error", "Price error"),
    ("leak", "Internal term or reasoning leak"),
    ("repetition", "Repetition"),
    ("hallucination", "Hallucination"),
    ("language", "Language / fluency"),
    ("too_long", "Too long"),
    ("ignored_ticket", "Ticket ignored"),
)
REASON_CODES = values(REASON_CODE_CHOICES)

SEVERITIES = values(SEVERITY_CHOICES)
# Severity as an ordinal value (agreement on severity is computed on these ranks).
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES, start=1)}

# -- human evaluation --------------------------------------------------------------------------------------
EVAL_SET_KIND_CHOICES: Choices = (("online", "Online (real dialogues)"), ("bad_case", "Bad cases"))
EVAL_SET_KINDS = values(EVAL_SET_KIND_CHOICES)

# A system's outcome on one bad case; the first three together are the fix rate.
FIX_STATUS_CHOICES: Choices = (
    ("clean", "Clean fix"),
    ("minor_issues", "Fixed, minor issues"),
    ("major_issues", "Fixed, major issues"),
    ("unresolved", "Unresolved"),
    ("severe_unresolved", "Severe unresolved"),
)
FIX_STATUSES = values(FIX_STATUS_CHOICES)
FIXED_STATUSES = FIX_STATUSES[:3]

# The four binary skills a rater checks per response.
SKILL_CHOICES: Choices = (
    ("fluency", "fluency"),
    ("workflow_compliance", "workflow compliance"),
    ("negotiation_effectiveness", "negotiation effectiveness"),
    ("scope_understanding", "scope understanding"),
)
SKILLS = values(SKILL_CHOICES)

# -- the model registry ------------------------------------------------------------------------------------
# What a registered version is: a policy (serves replies), a reward model (scores them) or a base checkpoint.
MODEL_KIND_CHOICES: Choices = (("policy", "Policy"), ("reward_model", "Reward model"), ("base", "Base model"))
MODEL_KINDS = values(MODEL_KIND_CHOICES)

# Where a version stands on its way to serving; the allowed moves are the registry service's.
MODEL_STAGE_CHOICES: Choices = (
    ("candidate", "Candidate"),
    ("staging", "Staging"),
    ("production", "Production"),
    ("retired", "Retired"),
)
MODEL_STAGES = values(MODEL_STAGE_CHOICES)
