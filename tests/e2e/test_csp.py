"""The pages satisfy the Content-Security-Policy in a real browser: Chromium reports no violation on the
main pages (the API docs and the admin included), and progress bars still get their width."""

import pytest

from tests.annotation.factories import make_queue, make_world
from tests.fixtures.services import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/annotation/",
    "/jobs/",
    "/eval/",
    "/deploy/",
    "/deploy/deployments/",
    "/deploy/playground/",
    "/deploy/keys/",
    "/deploy/slots/",
    "/api/docs/",
    "/admin/",
    "/admin/kernel/auditevent/",
]
# the rewards overview seeds the default rule set that the row editor then opens
PAGES += ["/jobs/rewards/", "/jobs/rewards/rule-sets/default/rows/"]


def test_main_pages_raise_no_csp_violation(page, login, live_server):
    world = make_world()
    queue = make_queue(world, dialogues=1, target_overlap=1)
    user = make_user("root", "ml_engineer", "reviewer", "admin", is_staff=True, is_superuser=True)
    violations = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
    login(user)
    for path in [*PAGES, f"/annotation/queues/{queue.pk}/"]:
        response = page.goto(live_server.url + path)
        assert response.status < 400, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    assert violations == []
    # The detector works: an inline style the policy refuses is reported.
    page.evaluate("document.head.insertAdjacentHTML('beforeend', '<style>body{color:red}</style>')")
    page.wait_for_timeout(300)
    assert violations, "Chromium reported no violation for an inline style"
    page.goto(f"{live_server.url}/annotation/queues/{queue.pk}/")
    bar = page.locator(".progress > div[data-progress]").first
    assert bar.evaluate("el => el.style.width").endswith("%")
