"""What the demo world generator knows about the closed vocabularies of ``engine.vocab``: the reason codes
its pairs carry, and for each bad-case category the default SOP clause it breaks, its usual severity and
the reason codes a pair gets when its rejected side shows it.
"""

from __future__ import annotations

from engine.vocab import REASON_CODES  # the demo's pairs use the one vocabulary

__all__ = ["REASON_CODES", "CATEGORY_CLAUSE", "CATEGORY_SEVERITY", "CATEGORY_REASONS"]

# The default SOP clause each category breaks (codes from engine.demo.sop.DEFAULT_SOP).
CATEGORY_CLAUSE = {
    "internal_term_leak": "2.2",
    "price_confusion": "2.3",
    "pushed_after_acceptable_offer": "5.2",
    "silence_as_agreement": "7.2",
    "over_promise": "3.2",
    "hallucination": "3.1",
    "ticket_ignored": "2.1",
    "wrong_stage": "1.2",
    "repeated_confirmation": "6.1",
    "rigid_script": "4.1",
    "tone": "4.2",
    "mixed_language": "1.3",
    "too_long": "3.3",
    "reasoning_leak": "2.4",
}

CATEGORY_SEVERITY = {
    "internal_term_leak": "major",
    "price_confusion": "severe",
    "pushed_after_acceptable_offer": "major",
    "silence_as_agreement": "severe",
    "over_promise": "major",
    "hallucination": "severe",
    "ticket_ignored": "major",
    "wrong_stage": "minor",
    "repeated_confirmation": "minor",
    "rigid_script": "minor",
    "tone": "minor",
    "mixed_language": "minor",
    "too_long": "minor",
    "reasoning_leak": "severe",
}

# The reason code(s) a pair gets when its rejected side shows the category.
CATEGORY_REASONS = {
    "internal_term_leak": ("leak",),
    "price_confusion": ("price_error",),
    "pushed_after_acceptable_offer": ("sop_stage",),
    "silence_as_agreement": ("sop_stage",),
    "over_promise": ("over_promise",),
    "hallucination": ("hallucination",),
    "ticket_ignored": ("ignored_ticket",),
    "wrong_stage": ("sop_stage",),
    "repeated_confirmation": ("repetition",),
    "rigid_script": ("tone",),
    "tone": ("tone",),
    "mixed_language": ("language",),
    "too_long": ("too_long",),
    "reasoning_leak": ("leak",),
}
