"""Deployments without a server: the services' checks (kind, base, slot, options), stop, the one selector
other code reaches a model through, the pages' roles and hostile input on every form (4xx, nothing
written). The real server is tests/deploy/test_serving_vllm.py."""

import pytest
from django.utils import timezone

from deploy.selectors import Endpoint, live_endpoint, served_versions
from deploy.services import serving
from deploy.services.serving import (
    adapter_add,
    adapter_remove,
    adapter_replace,
    deployment_create,
    deployment_start,
    deployment_stop,
)
from deploy.serving_models import Deployment, DeploymentAdapter
from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from kernel.status import Status
from registry.services import version_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    base = version_register(name="tiny-base", kind="base", base_model="/m/tiny", method="base")
    other = version_register(name="other-base", kind="base", base_model="/m/other", method="base")
    a = version_register(name="pol-a", kind="policy", base_model="/m/tiny", base=base, adapter_path="/a", method="sft")
    b = version_register(name="pol-b", kind="policy", base_model="/m/tiny", base=base, adapter_path="/b", method="dpo")
    alien = version_register(
        name="pol-x", kind="policy", base_model="/m/other", base=other, adapter_path="/x", method="sft"
    )
    rm = version_register(name="rm-1", kind="reward_model", base_model="/m/tiny", base=base, adapter_path="/r")
    return {"base": base, "other": other, "a": a, "b": b, "alien": alien, "rm": rm}


def healthy(deployment: Deployment, *, port: int = 8123) -> Deployment:
    """What the supervisor writes once the server answers (no server here)."""
    Deployment.objects.filter(pk=deployment.pk).update(
        status=Status.RUNNING, state=Deployment.State.HEALTHY, port=port, started_at=timezone.now()
    )
    deployment.adapters.update(state=DeploymentAdapter.State.LOADED, loaded_path="/x")
    return Deployment.objects.get(pk=deployment.pk)


def test_create_queues_a_deployment_with_its_adapters_audited(world):
    d = deployment_create(base=world["base"], slot="chase", adapters=[world["a"], world["b"]])
    assert d.status == Status.QUEUED and d.queue == "serve" and d.state == Deployment.State.STARTING
    assert sorted(d.adapters.values_list("served_name", flat=True)) == ["pol-a", "pol-b"]
    assert AuditEvent.objects.filter(object_type="deploy.deployment", object_id=str(d.pk), action="create").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": "a"}, "pol-a is a policy; a deployment serves a base model"),
        ({"adapters": ["alien"]}, "pol-x was trained on other-base, but this deployment serves tiny-base."),
        ({"adapters": ["rm"]}, "rm-1 is a reward model; only policy versions are served as adapters."),
        ({"slot": "bad slot\n"}, "A slot is 1-100 letters"),
        ({"slot": ""}, "A slot is 1-100 letters"),
        ({"max_lora_rank": 7}, serving.BAD_LORA_OPTION),
        ({"max_loras": 0}, serving.BAD_LORA_OPTION),
        ({"max_loras": 1, "adapters": ["a", "b"]}, "at most 1 adapters"),
    ],
)
def test_create_refuses_with_a_clear_message(world, kwargs, message):
    args = {"base": world["base"], "slot": "chase", "adapters": []}
    for key, value in kwargs.items():
        args[key] = world[value] if key == "base" else [world[v] for v in value] if key == "adapters" else value
    with pytest.raises(ApplicationError, match=message.replace("(", r"\(").replace(")", r"\)")[:40]) as info:
        deployment_create(**args)
    assert info.value.status == 400
    assert not Deployment.objects.exists()


def test_one_active_deployment_per_slot(world):
    first = deployment_create(base=world["base"], slot="chase")
    with pytest.raises(ApplicationError, match="already has an active deployment") as info:
        deployment_create(base=world["other"], slot="chase")
    assert info.value.status == 409
    deployment_stop(deployment=first)
    assert Deployment.objects.get(pk=first.pk).status == Status.CANCELLED
    assert deployment_create(base=world["other"], slot="chase").status == Status.QUEUED


