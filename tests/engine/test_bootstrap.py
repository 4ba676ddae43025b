"""The tiny base model: loads in transformers, has vLLM-compatible heads, chats, stops, and learnt."""

import json
import math
import threading

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from engine import bootstrap
from engine.tinymodel import corpus, pretrain, tokenizer

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def loaded(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model), AutoModelForCausalLM.from_pretrained(tiny_model)


def _prompt(tok, chat):
    """The dialogue up to (not including) the last agent reply, with the generation prompt."""
    last = max(i for i, m in enumerate(chat) if m["role"] == "assistant")
    return tok.apply_chat_template(chat[:last], add_generation_prompt=True, return_tensors="pt", return_dict=True)


def test_architecture_is_qwen3_with_head_dim_64(tiny_model, loaded):
    _, model = loaded
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["model_type"] == "qwen3"
    assert model.config.head_dim == 64  # vLLM's CPU attention rejects smaller heads
    assert (tiny_model / "model.safetensors").exists()
    assert json.loads((tiny_model / bootstrap.DONE_MARKER).read_text())["generator_version"] == (
        bootstrap.GENERATOR_VERSION
    )


def test_chat_template_and_eos(tiny_model, loaded):
    tok, model = loaded
    text = tok.apply_chat_template(
        [{"role": "system", "content": "case"}, {"role": "user", "content": "hello?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert text == "<|im_start|>system\ncase<|im_end|>\n<|im_start|>user\nhello?<|im_end|>\n<|im_start|>assistant\n"
    assert tok.eos_token == "<|im_end|>"
    generation = json.loads((tiny_model / "generation_config.json").read_text())
    assert tok.eos_token_id in generation["eos_token_id"]
    assert model.config.eos_token_id == tok.eos_token_id


BD_WORDS = ("price", "room", "hotel", "cny", "platform", "thank")


def test_greedy_generation_mostly_ends_its_turn_with_bd_text(loaded):
    """What pre-training must give any build, judged over several held-out chats rather than one: a single
    greedy reply depends on float details that differ between machines (docs/engine.md, "The tiny base
    model"), the share of good replies does not."""
    tok, model = loaded
    chats = corpus.heldout_chats(seed=0, n=8)
    ended, bd_like = 0, 0
    for chat in chats:
        inputs = _prompt(tok, chat)
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=120, do_sample=False)
        new = out[0, inputs["input_ids"].shape[1] :]
        reply = tok.decode(new, skip_special_tokens=True)
        ended += new[-1].item() == tok.eos_token_id
        bd_like += len(reply.split()) >= 4 and any(word in reply.lower() for word in BD_WORDS)
    assert ended >= 5, f"only {ended} of {len(chats)} greedy replies ended their turn within 120 tokens"
    assert bd_like >= 6, f"only {bd_like} of {len(chats)} greedy replies read like a BD message"


def test_heldout_loss_is_far_below_uniform(loaded):
    tok, model = loaded
    stream = pretrain.chat_stream(tok, corpus.heldout_chats(seed=0, n=8))[:1024]
    with torch.no_grad():
        loss = model(input_ids=stream[None], labels=stream[None]).loss.item()
    assert loss < 0.35 * math.log(len(tok)), f"held-out loss {loss:.2f} vs log(vocab) {math.log(len(tok)):.2f}"


def test_tokenizer_and_initial_model_are_deterministic():
    texts = corpus.tokenizer_texts(corpus.training_chats(seed=3, n=50))
    first, second = tokenizer.train_tokenizer(texts), tokenizer.train_tokenizer(texts)
    assert first.get_vocab() == second.get_vocab()
    a, b = pretrain.build_model(first, seed=5), pretrain.build_model(second, seed=5)
    assert a.config.to_dict() == b.config.to_dict()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert tokenizer.train_tokenizer(texts).decode(first("Deluxe King 620")["input_ids"]) == "Deluxe King 620"


def test_ensure_builds_once_under_concurrency(tmp_path, monkeypatch):
    monkeypatch.setenv("PARLEY_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr(pretrain, "STEPS", 1)
    monkeypatch.setattr(corpus, "TRAIN_CHATS", 30)
    builds = []
    real_build = bootstrap.build_tiny_model

    def counting_build(**kwargs):
        builds.append(kwargs)
        return real_build(**kwargs)

    monkeypatch.setattr(bootstrap, "build_tiny_model", counting_build)
    paths = []
    threads = [threading.Thread(target=lambda: paths.append(bootstrap.ensure_tiny_model(seed=7))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert len(set(paths)) == 1 and bootstrap.is_built(paths[0])
    assert paths[0] == tmp_path / f"tiny-v{bootstrap.GENERATOR_VERSION}-s7"


@pytest.mark.slow
@pytest.mark.vllm
def test_vllm_serves_the_tiny_model(vllm_server):
    import httpx

    chat = corpus.heldout_chats(seed=0, n=1)[0]
    # About serving, not about how this build writes (a greedy reply's length differs between builds):
    # the server answers within the budget it was given, ending the turn or cut at max_tokens.
    body = {"model": vllm_server.model, "messages": chat[:2], "max_tokens": 64, "temperature": 0}
    response = httpx.post(f"{vllm_server.base_url}/chat/completions", json=body, timeout=120)
    assert response.status_code == 200, response.text
    answer = response.json()
    choice = answer["choices"][0]
    assert choice["finish_reason"] in ("stop", "length") and choice["message"]["content"].strip()
    assert 0 < answer["usage"]["completion_tokens"] <= 64
    assert choice["finish_reason"] == "stop" or answer["usage"]["completion_tokens"] == 64


def test_the_demo_judge_key_follows_the_base_weights_and_the_platform(tmp_path, monkeypatch):
    """The tiny base and the judge's training differ between CPUs, so a cache shared between machines
    must not hand one machine's judge to another: the key holds the base's weights hash and the platform."""
    base = tmp_path / "base"
    base.mkdir()
    (base / bootstrap.DONE_MARKER).write_text(json.dumps({"weights_sha256": "a" * 64}))
    first = bootstrap.demo_judge_key(base)
    assert bootstrap.demo_judge_key(base) == first  # stable
    (base / bootstrap.DONE_MARKER).write_text(json.dumps({"weights_sha256": "b" * 64}))
    assert bootstrap.demo_judge_key(base) != first
    other_base = bootstrap.demo_judge_key(base)
    monkeypatch.setattr(bootstrap, "platform_id", lambda: "torch 0; AVX2; another CPU; flags 0")
    assert bootstrap.demo_judge_key(base) not in (first, other_base)
    (base / bootstrap.DONE_MARKER).unlink()  # a base built elsewhere, without its marker: its weights are hashed
    (base / "model.safetensors").write_bytes(b"weights")
    assert len(bootstrap.demo_judge_key(base)) == 12
    monkeypatch.undo()
    assert bootstrap.platform_id().startswith(f"torch {torch.__version__}; ")
