"""Every page of the account center, the public privacy pages and the sign-in and sign-up forms
at 375 px (a phone) and 1280 px (a desktop), in English and Chinese, on the demo data: nothing
is wider than the window (tables become stacked rows on a phone), and the submit buttons of the
sign-up and sign-in forms can be reached and clicked while the cookie banner is shown.

One browser, one seeding of the demo data; SCREENSHOT_DIR=docs/screenshots refreshes the
screenshots of docs/screenshots/README.md."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from consent import policies
from consent.models import PolicyDocument, PolicyVersion
from requests.models import DataSubjectRequest

from .browser import BROWSER_TEST, shot
from .test_browser_csp import session_cookie

pytestmark = BROWSER_TEST

PASSWORD = "browser-demo-pass-1"
VIEWPORTS = {"375": {"width": 375, "height": 667}, "1280": {"width": 1280, "height": 800}}
LANGUAGES = {"en": "en-GB", "zh": "zh-CN"}

# The elements that stick out of the window, to say what went wrong.
OVERFLOW = """() => {
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth <= width) return null;
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && box.width > 0) {
      wide.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, wide: wide.slice(0, 8)};
}"""

# Scrolled into the middle of the window, the button is what the browser finds at its centre:
# not under the cookie banner or anything else.
REACHABLE = """(button) => {
  button.scrollIntoView({block: "center"});
  const box = button.getBoundingClientRect();
  const inside = box.top >= 0 && box.bottom <= window.innerHeight
    && box.left >= 0 && box.right <= window.innerWidth;
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return {inside, onTop: hit === button || button.contains(hit),
          hit: hit ? `${hit.tagName.toLowerCase()}.${hit.className}` : null};
}"""


@pytest.fixture
def demo(db):
    call_command("seed_demo", "--password", PASSWORD)
    # A second, minor version of the privacy policy (in force next month), for the diff page.
    document = PolicyDocument.objects.get(slug="privacy-policy")
    first = document.versions.order_by("number").first()
    extra_en = "5. A very long word to wrap: " + "personaldataprotection" * 4
    extra_zh = "5. 很长的词：" + "个人信息保护" * 12
    version = PolicyVersion.objects.create(
        document=document,
        number=first.number + 1,
        body_en=first.body_en.replace("dpo@example.com", "privacy-office@example.com")
        + "\n"
        + extra_en,
        body_zh=first.body_zh.replace("dpo@example.com", "privacy-office@example.com")
        + "\n"
        + extra_zh,
        summary_en="New contact address.",
        summary_zh="新的联系地址。",
        effective_at=timezone.now() + timedelta(days=30),
    )
    policies.publish(version, User.objects.get(email="dpo@example.com"))


def account_pages(user):
    pages = [
        "/account/",
        "/account/requests/",
        "/account/requests/new/",
        "/account/consents/",
        "/account/data/",
        "/account/messages/",
        "/account/profile/",
        "/account/verification/",
        "/account/guardian/",
    ]
    requests = DataSubjectRequest.objects.filter(requester=user).order_by("-received_at")
    pages += [
        f"/account/requests/{ref}/" for ref in requests.values_list("reference", flat=True)[:2]
    ]
    return pages


def privacy_pages():
    pages = ["/privacy/", "/privacy/recipients/", "/privacy/cookies/"]
    for document in PolicyDocument.objects.order_by("slug"):
        numbers = sorted(
            document.versions.filter(published_at__isnull=False).values_list("number", flat=True)
        )
        pages += [f"/privacy/{document.slug}/", f"/privacy/{document.slug}/versions/"]
        if len(numbers) > 1:
            pages.append(f"/privacy/{document.slug}/diff/?from={numbers[-2]}&to={numbers[-1]}")
    return pages


def check_width(page, base, path, problems, name=None):
    """Loads ``path`` once and measures it at every width (a resize lays the page out again)."""
    response = page.goto(base + path)
    assert response is not None and response.status < 500, (path, response and response.status)
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        wide = page.evaluate(OVERFLOW)
        if wide:
            problems.append(f"{size} px {path}: {wide}")
        if name:
            shot(page, f"{name}-{size}")
    page.set_viewport_size(VIEWPORTS["375"])


def check_submit_reachable(page, base, path, button, problems):
    page.goto(base + path)
    assert page.locator("#pp-cookie-banner").is_visible(), path  # the banner is shown
    button = page.locator(button).first
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        state = button.evaluate(REACHABLE)
        if not (state["inside"] and state["onTop"]):
            problems.append(f"{size} px {path}: submit button {state}")
        # A real click would land on it (Playwright checks that nothing else takes it).
        button.click(trial=True, timeout=2000)
    page.set_viewport_size(VIEWPORTS["375"])


@pytest.mark.django_db(transaction=True)
def test_pages_fit_phones_and_desktops_in_both_languages(live_server, browser, demo):
    base = live_server.url
    alice = User.objects.get(email="alice@example.com")
    signed_in = [*account_pages(alice), *privacy_pages()]
    signed_out = [
        *privacy_pages(),
        "/account/login/",
        "/account/login/password/",
        "/account/signup/",
        "/no-such-page/",
    ]
    problems = []
    for lang, locale in LANGUAGES.items():
        language = "en" if lang == "en" else "zh-hans"
        User.objects.filter(pk=alice.pk).update(preferred_language=language)
        # Signed out, with the cookie banner (no choice made yet).
        context = browser.new_context(locale=locale, viewport=VIEWPORTS["375"])
        page = context.new_page()
        page.set_default_timeout(10_000)
        for path in signed_out:
            check_width(page, base, path, problems)
        check_submit_reachable(page, base, "/account/signup/", "main button[name=create]", problems)
        if os.environ.get("SCREENSHOT_DIR"):  # the window as a phone shows it: banner and button
            page.locator("main button[name=create]").evaluate(REACHABLE)
            folder = Path(os.environ["SCREENSHOT_DIR"])
            page.screenshot(path=str(folder / f"signup-banner-{lang}-375.png"))
        check_submit_reachable(page, base, "/account/login/", "main button[name=login]", problems)
        password_form = "main form button[type=submit]"
        check_submit_reachable(page, base, "/account/login/password/", password_form, problems)
        context.close()

        # Signed in as alice (the banner shows for her too until she chooses).
        context = browser.new_context(locale=locale, viewport=VIEWPORTS["375"])
        context.add_cookies([session_cookie(alice, base)])
        page = context.new_page()
        page.set_default_timeout(10_000)
        for path in signed_in:
            name = "privacy-diff" if "/diff/" in path else SCREENSHOTS.get(path)
            check_width(page, base, path, problems, name and f"{name}-{lang}")
        context.close()
    assert not problems, "\n".join(problems)


# Pages whose screenshots docs/screenshots/ keeps (375 and 1280 px, en and zh).
SCREENSHOTS = {
    "/account/requests/": "account-requests",
    "/account/consents/": "account-consents",
    "/privacy/recipients/": "privacy-recipients",
}
