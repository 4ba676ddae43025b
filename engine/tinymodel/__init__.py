"""Pieces of the tiny base model build (see engine/bootstrap.py): corpus, tokenizer, pre-training."""
