"""What each task kind asks: rubric dimensions per lens, reason codes, strengths, and how an answer turns
into the values agreement is computed on (one value per question, side-independent)."""

from annotation.models import Answer, BadCase, Lens, PreferencePair, TaskKind

STRENGTH_KEYS = {
    "1": PreferencePair.Strength.SLIGHT,
    "2": PreferencePair.Strength.CLEAR,
    "3": PreferencePair.Strength.STRONG,
}

REASON_CODES = {
    "tone": "Tone",
    "sop_stage": "SOP stage",
    "over_promise": "Over-promise",
    "price_error": "Price error",
    "leak": "Internal term or reasoning leak",
    "repetition": "Repetition",
    "hallucination": "Hallucination",
    "language": "Language / fluency",
    "too_long": "Too long",
    "ignored_ticket": "Ticket ignored",
}

# Each lens answers its own dimensions (1–5): agreement is computed per lens and per dimension.
RUBRIC_DIMENSIONS = {
    Lens.LANGUAGE: {"fluency": "Fluency", "tone": "Tone", "clarity": "Clarity", "consistency": "Language consistency"},
    Lens.BD: {
        "sop": "SOP compliance",
        "effectiveness": "Negotiation effectiveness",
        "price_accuracy": "Price accuracy",
        "scope": "Scope understanding",
    },
}

SEVERITY_RANK = {BadCase.Severity.MINOR: 1, BadCase.Severity.MAJOR: 2, BadCase.Severity.SEVERE: 3}

# question → Krippendorff level of measurement.
LEVEL = {"choice": "nominal", "category": "nominal", "severity": "ordinal", "rating": "ordinal"}


def question_level(question: str) -> str:
    return LEVEL.get(question, "ordinal")  # rubric dimensions are 1–5 ordinal scores


def answer_values(answer: Answer, *, kind: str) -> dict[str, object]:
    """The answer as {question: value}; pairwise choices are canonical (candidate A/B), not screen sides."""
    if kind == TaskKind.PAIRWISE:
        return {"choice": answer.choice}
    if kind == TaskKind.BAD_CASE:
        return dict(answer.scores)  # {"category": ..., "severity": rank}
    return {key: int(value) for key, value in answer.scores.items()}
