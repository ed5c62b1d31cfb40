"""End to end in a real browser on a 375 px wide phone: a new staff member signs in to the admin
with the password, sets up an authenticator app from the secret on the page, notes the backup
codes and reaches the cockpit; the next sign-in asks for a code."""

import base64
import time

import pytest
from django_otp.oath import TOTP

from .browser import BROWSER_TEST, shot
from .factories import PASSWORD, StaffFactory
from .second_factor_helpers import pass_second_factor

pytestmark = BROWSER_TEST

PHONE = {"locale": "en-GB", "viewport": {"width": 375, "height": 800}}


def fits(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def code_from_secret(secret_text, at=None):
    """What an authenticator app shows for the secret typed in by hand."""
    secret = secret_text.replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    totp = TOTP(key)
    totp.time = at or time.time()
    return f"{totp.token():06d}"


def sign_in_with_password(page, base, email):
    page.goto(f"{base}/admin/login/")
    page.fill("[name=username]", email)
    page.fill("[name=password]", PASSWORD)
    page.locator("input[type=submit]").click()


@pytest.mark.django_db(transaction=True)
def test_new_staff_member_enrols_on_a_phone_and_signs_in_again_with_a_code(live_server, browser):
    staff = StaffFactory(is_superuser=True)
    base = live_server.url
    page = browser.new_context(**PHONE).new_page()

    sign_in_with_password(page, base, staff.email)
    page.wait_for_url("**/admin/second-factor/enrol/**")
    assert page.locator(".sf-qr svg").is_visible()
    box = page.locator(".sf-qr svg").bounding_box()
    assert 150 <= box["width"] <= 375
    secret = page.locator("#second-factor-secret").inner_text()
    assert fits(page)
    shot(page, "admin-second-factor-enrol")

    # A wrong code first: refused, still on the set-up page.
    right = code_from_secret(secret)
    page.fill("[name=code]", f"{(int(right) + 1) % 1_000_000:06d}")
    page.locator("#second-factor-form input[type=submit]").click()
    assert "The code is not correct" in page.locator(".errorlist").inner_text()

    time.sleep(1.1)  # django-otp's back-off after a wrong code
    page.fill("[name=code]", code_from_secret(secret))
    page.locator("#second-factor-form input[type=submit]").click()
    page.wait_for_selector("#backup-codes code")
    codes = page.locator("#backup-codes code").all_inner_texts()
    assert len(codes) == 10
    assert "shown only this once" in page.content()
    assert fits(page)
    shot(page, "admin-second-factor-backup-codes")
    page.get_by_role("link", name="I have stored them: continue").click()
    page.wait_for_selector(".cockpit")

    # Another device, another day: the password, then a code.
    other = browser.new_context(**PHONE).new_page()
    sign_in_with_password(other, base, staff.email)
    other.wait_for_url("**/admin/second-factor/?next=**")
    assert fits(other)
    shot(other, "admin-second-factor-code")
    pass_second_factor(other, staff)
    other.wait_for_selector(".cockpit")
