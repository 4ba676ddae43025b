"""The apps form a stack and every import points down (docs/architecture.md, "Layers").

    engine (no Django) < kernel (imports no app) < registry < annotation < rewards < training_jobs
    < evaluation < deploy < parley (the wiring: settings, URLs, Celery app, home, navigation)

Read with ``ast`` over every module of every layer (migrations and management commands included, and
imports inside functions too), so a lazy import cannot hide an arrow that runs back up. A second check
imports every web module in a fresh interpreter and fails if that loads torch or the trainers: the web
process must stay light, torch runs in the engine's subprocesses.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["engine", "kernel", "registry", "annotation", "rewards", "training_jobs", "evaluation", "deploy", "parley"]
WEB_APPS = LAYERS[1:]
# What "no Django" means for the engine: Django and the web stack built on it.
WEB_STACK = {"django", "rest_framework", "drf_spectacular", "django_htmx", "celery", "kombu"}
HEAVY = ("torch", "transformers", "trl", "peft", "vllm")

# Imports allowed for now although they point up, each with the reason and what retires it. The test
# below fails when an entry is no longer used, so it cannot outlive its reason.
PENDING: dict[tuple[str, str], str] = {}


def imported_modules(path: Path, *, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's own package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def app_imports(root: Path) -> list[tuple[str, str, int, str]]:
    """(importing layer, file, line, imported module) for every import in every layer under ``root``."""
    rows = []
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            relative = path.relative_to(root)
            package = ".".join(relative.with_suffix("").parts[:-1]) or layer
            for line, module in imported_modules(path, package=package):
                rows.append((layer, str(relative), line, module))
    return rows


def pending(layer: str, module: str) -> tuple[str, str] | None:
    return next((key for key in PENDING if key[0] == layer and module.startswith(key[1])), None)


def violations(root: Path = ROOT) -> tuple[list[str], set[tuple[str, str]]]:
    """Every import that breaks the stack (as ``file:line layer -> module``), and the pending ones used."""
    found, pending_used = [], set()
    for layer, path, line, module in app_imports(root):
        top = module.split(".")[0]
        if layer == "engine" and top in WEB_STACK:
            found.append(f"{path}:{line} engine -> {module} (the engine never imports Django)")
        if top not in LAYERS or top == layer:
            continue
        if pending(layer, module):
            pending_used.add(pending(layer, module))
        elif layer == "kernel" and top != "engine":
            found.append(f"{path}:{line} kernel -> {module} (the kernel imports no app)")
        elif LAYERS.index(top) > LAYERS.index(layer):
            found.append(f"{path}:{line} {layer} -> {module} ({top} is above {layer})")
    return found, pending_used


def app_cycles(root: Path = ROOT) -> list[list[str]]:
    """Loops in the app-to-app import graph (each as the path that closes it), pending imports aside."""
    graph: dict[str, set[str]] = {layer: set() for layer in LAYERS}
    for layer, _path, _line, module in app_imports(root):
        top = module.split(".")[0]
        if top in LAYERS and top != layer and not pending(layer, module):
            graph[layer].add(top)
    cycles, done = [], set()

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            cycles.append(trail[trail.index(node) :] + [node])
            return
        if node in done:
            return
        for target in sorted(graph[node]):
            visit(target, trail + [node])
        done.add(node)

    for layer in LAYERS:
        visit(layer, [])
    return cycles


def test_every_import_points_down():
    found, _ = violations()
    assert not found, "imports that run up the stack:\n" + "\n".join(found)


def test_no_two_apps_import_each_other_in_a_loop():
    assert not app_cycles(), app_cycles()


def test_each_pending_exception_is_still_needed():
    _, used = violations()
    assert used == set(PENDING), f"no longer imported, drop from PENDING: {sorted(set(PENDING) - used)}"


def plant(root: Path, files: dict[str, str]) -> Path:
    for layer in LAYERS:
        (root / layer).mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def test_the_check_catches_planted_bad_imports(tmp_path):
    root = plant(
        tmp_path,
        {
            "engine/bad.py": "import django.conf\n",
            "kernel/bad.py": "from annotation.models import Dialogue\n",
            "registry/lazy.py": "def f():\n    from training_jobs.models import TrainingJob\n",
            "annotation/views/bad.py": "from ..services import x\nfrom rewards.models import RewardConfig\n",
            "annotation/services/__init__.py": "",
            "rewards/ok.py": "from annotation.models import Dialogue\nfrom kernel.audit import audit_record\n",
            "parley/ok.py": "from deploy.models import Deployment\n",
        },
    )
    found, _ = violations(root)
    assert [f.split(" (")[0] for f in found] == [
        "engine/bad.py:1 engine -> django.conf",
        "kernel/bad.py:1 kernel -> annotation.models",
        "registry/lazy.py:2 registry -> training_jobs.models",
        "annotation/views/bad.py:2 annotation -> rewards.models",
    ]
    assert ["annotation", "rewards", "annotation"] in app_cycles(root)


IMPORT_ALL = """
import importlib, json, sys
from pathlib import Path

import django

django.setup()
root, apps, extra = Path(sys.argv[1]), sys.argv[2].split(","), sys.argv[3:]
names = [
    ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
    for app in apps
    for p in sorted((root / app).rglob("*.py"))
    if "settings" not in p.relative_to(root).parts  # the one in use is loaded; production needs its env
]
for name in names + extra:
    importlib.import_module(name)
print(json.dumps({"modules": len(names) + len(extra), "heavy": [m for m in HEAVY if m in sys.modules]}))
"""


def heavy_modules_loaded(*extra: str) -> dict:
    """Import every web module (and ``extra``) in a fresh interpreter; which of HEAVY got loaded."""
    script = IMPORT_ALL.replace("HEAVY", repr(HEAVY))
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), ",".join(WEB_APPS), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "parley.settings.test"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_every_web_module_loads_no_torch():
    result = heavy_modules_loaded()
    assert result["modules"] > 100 and result["heavy"] == []


@pytest.mark.slow  # imports torch and transformers (seconds) to show the check would see them
def test_the_torch_check_sees_a_planted_import():
    assert "torch" in heavy_modules_loaded("engine.rollout.hf")["heavy"]
