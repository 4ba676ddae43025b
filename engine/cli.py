"""``python -m engine ...``: the only way the web app starts engine work (as a subprocess).

    python -m engine train {sft,dpo,rm,ppo,grpo,repo} --config RUN/config.json [--run-dir DIR] [--resume]
    python -m engine train METHOD --help      (every key of METHOD's config file: type, default, help)
    python -m engine bootstrap --out DIR [--seed S] [--shape qwen3-0.6b | --judge]
    python -m engine generate --model DIR [--adapter DIR] --prompts FILE.jsonl --out FILE.jsonl ...
    python -m engine score --replies FILE.jsonl --out FILE.jsonl [--rules ...] [--judge-url ...] [--rm DIR]
    python -m engine merge --base DIR --adapter DIR --out DIR [--force]
    python -m engine export-rm --run-dir RM_RUN [--out DIR]   (a trained RM merged for vLLM's /classify)

A bad config or input exits with status 2 and one line on stderr (no traceback): the web app shows
the last lines of the log to the person who launched the job.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.config import ConfigError, config_class, load_config
from engine.configio import describe_config

# Trainers by method, imported only when chosen so that one method's missing extra cannot break another.
# Each is ``train(config, *, run_dir: Path, resume: bool = False) -> dict`` (the result).
TRAINERS: dict[str, str] = {
    "sft": "engine.train.sft:train",
    "dpo": "engine.train.dpo:train",
    "rm": "engine.rewards.rm:train_reward_model",
    "grpo": "engine.train.grpo:train",
    "ppo": "engine.train.ppo:train",
    "repo": "engine.train.ppo:train",
}

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input from the caller: reported as one line, exit status 2."""


def trainer(method: str) -> Callable[..., dict[str, Any]]:
    if method not in TRAINERS:
        raise UsageError(f"unknown method {method!r}")
    module, _, name = TRAINERS[method].partition(":")
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if not module.startswith(exc.name or "\0"):
            raise  # a missing dependency inside the trainer is a bug worth a traceback
        raise UsageError(f"method {method!r} is not available in this engine ({module} is missing)") from None
    return getattr(imported, name)


