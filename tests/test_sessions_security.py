"""Session limits: staff sessions end when idle or too old; every session of a user ends on a
password change (except the one it was changed in), a deactivation and an account deletion."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.test import Client, override_settings
from django.urls import reverse

from accounts.middleware import SessionLimitsMiddleware
from accounts.models import UserSession
from accounts.sessions import end_all_sessions
from lifecycle import deletion
from lifecycle.models import AccountDeletion

from .factories import PASSWORD, StaffFactory

CENTER = reverse("accounts:center")
ADMIN = "/admin/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def alive(client) -> bool:
    return Session.objects.filter(session_key=client.session.session_key).exists()


def soon():
    return time_machine.travel(datetime.now(UTC) + timedelta(minutes=1), tick=False)


# --- Staff: idle timeout and maximum age ----------------------------------------------------------


def test_idle_staff_session_ends_and_asks_to_sign_in_again(staff):
    with soon() as traveller:
        client = signed_in(staff)
        key = client.session.session_key
        assert client.get(ADMIN).status_code == 200
        traveller.shift(timedelta(minutes=29))
        assert client.get(ADMIN).status_code == 200
        traveller.shift(timedelta(minutes=31))
        response = client.get("/admin/accounts/user/?q=x")
        assert response.status_code == 302
        assert response.url == "/admin/login/?next=/admin/accounts/user/%3Fq%3Dx"
        messages = [str(m) for m in get_messages(response.wsgi_request)]
        assert any("inactivity" in m for m in messages)
        assert not Session.objects.filter(session_key=key).exists()
        assert not UserSession.objects.filter(user=staff).exists()
        assert client.get(ADMIN).status_code == 302


def test_idleness_counts_from_the_last_request_not_from_a_minute_before(staff):
    """Requests 50 or 59 seconds apart keep a 1-minute idle limit satisfied: idleness is
    counted from the last request, give or take TOUCH_EVERY, never from a minute before."""
    with soon() as traveller:
        client = signed_in(staff)
        assert client.get(ADMIN).status_code == 200
        traveller.shift(timedelta(seconds=50))
        assert client.get(ADMIN).status_code == 200
        traveller.shift(timedelta(seconds=50))
        with override_settings(STAFF_SESSION_IDLE_MINUTES=1):
            assert client.get(ADMIN).status_code == 200
            traveller.shift(timedelta(seconds=59))
            assert client.get(ADMIN).status_code == 200  # never before the limit
            traveller.shift(timedelta(seconds=60 + SessionLimitsMiddleware.TOUCH_EVERY + 1))
            assert client.get(ADMIN).status_code == 302  # and at most TOUCH_EVERY after it


def test_active_staff_session_ends_at_its_maximum_age(staff):
    with soon() as traveller:
        client = signed_in(staff)
        for _i in range(11 * 3 + 2):  # a request every 20 minutes for 11h40
            traveller.shift(timedelta(minutes=20))
            assert client.get(ADMIN).status_code == 200
        traveller.shift(timedelta(minutes=21))  # 12h01 after signing in
        response = client.get(ADMIN)
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/")
        messages = [str(m) for m in get_messages(response.wsgi_request)]
        assert any("maximum length" in m for m in messages)


def test_staff_limits_come_from_the_settings(staff, settings):
    settings.STAFF_SESSION_IDLE_MINUTES = 5
    settings.STAFF_SESSION_MAX_HOURS = 1
    with soon() as traveller:
        client = signed_in(staff)
        traveller.shift(timedelta(minutes=6))
        assert client.get(ADMIN).status_code == 302
        client = signed_in(staff)
        for _i in range(15):
            traveller.shift(timedelta(minutes=4))
            assert client.get(ADMIN).status_code == 200
        traveller.shift(timedelta(minutes=1))
        assert client.get(ADMIN).status_code == 302


def test_idle_staff_in_the_account_center_are_sent_to_the_password_page(staff):
    with soon() as traveller:
        client = signed_in(staff)
        traveller.shift(timedelta(minutes=45))
        response = client.get(CENTER)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:password_login"))


def test_a_staff_session_without_a_recorded_start_is_ended(staff):
    client = signed_in(staff)
    session = client.session
    del session["accounts_signed_in_at"]
    session.save()
    assert client.get(ADMIN).status_code == 302


def test_ordinary_users_keep_their_sessions_when_idle(user):
    with soon() as traveller:
        client = signed_in(user)
        traveller.shift(timedelta(hours=13))
        assert client.get(CENTER).status_code == 200


# --- Ending every session -----------------------------------------------------------------------


def test_a_password_change_in_the_admin_ends_the_other_sessions_only(staff):
    here, elsewhere = signed_in(staff), signed_in(staff)
    old_key = here.session.session_key
    response = here.post(
        reverse("admin:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "An0ther-long-pass",
            "new_password2": "An0ther-long-pass",
        },
    )
    assert response.status_code == 302
    assert not alive(elsewhere)
    assert elsewhere.get(ADMIN).status_code == 302
    # The session it was changed in survives, under a new key that is still on record.
    assert here.session.session_key != old_key
    assert alive(here)
    assert here.get(ADMIN).status_code == 200
    assert list(UserSession.objects.filter(user=staff).values_list("session_key", flat=True)) == [
        here.session.session_key
    ]
    assert end_all_sessions(staff) == 1
    assert not alive(here)


def test_a_password_set_in_code_ends_every_session(user):
    one, two = signed_in(user), signed_in(user)
    user.set_password("An0ther-long-pass")
    user.save()
    assert not alive(one) and not alive(two)
    assert not UserSession.objects.filter(user=user).exists()
    assert one.get(CENTER).status_code == 302


def test_an_unusable_password_ends_every_session(user):
    one = signed_in(user)
    user.set_unusable_password()
    user.save()
    assert not alive(one)


def test_other_saves_keep_the_sessions(user):
    one = signed_in(user)
    user.username = "renamed"
    user.save()
    assert alive(one)


def test_deactivation_ends_every_session(user, other_user):
    one, two, bystander = signed_in(user), signed_in(user), signed_in(other_user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert not alive(one) and not alive(two)
    assert alive(bystander)


def test_deactivation_by_an_administrator_ends_every_session(staff):
    target = StaffFactory()
    theirs = signed_in(target)
    admin = signed_in(StaffFactory(is_superuser=True))
    url = reverse("admin:accounts_user_change", args=[target.pk])
    form = admin.get(url).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("password", "groups", "user_permissions")
    }
    data.update({"phone": target.phone.as_e164, "is_active": "", "is_staff": "on"})
    data["date_joined_0"], data["date_joined_1"] = "2026-01-01", "10:00:00"
    response = admin.post(url, {k: v for k, v in data.items() if v is not False})
    assert response.status_code == 302, response.context["adminform"].form.errors
    target.refresh_from_db()
    assert not target.is_active
    assert not alive(theirs)


def test_account_deletion_ends_every_session(user):
    one, two = signed_in(user), signed_in(user)
    deletion.schedule(user, channel=AccountDeletion.Channel.WEB)
    assert not alive(one) and not alive(two)
    assert not UserSession.objects.filter(user=user).exists()


@pytest.mark.parametrize("keep_own", [True, False])
def test_end_all_sessions_can_spare_one(user, keep_own):
    mine, other = signed_in(user), signed_in(user)
    ended = end_all_sessions(user, keep=mine.session.session_key if keep_own else None)
    assert ended == (1 if keep_own else 2)
    assert alive(mine) is keep_own
    assert not alive(other)
