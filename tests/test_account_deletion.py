"""Account deletion (RGT-3): self-service with re-authentication and a cooling-off period,
cancelling by signing in, the periodic run, the tombstone, the signed certificate and the
``delete_account`` command."""

import base64
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import PhoneCode, User, UserSession
from accounts.services import send_code
from lifecycle import certificates, deletion
from lifecycle.models import AccountDeletion, ErasureRecord
from notifications.models import Notification

from .deletion_helpers import (
    CENTER,
    CERTIFICATE,
    DELETE_ACCOUNT,
    LOGIN,
    PENDING,
    SIGNUP,
    last_code,
    sign_in_by_password,
    signed_in_user_id,
    wrong,
)
from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

D = AccountDeletion
DATA = reverse("lifecycle:data")
LOGIN_URL = reverse("accounts:login")


def national(user):
    return str(user.phone)[3:]  # +86139... -> 139...


def scheduled_of(user):
    return AccountDeletion.objects.filter(user=user, status=D.Status.SCHEDULED)


# --- 5. Self-service deletion: re-authentication, confirmation, cooling-off ------------------


def test_deletion_with_sms_code_is_scheduled_and_signs_out(user_client, user, settings):
    response = user_client.post(DELETE_ACCOUNT, {"send": "1"})
    assert response.status_code == 200
    assert "We have sent a code to your phone." in response.content.decode()
    assert PhoneCode.objects.filter(phone=str(user.phone), purpose="reauth").exists()
    code = last_code(user.phone)

    response = user_client.post(DELETE_ACCOUNT, {"code": code, "confirm": "on", "delete": "1"})

    assert response.status_code == 200
    scheduled = AccountDeletion.objects.get(user=user)
    assert scheduled.status == D.Status.SCHEDULED
    assert scheduled.channel == D.Channel.WEB
    assert scheduled.execute_after == scheduled.requested_at + timedelta(
        days=settings.ACCOUNT_DELETION_COOLING_OFF_DAYS
    )
    page = response.content.decode()
    assert "Your account will be deleted on" in page
    assert scheduled.code in page
    # Signed out here and everywhere else.
    assert signed_in_user_id(user_client) is None
    assert not UserSession.objects.filter(user=user).exists()
    response = user_client.get(CENTER)
    assert response.status_code == 302
    assert response.url.startswith(LOGIN_URL)
    # Nothing is erased yet.
    user.refresh_from_db()
    assert user.is_active and not user.is_erased and user.email


def test_scheduling_emails_the_date_and_the_certificate_code(user_client, user):
    user_client.post(DELETE_ACCOUNT, {"password": PASSWORD, "confirm": "on"})

    scheduled = AccountDeletion.objects.get(user=user)
    mail = Notification.objects.get(recipient=user, key=f"deletion:{scheduled.pk}:scheduled")
    assert mail.to_email == user.email
    assert scheduled.code in mail.body
    date = timezone.localtime(scheduled.execute_after).date()
    assert str(date.year) in mail.subject
    assert str(date.day) in mail.subject


def test_deletion_with_password_is_scheduled_and_signs_out(user_client, user):
    response = user_client.post(
        DELETE_ACCOUNT, {"password": PASSWORD, "confirm": "on", "delete": "1"}
    )

    assert response.status_code == 200
    assert scheduled_of(user).count() == 1
    assert signed_in_user_id(user_client) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"password": "not-the-password", "confirm": "on"}, "The password is not correct."),
        ({"password": PASSWORD}, "This field is required."),
        ({"confirm": "on"}, "Enter the code we sent to your phone, or your password."),
        ({"code": "12ab", "confirm": "on"}, "The code has 6 digits."),
    ],
    ids=["wrong-password", "no-confirmation", "no-proof", "malformed-code"],
)
def test_deletion_form_errors_schedule_nothing(user_client, user, data, message):
    response = user_client.post(DELETE_ACCOUNT, {**data, "delete": "1"})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AccountDeletion.objects.exists()
    assert signed_in_user_id(user_client) == user.pk


def test_wrong_sms_code_schedules_nothing(user_client, user):
    user_client.post(DELETE_ACCOUNT, {"send": "1"})
    code = last_code(user.phone)

    response = user_client.post(DELETE_ACCOUNT, {"code": wrong(code), "confirm": "on"})

    assert response.status_code == 200
    assert "The code is not correct." in response.content.decode()
    assert not AccountDeletion.objects.exists()
    assert signed_in_user_id(user_client) == user.pk


def test_a_login_code_does_not_confirm_a_deletion(user_client, user):
    send_code(str(user.phone), PhoneCode.Purpose.LOGIN)
    code = last_code(user.phone)

    response = user_client.post(DELETE_ACCOUNT, {"code": code, "confirm": "on"})

    assert response.status_code == 200
    assert not AccountDeletion.objects.exists()


