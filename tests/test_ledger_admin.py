"""The ledger in the admin: read-only, filters on indexed columns with a query count that does not
grow, the regulator's CSV export, and staff recording a decision on a user's behalf (CON-1,
CON-2, AUD-1)."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent import ledger
from consent.admin.ledger import LedgerPaginator
from consent.models import ConsentEvent, Purpose
from lib.admin import COUNT_CAP

from .factories import (
    DataSubjectRequestFactory,
    PolicyVersionFactory,
    PurposeFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
A = ConsentEvent.Action
CHANGELIST = reverse("admin:consent_consentevent_changelist")
EXPORT = reverse("admin:consent_consentevent_export")


def evidence_url(user):
    return reverse("admin:consent_consentevent_user", args=[user.pk])


@pytest.fixture
def admin_user(db):
    return UserFactory(is_staff=True, is_superuser=True, email="root@example.com")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def marketing():
    return PurposeFactory(code="marketing", separate_consent="marketing")


@pytest.fixture
def analytics():
    return PurposeFactory(code="analytics")


def record(user=None, purpose=None, action=A.GRANT, channel="web", **kw):
    if user is None and "visitor" not in kw:
        kw["visitor"] = "f" * 32
    return ledger.record(action=action, channel=channel, user=user, purpose=purpose, **kw)


def ids(client, **params):
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return [e.pk for e in response.context["cl"].result_list]


def staff_with(*codenames):
    staff = StaffFactory()
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


def read_csv(response):
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


# --- The changelist -------------------------------------------------------------------------------


def test_changelist_filters_by_purpose_action_channel_and_user(
    admin_client, user, other_user, marketing, analytics
):
    a = record(user, marketing)
    b = record(user, marketing, action=A.WITHDRAW)
    c = record(other_user, analytics, channel="cookie_banner")
    v = record(None, analytics, channel="cookie_banner")
    assert ids(admin_client) == [v.pk, c.pk, b.pk, a.pk]  # newest first
    assert ids(admin_client, purpose=marketing.pk) == [b.pk, a.pk]
    assert ids(admin_client, action="withdraw") == [b.pk]
    assert ids(admin_client, channel="cookie_banner") == [v.pk, c.pk]
    assert ids(admin_client, user__id__exact=user.pk) == [b.pk, a.pk]
    assert ids(admin_client, purpose=marketing.pk, action="grant") == [a.pk]


def test_policy_acceptance_filter_shows_events_without_purpose(admin_client, user, marketing):
    version = PolicyVersionFactory(published_at=timezone.now())
    record(user, marketing)
    accepted = ledger.record(
        action=A.ACCEPT_POLICY, channel="interstitial", user=user, policy_version=version
    )
    assert ids(admin_client, purpose="none") == [accepted.pk]


def test_date_filter_ranges(admin_client, user, marketing):
    now = timezone.now()
    old = record(user, marketing, now=now - timedelta(days=400))
    week = record(user, marketing, now=now - timedelta(days=3))
    today = record(user, marketing, now=now)
    assert ids(admin_client, date="today") == [today.pk]
    assert week.pk in ids(admin_client, date="7d")
    assert old.pk not in ids(admin_client, date="7d")
    assert old.pk not in ids(admin_client, date="year")
    assert ids(admin_client, date="bogus") == [today.pk, week.pk, old.pk]


def test_date_filter_today_uses_local_midnight(admin_client, user, marketing):
    # 2026-03-11 00:30 in Shanghai is still 2026-03-10 in UTC.
    with time_machine.travel("2026-03-10T16:30:00+00:00", tick=False):
        yesterday = record(user, marketing, now=timezone.now() - timedelta(hours=1))
        today = record(user, marketing)
        assert ids(admin_client, date="today") == [today.pk]
        assert yesterday.pk in ids(admin_client, date="7d")


def test_search_is_exact_on_phone_user_id_and_visitor(admin_client, user, other_user, marketing):
    mine = record(user, marketing)
    record(other_user, marketing)
    anon = record(None, marketing, visitor="a" * 32)
    assert ids(admin_client, q=str(user.phone)) == [mine.pk]
    assert ids(admin_client, q=f"U-{user.pk:06d}") == [mine.pk]
    assert ids(admin_client, q="a" * 32) == [anon.pk]
    assert ids(admin_client, q="a" * 31) == []  # exact, not a prefix
    assert ids(admin_client, q="+8613900000000") == []  # a valid number without an account


def test_bad_filter_values_do_not_crash(admin_client, user, marketing):
    record(user, marketing)
    assert admin_client.get(CHANGELIST, {"purpose": "abc"}).status_code == 200
    assert admin_client.get(CHANGELIST, {"user__id__exact": "abc"}).status_code in (200, 302)


def test_changelist_query_count_is_the_same_for_10_and_200_events(
    admin_client, user, other_user, marketing, analytics
):
    def load(n):
        for i in range(n):
            record(
                user if i % 3 else other_user,
                marketing if i % 2 else analytics,
                action=A.GRANT if i % 4 else A.WITHDRAW,
            )

    def count(**params):
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(CHANGELIST, params).status_code == 200
        return len(ctx)

    load(10)
    small = [count(), count(purpose=marketing.pk, date="7d"), count(user__id__exact=user.pk)]
    load(190)
    large = [count(), count(purpose=marketing.pk, date="7d"), count(user__id__exact=user.pk)]
    assert small == large


def test_changelist_total_comes_from_the_ledger_head(admin_client, user, marketing):
    for _ in range(3):
        record(user, marketing)
    cl = admin_client.get(CHANGELIST).context["cl"]
    assert cl.result_count == 3
    assert cl.full_result_count is None  # no full count of the table


def test_filtered_count_is_capped():
    class FakeQuery:
        where = True

    class FakeQueryset:
        query = FakeQuery()

        def order_by(self):
            return self

        def __getitem__(self, item):
            assert item == slice(None, COUNT_CAP)
            return self

        def count(self):
            return COUNT_CAP

    assert LedgerPaginator(FakeQueryset(), 50).count == COUNT_CAP


def test_filtered_changelist_links_to_the_export(admin_client, user, marketing):
    record(user, marketing)
    html = admin_client.get(CHANGELIST, {"user__id__exact": user.pk}).content.decode()
    assert f"{EXPORT}?user={user.pk}" in html
    assert evidence_url(user) in html
    assert f"{EXPORT}?user=" not in admin_client.get(CHANGELIST).content.decode()


# --- Read-only ------------------------------------------------------------------------------------


def test_ledger_cannot_be_added_changed_or_deleted_in_the_admin(admin_client, user, marketing):
    event = record(user, marketing)
    change = reverse("admin:consent_consentevent_change", args=[event.pk])
    assert admin_client.get(reverse("admin:consent_consentevent_add")).status_code == 403
    assert admin_client.get(change).status_code == 200  # view only
    response = admin_client.post(change, {"action": "withdraw", "channel": "staff"})
    assert response.status_code == 403
    delete = reverse("admin:consent_consentevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [event.pk]}
    )
    assert bulk.status_code in (200, 302)
    stored = ConsentEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.channel, stored.hash) == (A.GRANT, "web", event.hash)
    assert ledger.verify_chain().ok


def test_changelist_shows_no_add_button(admin_client, user, marketing):
    record(user, marketing)
    assert (
        reverse("admin:consent_consentevent_add")
        not in admin_client.get(CHANGELIST).content.decode()
    )


def test_purpose_code_cannot_be_renamed_once_saved(admin_client, marketing):
    response = admin_client.get(reverse("admin:consent_purpose_change", args=[marketing.pk]))
    assert response.status_code == 200
    assert "code" in response.context["adminform"].readonly_fields


def test_purpose_and_recipient_changelists_filter(admin_client, marketing):
    PurposeFactory(code="account", essential=True, legal_basis="contract")
    response = admin_client.get(
        reverse("admin:consent_purpose_changelist"), {"essential__exact": 1}
    )
    assert [p.code for p in response.context["cl"].result_list] == ["account"]
    response = admin_client.get(reverse("admin:consent_purpose_changelist"), {"q": "market"})
    assert [p.code for p in response.context["cl"].result_list] == ["marketing"]
    assert (
        admin_client.get(
            reverse("admin:consent_recipient_changelist"), {"country": "US"}
        ).status_code
        == 200
    )
    assert admin_client.get(reverse("admin:consent_recipient_add")).status_code == 200


# --- The regulator's export -----------------------------------------------------------------------


def test_export_contains_every_event_of_the_user_with_hashes_and_a_bom(
    admin_client, user, other_user, marketing
):
    version = PolicyVersionFactory(number=4, published_at=timezone.now())
    first = record(
        user,
        marketing,
        policy_version=version,
        evidence={"wording": "营销", "ip_prefix": "203.0.113.0/24"},
    )
    record(other_user, marketing)
    second = record(user, marketing, action=A.WITHDRAW)
    response = admin_client.get(EXPORT, {"user": user.pk})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    header, body = rows[0], rows[1:]
    assert {"hash", "prev_hash", "evidence", "policy_version", "purpose", "action"} <= set(header)
    col = {name: i for i, name in enumerate(header)}
    assert [int(r[col["id"]]) for r in body] == [first.pk, second.pk]  # oldest first, only theirs
    assert body[0][col["hash"]] == first.hash
    assert body[0][col["prev_hash"]] == first.prev_hash
    assert body[1][col["prev_hash"]] != ""
    assert body[0][col["policy_version"]] == "4"
    assert body[0][col["policy_document"]] == "privacy-policy"
    assert '"wording": "营销"' in body[0][col["evidence"]]
    assert body[1][col["action"]] == "withdraw"


def test_export_escapes_formulas(admin_client, user):
    evil = Purpose.objects.create(
        code="evil", name_en='=HYPERLINK("http://x")', name_zh="@SUM(A1)", legal_basis="consent"
    )
    record(user, evil, request_reference="-2+3")
    record(user, evil, action=A.WITHDRAW, request_reference="+cmd")
    rows = read_csv(admin_client.get(EXPORT, {"user": user.pk}))
    col = {name: i for i, name in enumerate(rows[0])}
    assert rows[1][col["purpose_name_en"]] == '\'=HYPERLINK("http://x")'
    assert rows[1][col["purpose_name_zh"]] == "'@SUM(A1)"
    assert rows[1][col["request_reference"]] == "'-2+3"
    assert rows[2][col["request_reference"]] == "'+cmd"
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


def test_export_of_a_user_without_events_is_only_the_header(admin_client, user):
    rows = read_csv(admin_client.get(EXPORT, {"user": user.pk}))
    assert len(rows) == 1


def test_export_is_audited(admin_client, user, marketing):
    from audit.models import AuditLogEntry

    record(user, marketing)
    b"".join(admin_client.get(EXPORT, {"user": user.pk}).streaming_content)
    assert AuditLogEntry.objects.filter(
        object_pk=str(user.pk), action=AuditLogEntry.Action.ACCESS
    ).exists()


@pytest.mark.parametrize(
    ("params", "status"),
    [({}, 400), ({"user": "abc"}, 400), ({"user": "-1"}, 400), ({"user": "999999"}, 404)],
)
def test_export_bad_user_parameter(admin_client, params, status):
    assert admin_client.get(EXPORT, params).status_code == status


def test_export_needs_the_view_permission(client, user, marketing):
    record(user, marketing)
    client.force_login(staff_with())  # staff, but no view_consentevent
    assert client.get(EXPORT, {"user": user.pk}).status_code == 403
    assert client.get(evidence_url(user)).status_code == 403
    client.force_login(staff_with("view_consentevent"))
    response = client.get(EXPORT, {"user": user.pk})
    assert response.status_code == 200
    assert len(read_csv(response)) == 2


def test_export_is_not_for_non_staff(client, user, marketing):
    record(user, marketing)
    client.force_login(user)
    response = client.get(EXPORT, {"user": user.pk})
    assert response.status_code == 302
    assert "login" in response["Location"]


# --- Staff recording on the user's behalf ---------------------------------------------------------


@pytest.fixture
def recorder(client):
    staff = staff_with("view_consentevent", "add_consentevent")
    client.force_login(staff)
    client.staff = staff
    return client


def test_evidence_page_shows_state_and_history(recorder, user, marketing):
    event = record(user, marketing)
    response = recorder.get(evidence_url(user))
    assert response.status_code == 200
    assert [s.purpose.code for s in response.context["states"]] == ["marketing"]
    assert [e.pk for e in response.context["events"]] == [event.pk]
    assert f"{EXPORT}?user={user.pk}" in response.content.decode()


def test_staff_record_on_behalf_with_the_users_request_reference(recorder, user, marketing):
    dsr = DataSubjectRequestFactory(requester=user)
    response = recorder.post(
        evidence_url(user),
        {
            "purpose": "marketing",
            "action": "grant",
            "request_reference": dsr.reference.lower(),
            "note": "Asked by phone",
        },
    )
    assert response.status_code == 302
    event = ConsentEvent.objects.get()
    assert event.user == user
    assert event.channel == ConsentEvent.Channel.STAFF
    assert event.recorded_by == recorder.staff
    assert event.request_reference == dsr.reference
    assert event.evidence["staff_note"] == "Asked by phone"
    assert event.evidence["wording"].startswith("Purpose marketing")
    assert ledger.has_consent("marketing", user=user)


@pytest.mark.parametrize("which", ["other_users", "missing", "empty"])
def test_staff_record_refuses_a_reference_that_is_not_the_users(
    recorder, user, other_user, marketing, which
):
    reference = {
        "other_users": lambda: DataSubjectRequestFactory(requester=other_user).reference,
        "missing": lambda: "DSR-2020-999999",
        "empty": lambda: "",
    }[which]()
    response = recorder.post(
        evidence_url(user),
        {"purpose": "marketing", "action": "grant", "request_reference": reference},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["request_reference"]
    assert not ConsentEvent.objects.exists()


def test_staff_record_refuses_essential_unknown_purposes_and_bad_actions(recorder, user, marketing):
    dsr = DataSubjectRequestFactory(requester=user)
    PurposeFactory(code="account", essential=True, legal_basis="contract")
    for data in (
        {"purpose": "account", "action": "grant"},
        {"purpose": "nope", "action": "grant"},
        {"purpose": "marketing", "action": "accept_policy"},
    ):
        response = recorder.post(evidence_url(user), {**data, "request_reference": dsr.reference})
        assert response.status_code == 200
        assert response.context["form"].errors
    assert not ConsentEvent.objects.exists()


def test_staff_without_add_permission_cannot_record(client, user, marketing):
    dsr = DataSubjectRequestFactory(requester=user)
    client.force_login(staff_with("view_consentevent"))
    page = client.get(evidence_url(user))
    assert page.status_code == 200
    assert page.context["form"] is None
    response = client.post(
        evidence_url(user),
        {"purpose": "marketing", "action": "grant", "request_reference": dsr.reference},
    )
    assert response.status_code == 403
    assert not ConsentEvent.objects.exists()


def test_evidence_page_of_a_missing_user_is_404(recorder):
    assert (
        recorder.get(reverse("admin:consent_consentevent_user", args=[999999])).status_code == 404
    )


# --- Smoke: the three admins of this module -------------------------------------------------------


@pytest.mark.parametrize("model_name", ["purpose", "recipient", "consentevent"])
def test_admin_pages_render(admin_client, user, marketing, model_name):
    from .factories import RecipientFactory

    recipient = RecipientFactory()
    recipient.purposes.set([marketing])
    event = record(user, marketing)
    obj = {"purpose": marketing, "recipient": recipient, "consentevent": event}[model_name]
    changelist = reverse(f"admin:consent_{model_name}_changelist")
    response = admin_client.get(changelist)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
    for term in ("test", "123", obj.pk, "+8613900000001"):
        assert admin_client.get(changelist, {"q": term}).status_code == 200
    add = admin_client.get(reverse(f"admin:consent_{model_name}_add"))
    assert add.status_code == (403 if model_name == "consentevent" else 200)
    change = admin_client.get(reverse(f"admin:consent_{model_name}_change", args=[obj.pk]))
    assert change.status_code == 200
