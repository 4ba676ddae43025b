"""The chat playground's judge: a reward config picked on the page has its judge judge each reply; the page
shows the hits with their evidence and reasons, E_judge and R_total by the one ``training_reward``; a judge
that fails is said so in words and adds no judge term (as training treats a failed verdict); no config
means "No judge configured."; roles and hostile input as on every page.

The model servers here are :class:`StandInServer`, a named stand-in for a served judge model and a served
policy (a real judge model cannot run in this test's budget). Everything else is real: the engine's judge
client and rubric, the rules, the deployment lookup that finds a judge served as an adapter, the page."""

from __future__ import annotations

import html
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from deploy.services.demo import JUDGE_CONFIG, JUDGE_NAME
from deploy.services.playground import BAD_CONFIG, BAD_STAGE, conversation_load, verdicts_for
from deploy.services.reward_scoring import CONFIG_RM_NOT_SERVED, JUDGE_FAILED, NO_JUDGE
from deploy.services.serving import deployment_create
from deploy.serving_models import Deployment, DeploymentAdapter
from engine.rewards.enhancement import training_reward
from engine.rewards.rubric import default_rubric
from engine.task import MAX_MESSAGE_CHARS
from kernel.status import Status
from registry.services import version_register
from rewards.models import RewardConfig, RubricVersion, RuleSetVersion
from rewards.services.remote import HITS_ONLY_TAG
from rewards.services.seed import reward_defaults_seed

pytestmark = pytest.mark.django_db

PAGE = "/deploy/playground/"
POLICY_REPLY = "Thank you! We guarantee your hotel the top ranking on our site if you can do 690."
HOTEL = "780 is our best price for the Deluxe King."
# The stand-in judge's fixed verdict: these rules hit (evidence as a judge would quote it, one hostile).
HITS = {
    "over_promise": "We guarantee your hotel the top ranking <script>alert(1)</script>",
    "excellent_persuasion": "if you can do 690",
}


