"""A child under 14 without a verified guardian's consent gives no optional consent and is never
processed on one (MIN-1, CON-1): the consents page, the ledger, the cookie banner, the staff
form and the gates (one at a time and in bulk) all refuse; essential purposes and other legal
bases are unaffected. The rule is verification's, reached by consent through lib.hooks."""

from datetime import date, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from consent import cookies, gates, ledger
from consent.admin.ledger import StaffDecisionForm
from consent.models import ConsentEvent, ConsentState
from lib import hooks
from notifications.models import Notification
from verification import services as verification

from .factories import PASSWORD, GuardianConsentFactory, PurposeFactory, UserFactory

pytestmark = pytest.mark.django_db
A = ConsentEvent.Action
PAGE = reverse("consents")
COOKIES = reverse("consent:cookie_settings")


def born_years_ago(age: int) -> date:
    today = timezone.localdate() - timedelta(days=30)
    try:
        return today.replace(year=today.year - age)
    except ValueError:  # 29 February
        return today.replace(year=today.year - age, day=28)


@pytest.fixture
def marketing():
    return PurposeFactory(code="marketing", separate_consent="marketing")


@pytest.fixture
def child():
    return UserFactory(date_of_birth=born_years_ago(10))


def signed_in(client, who):
    client.force_login(who)
    return client


def grant(user, purpose):
    return ledger.record(action=A.GRANT, channel="web", user=user, purpose=purpose)


def old_grant(user, purpose):
    """A grant recorded while the account's date of birth said adult, then corrected (or a grant
    from before this rule): the state says granted, the gates must not use it."""
    born = user.date_of_birth
    user.date_of_birth = born_years_ago(30)
    user.save(update_fields=["date_of_birth"])
    grant(user, purpose)
    user.date_of_birth = born
    user.save(update_fields=["date_of_birth"])


def guardian(child, status):
    extra = (
        {"verified_at": timezone.now(), "verified_by": UserFactory()} if status != "pending" else {}
    )
    return GuardianConsentFactory(child=child, status=status, **extra)


# --- The consents page ----------------------------------------------------------------------------


def test_child_posting_a_grant_directly_is_refused_and_nothing_is_recorded(
    client, child, marketing
):
    response = signed_in(client, child).post(PAGE, {"purpose": "marketing", "action": "grant"})

    assert response.status_code == 403
    assert not ConsentEvent.objects.filter(user=child).exists()
    html = response.content.decode()
    assert "guardian" in html
    assert f'href="{reverse("verification:guardian")}"' in html


def test_child_sees_why_and_no_grant_button_but_can_withdraw_an_old_grant(client, child, marketing):
    other = PurposeFactory(code="personalisation")
    old_grant(child, marketing)
    html = signed_in(client, child).get(PAGE).content.decode()

    assert "Children under 14 can give optional consents only after" in html
    assert f'href="{reverse("verification:guardian")}"' in html
    assert 'name="action" value="grant"' not in html
    assert 'name="action" value="withdraw"' in html
    assert other.name_en in html

    response = client.post(PAGE, {"purpose": "marketing", "action": "withdraw"})
    assert response.status_code == 302
    assert not ledger.has_consent("marketing", user=child)


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_a_pending_or_rejected_guardian_does_not_lift_the_refusal(client, child, marketing, status):
    guardian(child, status)
    response = signed_in(client, child).post(PAGE, {"purpose": "marketing", "action": "grant"})
    assert response.status_code == 403
    assert not ledger.has_consent("marketing", user=child)
    with pytest.raises(ledger.GrantRefused):
        grant(child, marketing)


def test_a_verified_guardian_lets_the_child_decide(client, child, marketing):
    guardian(child, "verified")
    response = signed_in(client, child).post(PAGE, {"purpose": "marketing", "action": "grant"})
    assert response.status_code == 302
    assert gates.may_process(child, "marketing") is True


