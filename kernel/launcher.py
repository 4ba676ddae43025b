"""The one way the web side starts the engine: ``python -m engine ...`` as a subprocess (ADR 0003).

Every start gets the same treatment: the interpreter ``settings.PARLEY_PYTHON`` (or this one), an
unbuffered environment with ``OMP_NUM_THREADS`` (default 1, so an engine never takes every core of a
shared machine), its output appended to a log file in the run directory, its own process group (a
cancel or a timeout signals the whole group: torchrun and every rank) and ``PR_SET_PDEATHSIG``, so
the engine dies when the thread that started it dies (a SIGKILLed worker never leaves an engine
writing into a run directory that someone else will resume).

Two shapes:

- **start and supervise** (:func:`engine_start`, :func:`engine_stop`): training jobs, whose supervisor
  polls the run directory while the engine runs, under ``torchrun`` for several processes;
- **run to completion** (:func:`engine_run`, :func:`engine_generate`, :func:`engine_score`): evaluation
  runs, branch generations and the reward playground's RM score, with a timeout and a ``beat``
  callback that renews the caller's lease while it waits.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from engine.rundir import LOG_FILE, RowKey, generate_files, read_rows, score_files, write_rows

TERM_GRACE_S = 5.0  # SIGTERM first (the engine may clean up), SIGKILL after this
LOG_TAIL_CHARS = 2000
_PR_SET_PDEATHSIG = 1


class EngineError(RuntimeError):
    """The engine subprocess failed; the message ends with the tail of its log."""


class EngineTimeout(EngineError):
    """The engine ran past its time limit and was stopped."""


@dataclass(frozen=True)
class Rendezvous:
    """One node's part in a multi-node run: torchrun's c10d rendezvous at ``endpoint`` (``host:port``,
    published by the node that hosts it), ``nodes`` rank groups in all, ``run_id`` naming this attempt
    (a restarted group never meets the old one's stragglers)."""

    endpoint: str
    run_id: str
    nodes: int
    node: int  # this node's index (0 hosts the rendezvous store)
    join_timeout_s: int = 600

    @property
    def hosts_store(self) -> bool:
        return self.node == 0


def node_address() -> str:
    """The address the other nodes of a job reach this worker at."""
    return settings.PARLEY_NODE_ADDRESS or socket.gethostname()


def free_port() -> int:
    """A TCP port free on this host right now (the rendezvous binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def _torchrun(processes: int, rendezvous: Rendezvous | None) -> list[str]:
    if rendezvous is None:
        return ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else []
    conf = f"is_host={int(rendezvous.hosts_store)},join_timeout={rendezvous.join_timeout_s}"
    return [
        "-m",
        "torch.distributed.run",
        f"--nnodes={rendezvous.nodes}",
        f"--nproc_per_node={processes}",
        "--rdzv_backend=c10d",
        f"--rdzv_endpoint={rendezvous.endpoint}",
        f"--rdzv_id={rendezvous.run_id}",
        f"--rdzv_conf={conf}",
        "--max_restarts=0",  # one lost node ends the whole group; the platform restarts it as a whole
    ]


def engine_argv(args: list[str], *, processes: int = 1, rendezvous: Rendezvous | None = None) -> list[str]:
    """The command line of ``python -m engine *args``: under torchrun when ``processes`` > 1
    (``--standalone``), or as one node of a multi-node group when ``rendezvous`` is given."""
    python = settings.PARLEY_PYTHON or sys.executable
    return [python, *_torchrun(processes, rendezvous), "-m", "engine", *args]


# Every process of an engine run carries this variable naming its run directory (torchrun passes its
# environment on to every rank). Ranks may sit in sessions of their own, out of reach of ``killpg``, and
# outlive a SIGKILLed torchrun; the variable finds them all, and a process id reused by an unrelated
# process never carries it, so it is never killed by mistake. Node ``i`` > 0 of a multi-node run adds
# ``#node-i`` to the mark: two nodes on one host (a test, a big machine) never kill each other's ranks.
RUN_MARK = "PARLEY_ENGINE_RUN"
ALL_NODES = -1  # run_processes / kill_run_tree: every node's processes of the run on this host


def run_mark(run_dir: Path | str, *, node: int = 0) -> str:
    path = str(Path(run_dir).resolve())
    return path if node == 0 else f"{path}#node-{node}"


def engine_env(*, run_dir: Path | None = None, node: int = 0) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("OMP_NUM_THREADS", "1")
    if run_dir is not None:
        env[RUN_MARK] = run_mark(run_dir, node=node)
    return env


def _carries_mark(environ: list[bytes], run_dir: Path | str, node: int) -> bool:
    mark = f"{RUN_MARK}={run_mark(run_dir)}".encode()
    if node != ALL_NODES:
        return f"{RUN_MARK}={run_mark(run_dir, node=node)}".encode() in environ
    return any(e == mark or e.startswith(mark + b"#node-") for e in environ)


def run_processes(run_dir: Path | str, *, node: int = 0) -> list[int]:
    """Ids of this user's live processes that belong to the engine run in ``run_dir`` (by ``RUN_MARK``
    in ``/proc/<pid>/environ``): node ``node``'s, or every node's with ``ALL_NODES``; empty where
    /proc is missing."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # gone, or another user's
        if state != "Z" and _carries_mark(environ.split(b"\0"), run_dir, node):
            found.append(int(entry.name))
    return sorted(pid for pid in found if pid != os.getpid())