def five_wrong_passwords(client):
    for n in range(5):
        response = client.post(DELETE_ACCOUNT, {"password": f"guess-{n}", "confirm": "on"})
        assert "The password is not correct." in response.content.decode()


def test_after_five_wrong_passwords_the_right_password_is_refused(user_client, user):
    five_wrong_passwords(user_client)

    response = user_client.post(DELETE_ACCOUNT, {"password": PASSWORD, "confirm": "on"})

    assert response.status_code == 200
    assert "Too many wrong passwords: confirm with a code instead." in response.content.decode()
    assert not AccountDeletion.objects.exists()
    assert signed_in_user_id(user_client) == user.pk


def test_after_five_wrong_passwords_a_code_still_confirms(user_client, user):
    five_wrong_passwords(user_client)

    user_client.post(DELETE_ACCOUNT, {"send": "1"})
    response = user_client.post(
        DELETE_ACCOUNT, {"code": last_code(user.phone), "confirm": "on", "delete": "1"}
    )

    assert response.status_code == 200
    assert scheduled_of(user).count() == 1


def test_staff_cannot_delete_their_own_account(staff_client, staff):
    response = staff_client.get(DELETE_ACCOUNT)
    assert response.status_code == 302
    assert response.url == DATA

    response = staff_client.post(DELETE_ACCOUNT, {"password": PASSWORD, "confirm": "on"})

    assert response.status_code == 302
    assert not AccountDeletion.objects.exists()
    assert signed_in_user_id(staff_client) == staff.pk
    with pytest.raises(deletion.DeletionError):
        deletion.schedule(staff, channel=D.Channel.WEB)
    assert not AccountDeletion.objects.exists()


def test_signing_in_during_cooling_off_offers_to_cancel_and_cancelling_keeps_the_account(
    user_client, user
):
    user_client.post(DELETE_ACCOUNT, {"password": PASSWORD, "confirm": "on"})
    scheduled = scheduled_of(user).get()

    response = sign_in_by_password(user_client, user.email, PASSWORD)
    assert response.status_code == 302
    assert signed_in_user_id(user_client) == user.pk
    for page in (CENTER, DATA, reverse("accounts:profile")):
        response = user_client.get(page)
        assert response.status_code == 302, page
        assert response.url == PENDING, page
    response = user_client.get(PENDING)
    assert response.status_code == 200
    assert "It will be deleted on" in response.content.decode()

    response = user_client.post(PENDING)

    assert response.status_code == 302
    assert response.url == CENTER
    scheduled.refresh_from_db()
    assert scheduled.status == D.Status.CANCELLED
    assert scheduled.cancelled_at is not None
    assert user_client.get(CENTER).status_code == 200
    assert user_client.get(DATA).status_code == 200
    assert Notification.objects.filter(key=f"deletion:{scheduled.pk}:cancelled").exists()
    # A cancelled deletion is never carried out.
    assert deletion.run_due(now=scheduled.execute_after + timedelta(days=1)) == 0
    user.refresh_from_db()
    assert not user.is_erased


def test_run_due_waits_for_the_end_of_the_cooling_off_period(user, settings):
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    cooling_off = timedelta(days=settings.ACCOUNT_DELETION_COOLING_OFF_DAYS)
    with time_machine.travel(start, tick=False) as traveller:
        scheduled = deletion.schedule(user, channel=D.Channel.WEB)
        assert scheduled.execute_after == start + cooling_off

        traveller.shift(cooling_off - timedelta(minutes=1))
        assert deletion.run_due() == 0
        user.refresh_from_db()
        assert not user.is_erased
        assert user.phone is not None

        traveller.shift(timedelta(minutes=2))
        assert deletion.run_due() == 1
        assert deletion.run_due() == 0  # done once

    user.refresh_from_db()
    assert user.is_erased
    assert user.phone is None and user.email is None
    scheduled.refresh_from_db()
    assert scheduled.status == D.Status.DONE
    assert scheduled.executed_at == start + cooling_off + timedelta(minutes=1)
    assert scheduled.signature
    assert ErasureRecord.objects.get(deletion=scheduled).reason == "account_deletion"


def test_run_due_carries_out_the_other_deletions_when_one_fails(monkeypatch):
    """Each deletion runs in its own transaction "so one failure does not hold the others
    back" (deletion.run_due): a deletion that keeps failing must not block those after it."""
    start = timezone.now() - timedelta(days=30)
    failing, other = UserFactory(), UserFactory()
    deletion.schedule(failing, channel=D.Channel.WEB, now=start)
    deletion.schedule(other, channel=D.Channel.WEB, now=start + timedelta(hours=1))
    real_erase = deletion.erasure.erase

    def erase(user, *args, **kwargs):
        if user.pk == failing.pk:
            raise RuntimeError("storage offline")
        return real_erase(user, *args, **kwargs)

    monkeypatch.setattr(deletion.erasure, "erase", erase)

    done = deletion.run_due()

    assert done == 1
    assert User.objects.get(pk=other.pk).is_erased
    assert not User.objects.get(pk=failing.pk).is_erased
    assert scheduled_of(failing).exists()


