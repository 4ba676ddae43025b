"""The platform must run on a closed network: no page loads a script, style or font from another host."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


def test_no_template_loads_assets_from_another_host():
    offenders = []
    for template in ROOT.glob("*/templates/**/*.html"):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), 1):
            if EXTERNAL.search(line):
                offenders.append(f"{template.relative_to(ROOT)}:{number}")
    assert offenders == []


@pytest.mark.django_db
def test_api_docs_are_served_by_the_app(client, role_users):
    client.force_login(role_users["ml_engineer"])
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert not EXTERNAL.search(page), "the API docs page loads assets from another host"
