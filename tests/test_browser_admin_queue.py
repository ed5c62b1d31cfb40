"""The DPO's queue at 1280 px (and 375 px) in English and Chinese (issue 13): reference, kind,
subject, requester, deadline and receipt all inside the window, the kind readable (not one or
two characters wide), and on a phone no sideways scrolling of the page."""

import pytest

from requests.models import RequestKind

from .browser import BROWSER_TEST, shot
from .factories import PASSWORD, DataSubjectRequestFactory, DpoFactory, UserFactory
from .second_factor_helpers import authenticator, pass_second_factor

pytestmark = BROWSER_TEST

COLUMNS = ["reference", "kind", "subject", "requester_contact", "deadline", "received_at"]


@pytest.mark.django_db(transaction=True)
def test_the_queue_is_readable_at_1280_px_in_both_languages(live_server, browser):
    requester = UserFactory(username="alice")
    for kind in (RequestKind.MINOR_DELETION, RequestKind.WITHDRAW_CONSENT, RequestKind.ACCESS):
        DataSubjectRequestFactory(
            requester=requester,
            kind=kind,
            subject="Please delete every photo of my daughter from the class album",
        )
    for language in ("en", "zh-hans"):
        dpo = DpoFactory(preferred_language=language, is_superuser=True)
        authenticator(dpo)  # enrolled already: the sign-in asks for a code
        context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("[name=username]", dpo.email)
        page.fill("[name=password]", PASSWORD)
        page.locator("input[type=submit]").click()
        pass_second_factor(page, dpo)
        page.wait_for_selector(".cockpit")
        page.goto(f"{live_server.url}/admin/requests/datasubjectrequest/")
        page.set_default_timeout(5000)
        assert page.locator("#result_list").count() == 1, (page.url, page.inner_text("body")[:500])
        shot(page, f"admin-queue-1280-{language}")
        width = page.evaluate("window.innerWidth")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        for column in COLUMNS:
            box = page.locator(f"#result_list th.column-{column}").bounding_box()
            assert box is not None, column
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (language, column, box)
        kind = page.locator("#result_list td.field-kind").first.bounding_box()
        assert kind["width"] >= 80, (language, kind)  # a label, not a column of single characters
        # On a phone the page itself never scrolls sideways (the table scrolls in its box).
        page.set_viewport_size({"width": 375, "height": 800})
        page.reload()
        shot(page, f"admin-queue-375-{language}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        context.close()