def test_scheduling_twice_returns_the_same_deletion(user):
    first = deletion.schedule(user, channel=D.Channel.WEB)
    second = deletion.schedule(user, channel=D.Channel.STAFF)
    assert first.pk == second.pk
    assert AccountDeletion.objects.count() == 1


# --- 4. The tombstone cannot sign in; the number can sign up again --------------------------


def test_tombstone_cannot_sign_in_by_sms_code(client, user, settings):
    phone, typed = str(user.phone), national(user)
    deletion.delete_now(user)
    settings.SMS_CODE_MIN_INTERVAL_SECONDS = 0

    # The number now has no account: it is answered like any other such number (a code, so that
    # nobody learns which numbers have accounts), and the code opens no account.
    response = client.post(LOGIN, {"phone": typed, "send": "1"})
    assert response.status_code == 200
    response = client.post(LOGIN, {"phone": typed, "code": last_code(phone), "login": "1"})

    assert response.status_code == 200
    assert "No account uses this number yet." in response.content.decode()
    assert signed_in_user_id(client) is None


def test_tombstone_cannot_sign_in_with_a_password(client, user):
    email, phone = user.email, str(user.phone)
    deletion.delete_now(user)

    for username in (email, phone):
        response = sign_in_by_password(client, username, PASSWORD)
        assert response.status_code == 200, username
        assert signed_in_user_id(client) is None
    tomb = User.objects.get(pk=user.pk)
    assert not tomb.is_active
    assert not tomb.check_password(PASSWORD)
    assert authenticate(RequestFactory().post("/"), username=email, password=PASSWORD) is None


def test_tombstone_session_ends_with_the_deletion(user_client, user):
    assert user_client.get(CENTER).status_code == 200

    deletion.delete_now(user)

    response = user_client.get(CENTER)
    assert response.status_code == 302
    assert signed_in_user_id(user_client) is None


def test_same_phone_and_email_can_sign_up_again_as_a_new_account(client, user):
    phone, typed, email = str(user.phone), national(user), user.email
    deletion.delete_now(user)
    data = {
        "phone": typed,
        "date_of_birth": "1990-05-01",
        "email": email,
        "preferred_language": "en",
        "accept": "on",
    }

    client.post(SIGNUP, {**data, "code": "", "send": "1"})
    response = client.post(SIGNUP, {**data, "code": last_code(phone), "create": "1"})

    assert response.status_code == 302
    newcomer = User.objects.get(phone=phone)
    assert newcomer.pk != user.pk
    assert newcomer.email == email
    assert signed_in_user_id(client) == newcomer.pk
    tomb = User.objects.get(pk=user.pk)
    assert tomb.is_erased and tomb.phone is None
    assert AccountDeletion.objects.filter(user=newcomer).count() == 0


# --- 6. The certificate ---------------------------------------------------------------------


def certificate_page(client, code):
    return client.get(CERTIFICATE, {"code": code})


def summary_of(page, term):
    match = re.search(rf"<dt>{term}</dt><dd>(.*?)</dd>", page, re.S)
    assert match, f"no {term!r} in the certificate"
    return match.group(1)


def test_certificate_shows_the_deletion_without_personal_data(client, user, settings):
    phone, typed, email = str(user.phone), national(user), user.email
    done = deletion.delete_now(user)

    response = certificate_page(client, done.code)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Account deleted" in page
    assert "signature is valid" in page
    erased = summary_of(page, "Erased")
    assert "Account" in erased
    assert "Optional profile" in erased
    expected = timezone.localtime(done.executed_at + timedelta(days=settings.BACKUP_RETENTION_DAYS))
    assert done.certificate["backups_expire_at"] == expected.date().isoformat()
    assert expected.date().isoformat() in summary_of(page, "Backups expire")
    for secret in (phone, typed, email):
        assert secret not in page
        assert secret not in str(done.certificate)


def test_certificate_code_is_forgiving_about_case_and_dashes(client, user):
    done = deletion.delete_now(user)

    response = certificate_page(client, done.code.replace("-", " ").lower())

    assert response.status_code == 200
    assert "Account deleted" in response.content.decode()


