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


def test_dependencies_wait_on_real_health_checks_and_one_shot_steps():
    """Every ``service_healthy`` dependency has a health check, every ``service_completed_successfully``
    one runs once (no restart), and every long-running service either has a health check or waits on
    services that do: a schema check of what ``docker compose config`` cannot tell."""
    for name, service in SERVICES.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in SERVICES, f"{name} depends on a missing {target}"
            if rule["condition"] == "service_healthy":
                check = SERVICES[target].get("healthcheck")
                assert check and check["test"] and check.get("interval"), f"{target} has no health check"
            elif rule["condition"] == "service_completed_successfully":
                assert SERVICES[target].get("restart") == "no", f"{target} must run once"
            else:
                pytest.fail(f"{name}: unexpected condition {rule['condition']}")
    for name in ("web", "db", "redis"):
        assert SERVICES[name]["healthcheck"]["test"][0] == "CMD", name
    for name, service in APP.items():
        if name != "migrate":
            assert service.get("restart") == "unless-stopped", name


def test_every_required_variable_is_in_the_env_example():
    text = (ROOT / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line}
    assert required and required <= example, required - example


def _compose_cli() -> list[str] | None:
    import shutil
    import subprocess

    for cli in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cli[0]) and subprocess.run([*cli, "version"], capture_output=True).returncode == 0:
            return cli
    return None


def test_docker_compose_config_accepts_the_file_when_compose_is_installed():
    """``docker compose config`` where the compose plugin exists (not on the development machine: there
    the schema checks above stand in for it); it also refuses to run without the required variables."""
    import os
    import subprocess

    cli = _compose_cli()
    if cli is None:
        pytest.skip("docker compose is not installed here")
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "k" * 60,
        "DJANGO_ALLOWED_HOSTS": "parley.example.org",
        "PARLEY_OWNER_DB_PASSWORD": "owner",
        "PARLEY_APP_DB_PASSWORD": "app",
    }
    ok = subprocess.run([*cli, "-f", str(ROOT / "compose.yaml"), "config", "-q"], env=env, capture_output=True)
    assert ok.returncode == 0, ok.stderr.decode()
    del env["PARLEY_APP_DB_PASSWORD"]
    refused = subprocess.run([*cli, "-f", str(ROOT / "compose.yaml"), "config", "-q"], env=env, capture_output=True)
    assert refused.returncode != 0 and b"PARLEY_APP_DB_PASSWORD" in refused.stderr