def kill_run_tree(run_dir: Path | str, *, node: int = 0, wait_s: float = 10.0) -> list[int]:
    """SIGKILL every process of the engine run in ``run_dir`` (torchrun and every rank, whatever their
    session; node ``node``'s, or every node's on this host with ``ALL_NODES``) and wait until they are
    gone; the ids killed."""
    killed = run_processes(run_dir, node=node)
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + wait_s
    # Until every killed process has exited (a dying process stops showing its mark before it is a
    # zombie) and no process of the run is left.
    while (run_processes(run_dir, node=node) or not all(map(_exited, killed))) and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed


def _exited(pid: int) -> bool:
    """Gone, or a zombie (it has exited; only its parent's wait is missing)."""
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def _die_with_parent() -> None:
    """In the child: the kernel sends SIGKILL when the thread that started it exits (a worker killed
    with SIGKILL or by the OOM killer takes its engine with it)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def engine_start(
    args: list[str], *, log: Path, processes: int = 1, rendezvous: Rendezvous | None = None
) -> subprocess.Popen:
    """Start the engine in its own process group with its output appended to ``log``; returns at once.
    With ``rendezvous``, this is one node of a multi-node run (its processes carry that node's mark)."""
    argv = engine_argv(args, processes=processes, rendezvous=rendezvous)
    log.parent.mkdir(parents=True, exist_ok=True)
    run_dir = log.parent  # the log lives in the run directory
    node = rendezvous.node if rendezvous is not None else 0
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv,
            cwd=settings.BASE_DIR,
            env=engine_env(run_dir=run_dir, node=node),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    proc.parley_run_dir = run_dir
    proc.parley_node = node
    return proc


def signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def engine_stop(proc: subprocess.Popen, *, grace_s: float = TERM_GRACE_S) -> int:
    """SIGTERM the whole process group, SIGKILL whatever is left after ``grace_s``, then every process of
    the run that escaped the group (ranks in sessions of their own); the exit status."""
    signal_group(proc.pid, signal.SIGTERM)
    try:
        code = proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        signal_group(proc.pid, signal.SIGKILL)
        code = proc.wait()
    run_dir = getattr(proc, "parley_run_dir", None)
    if run_dir is not None:
        kill_run_tree(run_dir, node=getattr(proc, "parley_node", 0))
    return code


def kill_leftover(*, host: str, pid: int | None, run_dir: Path | str | None = None, node: int = 0) -> None:
    """A previous worker died: make sure its engine is gone before starting again. Every process on this
    host marked with the run directory dies (torchrun and every rank, whatever their session). The
    recorded ``pid``'s group is signalled only if that process still carries the run's mark or, with
    no run directory given, is still an engine (``-m engine`` in its command line): a process id the
    system has since given to another program is left alone."""
    if run_dir is not None:
        kill_run_tree(run_dir, node=node)
    if not pid or host != socket.gethostname():
        return
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return  # gone (or not ours)
    if run_dir is not None:
        ours = _carries_mark(environ, run_dir, node)
    else:
        ours = any(a == b"engine" for a in cmdline) and any(e.startswith(RUN_MARK.encode() + b"=") for e in environ)
    if ours:
        signal_group(pid, signal.SIGKILL)


def log_text_tail(log: Path, *, chars: int = LOG_TAIL_CHARS) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-chars:]
    except FileNotFoundError:
        return ""


