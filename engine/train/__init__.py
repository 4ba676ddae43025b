"""Trainers, one module per method, each exposing ``train(config, *, run_dir, resume=False) -> dict``.

``sft``, ``dpo`` and ``grpo`` wrap TRL's trainers (``common`` holds what they share); ``ppo`` is our
own PPO/REPO loop; the reward model's trainer lives with the rewards in ``engine.rewards.rm``.
"""