@pytest.mark.parametrize("tamper", ["backup-date", "erased-categories"])
def test_tampered_certificate_shows_an_invalid_signature(client, user, tamper):
    done = deletion.delete_now(user)
    if tamper == "backup-date":
        forged = {**done.certificate, "backups_expire_at": "2020-01-01"}
    else:
        erased = [i for i in done.certificate["erased"] if i["category"] != "account"]
        forged = {**done.certificate, "erased": erased}
    AccountDeletion.objects.filter(pk=done.pk).update(certificate=forged)

    response = certificate_page(client, done.code)

    page = response.content.decode()
    assert response.status_code == 200
    assert "signature does not match" in page
    assert "signature is valid" not in page
    assert deletion.certificate_status(done.code) == (
        AccountDeletion.objects.get(pk=done.pk),
        False,
    )


def test_unknown_certificate_code_is_a_404(client, db):
    response = certificate_page(client, "ABCD-EFGH-JKMN-PQRS")

    assert response.status_code == 404
    assert "There is no certificate with this code." in response.content.decode()


def test_malformed_certificate_code_is_a_form_error(client, db):
    response = certificate_page(client, "ABC-123")

    assert response.status_code == 200
    assert "A code has 16 letters and digits" in response.content.decode()
    assert "Account deleted" not in response.content.decode()


def test_certificate_of_a_scheduled_and_of_a_cancelled_deletion_shows_the_status(client, user):
    scheduled = deletion.schedule(user, channel=D.Channel.WEB)

    page = certificate_page(client, scheduled.code).content.decode()
    assert "Deletion scheduled" in page
    assert "Account deleted" not in page

    deletion.cancel(user)
    page = certificate_page(client, scheduled.code).content.decode()
    assert "Deletion cancelled" in page
    assert "Account deleted" not in page
    assert deletion.certificate_status(scheduled.code)[1] is False


def test_verify_rejects_garbage_signatures_without_raising(user):
    done = deletion.delete_now(user)
    content, signature, key_id = done.certificate, done.signature, done.key_id
    assert certificates.verify(content, signature, key_id) is True

    zeros = base64.urlsafe_b64encode(bytes(64)).decode().rstrip("=")
    short = base64.urlsafe_b64encode(b"too short").decode()
    for garbage in ("", "!!!not base64!!!", "abc", zeros, short, "é" * 86, signature[:-4]):
        assert certificates.verify(content, garbage, key_id) is False, garbage
    assert certificates.verify(content, signature, "0000000000000000") is False
    assert certificates.verify({**content, "account": "U-999999"}, signature, key_id) is False
    assert certificates.verify(content, None, key_id) is False


# --- 9. The delete_account command ----------------------------------------------------------


@pytest.mark.parametrize("identifier", ["+8613999999999", "nobody@example.com", "not-a-phone"])
def test_command_refuses_an_unknown_identifier(db, identifier):
    with pytest.raises(CommandError, match="No account has this phone number or e-mail"):
        call_command("delete_account", identifier, "--now", stdout=io.StringIO())
    assert not AccountDeletion.objects.exists()


def test_command_refuses_an_account_already_deleted(user):
    phone, email = str(user.phone), user.email
    call_command("delete_account", phone, "--now", stdout=io.StringIO())

    for identifier in (phone, email):
        with pytest.raises(CommandError):
            call_command("delete_account", identifier, "--now", stdout=io.StringIO())
    assert AccountDeletion.objects.filter(user=user).count() == 1


def test_command_refuses_a_staff_account(staff):
    with pytest.raises(CommandError, match="Staff accounts"):
        call_command("delete_account", staff.email, "--now", stdout=io.StringIO())
    staff.refresh_from_db()
    assert not staff.is_erased


def test_command_without_now_schedules_after_the_cooling_off(user, settings):
    out = io.StringIO()

    call_command("delete_account", user.email, "--reference", "DSR-2026-000001", stdout=out)

    scheduled = AccountDeletion.objects.get(user=user)
    assert scheduled.status == D.Status.SCHEDULED
    assert scheduled.channel == D.Channel.STAFF
    assert scheduled.request_reference == "DSR-2026-000001"
    assert scheduled.execute_after == scheduled.requested_at + timedelta(
        days=settings.ACCOUNT_DELETION_COOLING_OFF_DAYS
    )
    assert scheduled.code in out.getvalue()
    assert "scheduled for" in out.getvalue()
    user.refresh_from_db()
    assert not user.is_erased


def test_command_with_now_deletes_and_names_the_reference_in_the_certificate(user):
    out = io.StringIO()

    call_command(
        "delete_account", str(user.phone), "--now", "--reference", "DSR-2026-000002", stdout=out
    )

    done = AccountDeletion.objects.get(user=user)
    assert done.status == D.Status.DONE
    assert done.code in out.getvalue()
    assert done.certificate["request_reference"] == "DSR-2026-000002"
    assert done.certificate["account"] == f"U-{user.pk:06d}"
    assert certificates.verify(done.certificate, done.signature, done.key_id)
    user.refresh_from_db()
    assert user.is_erased
