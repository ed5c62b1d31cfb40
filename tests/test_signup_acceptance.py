"""Sign-up records the acceptance of the privacy policy and the user agreement in the consent
ledger (POL-1, CON-1): the box links to the versions in force, and a new account gets one
``accept_policy`` event per version, channel sign-up, with the exact sentence shown, the
versions and the address prefix and user agent as evidence. accounts reaches consent through
lib.hooks (it sits below it)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from accounts import sms
from accounts.models import User
from consent import ledger, policies
from consent.models import ConsentEvent

from .factories import PolicyDocumentFactory, PolicyVersionFactory, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = reverse("accounts:signup")
PHONE, PHONE_E164 = "13900008888", "+8613900008888"


@pytest.fixture
def documents():
    """Version 2 of the privacy policy and version 1 of the user agreement in force; a version 3
    of the privacy policy published but not in force yet."""
    now = timezone.now()
    privacy = PolicyDocumentFactory()
    agreement = PolicyDocumentFactory(
        slug="user-agreement", kind="user_agreement", title_en="User agreement", title_zh="用户协议"
    )
    PolicyVersionFactory(document=privacy, number=1, effective_at=now - timedelta(days=60))
    current = PolicyVersionFactory(document=privacy, number=2, effective_at=now - timedelta(days=5))
    terms = PolicyVersionFactory(
        document=agreement, number=1, effective_at=now - timedelta(days=60)
    )
    PolicyVersionFactory(document=privacy, number=3, effective_at=now + timedelta(days=10))
    for version in privacy.versions.all().order_by("number"):
        policies.publish(version, UserFactory(is_staff=True), now=version.effective_at)
    policies.publish(terms, UserFactory(is_staff=True), now=terms.effective_at)
    return current, terms


def signup_data(**extra):
    return {
        "phone": PHONE,
        "date_of_birth": "1990-05-01",
        "email": "",
        "preferred_language": "en",
        "accept": "on",
        "code": "",
        **extra,
    }


def shown_versions(client):
    html = client.get(SIGNUP).content.decode()
    assert 'name="policy_versions"' in html
    found = re.search(r'name="policy_versions" value="([^"]*)"', html)
    return found.group(1) if found else ""


def sign_up(client, **extra):
    """Send the code, then create the account with it, as the page does."""
    versions = shown_versions(client)
    client.post(SIGNUP, {**signup_data(policy_versions=versions), "send": "1", **extra})
    messages = [msg for to, msg in sms.outbox if str(to) == PHONE_E164]
    code = re.search(r"\b(\d{6})\b", messages[-1]).group(1)
    return client.post(
        SIGNUP,
        {**signup_data(code=code, policy_versions=versions), "create": "1", **extra},
        HTTP_USER_AGENT="TestBrowser/2.0",
    )


def test_the_box_links_to_both_versions_in_force(client, documents):
    current, terms = documents
    html = client.get(SIGNUP).content.decode()

    assert f'href="{reverse("consent:version", args=["privacy-policy", 2])}"' in html
    assert f'href="{reverse("consent:version", args=["user-agreement", 1])}"' in html
    assert "Privacy policy (version 2)" in html and "User agreement (version 1)" in html
    assert 'target="_blank" rel="noopener"' in html
    assert shown_versions(client) == ",".join(str(pk) for pk in sorted([current.pk, terms.pk]))


def test_a_new_account_accepts_both_versions_with_the_wording_shown(client, documents):
    current, terms = documents
    response = sign_up(client)

    assert response.status_code == 302
    user = User.objects.get(phone=PHONE_E164)
    events = ConsentEvent.objects.filter(user=user).order_by("id")
    assert {e.policy_version_id for e in events} == {current.pk, terms.pk}
    wording = "I have read the Privacy policy (version 2) and the User agreement (version 1)."
    for event in events:
        assert event.action == ConsentEvent.Action.ACCEPT_POLICY
        assert event.channel == ConsentEvent.Channel.SIGNUP
        assert event.evidence["wording"] == wording
        assert event.evidence["user_agent"] == "TestBrowser/2.0"
        assert event.evidence["ip_prefix"] == "127.0.0.0/24"
        assert event.evidence["language"] == "en"
        assert {(d["document"], d["number"]) for d in event.evidence["documents"]} == {
            ("privacy-policy", 2),
            ("user-agreement", 1),
        }
    assert ledger.verify_chain().ok
    # Accepted at sign-up: no re-consent is owed for these versions.
    assert policies.pending_for(user).reconsent is None


def test_the_wording_is_recorded_in_the_language_shown(client, documents):
    client.cookies["django_language"] = "zh-hans"
    with translation.override("zh-hans"):
        sign_up(client, preferred_language="zh-hans")
    event = ConsentEvent.objects.filter(user__phone=PHONE_E164).first()
    assert "隐私政策" in event.evidence["wording"]
    assert event.evidence["language"].startswith("zh")


def test_without_the_box_there_is_no_account_and_no_event(client, documents):
    versions = shown_versions(client)
    response = client.post(
        SIGNUP, {**signup_data(policy_versions=versions, accept=""), "send": "1"}
    )

    assert response.status_code == 200
    assert "accept" in response.context["form"].errors
    assert not sms.outbox
    assert not User.objects.filter(phone=PHONE_E164).exists()
    assert not ConsentEvent.objects.exists()


def test_a_version_published_after_the_page_was_shown_is_shown_before_it_is_accepted(
    client, documents
):
    current, terms = documents
    old_token = shown_versions(client)
    newer = PolicyVersionFactory(document=terms.document, number=2)
    policies.publish(newer, UserFactory(is_staff=True))

    response = client.post(SIGNUP, {**signup_data(policy_versions=old_token), "send": "1"})

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["accept"])
    assert "has changed since this page was shown" in errors
    html = response.content.decode()
    assert "User agreement (version 2)" in html
    assert f'value="{",".join(str(pk) for pk in sorted([current.pk, newer.pk]))}"' in html
    assert 'name="accept" checked' not in html
    assert not sms.outbox


def test_without_published_policies_the_account_is_created_without_events(client):
    response = sign_up(client)

    assert response.status_code == 302
    assert User.objects.filter(phone=PHONE_E164).exists()
    assert not ConsentEvent.objects.exists()


def test_a_number_that_already_has_an_account_records_nothing(client, documents):
    UserFactory(phone=PHONE_E164)
    response = sign_up(client)

    assert response.status_code == 302
    assert not ConsentEvent.objects.exists()
