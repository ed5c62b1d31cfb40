"""The staff second factor (VER-4, AUD-1): password, then enrol an authenticator or enter a
code, then the admin. Backup codes, the limits on wrong codes, the audit trail, the reset
command and the demo authenticator."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import second_factor
from accounts.models import UserSession
from audit.models import AuditLogEntry

from .factories import PASSWORD, StaffFactory, UserFactory
from .second_factor_helpers import authenticator, mark_verified, totp_code

ADMIN_LOGIN = reverse("admin:login")
VERIFY = reverse("admin:second_factor")
ENROL = reverse("admin:second_factor_enrol")
BACKUP_CODES = reverse("admin:second_factor_backup_codes")
SIGN_OUT = reverse("admin:second_factor_sign_out")

pytestmark = pytest.mark.usefixtures("raw_force_login")


def half_signed_in(staff) -> Client:
    """A staff member who has given the password, not yet the second factor."""
    client = Client()
    client.force_login(staff)
    return client


def verified(staff) -> Client:
    """A staff member who has passed both steps."""
    client = half_signed_in(staff)
    mark_verified(client, staff)
    return client


def later(**delta):
    """A moment after the codes used so far (a code never works twice), frozen."""
    return time_machine.travel(datetime.now(UTC) + timedelta(**delta), tick=False)


def enrolled(staff) -> list[str]:
    """A staff member with a confirmed authenticator; returns their backup codes."""
    client = half_signed_in(staff)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    response = client.post(ENROL, {"code": totp_code(device)})
    return codes_on(response)


def codes_on(response) -> list[str]:
    return re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", response.text)


def events(user, event=None):
    entries = AuditLogEntry.objects.filter(
        object_id=user.pk, additional_data__second_factor__isnull=False
    )
    if event:
        entries = entries.filter(additional_data__second_factor=event)
    return entries


# --- The sign-in flow ---------------------------------------------------------------------------


def test_password_alone_leads_a_staff_member_without_device_to_enrol(client, staff):
    response = client.post(
        ADMIN_LOGIN, {"username": staff.email, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    assert response.url == f"{VERIFY}?next=%2Fadmin%2F"
    response = client.get(response.url)
    assert response.status_code == 302
    assert response.url == f"{ENROL}?next=%2Fadmin%2F"
    page = client.get(response.url)
    assert page.status_code == 200
    assert "<svg" in page.text
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/requests/datasubjectrequest/",
        "/admin/accounts/user/",
        "/admin/audit/auditlogentry/",
        "/admin/personal-data-map/",
        "/admin/verification/verification/",
        "/admin/password_change/",
        BACKUP_CODES,
    ],
)
def test_staff_without_second_factor_reach_no_admin_page(db, url):
    staff = StaffFactory(is_superuser=True)
    client = half_signed_in(staff)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(ADMIN_LOGIN)
    # The sign-in page sends them on to the second factor, not to the password form again.
    login = client.get(response.url)
    assert login.status_code == 302
    assert login.url.startswith(VERIFY)


def test_enrol_page_shows_the_qr_code_inline_and_the_secret_as_text(staff):
    client = half_signed_in(staff)
    page = client.get(ENROL)
    device = TOTPDevice.objects.get(user=staff)
    assert not device.confirmed
    html = page.text
    main = html.split('id="content-main"')[1]
    assert re.search(r"<svg viewBox=\"[\d ]+\" class=\"segno\">", main)
    assert "<img" not in main and " style=" not in main and "<script" not in main
    assert page.context["secret"].replace(" ", "") in second_factor.provisioning_uri(device)
    assert page.context["secret"] in html
    assert page["Cache-Control"].startswith("max-age=0") or "no-store" in page["Cache-Control"]
    # A reload shows the same secret: an app that scanned the first page still matches.
    again = client.get(ENROL)
    assert again.context["secret"] == page.context["secret"]
    assert TOTPDevice.objects.filter(user=staff).count() == 1


def test_provisioning_uri_names_the_issuer_and_the_email(staff):
    device = second_factor.enrolment_device(staff)
    uri = second_factor.provisioning_uri(device)
    assert uri.startswith("otpauth://totp/Privacy%20portal%3A" + staff.email.replace("@", "%40"))
    assert "issuer=Privacy%20portal" in uri
    assert "digits=6" in uri and "period=30" in uri


def test_a_wrong_first_code_does_not_confirm(staff):
    client = half_signed_in(staff)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=staff)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    page = client.post(ENROL, {"code": wrong})
    assert page.status_code == 200
    assert "The code is not correct" in page.text
    device.refresh_from_db()
    assert not device.confirmed
    assert not StaticDevice.objects.filter(user=staff).exists()
    assert client.get("/admin/").status_code == 302
    assert events(staff, second_factor.FAILED).count() == 1


@pytest.mark.parametrize("code", ["", "   ", "abc", "1234567", "12345", "x" * 40])
def test_bad_first_codes_are_form_errors(staff, code):
    client = half_signed_in(staff)
    client.get(ENROL)
    page = client.post(ENROL, {"code": code})
    assert page.status_code == 200
    assert page.context["form"].errors["code"]
    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()


def test_the_right_code_confirms_and_shows_backup_codes_once(staff):
    client = half_signed_in(staff)
    client.get(f"{ENROL}?next=/admin/accounts/user/")
    device = TOTPDevice.objects.get(user=staff)
    page = client.post(ENROL, {"code": totp_code(device), "next": "/admin/accounts/user/"})

    assert page.status_code == 200
    codes = codes_on(page)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "shown only this once" in page.text
    assert 'href="/admin/accounts/user/"' in page.text
    device.refresh_from_db()
    assert device.confirmed
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert client.get("/admin/accounts/user/").status_code == 200
    # Stored as digests only, never in clear.
    stored = set(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True))
    assert len(stored) == 10
    assert not stored & {c for code in codes for c in (code, code.replace("-", ""))}
    # Never shown again: the enrol page now leads on, and nothing else prints them.
    again = client.get(ENROL)
    assert again.status_code == 302
    assert not any(code in client.get(BACKUP_CODES).text for code in codes)
    entry = events(staff, second_factor.ENROLLED).get()
    assert entry.actor_id == staff.pk
    assert entry.changes == {"second_factor": ["none", "Authenticator app"]}
    assert events(staff, second_factor.BACKUP_CODES_ISSUED).count() == 1


def test_after_enrolment_the_next_sign_in_asks_for_a_code(staff):
    enrolled(staff)
    client = half_signed_in(staff)
    assert client.get(ENROL).url.startswith(VERIFY)
    page = client.get(VERIFY)
    assert page.status_code == 200
    assert "6-digit code" in page.text
    with later(seconds=31):
        response = client.post(VERIFY, {"code": totp_code(authenticator(staff)), "next": "/a"})
        assert response.status_code == 302
        assert response.url == "/a"
        assert client.get("/admin/").status_code == 200


def test_an_authenticator_code_works_once(staff):
    enrolled(staff)
    with later(seconds=31):
        code = totp_code(authenticator(staff))
        first = half_signed_in(staff)
        assert first.post(VERIFY, {"code": code}).status_code == 302
        second = half_signed_in(staff)
        page = second.post(VERIFY, {"code": code})
        assert page.status_code == 200
        assert "The code is not correct" in page.text
        assert second.get("/admin/").status_code == 302


def test_a_backup_code_works_once(staff):
    codes = enrolled(staff)
    first = half_signed_in(staff)
    response = first.post(VERIFY, {"code": codes[0].upper().replace("-", " ")})
    assert response.status_code == 302
    assert first.get("/admin/").status_code == 200
    assert StaticToken.objects.filter(device__user=staff).count() == 9
    assert events(staff, second_factor.BACKUP_CODE_USED).get().additional_data["left"] == 9

    second = half_signed_in(staff)
    with later(seconds=5):
        page = second.post(VERIFY, {"code": codes[0]})
    assert page.status_code == 200
    assert "The code is not correct" in page.text
    assert second.get("/admin/").status_code == 302


def test_new_backup_codes_replace_the_old_ones(staff):
    old = enrolled(staff)
    client = verified(staff)
    assert "10 unused backup codes" in client.get(BACKUP_CODES).text
    new = codes_on(client.post(BACKUP_CODES))
    assert len(new) == 10 and not set(new) & set(old)
    assert events(staff, second_factor.BACKUP_CODES_ISSUED).count() == 2
    other = half_signed_in(staff)
    assert "The code is not correct" in other.post(VERIFY, {"code": old[1]}).text
    with later(seconds=5):
        assert other.post(VERIFY, {"code": new[1]}).status_code == 302


# --- Wrong codes ----------------------------------------------------------------------------------


def test_wrong_codes_are_limited_per_staff_member_then_refused_until_the_window_passes(staff):
    codes = enrolled(staff)
    with later(minutes=1) as traveller:
        client = half_signed_in(staff)
        for _i in range(4):
            page = client.post(VERIFY, {"code": "000000"})
            assert "The code is not correct" in page.text
            traveller.shift(60)  # past django-otp's own back-off
        first_failure = events(staff, second_factor.FAILED).earliest("timestamp").timestamp
        page = client.post(VERIFY, {"code": "000000"})
        assert "Too many wrong codes" in page.text
        assert events(staff, second_factor.LOCKED_OUT).count() == 1
        until = timezone.localtime(first_failure + timedelta(minutes=15)).strftime("%H:%M")

        # Locked: the right code is refused too, and the refusal adds no failure.
        traveller.shift(120)
        page = client.post(VERIFY, {"code": totp_code(authenticator(staff))})
        assert "Too many wrong codes" in page.text
        assert f"no code is accepted until {until}" in page.text
        page = client.post(VERIFY, {"code": codes[0]})
        assert "Too many wrong codes" in page.text
        assert client.get("/admin/").status_code == 302
        assert events(staff, second_factor.FAILED).count() == 5

        traveller.shift(15 * 60)
        response = client.post(VERIFY, {"code": totp_code(authenticator(staff))})
        assert response.status_code == 302
        assert client.get("/admin/").status_code == 200


def test_django_otp_back_off_asks_to_wait_and_counts_nothing(staff):
    enrolled(staff)
    with later(minutes=1):
        client = half_signed_in(staff)
        client.post(VERIFY, {"code": "000000"})
        page = client.post(VERIFY, {"code": totp_code(authenticator(staff))})
        assert "wait a few seconds" in page.text
        assert events(staff, second_factor.FAILED).count() == 1


def test_wrong_backup_codes_count_too(staff):
    enrolled(staff)
    with later(minutes=1) as traveller:
        client = half_signed_in(staff)
        for _i in range(5):
            client.post(VERIFY, {"code": "aaaaa-bbbbb"})
            traveller.shift(60)
        assert "Too many wrong codes" in client.post(VERIFY, {"code": "123456"}).text
    assert events(staff, second_factor.FAILED).count() == 5


def test_the_limit_is_per_staff_member(staff):
    enrolled(staff)
    other = StaffFactory()
    enrolled(other)
    with later(minutes=1) as traveller:
        client = half_signed_in(staff)
        for _i in range(5):
            client.post(VERIFY, {"code": "000000"})
            traveller.shift(60)
        bystander = half_signed_in(other)
        response = bystander.post(VERIFY, {"code": totp_code(authenticator(other))})
        assert response.status_code == 302


# --- Who is asked ---------------------------------------------------------------------------------


def test_ordinary_users_never_see_the_second_factor(client, user):
    response = client.post(
        reverse("accounts:password_login"), {"username": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert "second-factor" not in response.url
    assert client.get(reverse("accounts:center")).status_code == 200
    for url in (VERIFY, ENROL):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(ADMIN_LOGIN)
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_superusers_need_the_second_factor_too(db, client):
    boss = UserFactory(is_staff=True, is_superuser=True)
    response = client.post(ADMIN_LOGIN, {"username": boss.email, "password": PASSWORD})
    assert response.url.startswith(VERIFY)
    assert client.get("/admin/").status_code == 302


def test_anonymous_visitors_are_sent_to_the_password_first(db, client):
    for url in (VERIFY, ENROL):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(ADMIN_LOGIN)
    assert client.post(SIGN_OUT).status_code == 302


def test_a_foreign_next_is_ignored(staff):
    enrolled(staff)
    client = half_signed_in(staff)
    with later(seconds=31):
        response = client.post(
            VERIFY, {"code": totp_code(authenticator(staff)), "next": "https://evil.example/"}
        )
    assert response.url == "/admin/"


def test_sign_out_from_the_second_factor_page_ends_the_session(staff):
    client = half_signed_in(staff)
    key = client.session.session_key
    response = client.post(SIGN_OUT)
    assert response.url == ADMIN_LOGIN
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get(VERIFY).url.startswith(ADMIN_LOGIN)


def test_the_user_admin_says_whether_the_factor_is_set_up(staff):
    admin_client = verified(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:accounts_user_change", args=[staff.pk])
    assert "Not set up" in admin_client.get(url).text
    enrolled(staff)
    assert "10 backup codes left" in admin_client.get(url).text
    assert "/admin/otp_totp/" not in admin_client.get("/admin/").text


def test_devices_are_in_the_personal_data_registry():
    from lib.registry import undeclared

    assert undeclared([TOTPDevice, StaticDevice, StaticToken]) == []


def test_an_export_lists_the_devices_without_the_secret_or_the_codes(staff):
    import io
    import json
    import zipfile

    from lifecycle import exporting

    codes = enrolled(staff)
    device = authenticator(staff)
    out = io.BytesIO()
    exporting.build(staff, out, language="en")
    archive = zipfile.ZipFile(out)
    records = json.loads(archive.read("data.json"))["categories"]["account"]["records"]
    assert [r["name"] for r in records["otp_totp.TOTPDevice"]] == ["Authenticator app"]
    assert [r["name"] for r in records["otp_static.StaticDevice"]] == ["Backup codes"]
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert device.key.encode() not in everything
    assert second_factor.secret_text(device).replace(" ", "").encode() not in everything
    assert not any(code.encode() in everything for code in codes)
    assert not any(
        token.encode() in everything
        for token in StaticToken.objects.filter(device__user=staff).values_list("token", flat=True)
    )


# --- Reset ----------------------------------------------------------------------------------------


def test_reset_with_yes_deletes_devices_ends_sessions_and_is_audited(staff, dpo, capsys):
    enrolled(staff)
    signed_in = verified(staff)
    assert signed_in.get("/admin/").status_code == 200

    call_command("reset_staff_second_factor", staff.email, "--yes", "--by", dpo.email)

    out = capsys.readouterr().out
    assert "1 authenticator app(s) and 10 unused backup code(s) deleted" in out
    assert "session(s) ended" in out
    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert not StaticDevice.objects.filter(user=staff).exists()
    assert not UserSession.objects.filter(user=staff).exists()
    assert signed_in.get("/admin/").status_code == 302
    entry = events(staff, second_factor.RESET).get()
    assert entry.actor_id == dpo.pk
    assert entry.changes == {"second_factor": ["Authenticator app", "none"]}
    # At the next sign-in: enrol again.
    assert half_signed_in(staff).get(VERIFY).url.startswith(ENROL)


def test_reset_asks_for_confirmation(staff, monkeypatch, capsys):
    enrolled(staff)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("reset_staff_second_factor", staff.phone.as_e164)
    assert TOTPDevice.objects.filter(user=staff).exists()

    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    call_command("reset_staff_second_factor", staff.phone.as_e164)
    assert not TOTPDevice.objects.filter(user=staff).exists()
    entry = events(staff, second_factor.RESET).get()
    assert entry.actor is None
    assert entry.additional_data["by"].startswith("os:")


def test_reset_without_a_terminal_changes_nothing(staff, monkeypatch):
    enrolled(staff)

    def no_terminal(prompt):
        raise EOFError

    monkeypatch.setattr("builtins.input", no_terminal)
    with pytest.raises(CommandError):
        call_command("reset_staff_second_factor", staff.email)
    assert TOTPDevice.objects.filter(user=staff).exists()


@pytest.mark.parametrize("identifier", ["nobody@example.com", "+8613012345678", "garbage", ""])
def test_reset_of_an_unknown_account_is_a_clear_error(db, identifier):
    with pytest.raises(CommandError, match="No account") as error:
        call_command("reset_staff_second_factor", identifier, "--yes")
    assert error.value.returncode == 1


def test_reset_by_someone_who_is_not_staff_is_refused(staff, user):
    enrolled(staff)
    with pytest.raises(CommandError, match="--by"):
        call_command("reset_staff_second_factor", staff.email, "--yes", "--by", user.email)
    assert TOTPDevice.objects.filter(user=staff).exists()


def test_reset_lifts_a_lock_out(staff):
    enrolled(staff)
    with later(minutes=1) as traveller:
        client = half_signed_in(staff)
        for _i in range(5):
            client.post(VERIFY, {"code": "000000"})
            traveller.shift(60)
        assert second_factor.locked_until(staff) is not None
        call_command("reset_staff_second_factor", staff.email, "--yes")
        assert second_factor.locked_until(staff) is None


# --- Demo -----------------------------------------------------------------------------------------


def test_seed_demo_gives_demo_staff_a_published_authenticator(db, capsys):
    call_command("seed_demo", "--password", "demo-test-pass-1")
    out = capsys.readouterr().out
    assert "DEMO ONLY" in out
    assert "python manage.py demo_otp_code dpo@example.com" in out

    call_command("demo_otp_code", "dpo@example.com")
    code = capsys.readouterr().out.strip()
    assert re.fullmatch(r"\d{6}", code)
    client = Client()
    login = client.post(
        ADMIN_LOGIN, {"username": "dpo@example.com", "password": "demo-test-pass-1"}
    )
    assert login.url.startswith(VERIFY)
    assert client.post(VERIFY, {"code": code}).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_demo_otp_code_refuses_a_real_device(staff):
    enrolled(staff)
    with pytest.raises(CommandError, match="no demo authenticator"):
        call_command("demo_otp_code", staff.email)
