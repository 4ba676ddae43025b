"""Small helpers for reading posted form values in views."""


def posted_number(value: str | None, kind: type[int] | type[float] = int) -> int | float | None:
    """``kind(value)``, or None when it is missing or not a number (the service then refuses it with its
    own message)."""
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None
