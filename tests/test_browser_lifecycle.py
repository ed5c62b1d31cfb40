"""End to end in a real browser, on the demo data (issue 7, "Done when"): alice downloads her
data; bob deletes his account, the DPO carries the deletion out, and anyone checks bob's
certificate with its code. The pages fit a 375 px wide phone."""

import json
import zipfile

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.backends import find_user
from lifecycle import exports
from lifecycle.models import AccountDeletion, DataExport

from .browser import BROWSER_TEST, shot
from .second_factor_helpers import pass_second_factor

PASSWORD = "browser-demo-pass-1"

pytestmark = BROWSER_TEST


def sign_in(browser, base, email, **context):
    page = browser.new_context(locale="en-GB", accept_downloads=True, **context).new_page()
    page.goto(f"{base}/account/login/password/")
    page.fill("[name=username]", email)
    page.fill("[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/account/")
    return page


OVERFLOWING = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))"""


def fits(page):
    """No horizontal scrolling: nothing sticks out on the right (the offenders are named)."""
    wide = page.evaluate(OVERFLOWING)
    assert not wide, wide
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.django_db(transaction=True)
def test_alice_downloads_her_data_and_bob_deletes_his_account(live_server, browser, tmp_path):
    call_command("seed_demo", "--password", PASSWORD)
    base = live_server.url

    # alice asks for her data; a worker builds it; she downloads it.
    alice = sign_in(browser, base, "alice@example.com", viewport={"width": 375, "height": 800})
    alice.get_by_role("link", name="Your data", exact=True).first.click()
    alice.get_by_role("button", name="Prepare a download of my data").click()
    expect(alice.locator("body")).to_contain_text("We are preparing your data")
    export = DataExport.objects.get(user__email="alice@example.com")
    assert exports.build(export.pk) is not None  # what the worker does
    alice.reload()
    assert fits(alice)
    shot(alice, "account-data")
    with alice.expect_download() as download:
        alice.get_by_role("link", name="Download").click()
    path = tmp_path / "alice.zip"
    download.value.save_as(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        data = json.loads(archive.read("data.json"))
    assert "index.html" in names
    assert any(name.startswith("files/verification_documents/") for name in names)
    users = data["categories"]["profile"]["records"]["accounts.User"]
    assert users[0]["email"] == "alice@example.com"
    assert "bob@example.com" not in json.dumps(data)

    # bob deletes his account, confirming with his password.
    bob = sign_in(browser, base, "bob@example.com", viewport={"width": 375, "height": 800})
    bob.goto(f"{base}/account/data/")
    bob.get_by_role("link", name="Delete my account").click()
    bob.wait_for_selector("[name=password]")
    assert fits(bob)
    bob.fill("[name=password]", PASSWORD)
    bob.check("[name=confirm]")
    bob.get_by_role("button", name="Delete my account").click()
    code = bob.locator(".codebox").inner_text().strip()
    scheduled = AccountDeletion.objects.get(code=code)
    assert scheduled.status == "scheduled"
    shot(bob, "account-deletion-scheduled")

    # The DPO, having checked it is bob who asked, carries it out without waiting.
    dpo = browser.new_context(locale="en-GB").new_page()
    dpo.goto(f"{base}/admin/login/")
    dpo.fill("[name=username]", "dpo@example.com")
    dpo.fill("[name=password]", PASSWORD)
    dpo.locator("input[type=submit]").click()
    pass_second_factor(dpo, find_user("dpo@example.com"))
    dpo.goto(f"{base}/admin/lifecycle/accountdeletion/{scheduled.pk}/change/")
    dpo.get_by_role("link", name="Carry out now").click()
    dpo.check("[name=confirm]")
    dpo.locator("input[type=submit].default").click()
    dpo.wait_for_selector(".messagelist")
    scheduled.refresh_from_db()
    assert scheduled.status == "done"

    # Anyone with the code checks the certificate: dates and categories, a valid signature.
    visitor = browser.new_context(locale="en-GB", viewport={"width": 375, "height": 800})
    page = visitor.new_page()
    page.goto(f"{base}/privacy/certificate/")
    page.fill("[name=code]", code.lower().replace("-", " "))
    page.get_by_role("button", name="Check").click()
    expect(page.locator("body")).to_contain_text("Account deleted")
    text = page.content()
    assert "Account deleted" in text
    assert "signature is valid" in text
    assert "bob@example.com" not in text and "13900000002" not in text
    assert fits(page)
    shot(page, "certificate")

    # bob's phone no longer signs in.
    again = browser.new_context(locale="en-GB").new_page()
    again.goto(f"{base}/account/login/password/")
    again.fill("[name=username]", "bob@example.com")
    again.fill("[name=password]", PASSWORD)
    again.get_by_role("button", name="Sign in").click()
    # Wait for the answer page: read too early, content() sees the page being replaced.
    expect(again.locator("body")).to_contain_text("not correct")
