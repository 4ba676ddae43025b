"""Writes of deployments (``deploy.serving_models``): create/start, stop, and the adapters of a server.
Every write is audited. The server itself is owned by the ``serve`` task (``deploy.services.supervisor``),
which applies what these rows ask for: a new adapter row is loaded into the running server, a replaced one
is unloaded and loaded again, a removed one is unloaded (no restart)."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import IntegrityError, transaction

from deploy.serving_models import Deployment, DeploymentAdapter
from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError
from kernel.status import Status, row_enqueue, row_transition
from registry.models import ModelVersion

K = ModelVersion.Kind
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
BAD_SLOT = "A slot is 1-100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit (got {value!r})."
BAD_SERVED_NAME = "A served name is 1-100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit."
NOT_A_BASE = (
    "{name} is a {kind}; a deployment serves a base model or a reward model "
    "(policies are served as adapters of their base)."
)
RM_NOT_TRAINED = "{name} has no trained reward-model run directory ({meta} beside its adapter); it cannot be served."
RM_NO_ADAPTERS = "A reward model is served alone (for /classify): it takes no adapters."
NOT_A_POLICY = "{name} is a {kind}; only policy versions are served as adapters."
NO_ADAPTER = "{name} has no LoRA adapter to load."
WRONG_BASE = "{name} was trained on {its}, but this deployment serves {base}."
NO_BASE = "{name} has no registered base version to deploy it on."
SLOT_BUSY = "Slot {slot!r} already has an active deployment ({pk}): stop it first or add the adapter there."
BAD_LORA_OPTION = "max_loras must be 1-64 and max_lora_rank one of 8, 16, 32, 64, 128, 256."
NOT_ACTIVE = "This deployment is {status}; start a new one."
TOO_MANY = "This deployment holds at most {n} adapters (max_loras)."
NAME_TAKEN = "An adapter named {name!r} is already on this deployment."
ALREADY_DEPLOYED = "{name} is already on this deployment as {served!r}."
LORA_RANKS = (8, 16, 32, 64, 128, 256)


def _check_name(value: str, message: str) -> str:
    value = (value or "").strip()
    if not NAME_RE.match(value):
        raise ApplicationError(message.format(value=value))
    return value


def _history(deployment: Deployment, state: str, note: str) -> None:
    from django.utils import timezone

    deployment.health_history = [
        *deployment.health_history[-49:],
        {"at": timezone.now().isoformat(), "state": state, "note": note},
    ]


def same_base(version: ModelVersion, base: ModelVersion) -> bool:
    if version.base_id is not None:
        return version.base_id == base.pk
    return bool(version.base_model) and version.base_model == base.base_model


def _check_adapter_version(deployment: Deployment, version: ModelVersion) -> None:
    if version.kind != K.POLICY:
        raise ApplicationError(NOT_A_POLICY.format(name=version.name, kind=version.get_kind_display().lower()))
    if not version.adapter_path:
        raise ApplicationError(NO_ADAPTER.format(name=version.name))
    if not same_base(version, deployment.base):
        its = version.base.name if version.base_id else version.base_model
        raise ApplicationError(WRONG_BASE.format(name=version.name, its=its, base=deployment.base.name))


def _check_reward_model(version: ModelVersion, adapters) -> None:
    from engine.rundir import RM_META_FILE
    from rewards.services.remote import rm_run_dir

    if adapters:
        raise ApplicationError(RM_NO_ADAPTERS)
    if rm_run_dir(version) is None:
        raise ApplicationError(RM_NOT_TRAINED.format(name=version.name, meta=RM_META_FILE))


def _check_active(deployment: Deployment) -> None:
    if deployment.status not in (Status.QUEUED, Status.RUNNING) or deployment.cancel_requested:
        raise ApplicationError(NOT_ACTIVE.format(status=deployment.get_state_display().lower()), status=409)


def deployment_create(
    *,
    base: ModelVersion,
    slot: str,
    adapters: list[ModelVersion] | tuple = (),
    max_loras: int = 4,
    max_lora_rank: int = 64,
    actor=None,
    queue: str = "",
) -> Deployment:
    """A new deployment of ``base`` in ``slot`` with ``adapters`` (policy versions of that base), queued on
    the ``serve`` queue. 400 for a wrong kind or base, 409 when the slot has an active deployment."""
    slot = _check_name(slot, BAD_SLOT)
    queue = queue or settings.PARLEY_SERVE_QUEUE
    if base.kind not in (K.BASE, K.REWARD_MODEL):
        raise ApplicationError(NOT_A_BASE.format(name=base.name, kind=base.get_kind_display().lower()))
    if base.kind == K.REWARD_MODEL:
        _check_reward_model(base, adapters)
    try:
        max_loras, max_lora_rank = int(max_loras), int(max_lora_rank)
    except (TypeError, ValueError):
        raise ApplicationError(BAD_LORA_OPTION) from None
    if not 1 <= max_loras <= 64 or max_lora_rank not in LORA_RANKS:
        raise ApplicationError(BAD_LORA_OPTION)
    if len(adapters) > max_loras:
        raise ApplicationError(TOO_MANY.format(n=max_loras))
    probe = Deployment(base=base, slot=slot)
    for version in adapters:
        _check_adapter_version(probe, version)
    busy = Deployment.objects.filter(slot=slot, status__in=[Status.QUEUED, Status.RUNNING]).first()
    if busy is not None:
        raise ApplicationError(SLOT_BUSY.format(slot=slot, pk=busy.pk), status=409)
    try:
        with transaction.atomic():
            deployment = Deployment.objects.create(
                base=base, slot=slot, max_loras=max_loras, max_lora_rank=max_lora_rank, created_by=actor, queue=queue
            )
            for version in dict.fromkeys(adapters):
                DeploymentAdapter.objects.create(deployment=deployment, version=version, served_name=version.name)
            audit_record(actor=actor, action="create", instance=deployment, after=audit_snapshot(deployment))
            row_enqueue(deployment)
    except IntegrityError:  # a concurrent start took the slot between the check and the insert
        raise ApplicationError(SLOT_BUSY.format(slot=slot, pk="?"), status=409) from None
    return deployment


def deployment_start(*, version: ModelVersion, slot: str = "", actor=None, **options) -> Deployment:
    """Serve ``version``: a base or a reward model is deployed as it is; a policy is added to the active
    deployment of its base in ``slot`` when there is one, else deployed on its base with itself as the adapter."""
    slot = slot or version.slot or version.name
    if version.kind in (K.BASE, K.REWARD_MODEL):
        return deployment_create(base=version, slot=slot, actor=actor, **options)
    if version.kind != K.POLICY:
        raise ApplicationError(NOT_A_POLICY.format(name=version.name, kind=version.get_kind_display().lower()))
    if version.base_id is None:
        raise ApplicationError(NO_BASE.format(name=version.name))
    active = Deployment.objects.filter(
        slot=_check_name(slot, BAD_SLOT), status__in=[Status.QUEUED, Status.RUNNING]
    ).first()
    if active is not None and active.base_id == version.base_id:
        adapter_add(deployment=active, version=version, actor=actor)
        return active
    return deployment_create(base=version.base, slot=slot, adapters=[version], actor=actor, **options)


@transaction.atomic
def deployment_stop(*, deployment: Deployment, actor=None) -> Deployment:
    """Stop a deployment: a queued one is cancelled now; a running one's supervisor stops the server at
    its next beat (within ``PARLEY_POLL_S``). 409 when it already ended."""
    row = Deployment.objects.select_for_update().get(pk=deployment.pk)
    before = audit_snapshot(row, fields=["status", "state", "cancel_requested"])
    if row.status == Status.QUEUED:
        _history(row, Deployment.State.STOPPED, "stopped before it started")
        row = row_transition(
            model=Deployment,
            pk=row.pk,
            to=Status.CANCELLED,
            state=Deployment.State.STOPPED,
            health_history=row.health_history,
        )
    elif row.status == Status.RUNNING:
        if row.cancel_requested:
            return row
        row.cancel_requested = True
        row.save(update_fields=["cancel_requested"])
    else:
        raise ApplicationError(NOT_ACTIVE.format(status=row.get_state_display().lower()), status=409)
    audit_record(
        actor=actor,
        action="change",
        instance=row,
        before=before,
        after=audit_snapshot(row, fields=list(before)),
        note="stop",
    )
    return row


def deployment_report_unreachable(deployment_id: int, reason: str) -> bool:
    """A caller (the gateway) could not reach a deployment's server: a healthy running deployment is marked
    ``unhealthy`` now, with the reason in its error and health history, so the page shows it and
    ``live_endpoint`` stops handing it out. The supervisor owns the state: its next health check (within
    ``PARLEY_SERVE_HEALTH_S``) sets it healthy again if the server answers, else restarts it as usual.
    Returns whether the row changed (False: already unhealthy, stopping, or gone)."""
    with transaction.atomic():
        row = (
            Deployment.objects.select_for_update()
            .filter(pk=deployment_id, status=Status.RUNNING, state=Deployment.State.HEALTHY, cancel_requested=False)
            .first()
        )
        if row is None:
            return False
        _history(row, Deployment.State.UNHEALTHY, reason[:500])
        row.state, row.health_error = Deployment.State.UNHEALTHY, reason[:2000]
        row.save(update_fields=["state", "health_error", "health_history"])
    return True


@transaction.atomic
def adapter_add(
    *, deployment: Deployment, version: ModelVersion, served_name: str = "", actor=None
) -> DeploymentAdapter:
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    _check_active(deployment)
    if deployment.base.kind == K.REWARD_MODEL:
        raise ApplicationError(RM_NO_ADAPTERS)
    _check_adapter_version(deployment, version)
    served_name = _check_name(served_name or version.name, BAD_SERVED_NAME)
    if served_name == deployment.served_base_name or deployment.adapters.filter(served_name=served_name).exists():
        raise ApplicationError(NAME_TAKEN.format(name=served_name), status=409)
    held = deployment.adapters.filter(version=version).first()
    if held is not None:
        raise ApplicationError(ALREADY_DEPLOYED.format(name=version.name, served=held.served_name), status=409)
    if deployment.adapters.exclude(state=DeploymentAdapter.State.REMOVING).count() >= deployment.max_loras:
        raise ApplicationError(TOO_MANY.format(n=deployment.max_loras))
    adapter = DeploymentAdapter.objects.create(deployment=deployment, version=version, served_name=served_name)
    audit_record(actor=actor, action="create", instance=adapter, after=audit_snapshot(adapter))
    return adapter


@transaction.atomic
def adapter_replace(*, adapter: DeploymentAdapter, version: ModelVersion, actor=None) -> DeploymentAdapter:
    """Serve ``version``'s weights under the adapter's served name: the supervisor unloads the old weights
    and loads the new ones (no restart); callers keep the same model name."""
    adapter = DeploymentAdapter.objects.select_for_update().select_related("deployment__base").get(pk=adapter.pk)
    _check_active(adapter.deployment)
    _check_adapter_version(adapter.deployment, version)
    if adapter.deployment.adapters.filter(version=version).exclude(pk=adapter.pk).exists():
        raise ApplicationError(ALREADY_DEPLOYED.format(name=version.name, served="another name"), status=409)
    before = audit_snapshot(adapter)
    adapter.version, adapter.state, adapter.error = version, DeploymentAdapter.State.LOADING, ""
    adapter.save(update_fields=["version", "state", "error"])
    audit_record(
        actor=actor, action="change", instance=adapter, before=before, after=audit_snapshot(adapter), note="replace"
    )
    return adapter


@transaction.atomic
def adapter_remove(*, adapter: DeploymentAdapter, actor=None) -> None:
    """Take an adapter off: one the server holds is unloaded by the supervisor, then its row goes."""
    adapter = DeploymentAdapter.objects.select_for_update().get(pk=adapter.pk)
    before = audit_snapshot(adapter)
    deployment = adapter.deployment
    if adapter.loaded_path and deployment.status == Status.RUNNING:
        adapter.state = DeploymentAdapter.State.REMOVING
        adapter.save(update_fields=["state"])
    else:
        adapter.delete()
    audit_record(
        actor=actor, action="delete", object_type="deploy.deploymentadapter", object_id=before["id"], before=before
    )
