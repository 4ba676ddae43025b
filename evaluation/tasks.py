"""Celery tasks of the evaluation app: thin adapters over ``evaluation.services``."""

from celery import shared_task


@shared_task(bind=True, name="evaluation.eval_run_execute")
def eval_run_execute_task(self, run_id: int) -> str:
    """Generate and pre-score one eval run (queue ``gpu``: it starts the engine as a subprocess)."""
    from evaluation.models import EvalRun
    from evaluation.services.runs import eval_run_execute
    from kernel.status import Status, lease_owner_name

    run = EvalRun.objects.filter(pk=run_id, status=Status.QUEUED).first()
    if run is None:  # deleted, finished, or running under another worker (the sweep watches that one)
        return "skip"
    return eval_run_execute(run=run, owner=lease_owner_name(task_id=self.request.id or "eager")).status


@shared_task(name="evaluation.studies_advance")
def studies_advance_task() -> int:
    """Celery beat's tick: queue the eval runs of every study whose jobs registered new versions."""
    from evaluation.services.studies import studies_advance

    return studies_advance()
