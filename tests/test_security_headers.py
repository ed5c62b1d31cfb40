"""Response headers that protect every page: the strict Content-Security-Policy, the
Permissions-Policy, and `Cache-Control: no-store` on everything served to a signed-in person;
and no inline script or style in the templates or in HTML built in Python, so the policy never
needs 'unsafe-inline'."""

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import include, reverse
from django.urls import path as route
from django.utils import timezone

from requests.models import Attachment

from .factories import PASSWORD, DataSubjectRequestFactory, PolicyVersionFactory
from .test_deploy_check import _manage, production_env

EXPECTED_POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "font-src": {"'self'"},
    "connect-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
DENIED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb", "interest-cohort")


def policy_of(response, header="Content-Security-Policy"):
    assert header in response, f"no {header} on {response.status_code} {response}"
    directives = {}
    for part in response[header].split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} twice"
        directives[name] = set(sources)
    return directives


def assert_strict_policy(response):
    assert policy_of(response) == EXPECTED_POLICY
    assert "unsafe" not in response["Content-Security-Policy"]
    assert "nonce-" not in response["Content-Security-Policy"]  # no inline script needs one
    assert "Content-Security-Policy-Report-Only" not in response


# --- Content-Security-Policy ----------------------------------------------------------------


@pytest.fixture
def published_policy(db):
    yesterday = timezone.now() - timedelta(days=1)
    return PolicyVersionFactory(published_at=yesterday, effective_at=yesterday)


def test_public_page_has_the_strict_policy(client, published_policy):
    response = client.get(reverse("consent:privacy"))
    assert response.status_code == 200
    assert_strict_policy(response)


def test_account_center_page_has_the_strict_policy(user_client):
    response = user_client.get(reverse("accounts:center"))
    assert response.status_code == 200
    assert_strict_policy(response)


def test_admin_page_has_the_strict_policy(client, dpo):
    client.force_login(dpo)  # with the second factor passed (conftest)
    response = client.get(reverse("admin:requests_datasubjectrequest_changelist"))
    assert response.status_code == 200
    assert_strict_policy(response)


@pytest.mark.django_db
def test_sign_in_pages_redirects_and_404s_have_the_strict_policy(client):
    for url, status in [
        (reverse("accounts:login"), 200),
        (reverse("admin:login"), 200),
        (reverse("accounts:center"), 302),
        ("/no-such-page/", 404),
    ]:
        response = client.get(url)
        assert response.status_code == status, url
        assert_strict_policy(response)


def test_policy_settings_never_allow_inline_or_eval():
    assert settings.CONTENT_SECURITY_POLICY_REPORT_ONLY is None  # enforced by default
    text = json.dumps(settings.CONTENT_SECURITY_POLICY["DIRECTIVES"])
    for word in ("unsafe-inline", "unsafe-eval", "unsafe-hashes", "*", "http:", "https:"):
        assert word not in text


