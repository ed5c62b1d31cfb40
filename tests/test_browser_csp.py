"""The Content-Security-Policy in a real browser: the main pages signed out, the account center
as a user and the whole admin as staff (every list, add and change page, the confirmation
pages and the widgets that run script) load under the strict policy without a single
violation: no "Refused to ..." in the console, no `securitypolicyviolation` event, no uncaught
script error."""

from datetime import date

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import expect

from accounts.models import User
from consent.models import PolicyDocument
from requests.models import DataSubjectRequest

from .browser import BROWSER_TEST
from .factories import CalendarOverrideFactory, StaffFactory
from .second_factor_helpers import authenticator, mark_verified

PASSWORD = "browser-demo-pass-1"

pytestmark = BROWSER_TEST

# Chromium reports each blocked resource in the console; the securitypolicyviolation event also
# carries the directive and the source, and is what other browsers fire too.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => console.error(
  `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} ` +
  `in ${e.sourceFile || "the page"}:${e.lineNumber}`));
"""


class Watcher:
    """Collects CSP violations, script errors and complaints about the Permissions-Policy
    header of one page, wherever it navigates."""

    def __init__(self, page):
        self.page = page
        self.problems = []
        self.visited = []
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: {error}"))

    def _console(self, message):
        text = message.text
        # Chromium words it "Refused to load ..." or "... violates the following Content
        # Security Policy directive"; a Permissions-Policy feature it does not know is logged
        # on every page.
        if text.startswith(("CSP violation", "Error with Permissions-Policy")) or any(
            words in text for words in ("Refused to", "Content Security Policy")
        ):
            self.problems.append(f"{self.page.url}: {text}")

    def settle(self):
        # Violation events are queued as tasks: let them run before the next step.
        self.page.wait_for_load_state("load")
        self.page.evaluate("() => new Promise((done) => setTimeout(done, 20))")

    def visit(self, path, expect_status=200):
        response = self.page.goto(self.page.context.base + path)
        assert response is not None, path
        assert response.status == expect_status, (path, response.status)
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy, (path, policy)
        assert "unsafe-inline" not in policy, (path, policy)
        self.visited.append(path)
        self.settle()
        return response

    def assert_clean(self):
        assert self.visited
        assert not self.problems, "\n".join(self.problems)


def new_page(browser, base, user=None, second_factor=True):
    context = browser.new_context(locale="en-GB")
    context.base = base
    if user is not None:
        context.add_cookies([session_cookie(user, base, second_factor)])
    page = context.new_page()
    return page, Watcher(page)


def session_cookie(user, base, second_factor=True):
    """A signed-in session for ``user`` without the sign-in form (whose own rate limits are not
    under test here); staff have passed the second factor unless ``second_factor`` is false
    (and the test asked for ``raw_force_login``)."""
    client = Client()
    client.force_login(user)
    if user.is_staff and second_factor:
        mark_verified(client, user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": base,
    }


@pytest.fixture
def demo(db):
    call_command("seed_demo", "--password", PASSWORD)


def policy_pages():
    pages = ["/privacy/", "/privacy/recipients/", "/privacy/cookies/", "/privacy/certificate/"]
    for slug in PolicyDocument.objects.values_list("slug", flat=True):
        pages += [f"/privacy/{slug}/", f"/privacy/{slug}/versions/"]
    return pages


@pytest.mark.django_db(transaction=True)
def test_public_pages_signed_out_break_no_rule_of_the_policy(live_server, browser, demo):
    page, watch = new_page(browser, live_server.url)
    for path in [
        *policy_pages(),
        "/account/login/",
        "/account/login/password/",
        "/account/signup/",
        "/admin/login/",
    ]:
        watch.visit(path)
    watch.visit("/no-such-page/", expect_status=404)

    # The cookie banner's script opens its dialog.
    watch.visit("/account/login/")
    page.locator("[data-cookie-settings]").click()
    expect(page.locator("#pp-cookie-dialog")).to_be_visible()
    page.locator("[data-cookie-close]").click()
    # Its forms post to the site and come back (form-action 'self' holds across the redirect).
    with page.expect_navigation():
        page.get_by_role("button", name="Accept all").click()
    page.wait_for_function("window.__ppAnalyticsLoaded === true")
    watch.settle()
    watch.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_account_center_as_a_user_breaks_no_rule_of_the_policy(live_server, browser, demo):
    alice = User.objects.get(email="alice@example.com")
    page, watch = new_page(browser, live_server.url, alice)
    for path in [
        "/account/",
        "/account/profile/",
        "/account/requests/",
        "/account/requests/new/",
        "/account/consents/",
        "/account/data/",
        "/account/delete/",
        "/account/verification/",
        "/account/verification/individual/",
        "/account/verification/enterprise/",
        "/account/guardian/",
        *policy_pages(),
    ]:
        watch.visit(path)
    for reference in DataSubjectRequest.objects.filter(requester=alice).values_list(
        "reference", flat=True
    ):
        watch.visit(f"/account/requests/{reference}/")

    # Switching the language posts and redirects back: still within the policy.
    watch.visit("/account/")
    with page.expect_navigation():
        page.locator("form.lang button[value=zh-hans]").click()
    watch.settle()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    watch.assert_clean()


def admin_pages(dpo):
    """Every list, add and change page of the admin site, as the DPO sees it."""
    request = type("Request", (), {"user": dpo})()
    pages = [reverse("admin:index"), reverse("admin:personal_data_map")]
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        if not model_admin.has_view_or_change_permission(request):
            continue
        pages.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(request):
            pages.append(reverse(f"{name}_add"))
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is not None:
            try:
                pages.append(reverse(f"{name}_change", args=[first.pk]))
            except NoReverseMatch:  # a model whose key cannot be part of a URL
                continue
    return pages


@pytest.mark.django_db(transaction=True)
def test_admin_as_staff_breaks_no_rule_of_the_policy(live_server, browser, demo):
    from django_celery_beat.models import CrontabSchedule

    CrontabSchedule.objects.create(minute="30", hour="2")
    dpo = User.objects.get(email="dpo@example.com")
    alice = User.objects.get(email="alice@example.com")
    page, watch = new_page(browser, live_server.url, dpo)

    action_links = set()
    pages = admin_pages(dpo)
    assert len(pages) > 50  # every model of the site, not a vacuous pass
    for path in pages:
        watch.visit(path)
        assert page.locator("#content").count() == 1, path  # the page itself, not a detour
        for link in page.locator("a.object-action").all():
            action_links.add(link.get_attribute("href"))
    # The confirmation pages of object actions (start work, approve, publish ...).
    assert action_links
    for path in sorted(action_links):
        watch.visit(path)
    # A staff member sets another's password (the admin's password form and its script).
    watch.visit(reverse("admin:auth_user_password_change", args=[alice.pk]))
    # The consent ledger's evidence page of one user.
    watch.visit(reverse("admin:consent_consentevent_user", args=[alice.pk]))

    # The request queue: filters, search and the action bar.
    queue = reverse("admin:requests_datasubjectrequest_changelist")
    watch.visit(f"{queue}?status=open&q=alice")
    watch.visit(queue)
    page.locator("#action-toggle").check()
    assert page.locator(".actions .action-counter").is_visible()

    # The date hierarchy drills down to a year; the filter sidebar filters.
    CalendarOverrideFactory(date=date(2030, 1, 1))
    CalendarOverrideFactory(date=date(2031, 10, 1))
    watch.visit(reverse("admin:requests_calendaroverride_changelist"))
    with page.expect_navigation():
        page.locator("nav.toplinks a:not(.date-back)").first.click()
    watch.settle()
    assert "date__year=2030" in page.url
    with page.expect_navigation():
        page.locator("#changelist-filter a[href*=is_workday__exact]").first.click()
    watch.settle()

    # Autocomplete (select2): the requester of a new request is looked up as one types.
    watch.visit(reverse("admin:requests_datasubjectrequest_add"))
    page.locator(".field-requester .select2-selection").click()
    page.locator(".select2-search__field").fill("alice")
    # select2 first lists everyone, then the matches of the term once its request answers.
    result = page.locator("#select2-id_requester-results li[role=option]")
    expect(result).to_have_count(1, timeout=10_000)
    watch.settle()

    # The date picker and the "Today" shortcut of a date field.
    watch.visit(reverse("admin:requests_calendaroverride_add"))
    page.locator(".field-date .date-icon").click()
    expect(page.locator(".calendarbox").first).to_be_visible()
    page.locator(".field-date .datetimeshortcuts a").first.click()
    assert page.locator("#id_date").input_value()

    # A delete confirmation page.
    watch.visit(reverse("admin:auth_group_delete", args=[1]))

    # django-celery-beat's periodic task form names the chosen crontab in words.
    watch.visit(reverse("admin:django_celery_beat_periodictask_add"))
    page.locator("#id_crontab").select_option(index=1)
    assert "At 02:30" in page.locator(".field-crontab .help").inner_text()
    watch.settle()

    watch.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_second_factor_pages_break_no_rule_of_the_policy(
    live_server, browser, demo, raw_force_login
):
    """Staff signed in with a password only: enrolling an authenticator (its QR code is inline
    SVG) and entering a code."""
    newcomer = StaffFactory()  # no authenticator yet
    page, watch = new_page(browser, live_server.url, newcomer, second_factor=False)
    watch.visit(reverse("admin:index"))
    assert "/second-factor/enrol/" in page.url
    assert page.locator(".sf-qr svg").count() == 1

    agent = User.objects.get(email="agent@example.com")
    authenticator(agent)
    page, watch_agent = new_page(browser, live_server.url, agent, second_factor=False)
    watch_agent.visit(reverse("admin:index"))
    assert "/second-factor/?" in page.url
    assert page.locator("[name=code]").count() == 1
    watch.assert_clean()
    watch_agent.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_the_watcher_sees_a_violation(live_server, browser):
    """The tests above pass because nothing is blocked, not because nothing is noticed."""
    page, watch = new_page(browser, live_server.url)
    watch.visit("/account/login/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    watch.settle()
    assert any("style-src" in problem for problem in watch.problems), watch.problems
    assert any("Content Security Policy" in problem for problem in watch.problems), watch.problems