def engine_run(
    args: list[str],
    *,
    log: Path,
    timeout_s: float | None = None,
    beat: Callable[[int], Any] | None = None,
    poll_s: float | None = None,
) -> None:
    """Run the engine to completion. ``beat(pid)`` is called every ``poll_s`` while it runs (a caller
    renews its lease there; whatever it raises stops the engine and propagates). Raises
    :class:`EngineError` with the log's tail on a non-zero exit, :class:`EngineTimeout` past ``timeout_s``."""
    poll_s = settings.PARLEY_POLL_S if poll_s is None else poll_s
    deadline = time.monotonic() + timeout_s if timeout_s else None
    proc = engine_start(args, log=log)
    try:
        while True:
            try:
                code = proc.wait(timeout=poll_s)
                break
            except subprocess.TimeoutExpired:
                pass
            if deadline is not None and time.monotonic() > deadline:
                raise EngineTimeout(f"engine {args[0]} ran past {timeout_s:.0f} s and was stopped.")
            if beat is not None:
                beat(proc.pid)
    except BaseException:
        engine_stop(proc)
        raise
    if code != 0:
        raise EngineError(f"engine {args[0]} exited with {code}: {log_text_tail(log)}")


def engine_generate(
    *,
    rows: list[dict],
    run_dir: Path,
    model: str,
    adapter: str = "",
    max_new_tokens: int,
    temperature: float | None = None,
    seed: int | None = None,
    tag: str = "",
    **run: Any,
) -> dict[Any, str]:
    """One reply per prompt row (``{"id", "prompt", "task"}``) from ``python -m engine generate``, by id.
    ``run`` goes to :func:`engine_run` (``timeout_s``, ``beat``)."""
    prompts, out = generate_files(run_dir, tag=tag)
    write_rows(prompts, rows)
    args = ["generate", "--model", model, "--prompts", str(prompts), "--out", str(out)]
    args += ["--max-new-tokens", str(max_new_tokens)]
    if temperature is not None:
        args += ["--temperature", str(temperature)]
    if seed is not None:
        args += ["--seed", str(seed)]
    if adapter:
        args += ["--adapter", adapter]
    engine_run(args, log=Path(run_dir) / LOG_FILE, **run)
    return {rid: row.get(RowKey.REPLY) or "" for rid, row in read_rows(out).items()}


def engine_score(
    *, rows: list[dict], run_dir: Path, rm: str = "", judge_url: str = "", rules: bool = False, **run: Any
) -> dict[Any, dict]:
    """``python -m engine score`` on reply rows (``{"id", "prompt", "task", "reply"}``): the scored rows
    by id (``r_model``, ``e_judge``, ...). Rules run in the web app already, so they are off unless asked."""
    src, out = score_files(run_dir)
    write_rows(src, rows)
    args = ["score", "--replies", str(src), "--out", str(out)]
    args += [] if rules else ["--no-rules"]
    args += ["--judge-url", judge_url] if judge_url else []
    args += ["--rm", rm] if rm else []
    engine_run(args, log=Path(run_dir) / LOG_FILE, **run)
    return read_rows(out)