def test_start_a_policy_deploys_its_base_or_joins_the_slots_deployment(world):
    d = deployment_start(version=world["a"], slot="chase")
    assert d.base == world["base"] and list(d.adapters.values_list("version__name", flat=True)) == ["pol-a"]
    assert deployment_start(version=world["b"], slot="chase").pk == d.pk
    assert d.adapters.count() == 2
    with pytest.raises(ApplicationError, match="rm-1 has no trained reward-model run directory"):
        deployment_start(version=world["rm"], slot="chase")


def test_adapters_add_replace_remove_and_their_checks(world):
    d = deployment_create(base=world["base"], slot="chase", adapters=[world["a"]])
    with pytest.raises(ApplicationError, match="trained on other-base"):
        adapter_add(deployment=d, version=world["alien"])
    with pytest.raises(ApplicationError, match="already on this deployment"):
        adapter_add(deployment=d, version=world["a"], served_name="again")
    with pytest.raises(ApplicationError, match="already on this deployment"):
        adapter_add(deployment=d, version=world["b"], served_name="pol-a")
    with pytest.raises(ApplicationError, match="served name"):
        adapter_add(deployment=d, version=world["b"], served_name="../etc")
    slot = d.adapters.get()
    d = healthy(d)
    swapped = adapter_replace(adapter=slot, version=world["b"])
    assert swapped.state == "loading" and swapped.version == world["b"] and swapped.served_name == "pol-a"
    adapter_remove(adapter=swapped)  # the server holds it: the supervisor unloads it, then the row goes
    assert DeploymentAdapter.objects.get(pk=slot.pk).state == "removing"


def test_stopped_deployments_take_no_adapters(world):
    d = deployment_create(base=world["base"], slot="chase")
    deployment_stop(deployment=d)
    with pytest.raises(ApplicationError, match="stopped") as info:
        adapter_add(deployment=d, version=world["a"])
    assert info.value.status == 409
    with pytest.raises(ApplicationError):
        deployment_stop(deployment=d)


def test_live_endpoint_only_for_a_healthy_deployment_with_the_adapter_loaded(world, settings):
    settings.PARLEY_SERVE_HOST = "10.0.0.5"
    d = deployment_create(base=world["base"], slot="chase", adapters=[world["a"]])
    assert live_endpoint(world["a"]) is None and live_endpoint(world["base"]) is None
    d = healthy(d, port=8123)
    assert live_endpoint(world["a"]) == Endpoint("http://10.0.0.5:8123/v1", "pol-a", d.pk)
    assert live_endpoint(world["base"]) == Endpoint("http://10.0.0.5:8123/v1", "tiny-base", d.pk)
    assert live_endpoint(world["b"]) is None
    assert {v.name for v, _ in served_versions()} == {"tiny-base", "pol-a"}
    Deployment.objects.filter(pk=d.pk).update(state=Deployment.State.UNHEALTHY)
    assert live_endpoint(world["a"]) is None


# -- pages --------------------------------------------------------------------------------------------------
PAGES = ["/deploy/deployments/", "/deploy/deployments/{pk}/", "/deploy/deployments/{pk}/stop/", "/deploy/playground/"]


@pytest.mark.parametrize("role", ["language_expert", "bd_expert", "reviewer", "evaluator"])
def test_only_ml_engineers_and_admins_reach_deployments_and_the_playground(world, client_for, role):
    d = deployment_create(base=world["base"], slot="chase")
    client = client_for(role)
    for page in PAGES:
        assert client.get(page.format(pk=d.pk)).status_code == 403, page
    assert client.post("/deploy/deployments/new/", {"base": world["base"].pk, "slot": "x"}).status_code == 403
    assert client.post(f"/deploy/deployments/{d.pk}/stop/").status_code == 403
    assert client.post("/deploy/playground/", {"message": "hi"}).status_code == 403
    assert Deployment.objects.get(pk=d.pk).status == Status.QUEUED