def test_teenagers_and_adults_decide_for_themselves(client, marketing):
    teenager = UserFactory(date_of_birth=born_years_ago(15))
    response = signed_in(client, teenager).post(PAGE, {"purpose": "marketing", "action": "grant"})
    assert response.status_code == 302
    assert gates.may_process(teenager, "marketing") is True


# --- The ledger (every channel) ------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["web", "signup", "cookie_banner", "interstitial", "staff"])
def test_the_ledger_refuses_a_childs_grant_on_every_channel(child, marketing, channel):
    with pytest.raises(ledger.GrantRefused):
        ledger.record(action=A.GRANT, channel=channel, user=child, purpose=marketing)
    assert not ConsentEvent.objects.filter(user=child).exists()
    assert not ConsentState.objects.exists()


def test_the_ledger_still_records_a_childs_withdrawal_and_policy_decisions(child, marketing):
    from .factories import PolicyVersionFactory

    ledger.record(action=A.WITHDRAW, channel="web", user=child, purpose=marketing)
    version = PolicyVersionFactory(published_at=timezone.now())
    ledger.record(action=A.ACCEPT_POLICY, channel="signup", user=child, policy_version=version)
    assert ConsentEvent.objects.filter(user=child).count() == 2


def test_visitors_are_not_affected(marketing):
    ledger.record(action=A.GRANT, channel="cookie_banner", visitor="a" * 32, purpose=marketing)
    assert ledger.has_consent("marketing", visitor="a" * 32)


def test_the_staff_form_says_why_before_trying(child, marketing, monkeypatch):
    monkeypatch.setattr(hooks, "reference_exists", lambda user, reference: True)
    form = StaffDecisionForm(
        {"purpose": "marketing", "action": "grant", "request_reference": "DSR-TEST"},
        subject_user=child,
    )
    assert not form.is_valid()
    assert "guardian" in " ".join(form.errors["action"])


# --- The gates ----------------------------------------------------------------------------------


def test_an_old_grant_of_a_child_is_not_used(child, marketing):
    old_grant(child, marketing)
    assert ledger.has_consent("marketing", user=child)  # the state is kept as history

    assert gates.may_process(child, "marketing") is False
    assert not gates.users_who_consented(type(child).objects.all(), "marketing").filter(pk=child.pk)


def test_essential_purposes_and_other_legal_bases_are_not_affected(child):
    PurposeFactory(code="account", essential=True, legal_basis="contract")
    PurposeFactory(code="tax-records", legal_basis="legal_obligation")
    assert gates.may_process(child, "account") is True
    assert gates.may_process(child, "tax-records") is True


def test_turning_14_lifts_the_refusal_on_the_birthday(marketing):
    birthday = date(2030, 6, 15)
    person = UserFactory(date_of_birth=date(2016, 6, 15))
    with time_machine.travel(date(2030, 6, 14), tick=False):
        assert verification.is_restricted(person)
        with pytest.raises(ledger.GrantRefused):
            grant(person, marketing)
    with time_machine.travel(birthday, tick=False):
        grant(person, marketing)
        assert gates.may_process(person, "marketing") is True
        assert gates.users_who_consented(type(person).objects.all(), "marketing").get() == person


@pytest.mark.parametrize(
    ("today", "born", "restricted"),
    [
        (date(2030, 6, 15), date(2016, 6, 15), False),  # 14 today
        (date(2030, 6, 15), date(2016, 6, 16), True),  # 14 tomorrow
        (date(2030, 2, 28), date(2016, 2, 29), True),  # born on 29 February: not yet
        (date(2030, 3, 1), date(2016, 2, 29), False),
        (date(2032, 2, 29), date(2018, 2, 28), False),  # today is 29 February
        (date(2032, 2, 29), date(2018, 3, 1), True),
    ],
)
def test_the_bulk_rule_agrees_with_the_one_at_a_time_rule(today, born, restricted):
    person = UserFactory(date_of_birth=born)
    nobody = UserFactory(date_of_birth=None)
    with time_machine.travel(today, tick=False):
        assert verification.is_restricted(person) is restricted
        kept = set(verification.unrestricted(type(person).objects.all()))
        assert (person not in kept) is restricted
        assert nobody in kept


