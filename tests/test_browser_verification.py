"""End to end in a real browser, on the demo data: the DPO reviews alice's approved individual
verification and gives the first approval of bob's enterprise; a second reviewer gives the
final one; bob sees it approved in the account center (issue 3, "Done when")."""

import pytest
from django.core.management import call_command

from accounts.backends import find_user
from verification.models import Verification

from .browser import BROWSER_TEST, shot
from .second_factor_helpers import pass_second_factor

PASSWORD = "browser-demo-pass-1"

pytestmark = BROWSER_TEST


def sign_in_admin(browser, base, email):
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{base}/admin/login/")
    page.fill("[name=username]", email)
    page.fill("[name=password]", PASSWORD)
    page.locator("input[type=submit]").click()
    pass_second_factor(page, find_user(email))  # the demo authenticator seed_demo made
    page.wait_for_selector(".cockpit")
    return page


def approve(page, base, verification):
    page.goto(f"{base}/admin/verification/verification/{verification.pk}/change/")
    page.get_by_role("link", name="Approve", exact=True).click()
    page.wait_for_url("**/approve/**")
    if page.locator("[name=confirm]").count():
        page.check("[name=confirm]")
    page.locator("input[type=submit].default").click()
    page.wait_for_selector(".messagelist")


@pytest.mark.django_db(transaction=True)
def test_dpo_and_a_second_reviewer_approve_the_demo_enterprise(live_server, browser):
    call_command("seed_demo", "--password", PASSWORD)
    base = live_server.url
    alice_v = Verification.objects.get(user__email="alice@example.com")
    bob_v = Verification.objects.get(user__email="bob@example.com")
    assert (alice_v.status, bob_v.status) == ("approved", "submitted")

    dpo = sign_in_admin(browser, base, "dpo@example.com")
    dpo.goto(f"{base}/admin/verification/verification/?status=all")
    assert dpo.locator("#result_list tbody tr").count() == 2
    shot(dpo, "admin-verification-queue")

    dpo.goto(f"{base}/admin/verification/verification/{alice_v.pk}/change/")
    images = dpo.locator("img")
    assert images.count() >= 2  # front and back of the sample ID card, inline
    assert dpo.evaluate("img => img.naturalWidth", images.first.element_handle()) > 0
    shot(dpo, "admin-verification-review")

    approve(dpo, base, bob_v)
    bob_v.refresh_from_db()
    assert bob_v.status == "submitted"
    assert bob_v.first_approved_by.email == "dpo@example.com"

    reviewer = sign_in_admin(browser, base, "agent@example.com")
    approve(reviewer, base, bob_v)
    bob_v.refresh_from_db()
    assert bob_v.status == "approved"
    assert bob_v.decided_by.email == "agent@example.com"

    bob = browser.new_context(locale="en-GB").new_page()
    bob.goto(f"{base}/account/login/password/")
    bob.fill("[name=username]", "bob@example.com")
    bob.fill("[name=password]", PASSWORD)
    bob.get_by_role("button", name="Sign in").click()
    bob.wait_for_url(f"{base}/account/")
    bob.goto(f"{base}/account/verification/")
    assert "Approved" in bob.content()
    assert "91110108MA01B2C344" not in bob.content()  # masked for the owner too
    shot(bob, "account-verification")
