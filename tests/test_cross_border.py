"""Every send to a recipient abroad passes the cross-border gate (STO-1, CON-3, SHR-1): one
user at a time (``may_send_to``), in bulk (``users_who_may_receive``), in marketing sends
(``send_marketing`` and the outbox's re-check before sending). Erasure notices to recipients are
a legal duty and are not gated (lifecycle/recipients.py)."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from consent import gates, ledger
from consent.models import ConsentEvent
from lifecycle import recipients as erasure_recipients
from lifecycle.models import ErasureRecord, RecipientErasure
from notifications.models import Notification

from .factories import PurposeFactory, RecipientFactory, UserFactory

pytestmark = pytest.mark.django_db
A = ConsentEvent.Action


@pytest.fixture
def marketing():
    return PurposeFactory(code="marketing", separate_consent="marketing")


@pytest.fixture
def cross_border():
    return PurposeFactory(code=gates.CROSS_BORDER_PURPOSE, separate_consent="cross_border")


@pytest.fixture
def mail_abroad(marketing):
    """The demo's shape: marketing e-mail goes through a mail provider in Singapore."""
    recipient = RecipientFactory(name="Harbour Mail", country="SG", active_from=date(2020, 1, 1))
    recipient.purposes.add(marketing)
    return recipient


def grant(user, purpose):
    ledger.record(action=A.GRANT, channel="web", user=user, purpose=purpose)


def withdraw(user, purpose):
    ledger.record(action=A.WITHDRAW, channel="web", user=user, purpose=purpose)


def send(key="spring"):
    return gates.send_marketing("Offers", "优惠", "Our offers.", "我们的优惠。", key)


def marketed():
    return set(
        Notification.objects.filter(key__startswith="marketing:").values_list(
            "recipient_id", flat=True
        )
    )


# --- One user -----------------------------------------------------------------------------------


def test_a_recipient_abroad_needs_the_cross_border_grant(mail_abroad, marketing, cross_border):
    user = UserFactory()
    grant(user, marketing)
    assert gates.may_send_to(user, mail_abroad) is False
    grant(user, cross_border)
    assert gates.may_send_to(user, mail_abroad) is True
    withdraw(user, cross_border)
    assert gates.may_send_to(user, mail_abroad) is False


def test_a_domestic_recipient_needs_no_cross_border_grant(marketing):
    domestic = RecipientFactory(country="CN", active_from=date(2020, 1, 1))
    domestic.purposes.add(marketing)
    user = UserFactory()
    grant(user, marketing)
    assert gates.may_send_to(user, domestic) is True


def test_a_recipient_outside_its_active_period_gets_nothing(marketing, cross_border):
    ended = RecipientFactory(country="SG", active_from=date(2020, 1, 1), active_to=date(2021, 1, 1))
    user = UserFactory()
    grant(user, cross_border)
    assert gates.may_send_to(user, ended) is False
    assert not gates.users_who_may_receive(User.objects.all(), ended).exists()


# --- In bulk --------------------------------------------------------------------------------------


def test_bulk_selection_agrees_with_may_send_to_in_constant_queries(
    mail_abroad, marketing, cross_border
):
    people = [UserFactory() for _ in range(6)]
    grant(people[0], marketing)
    grant(people[0], cross_border)  # both: yes
    grant(people[1], marketing)  # marketing only: no
    grant(people[2], cross_border)  # cross-border only: no
    grant(people[3], marketing)
    grant(people[3], cross_border)
    withdraw(people[3], cross_border)  # withdrawn: no

    with CaptureQueriesContext(connection) as queries:
        chosen = set(gates.users_who_may_receive(User.objects.all(), mail_abroad))
    assert chosen == {p for p in people if gates.may_send_to(p, mail_abroad)} == {people[0]}
    assert len(queries) <= 3  # the linked purposes, the minors' rule, the selection


def test_the_bulk_selection_does_not_grow_with_the_number_of_users(
    mail_abroad, marketing, cross_border
):
    for _ in range(3):
        grant(UserFactory(), marketing)

    with CaptureQueriesContext(connection) as few:
        list(gates.users_who_may_receive(User.objects.all(), mail_abroad))
    for _ in range(10):
        grant(UserFactory(), marketing)
    with CaptureQueriesContext(connection) as many:
        list(gates.users_who_may_receive(User.objects.all(), mail_abroad))
    assert len(few) == len(many)


# --- Marketing through a recipient abroad ---------------------------------------------------------


def test_marketing_through_a_recipient_abroad_reaches_only_cross_border_grantees(
    mail_abroad, marketing, cross_border
):
    both, marketing_only = UserFactory(), UserFactory()
    for user in (both, marketing_only):
        grant(user, marketing)
    grant(both, cross_border)

    assert send() == 1
    assert marketed() == {both.pk}


def test_marketing_without_a_recipient_abroad_needs_no_cross_border_grant(marketing):
    user = UserFactory()
    grant(user, marketing)
    assert send() == 1
    assert marketed() == {user.pk}


def test_a_recipient_abroad_that_is_no_longer_active_does_not_gate(marketing, cross_border):
    old = RecipientFactory(
        country="SG",
        active_from=date(2020, 1, 1),
        active_to=timezone.localdate() - timedelta(days=1),
    )
    old.purposes.add(marketing)
    user = UserFactory()
    grant(user, marketing)
    assert send() == 1


def test_withdrawing_cross_border_after_queueing_stops_the_message(
    mail_abroad, marketing, cross_border
):
    user = UserFactory()
    grant(user, marketing)
    grant(user, cross_border)
    send()
    note = Notification.objects.get(key__startswith="marketing:")
    assert gates.marketing_still_wanted(note) is True

    withdraw(user, cross_border)

    assert gates.marketing_still_wanted(note) is False


def test_a_second_run_after_granting_cross_border_queues_only_the_new_one(
    mail_abroad, marketing, cross_border
):
    first, later = UserFactory(), UserFactory()
    for user in (first, later):
        grant(user, marketing)
    grant(first, cross_border)
    assert send("summer") == 1
    grant(later, cross_border)
    assert send("summer") == 1
    assert marketed() == {first.pk, later.pk}


# --- Erasure notices are not gated ----------------------------------------------------------------


def test_an_erasure_notice_reaches_a_recipient_abroad_without_cross_border_consent(
    mail_abroad, cross_border
):
    mail_abroad.data_categories = ["profile"]
    mail_abroad.erasure_channel = "email"
    mail_abroad.privacy_contact = "privacy@harbour-mail.example"
    mail_abroad.save()
    person = UserFactory()
    grant(person, cross_border)
    withdraw(person, cross_border)  # the usual case: the person withdrew, the copy must go
    record = ErasureRecord.objects.create(
        reason=ErasureRecord.Reason.RULE,
        categories=["profile"],
        backups_expire_at=timezone.now() + timedelta(days=30),
    )

    assert gates.may_send_to(person, mail_abroad) is False
    assert erasure_recipients.notify(record, [person.pk], ["profile"]) == 1
    notice = RecipientErasure.objects.get()
    assert notice.recipient == mail_abroad
    assert notice.subjects == [erasure_recipients.subject_reference(mail_abroad.pk, person.pk)]
