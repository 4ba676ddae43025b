"""Celery tasks of the annotation app: thin adapters over ``annotation.services``."""

from celery import shared_task


@shared_task(name="annotation.branch_generate_execute")
def branch_generate_task(*, generation_id: int) -> None:
    """Generate the alternatives of one branch generation (queue ``gpu``: it starts the engine as a subprocess)."""
    from annotation.models import BranchGeneration
    from annotation.services.branching import branch_generate_execute

    generation = BranchGeneration.objects.filter(pk=generation_id, status=BranchGeneration.Status.PENDING).first()
    if generation is None:  # deleted, or already picked up by a redelivered message
        return
    branch_generate_execute(generation=generation)
