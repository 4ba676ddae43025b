"""The exports load with ``datasets`` and go through TRL's own data preparation (tokenisation).

A tokenizer is trained on the demo corpus in the test (seconds) and the models are tiny random Qwen3s:
what is tested is the data shape TRL accepts, not learning.
"""

import pytest

from annotation.services.demo import demo_world_seed
from annotation.services.exports import KINDS, dataset_export

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def exports(db, tmp_path) -> dict:
    demo_world_seed(scale=24, seed=0, password="x")
    paths = {}
    for kind in KINDS:
        paths[kind] = tmp_path / f"{kind}.jsonl"
        with open(paths[kind], "w", encoding="utf-8") as out:
            assert dataset_export(kind=kind, filters=None, out=out).rows > 0
    return paths


@pytest.fixture(scope="module")
def tokenizer():
    from engine.demo import corpus_chats
    from engine.tinymodel.tokenizer import train_tokenizer

    texts = [m["content"] for chat in corpus_chats(seed=0, n=150) for m in chat]
    return train_tokenizer(texts, vocab_size=1200)


def _tiny_qwen3(tokenizer, cls):
    from transformers import Qwen3Config

    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=1,
    )
    return cls(config)


def _load(path):
    from datasets import load_dataset

    return load_dataset("json", data_files=str(path), split="train")


def test_every_export_loads_with_datasets(exports):
    for kind, path in exports.items():
        ds = _load(path)
        assert len(ds) > 0, kind
        assert "prompt" in ds.column_names or kind == "preference-implicit"


@pytest.mark.parametrize("kind", ["preference", "preference-implicit"])
def test_reward_trainer_tokenises_the_preference_export(exports, tokenizer, tmp_path, kind):
    from transformers import Qwen3ForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    dataset = _load(exports[kind])
    args = RewardConfig(output_dir=str(tmp_path), report_to="none", max_length=1024, use_cpu=True, bf16=False)
    trainer = RewardTrainer(
        model=_tiny_qwen3(tokenizer, Qwen3ForSequenceClassification),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    prepared = trainer.train_dataset
    assert {"chosen_ids", "rejected_ids", "margin"} <= set(prepared.column_names)
    assert len(prepared) == len(dataset)  # nothing dropped for length: prompts fit the 1024-token context
    batch = trainer.data_collator([prepared[0], prepared[1]])
    assert batch["input_ids"].shape[0] == 4 and batch["margin"].tolist() == [
        prepared[0]["margin"],
        prepared[1]["margin"],
    ]


def test_dpo_trainer_tokenises_the_preference_export(exports, tokenizer, tmp_path):
    from transformers import Qwen3ForCausalLM
    from trl import DPOConfig, DPOTrainer

    dataset = _load(exports["preference"])
    args = DPOConfig(output_dir=str(tmp_path), report_to="none", max_length=1024, use_cpu=True, bf16=False)
    trainer = DPOTrainer(
        model=_tiny_qwen3(tokenizer, Qwen3ForCausalLM),
        ref_model=_tiny_qwen3(tokenizer, Qwen3ForCausalLM),  # else TRL reloads it from a path this model lacks
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    prepared = trainer.train_dataset
    assert {"prompt_ids", "chosen_ids", "rejected_ids"} <= set(prepared.column_names)
    first = prepared[0]
    decoded = tokenizer.decode(first["prompt_ids"])
    assert decoded.startswith("<|im_start|>system\n") and decoded.endswith("<|im_start|>assistant\n")
    assert tokenizer.decode(first["chosen_ids"]).rstrip().endswith("<|im_end|>")
