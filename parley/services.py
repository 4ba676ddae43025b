"""Platform writes."""

from kernel.audit import audit_record


def worker_ping_record(*, token: str) -> None:
    """Proof that a worker consumed a message and wrote to the database."""
    audit_record(actor=None, action="create", object_type="parley.worker_ping", object_id=token)
