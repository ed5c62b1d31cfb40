"""The cookie banner in a real browser (CON-4): rejecting works with JavaScript switched off,
and analytics loads only after "Accept all"."""

import pytest
from django.http import HttpRequest

from consent import cookies, ledger
from consent.models import ConsentEvent

from .browser import BROWSER_TEST

pytestmark = BROWSER_TEST


def visitor_of(context) -> str:
    request = HttpRequest()
    request.COOKIES = {c["name"]: c["value"] for c in context.cookies()}
    return request.get_signed_cookie(cookies.VISITOR_COOKIE, salt=cookies.VISITOR_SALT)


@pytest.mark.django_db(transaction=True)
def test_reject_all_works_without_javascript(live_server, browser):
    context = browser.new_context(locale="en-GB", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/account/login/")
    banner = page.locator("#pp-cookie-banner")
    assert banner.is_visible()

    with page.expect_navigation(url=f"{live_server.url}/account/login/"):
        page.get_by_role("button", name="Reject all").click()

    assert page.locator("#pp-cookie-banner").count() == 0
    assert page.locator("script[src*='analytics.js']").count() == 0
    visitor = visitor_of(context)
    actions = set(
        ConsentEvent.objects.filter(visitor=visitor).values_list("purpose__code", "action")
    )
    assert actions == {("cookies-functional", "refuse"), ("cookies-analytics", "refuse")}
    assert not ledger.granted_codes(visitor=visitor)
    context.close()


@pytest.mark.django_db(transaction=True)
def test_accept_all_loads_the_analytics_script(live_server, browser):
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(f"{live_server.url}/account/login/")
    assert page.evaluate("window.__ppAnalyticsLoaded === undefined")

    with page.expect_navigation(url=f"{live_server.url}/account/login/"):
        page.get_by_role("button", name="Accept all").click()
    page.wait_for_function("window.__ppAnalyticsLoaded === true")

    assert page.locator("#pp-cookie-banner").count() == 0
    assert ledger.granted_codes(visitor=visitor_of(context)) == {
        "cookies-functional",
        "cookies-analytics",
    }
    context.close()


@pytest.mark.django_db(transaction=True)
def test_settings_opens_as_a_dialog_with_javascript(live_server, browser):
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(f"{live_server.url}/account/login/")
    page.get_by_role("link", name="Settings").click()
    dialog = page.locator("#pp-cookie-dialog")
    assert dialog.is_visible()
    assert page.url == f"{live_server.url}/account/login/"  # no navigation: a dialog

    dialog.get_by_label("Functional cookies").check()
    with page.expect_navigation(url=f"{live_server.url}/account/login/"):
        dialog.get_by_role("button", name="Save my choices").click()

    assert ledger.granted_codes(visitor=visitor_of(context)) == {"cookies-functional"}
    assert not page.evaluate("window.__ppAnalyticsLoaded === true")
    context.close()
