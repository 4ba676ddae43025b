"""Celery tasks of the kernel: the periodic sweep (scheduled in ``parley/settings/celery.py``)."""

from celery import shared_task


@shared_task(name="kernel.sweep_leases", acks_late=False)
def sweep_leases() -> dict:
    """Recover status rows whose lease lapsed (``kernel.sweep``)."""
    from kernel.sweep import rows_sweep

    return vars(rows_sweep())