def test_private_file_downloads_keep_their_own_headers(user_client, dsr):
    """lib/files.py's sandbox policy and cache headers win: the middleware adds to what a view
    set, never replaces it."""
    data = b"%PDF-1.4\n%%EOF\n"
    attachment = Attachment.objects.create(
        request=dsr,
        file=ContentFile(data, name="statement.pdf"),
        filename="statement.pdf",
        content_type="application/pdf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    response = user_client.get(reverse("requests:attachment", args=[dsr.reference, attachment.pk]))
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "no-store, private"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'attachment; filename="statement.pdf"'


def test_report_only_mode_reports_without_blocking(client, settings, published_policy):
    """What CSP_REPORT_ONLY=true sets (checked against the environment below)."""
    directives = {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "report-uri": ["/csp/"]}
    settings.CONTENT_SECURITY_POLICY = None
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": directives}
    response = client.get(reverse("consent:privacy"))
    assert "Content-Security-Policy" not in response
    policy = policy_of(response, "Content-Security-Policy-Report-Only")
    assert policy == {**EXPECTED_POLICY, "report-uri": {"/csp/"}}


def _policy_settings(**env):
    """The two CSP settings as a production process reads them from ``env``."""
    code = (
        "import json; from django.conf import settings as s; print(json.dumps("
        "[s.CONTENT_SECURITY_POLICY, s.CONTENT_SECURITY_POLICY_REPORT_ONLY]))"
    )
    result = _manage("shell", "-c", code, env=production_env(**env))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_policy_is_enforced_without_a_report_uri_by_default():
    enforced, report_only = _policy_settings()
    assert report_only is None
    assert "report-uri" not in enforced["DIRECTIVES"]
    assert enforced["DIRECTIVES"]["script-src"] == ["'self'"]


def test_environment_switches_to_report_only_with_a_report_uri():
    enforced, report_only = _policy_settings(
        CSP_REPORT_ONLY="true", CSP_REPORT_URI="https://csp.example.com/report"
    )
    assert enforced is None
    assert report_only["DIRECTIVES"]["report-uri"] == ["https://csp.example.com/report"]
    assert report_only["DIRECTIVES"]["style-src"] == ["'self'"]

    enforced, report_only = _policy_settings(CSP_REPORT_URI="/csp-reports/")
    assert report_only is None
    assert enforced["DIRECTIVES"]["report-uri"] == ["/csp-reports/"]


@pytest.mark.parametrize(
    "value",
    [
        "https://csp.example.com/r; script-src *",  # would smuggle in a directive
        "https://csp.example.com/a https://other.example.com/b",
        "javascript:alert(1)",
        "csp.example.com/report",
        "//csp.example.com/report",
        "http://csp.example.com/report",
    ],
)
def test_a_malformed_report_uri_stops_start_up(value):
    result = _manage("check", env=production_env(CSP_REPORT_URI=value))
    assert result.returncode != 0
    assert "CSP_REPORT_URI" in result.stderr


# --- Permissions-Policy -----------------------------------------------------------------------


def assert_features_denied(response):
    header = response["Permissions-Policy"]
    for feature in DENIED_FEATURES:
        assert f"{feature}=()" in header, feature
    # Every entry denies: no feature is granted to any origin.
    assert all(entry.strip().endswith("=()") for entry in header.split(","))


def test_permissions_policy_on_every_response(client, user, published_policy):
    responses = [
        client.get(reverse("consent:privacy")),  # public page
        client.get("/no-such-page/"),  # 404
        client.get(reverse("accounts:center")),  # redirect to sign in
        client.get(reverse("healthz")),  # JSON
        client.get("/privacy/?q=%00"),  # refused by the NUL-byte middleware: 400
    ]
    client.force_login(user)
    responses += [client.get(reverse("accounts:center")), client.get("/account/no-such-page/")]
    assert [r.status_code for r in responses] == [200, 404, 302, 200, 400, 200, 404]
    for response in responses:
        assert_features_denied(response)


# --- Cache-Control ----------------------------------------------------------------------------


def assert_not_stored(response):
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    assert {"no-store", "private"} <= directives, (response.status_code, directives)
    assert "public" not in directives


SIGNED_IN_PAGES = [
    "accounts:center",
    "accounts:profile",
    "requests:list",
    "requests:new",
    "verification:status",
    "consents",
    "lifecycle:data",
    "consent:recipients",  # a public page, but served to a signed-in person
]


def test_pages_served_to_a_signed_in_user_are_not_stored(user_client):
    for name in SIGNED_IN_PAGES:
        response = user_client.get(reverse(name))
        assert response.status_code == 200, name
        assert_not_stored(response)


def test_redirects_and_error_pages_for_a_signed_in_user_are_not_stored(user_client, other_user):
    redirect = user_client.get("/")
    assert redirect.status_code == 302
    assert_not_stored(redirect)

    missing = user_client.get("/account/requests/NO-SUCH-REQUEST/")
    assert missing.status_code == 404
    assert_not_stored(missing)

    theirs = DataSubjectRequestFactory(requester=other_user)
    others = user_client.get(reverse("requests:detail", args=[theirs.reference]))
    assert others.status_code == 404
    assert_not_stored(others)

    nul = user_client.get("/account/?a=%00")  # refused before any view
    assert nul.status_code == 400
    assert_not_stored(nul)


def _failing_view(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [route("failing/", _failing_view), route("", include("privacyportal.urls"))]


@pytest.mark.urls(__name__)
def test_server_error_for_a_signed_in_user_is_not_stored(user_client):
    user_client.raise_request_exception = False
    response = user_client.get("/failing/")
    assert response.status_code == 500
    assert_not_stored(response)
    assert_strict_policy(response)
    assert_features_denied(response)


def test_csrf_failure_for_a_signed_in_user_is_not_stored(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("accounts:profile"), {})
    assert response.status_code == 403
    assert_not_stored(response)


def test_admin_pages_are_not_stored(client, dpo):
    client.force_login(dpo)
    for url in [reverse("admin:index"), reverse("admin:requests_datasubjectrequest_changelist")]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_not_stored(response)


def test_signing_in_and_out_are_not_stored(client, user):
    signed_in = client.post(
        reverse("accounts:password_login"), {"username": user.email, "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    assert signed_in.wsgi_request.user.is_authenticated
    assert_not_stored(signed_in)

    signed_out = client.post(reverse("accounts:logout"))
    assert signed_out.status_code == 302
    assert not signed_out.wsgi_request.user.is_authenticated
    assert_not_stored(signed_out)  # the request arrived signed in


def test_anonymous_public_pages_are_not_forced_out_of_caches(client, published_policy):
    for name in ("consent:privacy", "consent:recipients", "accounts:login"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert "no-store" not in response.get("Cache-Control", ""), name


# --- No inline script or style to allow -------------------------------------------------------

ROOT = Path(settings.BASE_DIR)
# The export's index.html is written into the ZIP a user downloads and opens from disk: it is
# never served by the site (so no policy applies), and it must stay one self-contained file.
# The compliance report's HTML is laid out into a PDF by weasyprint (with a URL fetcher that
# loads nothing): never sent to a browser.
NOT_SERVED = {"lifecycle/export_index.html", "reports/compliance_report.html"}

INLINE = [
    (re.compile(r"<style\b", re.I), "a <style> block"),
    (re.compile(r"""[\s"']style\s*=""", re.I), "a style attribute"),
    (re.compile(r"""[\s"']on[a-z]+\s*=\s*["'{]""", re.I), "an inline event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)


def inline_problems(text):
    problems = [what for pattern, what in INLINE if pattern.search(text)]
    for match in SCRIPT_TAG.finditer(text):
        attributes = match.group(1)
        if "src=" not in attributes and 'type="application/json"' not in attributes:
            problems.append("an inline <script>")
    return problems


def test_the_inline_check_recognises_what_it_forbids():
    for sample in [
        "<style>p{}</style>",
        '<p style="color:red">',
        '<a href=x onclick="go()">',
        "<body onload='x()'>",
        '<a href="javascript:void(0)">',
        "<script>alert(1)</script>",
        '<script type="module">x()</script>',
    ]:
        assert inline_problems(sample), sample
    for sample in [
        '<script src="/static/js/a.js" defer></script>',
        '<script id="data" type="application/json">{"a": 1}</script>',
        '<p class="online-help">',
        '<input name="onboarding" value="1">',
    ]:
        assert not inline_problems(sample), sample


def test_templates_have_no_inline_script_or_style():
    found = {}
    for path in sorted((ROOT / "templates").rglob("*.html")):
        name = path.relative_to(ROOT / "templates").as_posix()
        problems = inline_problems(path.read_text())
        if problems and name not in NOT_SERVED:
            found[name] = problems
    assert not found, "move these to static/js, static/css or a class: " + repr(found)


def test_the_export_index_is_only_written_into_the_archive():
    users = [
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*.py")
        if ".venv" not in path.parts
        and "tests" not in path.parts
        and "export_index.html" in path.read_text()
    ]
    assert users == ["lifecycle/exporting.py"]


# A one-line string literal with a tag in it: the HTML that format_html and friends build.
HTML_LITERAL = re.compile(r"""(["'])((?:(?!\1).)*?<[a-z/](?:(?!\1).)*)\1""")


def test_the_python_check_finds_html_in_string_literals():
    code = """return format_html('<span class="x" style="color: {}">{}</span>', c, v)"""
    assert [inline_problems(m[1]) for m in HTML_LITERAL.findall(code)] == [["a style attribute"]]


def test_html_built_in_python_has_no_inline_script_or_style():
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in {".venv", "tests", "staticfiles", "var", "node_modules"}:
            continue
        for literal in HTML_LITERAL.findall(path.read_text()):
            problems = inline_problems(literal[1])
            if problems:
                found.setdefault(path.relative_to(ROOT).as_posix(), []).extend(problems)
    assert not found, repr(found)
