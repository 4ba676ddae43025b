"""Celery tasks of the annotation app: thin adapters over ``annotation.services``."""

from celery import shared_task


@shared_task(bind=True, name="annotation.branch_generate_execute")
def branch_generate_task(self, generation_id: int) -> str:
    """Generate the alternatives of one branch generation (queue ``gpu``: it starts the engine as a subprocess)."""
    from annotation.models import BranchGeneration
    from annotation.services.branching import branch_generate_execute
    from kernel.status import Status, lease_owner_name

    generation = BranchGeneration.objects.filter(pk=generation_id, status=Status.QUEUED).first()
    if generation is None:  # deleted, finished, or running under another worker (the sweep watches that one)
        return "skip"
    owner = lease_owner_name(task_id=self.request.id or "eager")
    return branch_generate_execute(generation=generation, owner=owner).status
