"""Multi-node jobs without workers: the torchrun command of each node, the submission checks, and the
group's rules on node rows (claims, leases, a lost or failed node ending the attempt as a whole). The
real thing, two workers and a killed node, is tests/training_jobs/test_multinode.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from kernel.errors import ApplicationError
from kernel.launcher import ALL_NODES, Rendezvous, engine_argv, engine_env, run_mark
from kernel.status import Status, row_claim
from tests.training_jobs import factories
from training_jobs.models import JobNode, TrainingJob
from training_jobs.services import jobs, nodes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    sent: list[tuple] = []
    monkeypatch.setattr(jobs, "row_enqueue", lambda row: None)
    monkeypatch.setattr(nodes, "row_enqueue", lambda row: sent.append(("job", row.pk)))
    monkeypatch.setattr(nodes, "enqueue_named", lambda name, *args, queue: sent.append((name, *args, queue)))
    return sent


def _job(**fields) -> TrainingJob:
    return jobs.job_create(
        name="group",
        method="repo",
        base_model=factories.base_model(),
        snapshots=[factories.snapshot()],
        reward_config=factories.reward_config(),
        hyperparameters={"max_steps": 2},
        **fields,
    )


def _claimed(job: TrainingJob, owner: str = "host:1:task") -> TrainingJob:
    return row_claim(model=TrainingJob, pk=job.pk, owner=owner).row


def test_each_node_joins_the_c10d_rendezvous_and_only_node_0_hosts_it(settings):
    settings.PARLEY_PYTHON = "/opt/py"
    host = engine_argv(["train", "repo"], processes=2, rendezvous=Rendezvous("h:29400", "run-7", nodes=3, node=0))
    assert host[:3] == ["/opt/py", "-m", "torch.distributed.run"] and host[-4:] == ["-m", "engine", "train", "repo"]
    assert "--nnodes=3" in host and "--nproc_per_node=2" in host and "--rdzv_backend=c10d" in host
    assert "--rdzv_endpoint=h:29400" in host and "--rdzv_id=run-7" in host and "--standalone" not in host
    assert any(a.startswith("--rdzv_conf=is_host=1") for a in host)
    peer = engine_argv(["train", "repo"], processes=1, rendezvous=Rendezvous("h:29400", "run-7", nodes=3, node=2))
    assert any(a.startswith("--rdzv_conf=is_host=0") for a in peer) and "--nproc_per_node=1" in peer
    assert engine_argv(["train", "repo"], processes=1) == ["/opt/py", "-m", "engine", "train", "repo"]


def test_nodes_of_one_run_carry_marks_of_their_own(tmp_path):
    run = tmp_path / "run"
    assert engine_env(run_dir=run)["PARLEY_ENGINE_RUN"] == str(run.resolve()) == run_mark(run)
    assert engine_env(run_dir=run, node=2)["PARLEY_ENGINE_RUN"] == f"{run.resolve()}#node-2"
    assert ALL_NODES < 0


@pytest.mark.parametrize("bad", [0, 33, -1, True, "2", 1.5])
def test_a_bad_node_count_is_refused_in_words_and_writes_nothing(bad):
    with pytest.raises(ApplicationError, match="Nodes must be a whole number between 1 and 32"):
        _job(nodes=bad)
    assert not TrainingJob.objects.exists()


def test_the_api_takes_nodes_and_answers_400_for_a_bad_count(api):
    payload = factories.job_payload(name="two machines", hyperparameters={"max_steps": 2}, nodes=2, processes=4)
    created = api.post("/api/jobs/jobs/", payload, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["nodes"] == 2 and created.json()["processes"] == 4 and created.json()["node_rows"] == []
    bad = api.post("/api/jobs/jobs/", {**payload, "nodes": 0}, format="json")
    assert bad.status_code == 400 and "Nodes must be" in str(bad.json())
    assert api.post("/api/jobs/jobs/", {**payload, "nodes": "many"}, format="json").status_code == 400
    assert TrainingJob.objects.count() == 1


def test_node_0_publishes_the_rendezvous_and_sends_the_other_nodes(no_broker, settings):
    settings.PARLEY_NODE_ADDRESS = "10.0.0.5"
    job = _claimed(_job(nodes=3, queue="gpu"))
    job.run_dir = "/shared/run"
    nodes.group_open(job=job, owner="host:1:task")
    row = TrainingJob.objects.get(pk=job.pk)
    assert row.rendezvous.startswith("10.0.0.5:") and int(row.rendezvous.split(":")[1]) > 0
    assert row.run_dir == "/shared/run"
    states = list(JobNode.objects.filter(job=job).values_list("index", "attempt", "status", "lease_owner"))
    assert states == [(0, 1, "running", "host:1:task"), (1, 1, "queued", ""), (2, 1, "queued", "")]
    assert no_broker == [(nodes.NODE_TASK, job.pk, 1, 1, "gpu"), (nodes.NODE_TASK, job.pk, 2, 1, "gpu")]
    assert nodes.rendezvous_for(row, node=2).run_id == f"parley-job-{job.pk}-attempt-1"


def test_a_node_claims_only_a_queued_row_of_the_running_attempt():
    job = _claimed(_job(nodes=2))
    nodes.group_open(job=job, owner="host:1:task")
    assert nodes.node_claim(job_id=job.pk, index=1, attempt=2, owner="w2").why == "gone"  # no such attempt
    claim = nodes.node_claim(job_id=job.pk, index=1, attempt=1, owner="w2")
    assert claim.node is not None and claim.node.status == Status.RUNNING and claim.node.lease_owner == "w2"
    assert nodes.node_claim(job_id=job.pk, index=1, attempt=1, owner="w3").why == "busy"  # a duplicate delivery
    assert nodes.node_beat(node=claim.node, owner="w2") is False  # the group runs: carry on
    assert nodes.node_beat(node=claim.node, owner="w3") is True  # not its lease: stop
    TrainingJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    assert nodes.node_beat(node=claim.node, owner="w2") is True  # cancelled: every node stops


def test_a_lapsed_node_is_lost_and_the_whole_group_goes_back_to_the_queue(no_broker, settings):
    settings.PARLEY_LEASE_S = 5
    job = _claimed(_job(nodes=2))
    nodes.group_open(job=job, owner="host:1:task")
    node = nodes.node_claim(job_id=job.pk, index=1, attempt=1, owner="w2").node
    assert nodes.group_fault(job=job) is None and not nodes.peers_settled(job=job)
    JobNode.objects.filter(pk=node.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=30), worker_host="b")
    fault = nodes.group_fault(job=job)
    assert fault.lost and "Node 1 (b) stopped responding" in fault.reason and nodes.peers_settled(job=job)
    assert nodes.group_restart(job=job, owner="host:1:task", reason=fault.reason) == Status.QUEUED
    row = TrainingJob.objects.get(pk=job.pk)
    assert row.status == Status.QUEUED and "attempt 2 of 5" in row.error and ("job", job.pk) in no_broker
    assert nodes.node_beat(node=node, owner="w2") is True  # the old attempt's node stops
    again = _claimed(row, owner="host:9:task")
    nodes.group_open(job=again, owner="host:9:task")
    assert set(JobNode.objects.filter(job=job).values_list("attempt", flat=True)) == {2}


def test_a_lost_node_on_the_last_attempt_fails_the_job(settings):
    job = _claimed(_job(nodes=2))
    TrainingJob.objects.filter(pk=job.pk).update(attempts=5)
    job.refresh_from_db()
    nodes.group_open(job=job, owner="host:1:task")
    assert nodes.group_restart(job=job, owner="host:1:task", reason="Node 1 stopped responding.") == Status.FAILED
    row = TrainingJob.objects.get(pk=job.pk)
    assert row.status == Status.FAILED and "gave up after 5 attempts" in row.error


def test_a_failed_node_or_one_that_never_joined_is_a_fault_but_not_a_loss(tmp_path):
    job = _claimed(_job(nodes=3))
    job.run_dir = str(tmp_path)
    nodes.group_open(job=job, owner="host:1:task")
    (Path(tmp_path) / "engine-node-1.log").write_text("Traceback\nRuntimeError: out of memory\n")
    one = nodes.node_claim(job_id=job.pk, index=1, attempt=1, owner="w2").node
    assert nodes.group_fault(job=job) is None
    assert "Node 2 never started" in nodes.group_fault(job=job, settled=True).reason  # node 2 still queued
    nodes.node_finish(node=one, owner="w2", to=Status.FAILED, exit_code=1)
    fault = nodes.group_fault(job=job)
    assert not fault.lost and "Node 1" in fault.reason and "out of memory" in fault.reason


def test_the_form_takes_nodes_with_help_and_refuses_a_bad_count_in_words(client_for):
    ml = client_for("ml_engineer")
    page = ml.get(reverse("training_jobs:job_new")).content.decode()
    assert 'name="nodes"' in page and "Processes (GPUs) per node" in page and "storage every node sees" in page
    data = {
        "name": "two machines",
        "method": "repo",
        "base_model": factories.base_model().pk,
        "snapshots": [factories.snapshot().pk],
        "reward_config": factories.reward_config().pk,
        "processes": 2,
        "nodes": 2,
        "queue": "gpu",
        "priority": 0,
        "hp_max_steps": "2",
    }
    assert ml.post(reverse("training_jobs:job_new"), data).status_code == 302
    assert TrainingJob.objects.get().nodes == 2
    bad = ml.post(reverse("training_jobs:job_new"), {**data, "nodes": 99})
    assert bad.status_code == 400 and "less than or equal to 32" in bad.content.decode()
    assert TrainingJob.objects.count() == 1


def test_the_job_page_shows_each_node_with_its_log_escaped(client_for, tmp_path):
    job = _claimed(_job(nodes=2))
    job.run_dir = str(tmp_path)
    TrainingJob.objects.filter(pk=job.pk).update(run_dir=str(tmp_path))
    nodes.group_open(job=job, owner="host:1:task")
    (tmp_path / "engine-node-1.log").write_text("node one says <b>hello</b>\n")
    nodes.node_claim(job_id=job.pk, index=1, attempt=1, owner="w2")
    body = client_for("ml_engineer").get(reverse("training_jobs:job_detail", args=[job.pk])).content.decode()
    assert "<h3>Nodes</h3>" in body and "node one says &lt;b&gt;hello&lt;/b&gt;" in body
    assert body.count('class="tag status-running"') >= 3  # the job and both nodes
    assert "2 × 1" in body
