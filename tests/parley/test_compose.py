"""The deployment recipe (compose.yaml) agrees with the settings: every service of the app runs under
the production settings with every variable they require, the workers together consume every Celery
queue, one beat runs the sweep, the web command names the real ASGI application, and the services the
URLs point at exist."""

import importlib
import re
import shlex
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from django.conf import settings
from django.urls import resolve

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
APP = {name: s for name, s in SERVICES.items() if s.get("image") == "parley:latest"}


def command(service: dict) -> list[str]:
    cmd = service["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def production_required() -> list[str]:
    text = (ROOT / "parley" / "settings" / "production.py").read_text()
    block = re.search(r"REQUIRED = \{(.*?)\n\}", text, re.S).group(1)
    return re.findall(r'^\s*"([A-Z_]+)":', block, re.M)


def test_the_expected_services_are_there():
    assert {"web", "beat", "db", "redis", "migrate"} <= set(SERVICES)
    assert {"web", "beat", "migrate"} <= set(APP)


@pytest.mark.parametrize("name", sorted(APP))
def test_app_services_run_production_with_every_required_variable(name):
    env = APP[name]["environment"]
    assert env["DJANGO_SETTINGS_MODULE"] == "parley.settings.production"
    required = production_required()
    assert set(required) == {"DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOWED_HOSTS"}
    for var in required:
        assert env.get(var), f"{name} lacks {var}"
    # Secrets come from the operator's environment, and compose refuses to start without them.
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")


def test_urls_point_at_the_compose_services():
    for name, service in APP.items():
        env = service["environment"]
        db = urlparse(re.sub(r"\$\{[^}]*\}", "secret", env["DATABASE_URL"]))
        assert db.scheme == "postgres" and db.hostname in SERVICES, name
        broker = urlparse(env["CELERY_BROKER_URL"])
        assert broker.scheme == "redis" and broker.hostname in SERVICES, name
    # The app runs as the least-privilege role, migrations as the owner (docs/operations.md).
    assert "parley_app:" in APP["web"]["environment"]["DATABASE_URL"]
    assert "parley_owner:" in APP["migrate"]["environment"]["DATABASE_URL"]
    assert SERVICES["db"]["environment"]["POSTGRES_USER"] == "parley_owner"


def test_migrate_runs_as_the_owner_then_creates_the_app_role():
    """The separate DATABASE_URL for migrations: ``migrate`` as parley_owner, then ``pg_roles`` (whose
    default role names are the ones the URLs use) creates parley_app with its password and grants."""
    from kernel.management.commands.pg_roles import Command

    script = command(APP["migrate"])
    assert script[:2] == ["sh", "-c"]
    steps = [shlex.split(step) for step in script[2].split("&&")]
    assert steps == [["python", "manage.py", "migrate", "--noinput"], ["python", "manage.py", "pg_roles"]]
    assert APP["migrate"]["environment"]["PARLEY_APP_DB_PASSWORD"].startswith("${PARLEY_APP_DB_PASSWORD:?")
    parser = Command().create_parser("manage.py", "pg_roles")
    defaults = vars(parser.parse_args([]))
    assert (defaults["owner"], defaults["app"]) == ("parley_owner", "parley_app")
    for name, service in APP.items():
        if name != "migrate":
            assert "parley_app:" in service["environment"]["DATABASE_URL"], name


def test_workers_consume_every_queue_and_one_beat_runs_the_sweep():
    consumed = set()
    beats = []
    for name, service in APP.items():
        cmd = command(service)
        if cmd[:3] == ["celery", "-A", "parley"] and cmd[3] == "worker":
            consumed |= set(cmd[cmd.index("-Q") + 1].split(","))
            assert "--beat" not in cmd and "-B" not in cmd, f"{name}: beat runs once, in its own service"
        if cmd[:4] == ["celery", "-A", "parley", "beat"]:
            beats.append(name)
    assert consumed == {q.name for q in settings.CELERY_TASK_QUEUES}
    assert settings.PARLEY_SWEEP_QUEUE in consumed
    assert beats == ["beat"]
    assert "sweep-lapsed-leases" in settings.CELERY_BEAT_SCHEDULE


def test_web_serves_the_asgi_application_and_its_health_check_exists():
    cmd = command(SERVICES["web"])
    assert cmd[0] == "uvicorn" and "--proxy-headers" in cmd
    module, attr = cmd[1].split(":")
    assert module == settings.ASGI_APPLICATION.rsplit(".", 1)[0] and attr == "application"
    source = (ROOT / Path(*module.split("."))).with_suffix(".py").read_text()
    assert '"parley.settings.production"' in source
    health = SERVICES["web"]["healthcheck"]["test"][-1]
    path = re.search(r"http://127\.0\.0\.1:8000(/[^']*)", health).group(1)
    assert resolve(path).url_name == "health"
    # The proxy header the settings trust is the one uvicorn and the documented proxy set.
    prod = importlib.util.find_spec("parley.settings.production").origin
    assert "HTTP_X_FORWARDED_PROTO" in Path(prod).read_text()


def test_the_image_collects_static_files_and_runs_unprivileged():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "collectstatic --noinput" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert "requirements.txt" in dockerfile