def test_bulk_selection_keeps_children_with_a_verified_guardian_only(marketing):
    adult = UserFactory()
    child_alone, child_pending, child_verified = (
        UserFactory(date_of_birth=born_years_ago(10)) for _ in range(3)
    )
    guardian(child_pending, "pending")
    guardian(child_verified, "verified")
    for person in (adult, child_alone, child_pending, child_verified):
        old_grant(person, marketing)

    chosen = set(gates.users_who_consented(type(adult).objects.all(), "marketing"))

    assert chosen == {adult, child_verified}


def test_marketing_is_not_sent_to_a_child_with_an_old_grant(child, marketing):
    adult = UserFactory()
    old_grant(child, marketing)
    grant(adult, marketing)

    gates.send_marketing("Offers", "优惠", "Our offers.", "我们的优惠。", "minors")

    assert set(
        Notification.objects.filter(key__startswith="marketing:").values_list(
            "recipient_id", flat=True
        )
    ) == {adult.pk}


def test_a_queued_message_is_stopped_if_the_account_turns_out_to_be_a_child(marketing):
    person = UserFactory()
    grant(person, marketing)
    gates.send_marketing("Offers", "优惠", "Our offers.", "我们的优惠。", "late")
    note = Notification.objects.get(key__startswith="marketing:")
    person.date_of_birth = born_years_ago(10)  # corrected by staff after a request
    person.save(update_fields=["date_of_birth"])
    note.refresh_from_db()

    assert gates.marketing_still_wanted(note) is False


def test_without_a_registered_rule_nobody_gets_optional_processing(marketing, monkeypatch):
    adult = UserFactory()
    grant(adult, marketing)
    monkeypatch.setattr(hooks, "_minor_restricted", None)
    monkeypatch.setattr(hooks, "_minor_unrestricted", None)

    assert gates.may_process(adult, "marketing") is False
    assert not gates.users_who_consented(type(adult).objects.all(), "marketing").exists()


# --- The cookie banner ----------------------------------------------------------------------------


def test_a_signed_in_childs_accept_all_is_recorded_as_a_refusal(client, child):
    response = signed_in(client, child).post(COOKIES, {"choice": "accept_all", "next": "/"})

    assert response.status_code == 302
    events = ConsentEvent.objects.filter(user=child, channel="cookie_banner")
    assert {e.action for e in events} == {A.REFUSE}  # never given: "not given"
    assert all(e.evidence["choice"] == "accept_all" for e in events)
    assert all("guardian" in e.evidence["refused"] for e in events)
    state = cookies.consent_for_request(client.get("/").wsgi_request)
    assert state.analytics is False and state.functional is False
    assert state.chosen  # the banner does not come back


def test_a_childs_old_cookie_grant_loads_no_analytics(client, child):
    purposes = cookies.ensure_cookie_purposes()
    old_grant(child, purposes[cookies.ANALYTICS])
    old_grant(child, purposes[cookies.FUNCTIONAL])

    request = signed_in(client, child).get("/").wsgi_request
    state = cookies.consent_for_request(request)

    assert state.analytics is False


@pytest.mark.parametrize("age", [10, 30])
def test_a_visitors_grant_is_not_copied_onto_a_child_at_sign_in(client, age):
    person = UserFactory(date_of_birth=born_years_ago(age))
    client.post(COOKIES, {"choice": "accept_all", "next": "/"})
    # Signing in (a real request, with the visitor cookie) links the visitor's choices.
    response = client.post(
        reverse("accounts:password_login"), {"username": person.email, "password": PASSWORD}
    )
    assert response.status_code == 302

    copied = ConsentEvent.objects.filter(user=person, action=A.GRANT).count()
    assert copied == (0 if age < 14 else 2)
