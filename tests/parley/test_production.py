"""Production settings: refuse to start without their environment, ``check --deploy`` clean, entry points
that default to them, and a Content-Security-Policy the pages satisfy."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOWED_HOSTS")


def production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED and not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="parley.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DATABASE_URL="postgres://parley@127.0.0.1:5432/parley",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        DJANGO_ALLOWED_HOSTS="parley.example.org",
        PYTHONPATH=str(ROOT),
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_check_deploy_is_clean_under_production_with_debug_asked_for():
    # DJANGO_DEBUG=1 in the environment: production forces it off (else W018 would fire).
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(DJANGO_DEBUG="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("name", REQUIRED)
def test_production_refuses_to_start_without_each_variable(name):
    env = production_env()
    del env[name]
    result = run(["-c", "import django; django.setup()"], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"refuse to start without {name}" in result.stderr


def test_production_refuses_a_short_secret_key_and_a_wildcard_host():
    short = run(["-c", "import django; django.setup()"], production_env(DJANGO_SECRET_KEY="insecure-local-only"))
    assert short.returncode != 0 and "DJANGO_SECRET_KEY is too short" in short.stderr
    star = run(["-c", "import django; django.setup()"], production_env(DJANGO_ALLOWED_HOSTS="*"))
    assert star.returncode != 0 and "not '*'" in star.stderr


@pytest.mark.parametrize("module", ["parley.wsgi", "parley.asgi", "parley.celery"])
def test_entry_points_default_to_production(module):
    """With no settings module named, the servers and the Celery app start under production: with an
    empty environment they refuse rather than run with a public secret key and DEBUG on."""
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED and not k.startswith("DJANGO_")}
    env["PYTHONPATH"] = str(ROOT)
    result = run(["-c", f"import {module}; import django; django.setup()"], env)
    assert result.returncode != 0
    assert "production settings refuse to start" in result.stderr


def test_manage_py_and_make_run_name_local_explicitly():
    assert '"parley.settings.local"' in (ROOT / "manage.py").read_text()
    assert "DJANGO_SETTINGS_MODULE" in (ROOT / "scripts" / "run.sh").read_text()


def test_production_settings_values():
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, "
        "s.SECURE_PROXY_SSL_HEADER, s.STORAGES['staticfiles']['BACKEND'], s.ALLOWED_HOSTS)"
    )
    result = run(["-c", script], production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        "False True True True ('HTTP_X_FORWARDED_PROTO', 'https') "
        "whitenoise.storage.CompressedManifestStaticFilesStorage ['parley.example.org']"
    )


def test_production_keeps_the_input_checks_and_the_admin_fence():
    """What the hardening relies on is in force under production too: the API's checking parsers and body
    limit, the page-form NUL check, and the admin site that only admins reach (docs/operations.md)."""
    script = (
        "import django; django.setup(); from django.conf import settings as s; from django.contrib import admin; "
        "print(s.REST_FRAMEWORK['DEFAULT_PARSER_CLASSES']); print(s.PARLEY_API_MAX_BODY_BYTES); "
        "print('kernel.form_input.PostedNulMiddleware' in s.MIDDLEWARE); print(admin.site.__class__.__name__)"
    )
    result = run(["-c", script], production_env(PARLEY_API_MAX_BODY_BYTES="1000"))
    assert result.returncode == 0, result.stderr
    parsers, limit, nul, site = result.stdout.split("\n")[:4]
    assert parsers == str(
        [
            "kernel.api_input.CleanJSONParser",
            "kernel.api_input.CleanFormParser",
            "kernel.api_input.CleanMultiPartParser",
        ]
    )
    assert (limit, nul, site) == ("1000", "True", "ParleyAdminSite")


# -- Content-Security-Policy ------------------------------------------------------------------------
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=|\son[a-z]+\s*=\s*[\"']|hx-on", re.IGNORECASE)


def test_no_template_has_inline_script_or_style():
    offenders = []
    for template in ROOT.glob("*/templates/**/*.html"):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), 1):
            if INLINE_SCRIPT.search(line) or INLINE_STYLE.search(line):
                offenders.append(f"{template.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert offenders == []


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/login/", "/api/docs/", "/annotation/"])
def test_pages_carry_a_csp_that_forbids_inline_code(client, role_users, url):
    client.force_login(role_users["ml_engineer"])
    response = client.get(url, follow=True)
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    page = response.content.decode()
    assert not INLINE_SCRIPT.search(page.replace('type="application/json"', 'src=""'))
    assert not INLINE_STYLE.search(page)


@pytest.mark.django_db
def test_the_csp_sent_is_the_settings_policy():
    """``settings.PARLEY_CSP`` is the one place the policy is written: the middleware sends it as it is."""
    from django.test import Client, override_settings

    with override_settings(PARLEY_CSP={"default-src": ("'self'",), "img-src": ("'self'", "data:")}):
        response = Client().get("/accounts/login/")
    assert response["Content-Security-Policy"] == "default-src 'self'; img-src 'self' data:"


@pytest.mark.django_db
def test_api_docs_script_is_served_from_its_own_url(client, role_users):
    client.force_login(role_users["ml_engineer"])
    page = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="(/api/docs/\?[^"]+)"', page)
    assert script, page
    response = client.get(script.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/javascript")