@pytest.mark.parametrize("role", ["ml_engineer", "admin"])
def test_pages_render_for_ml_engineers_and_admins(world, client_for, role):
    d = deployment_create(base=world["base"], slot="chase", adapters=[world["a"]])
    client = client_for(role)
    for page in PAGES:
        response = client.get(page.format(pk=d.pk))
        assert response.status_code == 200, page
    assert b"pol-a" in client.get(f"/deploy/deployments/{d.pk}/").content
    assert b"No version is served right now" in client.get("/deploy/playground/").content


def test_the_stop_page_asks_first_then_stops(world, client_for):
    d = deployment_create(base=world["base"], slot="chase")
    client = client_for("ml_engineer")
    assert b"Yes, stop it" in client.get(f"/deploy/deployments/{d.pk}/stop/").content
    assert Deployment.objects.get(pk=d.pk).status == Status.QUEUED
    assert client.post(f"/deploy/deployments/{d.pk}/stop/").status_code == 302
    assert Deployment.objects.get(pk=d.pk).state == Deployment.State.STOPPED


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"base": "abc", "slot": "s"}, b"Pick a registered base model"),
        ({"base": "999999", "slot": "s"}, b"Pick a registered base model"),
        ({"base": "{base}", "slot": "s;drop table"}, b"A slot is 1-100"),
        ({"base": "{base}", "slot": "s", "max_loras": "-1"}, b"max_loras must be a whole number"),
        ({"base": "{base}", "slot": "s", "adapters": ["x"]}, b"Pick a registered policy version"),
        ({"base": "{base}", "slot": "s", "adapters": ["{a}", "424242"]}, b"adapters[1]: no version with id 424242"),
        ({"base": "{base}", "slot": "s", "adapters": ["{alien}"]}, b"was trained on other-base"),
        ({"base": "{a}", "slot": "s"}, b"Pick a registered base model"),
    ],
)
def test_hostile_start_form_is_a_4xx_and_writes_nothing(world, client_for, data, needle):
    def fill(value):
        if isinstance(value, list):
            return [fill(v) for v in value]
        return str(world[value[1:-1]].pk) if value.startswith("{") and value.endswith("}") else value

    response = client_for("ml_engineer").post("/deploy/deployments/new/", {k: fill(v) for k, v in data.items()})
    assert response.status_code == 400 and needle in response.content
    assert not Deployment.objects.exists() and not DeploymentAdapter.objects.exists()


def test_hostile_adapter_forms_are_4xx_and_write_nothing(world, client_for):
    d = deployment_create(base=world["base"], slot="chase", adapters=[world["a"]])
    slot = d.adapters.get()
    client = client_for("ml_engineer")
    before = list(DeploymentAdapter.objects.values_list("pk", "version_id", "state"))
    for url, data in [
        (f"/deploy/deployments/{d.pk}/adapters/", {"version": "x"}),
        (f"/deploy/deployments/{d.pk}/adapters/", {"version": world["alien"].pk}),
        (f"/deploy/deployments/{d.pk}/adapters/", {"version": world["b"].pk, "served_name": "<script>"}),
        (f"/deploy/deployments/{d.pk}/adapters/{slot.pk}/replace/", {"version": world["rm"].pk}),
    ]:
        response = client.post(url, data)
        assert response.status_code == 400, (url, data, response.status_code)
    assert client.post(f"/deploy/deployments/{d.pk}/adapters/{slot.pk + 99}/remove/").status_code == 404
    assert list(DeploymentAdapter.objects.values_list("pk", "version_id", "state")) == before


def test_hostile_playground_input_is_a_4xx(world, client_for):
    client = client_for("ml_engineer")
    assert client.post("/deploy/playground/", {"state": "forged:token", "message": "hi"}).status_code == 400
    response = client.post("/deploy/playground/", {"version_a": world["a"].pk, "case": "nope", "message": "hi"})
    assert response.status_code == 400 and b"Pick one of the demo cases" in response.content
    response = client.post("/deploy/playground/", {"version_a": world["rm"].pk, "case": "demo-en", "message": "hi"})
    assert response.status_code == 400 and b"reward model" in response.content
    response = client.post("/deploy/playground/", {"version_a": world["a"].pk, "case": "demo-en", "message": "hi"})
    assert response.status_code == 409 and b"not served by a healthy deployment" in response.content
    data = {"state": "x", "side": "0", "turn": "1", "gold_reply": "better"}
    assert client.post("/deploy/playground/bad-case/", data).status_code == 400


