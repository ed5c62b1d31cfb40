"""The consent gates: consent-gated work asks one place, which reads the current state
(CON-1, CON-2, CON-3, SHR-1, STO-1, ACC-3)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from consent import gates, ledger
from consent.models import ConsentEvent
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


def grant(user, purpose):
    return ledger.record(action=A.GRANT, channel="web", user=user, purpose=purpose)


def withdraw(user, purpose):
    return ledger.record(action=A.WITHDRAW, channel="web", user=user, purpose=purpose)


def send(key="spring"):
    return gates.send_marketing(
        "Spring offers", "春季优惠", "Our spring offers.", "我们的春季优惠。", key
    )


def marketing_recipients():
    return set(
        Notification.objects.filter(key__startswith="marketing:").values_list(
            "recipient_id", flat=True
        )
    )


# --- may_process ----------------------------------------------------------------------------------


def test_consent_purpose_is_refused_until_granted_and_again_after_withdrawal(user, marketing):
    assert gates.may_process(user, "marketing") is False
    grant(user, marketing)
    assert gates.may_process(user, "marketing") is True
    withdraw(user, marketing)
    assert gates.may_process(user, "marketing") is False


def test_essential_purpose_is_always_allowed_without_any_decision(user):
    PurposeFactory(code="account", essential=True, legal_basis="contract")
    assert gates.may_process(user, "account") is True


def test_non_consent_legal_basis_is_allowed_without_consent(user):
    PurposeFactory(code="tax-records", legal_basis="legal_obligation")
    assert gates.may_process(user, "tax-records") is True


def test_inactive_or_unknown_purpose_is_never_allowed(user):
    essential = PurposeFactory(code="old-service", essential=True, legal_basis="contract")
    essential.active = False
    essential.save()
    assert gates.may_process(user, "old-service") is False
    assert gates.may_process(user, "no-such-purpose") is False


def test_granted_but_inactive_purpose_is_refused(user, marketing):
    grant(user, marketing)
    marketing.active = False
    marketing.save()
    assert gates.may_process(user, "marketing") is False


def test_anonymous_user_never_passes_a_consent_gate(marketing):
    from django.contrib.auth.models import AnonymousUser

    assert gates.may_process(AnonymousUser(), "marketing") is False
    assert gates.may_process(None, "marketing") is False


def test_one_users_grant_does_not_open_the_gate_for_another(user, other_user, marketing):
    grant(user, marketing)
    assert gates.may_process(other_user, "marketing") is False


def test_require_raises_consent_required(user, marketing):
    with pytest.raises(gates.ConsentRequired) as exc:
        gates.require(user, "marketing")
    assert exc.value.purpose_code == "marketing"
    grant(user, marketing)
    gates.require(user, "marketing")  # no exception once granted


def test_may_process_is_one_query_however_long_the_ledger(
    user, marketing, django_assert_num_queries
):
    grant(user, marketing)
    # One round trip: the purpose's rule and the user's decision together (issue 14).
    with django_assert_num_queries(1):
        assert gates.may_process(user, "marketing")
    for _ in range(30):
        withdraw(user, marketing)
        grant(user, marketing)
    with django_assert_num_queries(1):
        assert gates.may_process(user, "marketing")
    withdraw(user, marketing)
    with django_assert_num_queries(1):
        assert not gates.may_process(user, "marketing")


def test_essential_purpose_check_is_one_query(user, django_assert_num_queries):
    PurposeFactory(code="account", essential=True, legal_basis="contract")
    with django_assert_num_queries(1):
        assert gates.may_process(user, "account")


# --- Marketing ------------------------------------------------------------------------------------


def test_marketing_is_not_sent_without_consent(user, other_user, marketing):
    assert send() == 0
    assert not Notification.objects.filter(key__startswith="marketing:").exists()


def test_marketing_is_sent_after_grant_and_only_to_those_who_granted(user, other_user, marketing):
    grant(user, marketing)
    assert send() == 1
    assert marketing_recipients() == {user.pk}
    note = Notification.objects.get(key=f"marketing:spring:{user.pk}")
    assert note.to_email == user.email
    assert note.subject == "Spring offers"
    assert "/account/consents/" in note.body  # how to withdraw


def test_withdrawn_user_is_not_sent_marketing(user, other_user, marketing):
    grant(user, marketing)
    grant(other_user, marketing)
    withdraw(other_user, marketing)
    assert send() == 1
    assert marketing_recipients() == {user.pk}


def test_marketing_is_in_the_users_language(marketing):
    chinese = UserFactory(preferred_language="zh-hans")
    grant(chinese, marketing)
    send()
    note = Notification.objects.get(key=f"marketing:spring:{chinese.pk}")
    assert note.subject == "春季优惠"
    assert note.body.startswith("我们的春季优惠。")


def test_marketing_campaign_run_twice_queues_each_user_once(user, marketing):
    grant(user, marketing)
    assert send() == 1
    assert send() == 0
    assert Notification.objects.filter(key__startswith="marketing:").count() == 1


def test_marketing_skips_inactive_users_and_users_without_email(marketing):
    inactive = UserFactory(is_active=False)
    no_email = UserFactory(email=None)
    for u in (inactive, no_email):
        grant(u, marketing)
    assert send() == 0


def test_marketing_purpose_inactive_sends_nothing(user, marketing):
    grant(user, marketing)
    marketing.active = False
    marketing.save()
    assert send() == 0


def test_marketing_crosses_batch_boundaries(marketing, monkeypatch):
    monkeypatch.setattr(gates, "BATCH_SIZE", 2)
    users = [UserFactory() for _ in range(5)]
    for u in users[:4]:
        grant(u, marketing)
    assert send() == 4
    assert marketing_recipients() == {u.pk for u in users[:4]}


@pytest.mark.parametrize("key", ["", "a:b", "x" * 101])
def test_marketing_refuses_a_bad_campaign_key(user, marketing, key):
    grant(user, marketing)
    with pytest.raises(ValueError):
        send(key)
    assert not Notification.objects.exists()


def test_users_who_consented_is_one_query(marketing, django_assert_num_queries):
    users = [UserFactory() for _ in range(6)]
    for u in users[::2]:
        grant(u, marketing)
    withdraw(users[2], marketing)
    with django_assert_num_queries(2):  # the purpose's rule, then the filtered users
        found = set(
            gates.users_who_consented(User.objects.all(), "marketing").values_list("pk", flat=True)
        )
    assert found == {users[0].pk, users[4].pk}


def test_users_who_consented_for_unknown_purpose_is_empty(user):
    assert not gates.users_who_consented(User.objects.all(), "nope").exists()


# --- Recipients -----------------------------------------------------------------------------------


def test_recipient_abroad_is_blocked_without_cross_border_consent(user, cross_border):
    abroad = RecipientFactory(country="US")
    assert gates.may_send_to(user, abroad) is False
    grant(user, cross_border)
    assert gates.may_send_to(user, abroad) is True
    withdraw(user, cross_border)
    assert gates.may_send_to(user, abroad) is False


def test_recipient_abroad_is_blocked_when_the_cross_border_purpose_does_not_exist(user):
    assert gates.may_send_to(user, RecipientFactory(country="SG")) is False


def test_domestic_recipient_needs_no_cross_border_consent(user):
    assert gates.may_send_to(user, RecipientFactory(country="CN")) is True


def test_recipient_needs_every_linked_consent_purpose(user, marketing, cross_border):
    analytics = PurposeFactory(code="analytics")
    essential = PurposeFactory(code="account", essential=True, legal_basis="contract")
    recipient = RecipientFactory(country="CN")
    recipient.purposes.set([marketing, analytics, essential])
    grant(user, marketing)
    assert gates.may_send_to(user, recipient) is False
    grant(user, analytics)
    assert gates.may_send_to(user, recipient) is True


def test_recipient_abroad_needs_both_its_purposes_and_cross_border(user, marketing, cross_border):
    recipient = RecipientFactory(country="DE")
    recipient.purposes.set([marketing])
    grant(user, cross_border)
    assert gates.may_send_to(user, recipient) is False
    grant(user, marketing)
    assert gates.may_send_to(user, recipient) is True


def test_recipient_outside_its_active_period_receives_nothing(user):
    today = timezone.localdate()
    ended = RecipientFactory(
        country="CN", active_from=today - timedelta(days=30), active_to=today - timedelta(days=1)
    )
    future = RecipientFactory(country="CN", active_from=today + timedelta(days=1))
    assert gates.may_send_to(user, ended) is False
    assert gates.may_send_to(user, future) is False


def test_may_send_to_refuses_anonymous():
    from django.contrib.auth.models import AnonymousUser

    assert gates.may_send_to(AnonymousUser(), RecipientFactory(country="CN")) is False


def test_a_withdrawal_after_queueing_stops_the_marketing_email(db):
    """Queued while granted, withdrawn before delivery: nothing is sent (CON-2)."""
    from django.core import mail

    from consent import ledger
    from consent.gates import send_marketing
    from notifications.models import Notification
    from notifications.services import deliver_pending

    from .factories import PurposeFactory, UserFactory

    purpose = PurposeFactory(code="marketing", separate_consent="marketing")
    user = UserFactory()
    ledger.record(action="grant", channel="web", user=user, purpose=purpose)
    assert send_marketing("Offer", "优惠", "Body", "正文", "late-withdrawal") == 1
    ledger.record(action="withdraw", channel="web", user=user, purpose=purpose)
    deliver_pending()
    assert mail.outbox == []
    note = Notification.objects.get(key__startswith="marketing:late-withdrawal:")
    assert note.status == Notification.Status.FAILED
    assert "withdrawn" in note.last_error