def cmd_train(args: argparse.Namespace) -> int:
    config = load_config(args.config, method=args.method)
    run_dir = Path(args.run_dir) if args.run_dir else Path(args.config).resolve().parent
    train = trainer(args.method)
    kwargs = {"run_dir": run_dir}
    if args.resume or "resume" in inspect.signature(train).parameters:
        kwargs["resume"] = args.resume
    result = train(config, **kwargs)
    print(f"{args.method}: done, {result.get('steps', '?')} steps, run dir {run_dir}")
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from engine.bootstrap import ensure_tiny_model, install_tiny_model

    if args.shape:
        import torch

        from engine.shapes import get_shape, write_shape_model

        try:
            shape = get_shape(args.shape)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if Path(args.out).exists() and any(Path(args.out).iterdir()) and not args.force:
            raise UsageError(f"{args.out} is not empty (use --force to write into it)")
        out = write_shape_model(shape, out=Path(args.out), tokenizer_dir=ensure_tiny_model(seed=args.seed),
                                dtype=torch.bfloat16, seed=args.seed)  # fmt: skip
        print(f"random {shape.name} ({shape.params() / 1e9:.2f}B parameters, bf16) with the tiny tokenizer at {out}")
        return 0
    if args.judge:
        from engine.bootstrap import install_demo_judge

        out = install_demo_judge(out=Path(args.out), base_seed=args.seed)
        print(f"demo judge ready at {out} (a LoRA adapter of the tiny base: {out / 'adapter'})")
        return 0
    out = install_tiny_model(out=Path(args.out), seed=args.seed, force=args.force)
    print(f"tiny model ready at {out}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from engine.generate import generate_file

    count = generate_file(
        model=args.model,
        adapter=args.adapter,
        prompts=Path(args.prompts),
        out=Path(args.out),
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        seed=args.seed,
        batch_size=args.batch_size,
        backend=args.backend,
        base_url=args.base_url,
        served_model=args.served_model,
        chat_template_kwargs=args.chat_template_kwargs,
    )
    print(f"generated {count} replies into {args.out}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from engine.score import score_file

    count = score_file(
        replies=Path(args.replies),
        out=Path(args.out),
        rules=args.rules,
        no_rules=args.no_rules,
        judge_url=args.judge_url,
        judge_model=args.judge_model,
        rubric=args.rubric,
        rm=args.rm,
        n=args.n,
    )
    print(f"scored {count} replies into {args.out}")
    return 0


def cmd_export_rm(args: argparse.Namespace) -> int:
    from engine.rewards.rm_serving import export_for_serving

    out = export_for_serving(args.run_dir, args.out)
    print(f"exported the reward model into {out}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from engine.merge import MergeError, merge_adapter

    try:
        out = merge_adapter(base=args.base, adapter=args.adapter, out=args.out, force=args.force)
    except MergeError as exc:
        raise UsageError(str(exc)) from None
    print(f"merged {args.adapter} into {args.base}: {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Parley's ML engine")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train one method from a config.json", add_help=False)
    train.add_argument("-h", "--help", action=TrainHelp, help="show this help and the keys of METHOD's config file")
    train.add_argument("method", choices=sorted(TRAINERS), metavar="METHOD", help=", ".join(TRAINERS))
    train.add_argument("--config", required=True, metavar="FILE", help="config.json (its 'method' must match)")
    train.add_argument("--run-dir", help="metrics, checkpoints, adapter (default: the config's dir)")
    train.add_argument("--resume", action="store_true", help="continue from the run dir's last checkpoint")
    train.set_defaults(func=cmd_train)

    boot = sub.add_parser("bootstrap", help="build (or copy from the cache) the tiny base model")
    boot.add_argument("--out", required=True)
    boot.add_argument("--seed", type=int, default=0)
    boot.add_argument("--force", action="store_true", help="rebuild even when cached")
    boot.add_argument(
        "--judge",
        action="store_true",
        help="instead: the demo judge, a LoRA adapter of the tiny base trained on the demo world's known "
        "verdicts (built once and cached; a few CPU minutes)",
    )
    boot.add_argument(
        "--shape",
        help="instead: random weights with a real architecture's dimensions (engine/shapes.py: qwen3-0.6b, "
        "qwen2.5-1.5b, qwen2.5-7b, qwen3-32b, ...) and the tiny tokenizer, for memory and speed measurements",
    )
    boot.set_defaults(func=cmd_bootstrap)

    gen = sub.add_parser("generate", help="write one agent reply per prompt row")
    gen.add_argument("--model", required=True, help="base model dir (HF backend) ")
    gen.add_argument("--adapter", help="LoRA adapter dir (HF: merged in memory; vLLM: a served LoRA name)")
    gen.add_argument("--prompts", required=True, help="JSONL rows {id, prompt: [messages], task}")
    gen.add_argument("--out", required=True, help="JSONL rows {id, reply, finish_reason, tokens}")
    gen.add_argument("--max-new-tokens", type=int, default=512)
    gen.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--batch-size", type=int, default=8)
    gen.add_argument("--backend", choices=("hf", "vllm"), default="hf")
    gen.add_argument("--base-url", help="vLLM OpenAI endpoint, e.g. http://127.0.0.1:8000/v1")
    gen.add_argument("--served-model", help="vLLM model name (default: the adapter's, else --model)")
    gen.add_argument(
        "--chat-template-kwargs",
        help='the chat template\'s switches as JSON (default {"enable_thinking": false}, as jobs train with)',
    )
    gen.set_defaults(func=cmd_generate)

    score = sub.add_parser("score", help="score replies with the rules, the judge and the RM")
    score.add_argument("--replies", required=True, help="JSONL rows {id, prompt, task, reply}")
    score.add_argument("--out", required=True)
    score.add_argument("--rules", help="rule-set JSON file (default: the built-in set)")
    score.add_argument("--no-rules", action="store_true")
    score.add_argument("--judge-url", help="OpenAI-compatible endpoint of the judge")
    score.add_argument("--judge-model", help="served model name (default: the server's first model)")
    score.add_argument("--rubric", help="rubric JSON file (default: the built-in rubric)")
    score.add_argument("--rm", help="trained reward-model run dir")
    score.add_argument("--n", type=float, default=100.0, help="enhancement clip n (docs/method.md)")
    score.set_defaults(func=cmd_score)

    export_rm = sub.add_parser("export-rm", help="merge a trained RM (LoRA + score head) for vLLM's /classify")
    export_rm.add_argument("--run-dir", required=True, help="trained reward-model run dir")
    export_rm.add_argument("--out", help="output dir (default: RUN/served)")
    export_rm.set_defaults(func=cmd_export_rm)

    merge = sub.add_parser("merge", help="merge a LoRA adapter into full weights (a loadable model dir)")
    merge.add_argument("--base", required=True, help="base model dir")
    merge.add_argument("--adapter", required=True, help="LoRA adapter dir")
    merge.add_argument("--out", required=True, help="output model dir (must not exist)")
    merge.add_argument("--force", action="store_true", help="replace --out if it exists")
    merge.set_defaults(func=cmd_merge)
    return parser


class TrainHelp(argparse.Action):
    """``train METHOD --help``: the usual help, then every key METHOD's config file may hold, with its
    type, default and help (the fields' ``metadata["help"]``), so FILE needs no other documentation."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help()
        print()
        print(config_file_help(getattr(namespace, "method", None)))
        parser.exit()


def config_file_help(method: str | None) -> str:
    """What ``--config FILE`` may contain for ``method`` (or how to ask, without one)."""
    if method is None:
        return f"FILE is a JSON config; `python -m engine train METHOD --help` lists its keys ({', '.join(TRAINERS)})."
    cls = config_class(method)
    return (
        f'FILE: a JSON object with "method": "{method}" and any of these keys ({cls.__name__}); a missing key takes\n'
        "its default, an unknown key or a bad value is refused with one line naming it.\n\n" + describe_config(cls)
    )


class Terminated(SystemExit):
    """SIGTERM (a cancelled job: the worker signals the process group) as an exception, so that the
    run's ``with RunWriter`` block records ``"status": "failed"`` instead of a run stuck at running."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return args.func(args)
    except (ConfigError, UsageError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