# -- the playground's bad case and branch (a conversation as the page carries it; the chat is the vLLM tests')
def _conversation(world):
    from deploy.services.playground import Conversation, Side

    hotel = {"role": "hotel", "content": "780 is our price for the Deluxe King."}
    reply = {"role": "agent", "content": "Our target price is 690.", "verdicts": [], "model": "pol-a"}
    return Conversation("demo-en", [Side(world["a"], [hotel, reply])])


def test_a_playground_reply_becomes_a_bad_case_linked_to_version_and_turn(world, client_for):
    from annotation.models import BadCase

    client = client_for("ml_engineer")
    token = _conversation(world).token()
    base = {"state": token, "side": "0", "category": "internal_term_leak", "severity": "major"}
    same = client.post("/deploy/playground/bad-case/", {**base, "turn": "1", "gold_reply": "Our target price is 690."})
    assert same.status_code == 400 and not BadCase.objects.exists()  # the gold must differ from the reply
    hotel_turn = client.post("/deploy/playground/bad-case/", {**base, "turn": "0", "gold_reply": "Better."})
    assert hotel_turn.status_code == 400 and b"no model reply there" in hotel_turn.content
    tampered = client.post("/deploy/playground/bad-case/", {**base, "state": token[:-2] + "xx", "turn": "1"})
    assert tampered.status_code == 400 and not BadCase.objects.exists()
    ok = client.post("/deploy/playground/bad-case/", {**base, "turn": "1", "gold_reply": "Could 690 work for you?"})
    assert ok.status_code == 302
    bad_case = BadCase.objects.get()
    assert (bad_case.model_version, bad_case.turn, bad_case.model_reply) == (world["a"], 1, "Our target price is 690.")
    assert [m.role for m in bad_case.dialogue.messages.order_by("index")] == ["hotel", "agent"]
    assert bad_case.dialogue.project.name == "Playground" and bad_case.dialogue.case.hotel_name == "Harbour View Hotel"


def test_a_playground_reply_becomes_a_branch_candidate(world, client_for):
    from annotation.models import Candidate

    client = client_for("ml_engineer")
    response = client.post(
        "/deploy/playground/branch/", {"state": _conversation(world).token(), "side": "0", "turn": "1"}
    )
    assert response.status_code == 200 and b"branch candidate" in response.content
    candidate = Candidate.objects.get()
    assert (candidate.model_version, candidate.turn, candidate.source) == (world["a"], 1, "model")
    assert client_for("evaluator").post("/deploy/playground/branch/", {"state": "x"}).status_code == 403


# -- commands ---------------------------------------------------------------------------------------------
def test_deployment_start_and_stop_commands(world):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("deployment_start", "pol-a", "--slot", "chase", stdout=out)
    d = Deployment.objects.get()
    assert f"Deployment {d.pk} (slot chase) serves pol-a" in out.getvalue() and d.base == world["base"]
    with pytest.raises(CommandError, match="already has an active deployment"):
        call_command("deployment_start", "other-base", "--slot", "chase")
    with pytest.raises(CommandError, match="No registered version"):
        call_command("deployment_start", "nope")
    with pytest.raises(CommandError, match="one of them"):
        call_command("deployment_stop")
    call_command("deployment_stop", "--slot", "chase", stdout=StringIO())
    assert Deployment.objects.get().state == Deployment.State.STOPPED
    with pytest.raises(CommandError, match="No active deployment"):
        call_command("deployment_stop", "--slot", "chase")


