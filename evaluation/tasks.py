"""Celery tasks of the evaluation app: thin adapters over ``evaluation.services``."""

from celery import shared_task


@shared_task(name="evaluation.eval_run_execute")
def eval_run_execute_task(*, run_id: int) -> None:
    """Generate and pre-score one eval run (queue ``gpu``: it starts the engine as a subprocess)."""
    from evaluation.models import EvalRun
    from evaluation.services.runs import eval_run_execute

    run = EvalRun.objects.filter(pk=run_id, status=EvalRun.Status.PENDING).first()
    if run is None:  # deleted, or already picked up by a redelivered message
        return
    eval_run_execute(run=run)
