"""The login page and the home dashboard in a real browser."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_and_home(page, login, live_server, role_users, screenshot):
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    screenshot("login")
    login(role_users["ml_engineer"])
    assert page.locator("h1").inner_text().startswith("Welcome")
    assert "ML engineer" in page.content()
    screenshot("home")


def test_wrong_password_is_refused(page, live_server, role_users):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", role_users["bd_expert"].username)
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert "didn't match" in page.content()
