"""End to end in a real browser: the DPO takes a request from submitted to completed in the admin
while the requester follows each step in the account center (issue "Done when")."""

import pytest

from .browser import BROWSER_TEST, shot
from .factories import PASSWORD, DataSubjectRequestFactory, UserFactory
from .second_factor_helpers import authenticator, pass_second_factor

pytestmark = BROWSER_TEST


def do_action(dpo_page, base, req, label, fill=None):
    dpo_page.goto(f"{base}/admin/requests/datasubjectrequest/{req.pk}/change/")
    dpo_page.get_by_role("link", name=label, exact=True).click()
    for field, value in (fill or {}).items():
        dpo_page.fill(f"[name={field}]", value)
    if dpo_page.locator("[name=confirm]").count():
        dpo_page.check("[name=confirm]")
    dpo_page.locator("input[type=submit].default").click()
    dpo_page.wait_for_selector(".messagelist .success")


@pytest.mark.django_db(transaction=True)
def test_dpo_takes_request_to_completed_while_requester_follows(live_server, browser):
    requester = UserFactory(email="requester@example.com")
    dpo = UserFactory(email="officer@example.com", is_staff=True, is_superuser=True)
    dpo.save()
    authenticator(dpo)  # set up earlier; the enrolment itself: test_browser_second_factor.py
    req = DataSubjectRequestFactory(requester=requester, subject="What data do you hold about me?")
    base = live_server.url

    user_page = browser.new_context(locale="en-GB").new_page()
    user_page.goto(f"{base}/account/login/password/")
    user_page.fill("[name=username]", requester.email)
    user_page.fill("[name=password]", PASSWORD)
    user_page.get_by_role("button", name="Sign in").click()
    user_page.wait_for_url(f"{base}/account/")
    user_page.goto(f"{base}/account/requests/{req.reference}/")
    assert user_page.locator(".summary .state").inner_text() == "Submitted"

    dpo_page = browser.new_context(locale="en-GB").new_page()
    dpo_page.goto(f"{base}/admin/login/")
    dpo_page.fill("[name=username]", dpo.email)
    dpo_page.fill("[name=password]", PASSWORD)
    dpo_page.locator("input[type=submit]").click()
    pass_second_factor(dpo_page, dpo)
    dpo_page.wait_for_selector(".cockpit")
    shot(dpo_page, "admin-cockpit")
    dpo_page.goto(f"{base}/admin/requests/datasubjectrequest/?status=open")
    assert req.reference in dpo_page.content()
    shot(dpo_page, "admin-queue")

    do_action(dpo_page, base, req, "Start work")
    user_page.reload()
    assert user_page.locator(".summary .state").inner_text() == "In progress"
    assert "Work started" in user_page.locator(".timeline").inner_text()

    do_action(dpo_page, base, req, "Ask the requester", {"question": "Which account do you mean?"})
    user_page.reload()
    assert user_page.locator(".summary .state").inner_text() == "Waiting for your reply"
    assert "Which account do you mean?" in user_page.content()
    user_page.fill("[name=body]", "My personal account, not the team one.")
    user_page.get_by_role("button", name="Send").click()
    user_page.wait_for_selector(".msg-success")
    assert user_page.locator(".summary .state").inner_text() == "In progress"
    shot(user_page, "account-request-detail")

    dpo_page.goto(f"{base}/admin/requests/datasubjectrequest/{req.pk}/change/")
    assert "My personal account, not the team one." in dpo_page.content()
    shot(dpo_page, "admin-request")
    do_action(
        dpo_page,
        base,
        req,
        "Complete",
        {"resolution": "Attached is a summary of everything we hold about you."},
    )

    user_page.reload()
    assert user_page.locator(".summary .state").inner_text() == "Completed"
    assert "Attached is a summary of everything we hold about you." in user_page.content()
    req.refresh_from_db()
    assert req.state == "completed"
    assert req.answered_on_time is True
