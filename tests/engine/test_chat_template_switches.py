"""The chat template's switches (``enable_thinking`` false for Qwen3-like templates) are one config
field, ``chat_template_kwargs``, that reaches every place a prompt becomes tokens: the RL loop's
prompts, the RM's tokenisation (recorded with the RM), generation for evaluation, and the vLLM chat
requests (the body carries them)."""

import json

import pytest
import torch

from engine import generate as engine_generate
from engine.config import ConfigError, config_from_dict
from engine.prompting import DEFAULT_CHAT_TEMPLATE_KWARGS, chat_ids, template_kwargs
from engine.rewards.rm import RewardModelScorer
from engine.tinymodel.tokenizer import CHAT_TEMPLATE
from engine.train.ppo_config import REPOConfig
from engine.train.ppo_data import encode_prompt

# A Qwen3-like switch: the template marks a prompt rendered with enable_thinking false.
MARK = "[no-think]"
SWITCHED = "{%- if enable_thinking is defined and enable_thinking is false -%}" + MARK + "{%- endif -%}" + CHAT_TEMPLATE
CHAT = [{"role": "system", "content": "case"}, {"role": "user", "content": "hi, yes?"}]


@pytest.fixture
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.chat_template = SWITCHED
    return tok


def _text(tok, ids) -> str:
    return tok.decode(ids)


def test_the_field_defaults_to_no_thinking_and_is_checked():
    config = REPOConfig(base_model="x", dataset="x.jsonl")
    assert template_kwargs(config.chat_template_kwargs) == DEFAULT_CHAT_TEMPLATE_KWARGS == {"enable_thinking": False}
    with pytest.raises(ConfigError, match="chat_template_kwargs must be a JSON object"):
        config_from_dict({"method": "repo", "base_model": "x", "dataset": "x.jsonl", "chat_template_kwargs": "[1]"})
    ok = config_from_dict({"method": "sft", "base_model": "x", "dataset": "x.jsonl", "chat_template_kwargs": "{}"})
    assert not ok.errors() and template_kwargs(ok.chat_template_kwargs) == {}


def test_the_job_form_offers_the_field(db):
    from training_jobs.services.engine_config import hyperparameter_defaults

    for method in ("sft", "dpo", "rm", "ppo", "repo", "grpo"):
        values = hyperparameter_defaults(method=method, preset="tiny")
        assert json.loads(values["chat_template_kwargs"]) == {"enable_thinking": False}, method


@pytest.mark.slow
def test_rl_prompts_use_the_switches(tokenizer):
    switched = encode_prompt(tokenizer, CHAT, max_length=512, template_kwargs='{"enable_thinking": false}')
    assert MARK in _text(tokenizer, switched)
    plain = encode_prompt(tokenizer, CHAT, max_length=512, template_kwargs={})
    assert MARK not in _text(tokenizer, plain)
    assert switched == chat_ids(tokenizer, CHAT, kwargs=None)  # the default is the field's default


@pytest.mark.slow
def test_the_rm_tokenises_with_the_switches_it_was_trained_with(tokenizer):
    switched = RewardModelScorer(model=torch.nn.Linear(1, 1), tokenizer=tokenizer, chat_template_kwargs=None)
    assert MARK in _text(tokenizer, switched.encode(CHAT, "Could the Deluxe King come down to 690?"))
    old = RewardModelScorer(model=torch.nn.Linear(1, 1), tokenizer=tokenizer, chat_template_kwargs={})
    assert MARK not in _text(tokenizer, old.encode(CHAT, "Could the Deluxe King come down to 690?"))


@pytest.mark.slow
def test_generation_renders_with_the_switches(tiny_model, tokenizer):
    from transformers import AutoModelForCausalLM

    policy = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    tokenizer.padding_side = "left"
    seen = []

    class Recording:  # the tokenizer itself, recording the texts it is asked to encode
        def __getattr__(self, name):
            return getattr(tokenizer, name)

        def __call__(self, texts, *args, **kwargs):
            seen.extend(texts)
            return tokenizer(texts, *args, **kwargs)

    engine_generate.hf_generate(Recording(), policy, [CHAT], max_new_tokens=2, temperature=0.0, seed=0)
    assert seen and MARK in seen[0]


def test_vllm_chat_requests_carry_the_switches(monkeypatch):
    bodies = []

    async def fake_one(client, semaphore, url, body):  # no server: what would be sent
        bodies.append(body)
        return {}

    monkeypatch.setattr(engine_generate, "_vllm_one", fake_one)
    import asyncio

    asyncio.run(
        engine_generate._vllm_all(
            "http://127.0.0.1:9/v1", "m", [CHAT], max_new_tokens=4, temperature=0.0, seed=0, concurrency=1
        )
    )
    assert bodies[0]["chat_template_kwargs"] == {"enable_thinking": False}
