"""What the demo world generator knows about the closed vocabularies of ``engine.vocab``: the reason codes
its pairs carry, and for each bad-case category the default SOP clause it breaks, its usual severity and
the reason codes a pair gets when its rejected side shows it.
"""

from __future__ import annotations

# Why the chosen reply of a pair is better; an annotator may pick several.
REASON_CODES = (
    "sop_compliance",
    "accurate_prices",
    "competitor_comparison",
    "benefit_tied_to_price",
    "handles_objection",
    "empathy",
    "specific_ask",
    "accepts_promptly",
    "no_internal_terms",
    "no_invented_facts",
    "covers_all_tickets",
    "concise",
    "natural_language",
    "single_language",
    "polite_tone",
)

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
    "internal_term_leak": ("no_internal_terms",),
    "price_confusion": ("accurate_prices",),
    "pushed_after_acceptable_offer": ("accepts_promptly", "sop_compliance"),
    "silence_as_agreement": ("sop_compliance",),
    "over_promise": ("benefit_tied_to_price", "no_invented_facts"),
    "hallucination": ("no_invented_facts", "competitor_comparison"),
    "ticket_ignored": ("covers_all_tickets",),
    "wrong_stage": ("sop_compliance",),
    "repeated_confirmation": ("concise",),
    "rigid_script": ("handles_objection",),
    "tone": ("polite_tone", "empathy"),
    "mixed_language": ("single_language", "natural_language"),
    "too_long": ("concise",),
    "reasoning_leak": ("no_internal_terms",),
}
