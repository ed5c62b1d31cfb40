"""Branded error pages (404, 403, 400, 500, CSRF failure) in English and Chinese, the 404 page
of `make run` (debug mode), the favicon, the policy links of every page, the labelled policy
diff and `make run PORT=...`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.views.defaults import server_error

from consent import policies

from .factories import PolicyDocumentFactory, PolicyVersionFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = [("en", "Privacy portal", 'lang="en"'), ("zh-hans", "隐私中心", 'lang="zh-hans"')]
TECHNICAL = ("Using the URLconf", "Django tried these URL patterns", "Traceback", "DEBUG = True")


def assert_branded(response, status, brand, lang):
    text = response.content.decode()
    assert response.status_code == status, text[:500]
    assert response["Content-Type"].startswith("text/html")
    assert lang in text and brand in text
    assert 'href="/privacy/"' in text  # the privacy policy
    assert 'href="/"' in text  # home
    assert "css/portal.css" in text and "favicon.svg" in text
    for word in TECHNICAL:
        assert word not in text
    return text


@pytest.mark.parametrize(("language", "brand", "lang"), LANGUAGES)
def test_404_page_is_branded_in_both_languages(client, language, brand, lang):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE=language)
    text = assert_branded(response, 404, brand, lang)
    assert "error-page" in text
    # An Http404 raised by a view (an unknown policy document) gets the same page.
    response = client.get("/privacy/no-such-document/", HTTP_ACCEPT_LANGUAGE=language)
    assert_branded(response, 404, brand, lang)


@override_settings(ROOT_URLCONF="tests.error_pages_urls")
@pytest.mark.parametrize(("language", "brand", "lang"), LANGUAGES)
def test_500_403_and_400_pages_are_branded_in_both_languages(language, brand, lang):
    client = Client(raise_request_exception=False)
    for path, status in (
        ("/test-errors/500/", 500),
        ("/test-errors/403/", 403),
        ("/test-errors/400/", 400),
    ):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE=language)
        assert_branded(response, status, brand, lang)


def test_500_page_renders_without_context_processors_or_database(django_assert_num_queries):
    """Django renders 500.html with an empty context and no request: nothing may need the
    user, the session or the database (which may be what failed)."""
    request = RequestFactory().get("/")
    for language, brand, lang in LANGUAGES:
        with translation.override(language), django_assert_num_queries(0):
            response = server_error(request)
        assert_branded(response, 500, brand, lang)


@pytest.mark.parametrize(("language", "brand", "lang"), LANGUAGES)
def test_csrf_failure_page_is_branded(language, brand, lang):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("accounts:password_login"),
        {"username": "someone@example.com", "password": "x"},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    text = assert_branded(response, 403, brand, lang)
    assert "error-page" in text
    assert "CSRF" not in text  # the reason is for the log, not the page


def test_csrf_failure_view_is_the_sites_own():
    assert settings.CSRF_FAILURE_VIEW == "privacyportal.errors.csrf_failure"


def debug_middleware():
    return [*settings.MIDDLEWARE, "privacyportal.errors.BrandedNotFoundInDebugMiddleware"]


def test_make_run_debug_mode_shows_the_branded_404_not_the_technical_one(client):
    with override_settings(DEBUG=True, MIDDLEWARE=debug_middleware()):
        response = client.get("/no-such-page/")
        assert_branded(response, 404, "Privacy portal", 'lang="en"')
        response = client.get("/privacy/no-such-document/")
        assert_branded(response, 404, "Privacy portal", 'lang="en"')
        # APPEND_SLASH still redirects a known page written without its slash.
        response = client.get("/account/login")
        assert response.status_code == 301 and response["Location"] == "/account/login/"
        # Known pages are untouched.
        assert client.get("/account/login/").status_code == 200


def test_debug_settings_add_the_404_middleware_unless_asked_for_the_technical_page():
    code = "from django.conf import settings; print(settings.MIDDLEWARE[-1])"
    base = {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "privacyportal.settings",
    }
    run = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    out = subprocess.run(run, env=base, cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "privacyportal.errors.BrandedNotFoundInDebugMiddleware"
    env = {**base, "DJANGO_DEBUG_TECHNICAL_404": "true"}
    out = subprocess.run(run, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() != "privacyportal.errors.BrandedNotFoundInDebugMiddleware"


# --- Favicon ---------------------------------------------------------------------------------


def test_favicon_files_exist_and_are_linked(client):
    for name in ("favicon.svg", "favicon.png", "favicon.ico", "apple-touch-icon.png"):
        assert finders.find(name), name
    assert Path(finders.find("favicon.ico")).read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert Path(finders.find("favicon.png")).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in Path(finders.find("favicon.svg")).read_bytes()
    page = client.get(reverse("accounts:login")).content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in page
    assert 'href="/static/favicon.png"' in page
    admin = client.get(reverse("admin:login")).content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in admin


def test_favicon_ico_is_served_at_the_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.ico"
    assert "max-age=86400" in response["Cache-Control"]


# --- Policy links in the navigation and the footer --------------------------------------------


def policy_links_in(text):
    return [
        url in text
        for url in (
            'href="/privacy/"',
            'href="/privacy/current/user-agreement/"',
            'href="/privacy/recipients/"',
        )
    ]


def test_policy_links_in_the_navigation_and_footer_signed_in_and_out(client):
    signed_out = client.get(reverse("accounts:login")).content.decode()
    assert all(policy_links_in(signed_out))
    # Once in the top bar and once in the footer.
    assert signed_out.count('href="/privacy/recipients/"') >= 2
    assert '<footer class="site-footer">' in signed_out
    client.force_login(UserFactory())
    signed_in = client.get(reverse("accounts:center")).content.decode()
    assert all(policy_links_in(signed_in))
    assert signed_in.count('href="/privacy/"') >= 2


def test_user_agreement_link_finds_the_document_by_kind(client):
    url = reverse("user_agreement")
    assert url == "/privacy/current/user-agreement/"
    assert client.get(url).status_code == 404
    PolicyDocumentFactory(slug="terms-of-use", kind="user_agreement", title_en="Terms")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("consent:document", args=["terms-of-use"])


# --- The policy diff: labels, colour classes, the policy's own numbers only --------------------


def test_policy_diff_labels_added_and_removed_text_in_both_languages(client):
    dpo = UserFactory(is_staff=True, is_superuser=True)
    doc = PolicyDocumentFactory()
    for number, en, zh in (
        (1, "4. Sharing\nold sentence\n5. Contact", "4. 共享\n旧句子\n5. 联系我们"),
        (2, "4. Sharing\nnew sentence\n5. Contact", "4. 共享\n新句子\n5. 联系我们"),
    ):
        version = PolicyVersionFactory(
            document=doc,
            number=number,
            body_en=en,
            body_zh=zh,
            effective_at=timezone.now() - timezone.timedelta(days=1),
        )
        policies.publish(version, dpo)
    url = reverse("consent:diff", args=[doc.slug])
    text = client.get(url, {"from": 1, "to": 2}).content.decode()
    assert '<ul class="policy-diff">' in text and '<ol class="policy-diff">' not in text
    assert (
        '<li class="diff-del"><span class="diff-label">Removed</span><del>old sentence</del></li>'
        in text
    )
    assert (
        '<li class="diff-ins"><span class="diff-label">Added</span><ins>new sentence</ins></li>'
        in text
    )
    assert '<li class="diff-eq">5. Contact</li>' in text  # the policy's own number, once
    assert "diff-legend" in text
    zh = client.get(url, {"from": 1, "to": 2}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<del>旧句子</del>" in zh and "<ins>新句子</ins>" in zh
    with translation.override("zh-hans"):
        removed, added = translation.gettext("Removed"), translation.gettext("Added")
    assert f'<span class="diff-label">{removed}</span><del>旧句子</del>' in zh
    assert f'<span class="diff-label">{added}</span><ins>新句子</ins>' in zh


# --- make run PORT=... ---------------------------------------------------------------------------


def base_url_with(**env):
    clean = {k: v for k, v in os.environ.items() if k not in ("PORTAL_BASE_URL", "PORTAL_PORT")}
    code = "from django.conf import settings; print(settings.PORTAL_BASE_URL)"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "privacyportal.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_portal_base_url_follows_the_port_of_make_run_unless_set():
    assert base_url_with(PORTAL_PORT="8100") == "http://127.0.0.1:8100"
    assert base_url_with() == "http://127.0.0.1:8000"
    explicit = base_url_with(PORTAL_PORT="8100", PORTAL_BASE_URL="https://privacy.example.com")
    assert explicit == "https://privacy.example.com"


def test_make_run_passes_the_port_to_the_web_process():
    procfile = (ROOT / "Procfile").read_text()
    assert "runserver 127.0.0.1:${PORTAL_PORT:-8000}" in procfile
    out = subprocess.run(
        ["make", "-n", "run", "PORT=8100"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "PORTAL_PORT=8100" in out and "honcho start -f Procfile" in out
