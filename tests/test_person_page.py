"""One admin page per person (privacyportal/person.py) and people named on admin pages, never by
an internal id alone (accounts/display.py) (issue 12)."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditLogEntry
from consent import ledger
from consent.models import ConsentEvent
from privacyportal import roles

from .factories import (
    DataSubjectRequestFactory,
    DpoFactory,
    GuardianConsentFactory,
    PurposeFactory,
    StaffFactory,
    UserFactory,
    VerificationFactory,
)

pytestmark = pytest.mark.django_db


def person_url(user):
    return reverse("admin:person", args=[user.pk])


def member(group_name):
    user = StaffFactory()
    user.user_permissions.clear()
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def alice():
    return UserFactory(username="alice", email="alice@example.com", phone="+8613900000001")


def test_the_person_page_shows_each_kind_of_record_linking_to_its_own_page(client, alice):
    dsr = DataSubjectRequestFactory(requester=alice)
    verification = VerificationFactory(user=alice)
    guardian = GuardianConsentFactory(child=alice)
    purpose = PurposeFactory(code="marketing-email")
    event = ledger.record(
        action=ConsentEvent.Action.GRANT,
        channel=ConsentEvent.Channel.WEB,
        user=alice,
        purpose=purpose,
    )
    client.force_login(DpoFactory())
    page = client.get(person_url(alice)).content.decode()
    for obj, route in [
        (dsr, "admin:requests_datasubjectrequest_change"),
        (verification, "admin:verification_verification_change"),
        (guardian, "admin:verification_guardianconsent_change"),
        (event, "admin:consent_consentevent_change"),
    ]:
        assert reverse(route, args=[obj.pk]) in page
    assert dsr.reference in page
    assert "alice (U-" in page  # named, with the reference beside the name


def test_identity_is_masked_unless_the_viewer_may_see_sensitive_data(client, alice):
    auditor = member(roles.AUDITORS)
    client.force_login(auditor)
    page = client.get(person_url(alice)).content.decode()
    assert "+8613900000001" not in page and "alice@example.com" not in page
    assert "0001" in page and "a***@example.com" in page
    client.force_login(DpoFactory())
    page = client.get(person_url(alice)).content.decode()
    assert "+8613900000001" in page and "alice@example.com" in page


def test_sections_follow_the_viewers_permissions(client, alice):
    DataSubjectRequestFactory(requester=alice)
    VerificationFactory(user=alice)
    client.force_login(member(roles.SUPPORT_AGENTS))
    page = client.get(person_url(alice)).content.decode()
    assert 'id="requests"' in page
    assert 'id="verifications"' not in page  # agents do not see verifications
    assert 'id="audit"' not in page


def test_staff_without_access_to_people_are_refused(client, alice):
    staff = StaffFactory()
    staff.user_permissions.clear()
    client.force_login(staff)
    assert client.get(person_url(alice)).status_code == 403
    client.force_login(UserFactory())  # not staff: to the sign-in page
    assert client.get(person_url(alice)).status_code == 302


def test_an_unknown_person_is_a_404(client):
    client.force_login(DpoFactory())
    assert client.get(reverse("admin:person", args=[999_999])).status_code == 404


def _queries_for(client, user):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(person_url(user)).status_code == 200
    return len(ctx.captured_queries)


def test_the_person_page_costs_the_same_queries_for_few_and_many_records(client):
    few, many = UserFactory(), UserFactory()
    DataSubjectRequestFactory(requester=few)
    for _ in range(25):
        DataSubjectRequestFactory(requester=many)
        VerificationFactory(
            user=many, status="rejected", decided_at=timezone.now(), rejection_reason="Blurred"
        )
    client.force_login(DpoFactory())
    _queries_for(client, few)  # warm the content-type cache
    assert _queries_for(client, few) == _queries_for(client, many)
    page = client.get(person_url(many)).content.decode()
    assert f"requester__id__exact={many.pk}" in page  # "see all" leads to the filtered list


def test_see_all_links_open_the_filtered_lists(client, alice):
    DataSubjectRequestFactory(requester=alice)
    other = DataSubjectRequestFactory()
    client.force_login(DpoFactory())
    url = reverse("admin:requests_datasubjectrequest_changelist")
    page = client.get(f"{url}?requester__id__exact={alice.pk}&status=all").content.decode()
    assert other.reference not in page
    audit = reverse("admin:audit_auditlogentry_changelist")
    for query in (f"actor__id__exact={alice.pk}", f"object_id__exact={alice.pk}"):
        assert client.get(f"{audit}?{query}").status_code == 200


def test_the_queue_names_the_requester_and_links_to_the_person_page(client, alice):
    DataSubjectRequestFactory(requester=alice)
    client.force_login(DpoFactory())
    page = client.get(reverse("admin:requests_datasubjectrequest_changelist")).content.decode()
    assert person_url(alice) in page
    assert "alice (U-" in page


def test_people_without_a_name_are_shown_by_masked_phone_in_the_admin(client):
    bob = UserFactory(username=None, phone="+8613900000077")
    dsr = DataSubjectRequestFactory(requester=bob)
    client.force_login(DpoFactory())
    page = client.get(
        reverse("admin:requests_datasubjectrequest_change", args=[dsr.pk])
    ).content.decode()
    assert "**********0077" in page
    assert person_url(bob) in page  # the request page links to the person


def test_records_keep_the_reference_not_the_name(client, alice):
    """The audit log copies str(obj): the name shown on pages never reaches it."""
    client.force_login(DpoFactory())
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(phone=str(alice.phone), email="alice@example.org", preferred_language="en")
    data.pop("groups", None)
    data.pop("user_permissions", None)
    data.pop("last_login", None)
    data.pop("date_joined", None)
    client.post(url, data)
    entry = AuditLogEntry.objects.filter(object_id=alice.pk).order_by("-id").first()
    assert entry is not None
    assert entry.object_repr == f"U-{alice.pk:06d}"
    assert str(alice) == f"U-{alice.pk:06d}"  # outside an admin page


def test_autocomplete_names_people(client, alice):
    client.force_login(DpoFactory())
    url = reverse("admin:autocomplete")
    response = client.get(
        url,
        {
            "term": "alice@example.com",
            "app_label": "requests",
            "model_name": "datasubjectrequest",
            "field_name": "requester",
        },
    )
    assert response.status_code == 200
    texts = [r["text"] for r in response.json()["results"]]
    assert any(t.startswith("alice (U-") for t in texts)


# -- a guardian's consent is verified by someone other than whoever recorded it --------------


def test_the_staff_member_who_recorded_a_guardians_consent_cannot_verify_it(client):
    recorder, other = DpoFactory(), DpoFactory()
    consent = GuardianConsentFactory(recorded_by=recorder)
    url = reverse("admin:verification_guardianconsent_decide", args=[consent.pk, "verify"])
    client.force_login(recorder)
    assert client.post(url, {"confirm": "on"}).status_code == 403
    page = client.get(reverse("admin:verification_guardianconsent_change", args=[consent.pk]))
    assert url not in page.content.decode()
    consent.refresh_from_db()
    assert consent.status == consent.Status.PENDING
    client.force_login(other)
    assert client.post(url, {"confirm": "on"}).status_code == 302
    consent.refresh_from_db()
    assert consent.status == consent.Status.VERIFIED and consent.verified_by == other


def test_a_consent_added_in_the_admin_records_who_entered_it(client):
    dpo = DpoFactory()
    child = UserFactory()
    client.force_login(dpo)
    response = client.post(
        reverse("admin:verification_guardianconsent_add"),
        {
            "child": child.pk,
            "guardian_name": "Li Na",
            "guardian_phone": "+8613700000099",
            "relationship": "Mother",
            "note": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    consent = child.guardian_consents.get()
    assert consent.recorded_by == dpo
    assert User.objects.filter(pk=dpo.pk).exists()


@pytest.mark.parametrize("group", [roles.SUPPORT_AGENTS, roles.AUDITORS])
def test_staff_without_the_unmasking_permission_see_contacts_masked_everywhere(
    client, alice, group
):
    from notifications.models import Notification

    Notification.objects.create(
        key="probe:1", recipient=alice, to_email="alice@example.com", subject="s", body="b"
    )
    client.force_login(member(group))
    pages = [
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[alice.pk]),
    ]
    if group == roles.AUDITORS:
        note = Notification.objects.get(key="probe:1")
        pages += [
            reverse("admin:notifications_notification_changelist"),
            reverse("admin:notifications_notification_change", args=[note.pk]),
        ]
    for url in pages:
        page = client.get(url).content.decode()
        assert "alice@example.com" not in page and "13900000001" not in page, url
        assert "a***@example.com" in page, url
    client.force_login(DpoFactory())
    page = client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert "alice@example.com" in page


def test_see_all_of_holds_and_incidents_lists_what_the_page_counts(client, alice):
    from datetime import timedelta

    from django.utils import timezone

    from incidents import selection
    from lifecycle.models import LegalHold

    from .factories import IncidentFactory

    req = DataSubjectRequestFactory(requester=alice)
    LegalHold.objects.create(
        scope="request", request=req, reason="Court", ends_at=timezone.now() + timedelta(days=9)
    )
    incident = IncidentFactory()
    selection.add_people(incident, [alice.pk], "query", None)
    client.force_login(DpoFactory())
    page = client.get(person_url(alice)).content.decode()
    holds = reverse("admin:lifecycle_legalhold_changelist") + f"?person={alice.pk}"
    incidents = reverse("admin:incidents_incident_changelist") + f"?person={alice.pk}"
    assert holds in page and incidents in page
    assert (
        "Court" in client.get(holds).content.decode()
        or str(req.reference) in client.get(holds).content.decode()
    )
    assert incident.reference in client.get(incidents).content.decode()
    assert client.get(reverse("admin:incidents_incident_changelist") + "?person=x").status_code in (
        302,
        400,
    )
