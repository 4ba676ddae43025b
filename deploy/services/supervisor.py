"""The ``serve`` task's body: own one deployment's vLLM server for as long as the deployment runs.

One delivery claims the row's lease (``kernel.status.row_claim``) and then loops every ``PARLEY_POLL_S``:

- **beat** the lease (``row_beat``); a requested stop ends the loop: the server's process group is
  stopped, the row is cancelled and its state ``stopped``;
- **start** the server when there is none: ``engine.serve.spawn_vllm`` (the one vLLM command, its own
  process group, ``PR_SET_PDEATHSIG`` so it dies with this worker, its log in the deployment's directory
  under ``PARLEY_DEPLOY_ROOT``), every process marked with the deployment's directory
  (``kernel.launcher.RUN_MARK``) so a later claim finds leftovers;
- **health** every ``PARLEY_SERVE_HEALTH_S``: ``/health`` and ``/v1/models``. A server that exits is
  restarted after a backoff (1, 2, 4 … s up to ``PARLEY_SERVE_BACKOFF_MAX_S``); one that stays unhealthy
  for ``PARLEY_SERVE_UNHEALTHY_RESTART_S`` (or never gets healthy within ``PARLEY_SERVE_START_TIMEOUT_S``)
  is stopped and restarted;
- **adapters**: rows ``loading`` are loaded (a replaced one is unloaded first), rows ``removing`` are
  unloaded and deleted, a ``loaded`` one that ``/v1/models`` no longer lists is loaded again. A restart
  loads every adapter again.

A SIGKILLed worker takes its server with it (PDEATHSIG); the sweep gives the lapsed row back to the
``serve`` queue and the next claim kills whatever is left of the old server (``kill_leftover`` by the
mark) before it starts one: a deployment never has two servers.
"""

from __future__ import annotations

import shlex
import socket
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from deploy.serving_models import Deployment, DeploymentAdapter
from engine import serve
from engine.rewards import rm_serving
from kernel.launcher import RUN_MARK, EngineError, engine_run, kill_leftover, log_text_tail
from kernel.status import Status, row_beat, row_finish
from registry.models import ModelVersion

LOG_NAME = "vllm.log"
HISTORY = 50
S, A = Deployment.State, DeploymentAdapter.State


def deployment_dir(deployment: Deployment) -> Path:
    return Path(settings.PARLEY_DEPLOY_ROOT) / f"deployment-{deployment.pk}"


def is_reward_model(deployment: Deployment) -> bool:
    return deployment.base.kind == ModelVersion.Kind.REWARD_MODEL


def served_model_path(deployment: Deployment) -> str:
    """What the server loads: the base's weights, or a reward model's exported (merged) checkpoint."""
    if not is_reward_model(deployment):
        return deployment.base.base_model
    from rewards.services.remote import rm_run_dir

    run_dir = rm_run_dir(deployment.base)
    if run_dir is None:
        raise RuntimeError(f"{deployment.base.name}: no trained reward-model run directory")
    return str(rm_serving.served_dir(run_dir))


def serve_options(deployment: Deployment) -> serve.ServeOptions:
    return serve.ServeOptions(
        runner="pooling" if is_reward_model(deployment) else "generate",
        served_name=deployment.served_base_name,
        host=settings.PARLEY_SERVE_HOST,
        max_model_len=settings.PARLEY_SERVE_MAX_MODEL_LEN,
        dtype=settings.PARLEY_SERVE_DTYPE,
        memory_share=settings.PARLEY_SERVE_MEMORY_SHARE,
        max_lora_rank=deployment.max_lora_rank,
        max_loras=deployment.max_loras,
        structured_outputs=True,
        extend_positions=settings.PARLEY_SERVE_EXTEND_POSITIONS,
        extra=tuple(shlex.split(settings.PARLEY_SERVE_EXTRA)),
    )