class StandInServer:
    """A stand-in for a served judge model and a served policy (a real judge model cannot run in this test's
    budget): an OpenAI-compatible ``/v1/chat/completions`` on a thread. A call with a JSON-schema
    ``response_format`` is a judge call: it answers the fixed verdict :data:`HITS` for exactly the rules the
    schema asks about (hits alone when the schema allows no evidence); any other call gets
    :data:`POLICY_REPLY`. ``invalid=True`` makes the judge answer JSON that fits no schema."""

    def __init__(self, *, invalid: bool = False):
        self.invalid = invalid
        self.judge_calls: list[dict] = []
        self.policy_calls: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # no /v1/models: the judge then does not check its context budget
                self._send(404, {"error": {"message": "not here"}})

            def do_POST(self):
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not here"}})
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._send(200, stand_in.answer(body))

            def _send(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, body: dict) -> dict:
        schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
        if schema is None:
            self.policy_calls.append(body)
            content = POLICY_REPLY
        else:
            self.judge_calls.append(body)
            verdict = {}
            for rule in schema["required"]:
                with_evidence = "anyOf" in schema["properties"][rule]
                hit = rule in HITS
                verdict[rule] = {"hit": hit, **({"evidence": HITS[rule]} if hit and with_evidence else {})}
            content = json.dumps({"verdict": "fine"} if self.invalid else verdict)
        return {
            "id": "stand-in",
            "object": "chat.completion",
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> StandInServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens once the socket is closed


@pytest.fixture
def stand_in():
    with StandInServer() as server:
        yield server


@pytest.fixture
def world(db, settings, stand_in):
    """A healthy deployment (at the stand-in) serving policy ``pol-a`` and the demo judge as adapters."""
    settings.PARLEY_SERVE_HOST = "127.0.0.1"
    reward_defaults_seed()
    base = version_register(name="tiny-base", kind="base", base_model="/m/tiny", method="base")
    policy = version_register(name="pol-a", kind="policy", base_model="/m/tiny", base=base, adapter_path="/a")
    judge = version_register(
        name=JUDGE_NAME, kind="policy", base_model="/m/tiny", base=base, adapter_path="/j", tags=["judge"]
    )
    deployment = deployment_create(base=base, slot="demo", adapters=[policy, judge])
    Deployment.objects.filter(pk=deployment.pk).update(
        status=Status.RUNNING, state=Deployment.State.HEALTHY, port=stand_in.port, started_at=timezone.now()
    )
    DeploymentAdapter.objects.filter(deployment=deployment).update(state=DeploymentAdapter.State.LOADED)
    return {"policy": policy, "judge": judge, "stand_in": stand_in}


def config(name: str = "cfg", **fields) -> RewardConfig:
    return RewardConfig.objects.create(
        name=name,
        rule_set=RuleSetVersion.objects.get(name="default", version=1),
        rubric=RubricVersion.objects.get(name="default", version=1),
        **fields,
    )


def start(client, world, *, cfg, stage: str = "", message: str = HOTEL):
    data = {"version_a": world["policy"].pk, "case": "demo-en", "message": message, "stage": stage}
    data["config"] = "" if cfg is None else str(cfg if isinstance(cfg, int | str) else cfg.pk)
    return client.post(PAGE, data)


def the_reply(response) -> dict:
    """The agent message as the page carries it (the signed conversation), checked against the page."""
    token = html.unescape(re.search(r'name="state" value="([^"]+)"', response.content.decode()).group(1))
    return conversation_load(token).sides[0].messages[-1]


def expected_r_total(message: dict, *, e_judge: float, n: float) -> float:
    history = [{"role": "hotel", "content": HOTEL}]
    e_func = float(sum(v["points"] for v in verdicts_for(POLICY_REPLY, case=_case(), history=history)))
    assert message["reward"]["e_func"] == e_func
    return training_reward(r_model=None, e_judge=e_judge, e_func=e_func, n=n)


def _case() -> dict:
    from deploy.services.playground import demo_cases

    return demo_cases()["demo-en"]


def test_the_judges_hits_evidence_and_reasons_show_and_r_total_is_training_reward(world, client_for):
    cfg = config(judge_base_url=world["stand_in"].url, judge_model="big-judge", n=50.0)
    response = start(client_for("ml_engineer"), world, cfg=cfg, stage="persuade")
    assert response.status_code == 200
    page = response.content.decode()
    # the judge was asked about the rules of the stage, with the stage named, at the config's model
    (call,) = world["stand_in"].judge_calls
    persuade = [r.id for r in default_rubric().rules_for("persuade")]
    assert call["model"] == "big-judge" and call["response_format"]["json_schema"]["schema"]["required"] == persuade
    assert '"persuade"' in call["messages"][0]["content"]
    rubric = {r.id: r for r in default_rubric().rules}
    e_judge = sum(rubric[rule].points for rule in HITS)  # -20 + 10
    message = the_reply(response)
    reward = message["reward"]
    assert (reward["judge_state"], reward["e_judge"], reward["stage"], reward["n"]) == ("ok", e_judge, "persuade", 50)
    assert reward["r_total"] == expected_r_total(message, e_judge=e_judge, n=50.0)
    assert f'data-r-total="{reward["r_total"]}"' in page and f'data-e-judge="{e_judge}"' in page
    assert f"{len(HITS)} of {len(persuade)} rubric rules hit" in page
    for rule, evidence in HITS.items():
        assert f'data-judge-rule="{rule}"' in page
        assert html.escape(rubric[rule].description, quote=True) in page  # the reason
        assert html.escape(evidence, quote=True) in page  # the evidence, escaped
    assert "<script>alert(1)</script>" not in page
    # the next turn may drop the judge: the say form's config is "none"
    again = client_for("ml_engineer").post(
        PAGE, {"state": re.search(r'name="state" value="([^"]+)"', page).group(1), "message": "No.", "config": ""}
    )
    assert again.status_code == 200 and the_reply(again)["reward"]["judge_note"] == NO_JUDGE
    assert len(world["stand_in"].judge_calls) == 1


def test_the_demo_judge_config_is_the_default_and_its_judge_is_found_on_the_deployment(world, client_for):
    client = client_for("ml_engineer")
    assert 'value="" selected' in client.get(PAGE).content.decode()  # no demo judge config: "none"
    config(name="another", judge_base_url=world["stand_in"].url, judge_model="x")
    world["judge"].tags = ["judge", HITS_ONLY_TAG]
    world["judge"].save(update_fields=["tags"])
    # the config points at a closed port (where the server once was): the deployment's adapter is used
    demo = config(name=JUDGE_CONFIG, judge_base_url=closed_port_url(), judge_model=JUDGE_NAME)
    page = client.get(PAGE).content.decode()
    assert f'<option value="{demo.pk}" selected>' in page and 'value="" selected' not in page
    response = start(client, world, cfg=demo)
    (call,) = world["stand_in"].judge_calls
    assert call["model"] == JUDGE_NAME
    reward = the_reply(response)["reward"]
    assert reward["judge_state"] == "ok" and [h["rule"] for h in reward["judge_hits"]] == list(HITS)
    assert all(h["evidence"] == "" for h in reward["judge_hits"])  # a hits-only judge quotes nothing


@pytest.mark.parametrize("how", ["closed port", "invalid verdict"])
def test_a_failed_judge_is_said_in_words_and_adds_no_judge_term(world, client_for, how, stand_in):
    if how == "closed port":
        cfg = config(judge_base_url=closed_port_url(), judge_model="judge", n=100.0)
    else:
        stand_in.invalid = True
        cfg = config(judge_base_url=stand_in.url, judge_model="judge", n=100.0)
    response = start(client_for("ml_engineer"), world, cfg=cfg)
    assert response.status_code == 200
    page = response.content.decode()
    message = the_reply(response)
    reward = message["reward"]
    assert reward["judge_state"] == "failed" and reward["e_judge"] is None and reward["judge_hits"] == []
    assert reward["judge_note"].startswith(JUDGE_FAILED.split("{")[0])
    reason = "Connect" if how == "closed port" else "verdict keys"
    assert reason in reward["judge_note"], reward["judge_note"]
    assert "The judge failed (" in page and "no E_judge term" in page and "(no judge term)" in page
    assert reward["r_total"] == expected_r_total(message, e_judge=0.0, n=100.0)
    assert f'data-r-total="{reward["r_total"]}"' in page


def test_without_a_config_the_page_says_no_judge_configured(world, client_for, stand_in):
    judged = config(judge_base_url=stand_in.url, judge_model="judge")
    client = client_for("ml_engineer")
    for cfg in (None, config(name="rules only")):  # none, and a config that names no judge
        response = start(client, world, cfg=cfg)
        assert response.status_code == 200
        message = the_reply(response)
        reward = message["reward"]
        assert (reward["judge_state"], reward["e_judge"], reward["judge_note"]) == ("none", 0.0, NO_JUDGE)
        assert reward["r_total"] == expected_r_total(message, e_judge=0.0, n=100.0)
        assert "Judge: No judge configured." in response.content.decode()
    assert judged.judge_base_url and stand_in.judge_calls == []  # a judged config exists, none was picked


@pytest.mark.parametrize("role", ["language_expert", "bd_expert", "reviewer", "evaluator"])
def test_only_ml_engineers_and_admins_reach_the_judge(world, client_for, role, stand_in):
    cfg = config(judge_base_url=stand_in.url, judge_model="judge")
    client = client_for(role)
    assert client.get(PAGE).status_code == 403
    assert start(client, world, cfg=cfg).status_code == 403
    assert stand_in.judge_calls == [] and stand_in.policy_calls == []


def test_admins_get_the_judge_too(world, client_for, stand_in):
    cfg = config(judge_base_url=stand_in.url, judge_model="judge")
    assert start(client_for("admin"), world, cfg=cfg).status_code == 200
    assert len(stand_in.judge_calls) == 1


def test_hostile_input_is_a_4xx_never_a_500(world, client_for, stand_in):
    cfg = config(judge_base_url=stand_in.url, judge_model="judge")
    client = client_for("ml_engineer")
    cases = [
        ({"cfg": 999999}, BAD_CONFIG),
        ({"cfg": "1 OR 1=1"}, BAD_CONFIG),
        ({"cfg": "9" * 40}, BAD_CONFIG),
        ({"cfg": cfg, "stage": "<script>x</script>"}, BAD_STAGE),
        ({"cfg": cfg, "stage": "closing" * 1000}, BAD_STAGE),
        ({"cfg": cfg, "message": "x" * (MAX_MESSAGE_CHARS + 1)}, f"the limit is {MAX_MESSAGE_CHARS}"),
        ({"cfg": cfg, "message": "bad\x00byte"}, "message:"),
    ]
    for kwargs, words in cases:
        response = start(client, world, **kwargs)
        assert response.status_code == 400, (kwargs, response.status_code)
        assert words in response.content.decode(), kwargs
        assert "<script>x</script>" not in response.content.decode()
    assert stand_in.judge_calls == [] and stand_in.policy_calls == []
    # a forged conversation with a config, and an oversized gold reply on a real one
    assert client.post(PAGE, {"state": "forged:token", "message": "hi", "config": cfg.pk}).status_code == 400
    page = start(client, world, cfg=cfg).content.decode()
    token = re.search(r'name="state" value="([^"]+)"', page).group(1)
    gold = {"state": token, "side": "0", "turn": "1", "category": "over_promise", "severity": "major"}
    response = client.post("/deploy/playground/bad-case/", {**gold, "gold_reply": "x" * 100_000})
    assert 400 <= response.status_code < 500


def test_the_picked_configs_rule_set_and_reward_model_score_the_reply(world, client_for, stand_in):
    # a rule set of one rule that fires on the stand-in's reply: only it is applied, not the default set
    document = {
        "version": "own-1",
        "rules": [{"id": "says_guarantee", "kind": "pattern", "points": -7, "params": {"terms": ["guarantee"]}}],
    }
    own = RuleSetVersion.objects.create(name="own", version=1, document=document)
    rm = version_register(name="rm-unserved", kind="reward_model", base_model="/m/tiny", adapter_path="/rm")
    cfg = RewardConfig.objects.create(name="own rules", rule_set=own, reward_model=rm)
    response = start(client_for("ml_engineer"), world, cfg=cfg)
    assert response.status_code == 200
    message = the_reply(response)
    assert [v["rule"] for v in message["verdicts"]] == ["says_guarantee"]
    reward = message["reward"]
    assert reward["e_func"] == -7.0 and reward["rm_score"] is None and reward["rm_version"] == "rm-unserved"
    assert reward["rm_note"] == CONFIG_RM_NOT_SERVED.format(name="rm-unserved", config="own rules")
    assert reward["r_total"] == training_reward(r_model=None, e_judge=0.0, e_func=-7.0, n=100.0)
    assert html.escape(reward["rm_note"], quote=True) in response.content.decode()
