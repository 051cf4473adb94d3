"""The copy button beside a new MT5 password copies it, under the site's CSP (no inline
script: static/js/copy.js)."""

import pytest
from django.template.loader import render_to_string

from tests.clients.factories import make_account, make_server
from tests.conftest import ARTIFACTS, make_client_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_new_password_is_copied_with_one_click(live_server, browser):
    user = make_client_user()
    server = make_server(web_terminal_url="https://trade.example.com/terminal")
    account = make_account(user.client, server=server)
    context = browser.new_context(viewport={"width": 390, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/accounts/login/")  # the origin, for the clipboard
    body = render_to_string(
        "clients/portal/account_opened.html",
        {"account": account, "password": "Qx7#m2Lp9v", "reset": True, "user": user},
    )
    page.set_content(body.replace('src="/static/', f'src="{live_server.url}/static/'))
    page.wait_for_function("typeof window.bootstrap !== 'undefined'")
    assert page.locator("[data-web-terminal]").get_attribute("href").startswith("https://trade.")
    page.click("[data-copy='#new-password']")
    page.wait_for_selector("[data-copy-label]:text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == "Qx7#m2Lp9v"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "portal-new-password-390.png"), full_page=True)
    assert errors == []
    context.close()