class Supervisor:
    def __init__(self, deployment: Deployment, owner: str):
        self.row = deployment
        self.owner = owner
        self.dir = deployment_dir(deployment)
        self.log = self.dir / LOG_NAME
        self.server: serve.VLLMServer | None = None
        self.history = list(deployment.health_history or [])
        self.state = deployment.state
        self.crashes_in_row = 0
        self.not_before = 0.0  # monotonic time before which no restart (backoff)
        self.spawned_at = 0.0
        self.unhealthy_since: float | None = None
        self.next_health = 0.0

    # -- writes (through the lease) ---------------------------------------------------------------------
    def beat(self, **fields) -> bool:
        return row_beat(row=self.row, owner=self.owner, **fields)

    def set_state(self, state: str, note: str = "", **fields) -> None:
        if state != self.state or note:
            self.history = [
                *self.history[-(HISTORY - 1) :],
                {"at": timezone.now().isoformat(), "state": state, "note": note[:500]},
            ]
        self.state = state
        self.beat(state=state, health_history=self.history, **fields)

    # -- the server ------------------------------------------------------------------------------------
    def spawn(self) -> None:
        DeploymentAdapter.objects.filter(deployment=self.row).exclude(state=A.REMOVING).update(
            state=A.LOADING, loaded_path=""
        )
        DeploymentAdapter.objects.filter(deployment=self.row, state=A.REMOVING).delete()
        model = served_model_path(self.row)
        if is_reward_model(self.row) and not rm_serving.is_exported(model):
            try:
                self.export_reward_model(model)
            except EngineError as exc:
                self.restart(f"exporting the reward model failed: {exc}")
                return
        self.server = serve.spawn_vllm(
            model=model,
            log_path=self.log,
            options=serve_options(self.row),
            die_with_parent=True,
            env={RUN_MARK: str(self.dir.resolve())},
        )
        self.spawned_at = time.monotonic()
        self.unhealthy_since = None
        port = int(self.server.root_url.rsplit(":", 1)[1])
        self.set_state(
            S.STARTING,
            f"server started (pid {self.server.process.pid}, port {port})",
            port=port,
            engine_pid=self.server.process.pid,
            node=socket.gethostname(),
            log_path=str(self.log),
        )

    def export_reward_model(self, out: str) -> None:
        """A reward model is served merged (LoRA + score head folded into the base): ``python -m engine
        export-rm`` once, through the engine launcher (torch stays out of this worker), beating meanwhile."""
        from rewards.services.remote import rm_run_dir

        self.set_state(S.STARTING, "exporting the reward model for /classify (merging its adapter and head)")
        started = time.monotonic()
        engine_run(
            ["export-rm", "--run-dir", str(rm_run_dir(self.row.base)), "--out", out],
            log=self.dir / "export.log",
            beat=lambda pid: self.beat(),
        )
        self.set_state(S.STARTING, f"reward model exported into {out} ({time.monotonic() - started:.0f} s)")

    def stop_server(self) -> None:
        if self.server is not None:
            serve.stop_vllm(self.server, grace_s=10)
            self.server = None
        kill_leftover(host=socket.gethostname(), pid=None, run_dir=self.dir)

    def restart(self, note: str) -> None:
        self.stop_server()
        self.crashes_in_row += 1
        backoff = min(2 ** (self.crashes_in_row - 1), settings.PARLEY_SERVE_BACKOFF_MAX_S)
        self.not_before = time.monotonic() + backoff
        restarts = Deployment.objects.filter(pk=self.row.pk).values_list("restarts", flat=True).first() or 0
        self.set_state(
            S.UNHEALTHY, f"{note}; restarting in {backoff:g} s", restarts=restarts + 1, health_error=note[-2000:]
        )

    def check(self) -> None:
        assert self.server is not None
        now = time.monotonic()
        code = self.server.process.poll()
        if code is not None:
            self.server = None
            self.restart(f"the server exited with status {code}\n{log_text_tail(self.log, chars=1500)}")
            return
        if now < self.next_health:
            return
        self.next_health = now + settings.PARLEY_SERVE_HEALTH_S
        self.sync_reported()
        models = serve.served_models(f"{self.server.root_url}/v1") if serve.is_healthy(self.server.root_url) else None
        if models is not None:
            self.crashes_in_row = 0
            self.unhealthy_since = None
            if self.state != S.HEALTHY:
                self.set_state(S.HEALTHY, "/health and /v1/models answer", health_at=timezone.now(), health_error="")
            else:
                self.beat(health_at=timezone.now())
            self.reconcile(models)
            return
        if self.state == S.STARTING:
            if now - self.spawned_at > settings.PARLEY_SERVE_START_TIMEOUT_S:
                limit = settings.PARLEY_SERVE_START_TIMEOUT_S
                self.restart(f"not healthy after {limit:g} s\n{log_text_tail(self.log, chars=1500)}")
            return
        if self.unhealthy_since is None:
            self.unhealthy_since = now
            self.set_state(S.UNHEALTHY, "/health does not answer", health_error="/health does not answer")
        elif now - self.unhealthy_since > settings.PARLEY_SERVE_UNHEALTHY_RESTART_S:
            self.restart(f"unhealthy for {settings.PARLEY_SERVE_UNHEALTHY_RESTART_S:g} s")

    def sync_reported(self) -> None:
        """Take in a state someone else wrote (the gateway's ``deployment_report_unreachable``), so the
        check below records the way back to healthy, or counts the unhealthy time from now."""
        stored = Deployment.objects.filter(pk=self.row.pk).values_list("state", "health_history").first()
        if stored and stored[0] != self.state and stored[0] == S.UNHEALTHY:
            self.state, self.history = stored[0], list(stored[1] or [])
            self.unhealthy_since = time.monotonic()

    # -- adapters --------------------------------------------------------------------------------------
    def reconcile(self, models: set[str]) -> None:
        root = self.server.root_url
        for adapter in DeploymentAdapter.objects.filter(deployment=self.row).select_related("version"):
            try:
                if adapter.state == A.REMOVING:
                    serve.lora_unload(f"{root}/v1", name=adapter.served_name)
                    adapter.delete()
                    self.set_state(self.state, f"adapter {adapter.served_name} removed")
                elif adapter.state == A.LOADING or (adapter.state == A.LOADED and adapter.served_name not in models):
                    started = time.monotonic()
                    if adapter.loaded_path or adapter.served_name in models:
                        serve.lora_unload(f"{root}/v1", name=adapter.served_name)
                    serve.lora_load(f"{root}/v1", name=adapter.served_name, path=adapter.version.adapter_path)
                    seconds = time.monotonic() - started
                    # Only if nobody replaced or removed it meanwhile (else the next round applies that).
                    current = DeploymentAdapter.objects.filter(pk=adapter.pk, version=adapter.version)
                    current.exclude(state=A.REMOVING).update(
                        state=A.LOADED, loaded_path=adapter.version.adapter_path, loaded_at=timezone.now(), error=""
                    )
                    self.set_state(
                        self.state, f"adapter {adapter.served_name} loaded ({adapter.version.name}, {seconds:.2f} s)"
                    )
            except serve.LoraError as exc:
                DeploymentAdapter.objects.filter(pk=adapter.pk).update(state=A.FAILED, error=str(exc)[-2000:])

    # -- the loop --------------------------------------------------------------------------------------
    def run(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            while True:
                if self.beat():
                    self.stop_server()
                    self.history = [
                        *self.history[-(HISTORY - 1) :],
                        {"at": timezone.now().isoformat(), "state": S.STOPPED, "note": "stopped on request"},
                    ]
                    row_finish(
                        row=self.row,
                        owner=self.owner,
                        to=Status.CANCELLED,
                        state=S.STOPPED,
                        health_history=self.history,
                    )
                    return Status.CANCELLED
                if self.server is None:
                    if time.monotonic() >= self.not_before:
                        self.spawn()
                else:
                    self.check()
                time.sleep(settings.PARLEY_POLL_S)
        except BaseException:
            self.stop_server()
            raise


def deployment_supervise(*, deployment: Deployment, owner: str, previous: tuple[str, int | None]) -> str:
    """Run one claimed deployment until it is stopped (or its lease is lost). Leftovers of an earlier claim
    on this host (a killed worker's server) are killed first."""
    kill_leftover(host=previous[0], pid=previous[1], run_dir=deployment_dir(deployment))
    return Supervisor(deployment, owner).run()