def test_an_unreachable_report_marks_unhealthy_and_the_next_health_check_clears_it(world, settings):
    """The gateway's report (a connection to the server failed) shows at once; the supervisor owns the
    state and its next check records the way back when ``/health`` and ``/v1/models`` answer."""
    from types import SimpleNamespace

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from deploy.services.supervisor import Supervisor
    from tests.deploy.gateway_support import serve_in_thread

    settings.PARLEY_SERVE_HEALTH_S = 0
    d = healthy(deployment_create(base=world["base"], slot="chase", adapters=[world["a"]]))
    Deployment.objects.filter(pk=d.pk).update(lease_owner="test-owner")
    assert serving.deployment_report_unreachable(d.pk, "the gateway could not reach the server (ConnectError)")
    d.refresh_from_db()
    assert d.state == Deployment.State.UNHEALTHY and "ConnectError" in d.health_error
    assert d.health_history[-1]["state"] == "unhealthy" and "could not reach" in d.health_history[-1]["note"]
    assert live_endpoint(world["a"]) is None
    assert not serving.deployment_report_unreachable(d.pk, "again")  # already unhealthy: nothing written
    assert not serving.deployment_report_unreachable(10**9, "gone")

    alive = Starlette(
        routes=[
            Route("/health", lambda request: Response(status_code=200)),
            Route("/v1/models", lambda request: JSONResponse({"data": [{"id": "tiny-base"}, {"id": "pol-a"}]})),
        ]
    )
    with serve_in_thread(alive, lifespan="off") as root:
        supervisor = Supervisor(Deployment.objects.get(pk=d.pk), "test-owner")
        supervisor.state = Deployment.State.HEALTHY  # what it believed before the report
        supervisor.server = SimpleNamespace(root_url=root, process=SimpleNamespace(poll=lambda: None))
        supervisor.check()
    d.refresh_from_db()
    assert d.state == Deployment.State.HEALTHY and d.health_error == ""
    assert [h["state"] for h in d.health_history[-2:]] == ["unhealthy", "healthy"]
    assert live_endpoint(world["a"]) is not None


# -- a reward model served for /classify -----------------------------------------------------------------
@pytest.fixture
def rm_world(world, tmp_path):
    from engine.rundir import RM_META_FILE

    run_dir = tmp_path / "rm-run"
    (run_dir / "adapter").mkdir(parents=True)
    (run_dir / RM_META_FILE).write_text('{"offset": 0.5, "max_length": 1024}')
    rm = version_register(
        name="rm-2", kind="reward_model", base_model="/m/tiny", base=world["base"],
        adapter_path=str(run_dir / "adapter"), method="rm",
    )  # fmt: skip
    return {**world, "rm2": rm, "run_dir": run_dir}


def test_a_reward_model_is_deployed_alone_as_a_pooling_server(rm_world, settings):
    from deploy.selectors import served_reward_model
    from deploy.services.supervisor import serve_options, served_model_path

    with pytest.raises(ApplicationError, match="takes no adapters"):
        deployment_create(base=rm_world["rm2"], slot="rm", adapters=[rm_world["a"]])
    with pytest.raises(ApplicationError, match="rm-1 has no trained reward-model run directory"):
        deployment_create(base=rm_world["rm"], slot="rm")  # /r holds no rm_meta.json
    d = deployment_start(version=rm_world["rm2"], slot="rm")
    assert d.base == rm_world["rm2"] and not d.adapters.exists()
    assert serve_options(d).runner == "pooling"
    assert served_model_path(d) == str(rm_world["run_dir"] / "served")
    with pytest.raises(ApplicationError, match="takes no adapters"):
        adapter_add(deployment=d, version=rm_world["a"])
    assert served_reward_model() is None and live_endpoint(rm_world["rm2"]) is None
    settings.PARLEY_SERVE_HOST = "10.0.0.7"
    d = healthy(d, port=8200)
    assert live_endpoint(rm_world["rm2"]) == Endpoint("http://10.0.0.7:8200/v1", "rm-2", d.pk)
    assert served_reward_model() == (rm_world["rm2"], Endpoint("http://10.0.0.7:8200/v1", "rm-2", d.pk))
    # a chat playground never offers the RM as a version to talk to
    assert rm_world["rm2"] not in [v for v, _ in served_versions()]
    # a chat deployment stays a generate runner
    chat = deployment_create(base=rm_world["base"], slot="chase")
    assert serve_options(chat).runner == "generate" and served_model_path(chat) == "/m/tiny"
