"""The one vLLM server command: how every OpenAI-compatible server of Parley is started and stopped.

Rollouts (``engine/rollout/vllm.py``), the judge, the deployments of the web app and the tests all start
vLLM through :func:`vllm_command` / :func:`start_vllm`, so what is served is what was trained and
evaluated:

- ``--generation-config vllm``: vLLM would otherwise fill every sampling field a request leaves unset
  from the model's ``generation_config.json`` (Qwen3 ships ``top_k: 20``); the clients send every
  sampling field explicitly as well (docs/engine.md, "Sampling is explicit").
- ``--logprobs-mode processed_logprobs``: the log-probs a completion returns are those of the
  distribution its tokens were sampled from (after temperature, penalties, top-k and top-p), so that
  the training loop's sampled drift check sees what the sampler did; a greedy request's are the raw
  model's (no temperature is applied to it).
- ``--enable-lora`` with runtime loading (``VLLM_ALLOW_RUNTIME_LORA_UPDATING``): adapters are added,
  replaced and removed without a restart.
- structured outputs through xgrammar, for the judge's verdict schema.
- ``runner="pooling"`` serves a merged reward model for ``/classify`` instead (same flags otherwise).
- the server runs in its own process group (``stop_vllm`` stops the engine core and workers too) and,
  where asked, dies with its parent (``PR_SET_PDEATHSIG``).

On a GPU node the same command serves the CUDA build; pass ``dtype="auto"`` and the memory share, and
add ``--enable-prefix-caching`` through ``extra`` (docs/engine.md lists the flags).

Torch-free: importing this module starts nothing and loads no model.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

DEFAULT_SERVED_NAME = "tiny"
START_TIMEOUT_S = 420.0
STOP_GRACE_S = 30.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ServeOptions:
    """Everything about a server that is not the model: one place for the flags."""

    served_name: str = DEFAULT_SERVED_NAME
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port is picked at start
    max_model_len: int = 1024
    dtype: str = "float32"
    memory_share: float = 0.3  # --gpu-memory-utilization; on the CPU the share of RAM for the KV cache
    max_lora_rank: int = 64
    max_loras: int = 4
    structured_outputs: bool = True
    # A checkpoint that declares fewer positions than ``max_model_len`` (the tiny base: 1024) is served with
    # ``max_model_len`` positions (``--hf-overrides``): RoPE positions are computed, not learnt weights.
    # The demo judge needs it: its prompt (rubric, case, dialogue) alone takes 800-1900 tiny tokens.
    extend_positions: bool = False
    extra: tuple[str, ...] = field(default_factory=tuple)
    # "generate" (chat completions, LoRA adapters) or "pooling": a *ForSequenceClassification checkpoint
    # (the reward model, ``engine.rewards.rm_serving``) answering ``/classify``; no LoRA, no structured outputs.
    runner: str = "generate"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_set(spec: str) -> set[int]:
    """Core ids of a Linux cpu-list string.

    >>> sorted(cpu_set("0,2-3"))
    [0, 2, 3]
    """
    cores: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        cores.update(range(int(first), int(last or first) + 1))
    return cores


def vllm_command(*, model: Path | str, port: int, options: ServeOptions | None = None, python: str = "") -> list[str]:
    """The argument list of one OpenAI-compatible vLLM server.

    >>> command = vllm_command(model="/m", port=8000, options=ServeOptions(served_name="rm", runner="pooling"))
    >>> command[command.index("--runner") + 1], "--enable-lora" in command
    ('pooling', False)
    """
    opts = options or ServeOptions()
    declared = declared_positions(model)
    extend = opts.runner == "generate" and opts.extend_positions
    # A checkpoint declaring fewer positions than asked for is served with its own length (vLLM refuses to
    # start otherwise), unless positions are extended: never for the reward model, whose scores must be
    # those of training, where sequences are cut at the checkpoint's length.
    max_model_len = opts.max_model_len if declared is None or extend else min(opts.max_model_len, declared)
    command = [
        python or sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model),
        "--served-model-name",
        opts.served_name,
        "--host",
        opts.host,
        "--port",
        str(port),
        "--max-model-len",
        str(max_model_len),
        "--dtype",
        opts.dtype,
        "--gpu-memory-utilization",
        str(opts.memory_share),
    ]
    if opts.runner == "pooling":
        return [*command, "--runner", "pooling", *opts.extra]
    if opts.runner != "generate":
        raise ValueError(f"runner must be 'generate' or 'pooling', not {opts.runner!r}")
    command += [
        "--generation-config",
        "vllm",
        "--logprobs-mode",
        "processed_logprobs",
        "--enable-lora",
        "--max-lora-rank",
        str(opts.max_lora_rank),
        "--max-loras",
        str(opts.max_loras),
    ]
    if extend and declared is not None and declared < opts.max_model_len:
        command += ["--hf-overrides", json.dumps({"max_position_embeddings": opts.max_model_len})]
    if opts.structured_outputs:
        command += [
            "--structured-outputs-config",
            json.dumps({"backend": "xgrammar", "disable_any_whitespace": True}),
        ]
    return command + list(opts.extra)


def declared_positions(model: Path | str) -> int | None:
    """``max_position_embeddings`` of a local checkpoint's config; None for a hub name or no config."""
    try:
        return int(json.loads((Path(model) / "config.json").read_text(encoding="utf-8"))["max_position_embeddings"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def vllm_env(*, cpus: str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        **(extra or {}),
        **({"VLLM_CPU_OMP_THREADS_BIND": cpus} if cpus else {}),
        "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
        "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_LOGGING_LEVEL": os.environ.get("VLLM_LOGGING_LEVEL", "INFO"),
    }


@dataclass(frozen=True)
class VLLMServer:
    base_url: str  # http://HOST:PORT/v1, for OpenAI clients
    root_url: str  # http://HOST:PORT, for /health, /v1/load_lora_adapter, ...
    model: str  # the served model name
    model_path: Path
    log_path: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _child_setup(cpus: str | None, die_with_parent: bool):
    def setup() -> None:
        if cpus:
            os.sched_setaffinity(0, cpu_set(cpus))
        if die_with_parent:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return setup if (cpus or die_with_parent) else None


def spawn_vllm(
    *,
    model: Path | str,
    log_path: Path,
    options: ServeOptions | None = None,
    cpus: str | None = None,
    die_with_parent: bool = False,
    python: str = "",
    env: dict[str, str] | None = None,
) -> VLLMServer:
    """Start the server in its own process group and return at once (see :func:`wait_healthy`).
    ``env`` adds variables to the server's environment (a deployment marks its processes with one)."""
    opts = options or ServeOptions()
    port = opts.port or free_port()
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            vllm_command(model=model, port=port, options=opts, python=python),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=vllm_env(cpus=cpus, extra=env),
            start_new_session=True,  # its own process group: stop_vllm kills the workers too
            preexec_fn=_child_setup(cpus, die_with_parent),
        )
    root = f"http://{opts.host}:{port}"
    return VLLMServer(f"{root}/v1", root, opts.served_name, Path(model), log_path, process)


def is_healthy(root_url: str, *, timeout_s: float = 2.0) -> bool:
    import httpx

    try:
        return httpx.get(f"{root_url}/health", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def wait_healthy(server: VLLMServer, *, timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll ``/health`` until it answers 200; raise with the log tail if the server exits or times out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"vLLM exited with {server.process.returncode}:\n{server.log_tail()}")
        if is_healthy(server.root_url):
            return
        time.sleep(1)
    stop_vllm(server)
    raise RuntimeError(f"vLLM not healthy after {timeout_s:.0f}s:\n{server.log_tail()}")


def start_vllm(
    *,
    model: Path | str,
    log_path: Path,
    timeout_s: float = START_TIMEOUT_S,
    cpus: str | None = None,
    options: ServeOptions | None = None,
    die_with_parent: bool = False,
) -> VLLMServer:
    """Start a server and wait until it is healthy; fail with the log tail.

    ``cpus`` (e.g. ``"1"`` or ``"2-3"``) keeps the whole server (API process, engine core, OpenMP
    threads) on those cores, leaving the others to a trainer in the same box (default: every core).
    """
    server = spawn_vllm(model=model, log_path=log_path, options=options, cpus=cpus, die_with_parent=die_with_parent)
    wait_healthy(server, timeout_s=timeout_s)
    return server


def stop_pgid(pgid: int, *, grace_s: float = STOP_GRACE_S, process: subprocess.Popen | None = None) -> None:
    """SIGTERM a server's process group, SIGKILL it after ``grace_s``."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if process is not None:
        process.wait(timeout=10)


def stop_vllm(server: VLLMServer, *, grace_s: float = STOP_GRACE_S) -> None:
    stop_pgid(server.process.pid, grace_s=grace_s, process=server.process)


# -- a running server's adapters (the one owner of vLLM's runtime LoRA endpoints) ---------------------
# The trainer's push (``engine.rollout.vllm.VLLMClient.push_adapter``) and the deployments' supervisor
# (``deploy.services.supervisor``) both go through these; ``api_url`` is the OpenAI base URL (``…/v1``).

LORA_TIMEOUT_S = 120.0


class LoraError(RuntimeError):
    """The server refused or did not answer an adapter load or unload (the message holds why)."""


def _lora_post(api_url: str, path: str, payload: dict, *, ok_missing: bool = False, client=None) -> None:
    url = f"{api_url.rstrip('/')}/{path}"
    try:
        response = (client or httpx).post(url, json=payload, timeout=LORA_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise LoraError(f"{path}: {type(exc).__name__}: {exc}") from exc
    # vLLM answers an unload of an adapter it does not hold with 400 or 404, by version.
    if response.status_code >= 400 and not (ok_missing and response.status_code in (400, 404)):
        raise LoraError(f"{path}: HTTP {response.status_code}: {response.text[:500]}")


def lora_load(api_url: str, *, name: str, path: str | Path, client=None) -> None:
    _lora_post(api_url, "load_lora_adapter", {"lora_name": name, "lora_path": str(path)}, client=client)


def lora_unload(api_url: str, *, name: str, client=None) -> None:
    """Unload ``name``; an adapter the server does not hold is fine."""
    _lora_post(api_url, "unload_lora_adapter", {"lora_name": name}, ok_missing=True, client=client)


def served_models(api_url: str, *, timeout_s: float = 5.0) -> set[str] | None:
    """The model names ``/v1/models`` lists (the base and every loaded adapter); None when it does not answer."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/models", timeout=timeout_s)
        response.raise_for_status()
        return {m["id"] for m in response.json().get("data", [])}
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
