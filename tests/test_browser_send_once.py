"""In a browser: a double click on a form's submit button sends it once (static/js/send-once.js),
and the server's one-time token holds when the script is not there (issue 11)."""

import pytest
from django.urls import reverse

from requests.models import DataSubjectRequest

from .browser import BROWSER_TEST, browser  # noqa: F401 - the fixture
from .factories import UserFactory
from .test_browser_csp import session_cookie

pytestmark = [*BROWSER_TEST, pytest.mark.django_db(transaction=True)]


def fill_new_request(page):
    page.select_option("[name=kind]", "access")
    page.fill("[name=subject]", "About my data")
    page.fill("[name=description]", "Please send me a copy.")


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_a_form_sent_twice_files_one_request(live_server, browser, javascript):  # noqa: F811
    user = UserFactory()
    context = browser.new_context(locale="en-GB", java_script_enabled=javascript)
    context.add_cookies([session_cookie(user, live_server.url)])
    page = context.new_page()
    posts = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    page.goto(live_server.url + reverse("requests:new"))
    fill_new_request(page)
    button = page.locator("main form [type=submit]").last
    with page.expect_navigation():
        button.click(no_wait_after=True)
        button.click(no_wait_after=True, force=True)  # the impatient second click
    page.wait_for_load_state()
    if javascript:
        assert len(posts) == 1  # the script held the second one back
    assert DataSubjectRequest.objects.filter(requester=user).count() == 1
    assert "/account/requests/DSR-" in page.url
    context.close()


def test_the_messages_page_fits_a_375_px_phone(live_server, browser):  # noqa: F811
    from notifications import services

    user = UserFactory(email=None)
    link = "http://127.0.0.1:8000/account/requests/DSR-2026-7K3M-9QX4-C/?with=a-long-query-string"
    services.enqueue([services.Draft("long:1", user.pk, "", "Answered", f"Follow it here: {link}")])
    context = browser.new_context(locale="en-GB", viewport={"width": 375, "height": 800})
    context.add_cookies([session_cookie(user, live_server.url)])
    page = context.new_page()
    page.goto(live_server.url + reverse("notifications:messages"))
    assert page.locator(".messages-list > li").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()
