"""Retention rules and legal holds in the admin (RET-1, RET-2): the DPO reads and edits each
category's rule with a preview of the next run, confirms a run larger than its cap, places legal
holds (bad input is a form error, never a 500), sees what each hold keeps, and ends it. Rules and
holds are never deleted; every change is in the audit log with the staff member."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLogEntry
from lifecycle.models import LegalHold, RetentionRule

from .factories import StaffFactory, UserFactory
from .retention_helpers import closed_request, hold, rule, sms_codes

pytestmark = pytest.mark.django_db

RULES = reverse("admin:lifecycle_retentionrule_changelist")
HOLDS = reverse("admin:lifecycle_legalhold_changelist")
ADD_HOLD = reverse("admin:lifecycle_legalhold_add")


@pytest.fixture
def root(db):
    """pytest-django's default admin has the phone number "admin", which our model refuses."""
    return UserFactory(is_staff=True, is_superuser=True, email="root@example.com")


@pytest.fixture
def root_client(root):
    client = Client()
    client.force_login(root)
    return client


def staff_client_with(*codenames):
    staff = StaffFactory()
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client, staff


def rule_url(r, view="change"):
    return reverse(f"admin:lifecycle_retentionrule_{view}", args=[r.pk])


def hold_url(h, view="change"):
    return reverse(f"admin:lifecycle_legalhold_{view}", args=[h.pk])


def flash(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def audit_entries(obj):
    return AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
    ).order_by("id")


def waiting(category="sms_codes", count=5):
    RetentionRule.objects.filter(category=category).update(
        waiting_count=count, waiting_since=timezone.now()
    )
    return rule(category)


# --- Retention rules ----------------------------------------------------------------------------


def test_the_rules_list_shows_every_category(root_client):
    response = root_client.get(RULES)

    assert response.status_code == 200
    shown = {r.category for r in response.context["cl"].result_list}
    assert shown == set(RetentionRule.objects.values_list("category", flat=True))
    assert "One-time codes" in response.content.decode()


def test_a_rules_page_previews_what_the_next_run_would_erase(root_client, user):
    sms_codes(user.phone, 3)

    response = root_client.get(rule_url(rule("sms_codes")))

    assert response.status_code == 200
    page = response.content.decode()
    assert "accounts.PhoneCode: 3 (delete)" in page
    assert "Confirm the large run" not in page  # not waiting


def test_a_rules_preview_says_when_a_hold_covers_the_category(root_client):
    hold(category="sms_codes")

    response = root_client.get(rule_url(rule("sms_codes")))

    assert "a legal hold covers the whole category" in response.content.decode()


def test_changing_a_rule_is_audited_with_the_staff_member(root_client, root):
    r = rule("notifications")
    data = {
        "period_days": 60,
        "clock": r.clock,
        "action": r.action,
        "legal_basis": r.legal_basis,
        "active": "on",
        "cap": r.cap,
    }

    response = root_client.post(rule_url(r), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    r.refresh_from_db()
    assert r.period_days == 60
    assert r.category == "notifications"
    entry = audit_entries(r).last()
    assert entry.actor == root
    assert entry.changes["period_days"] == ["90", "60"]


def test_the_category_of_a_rule_cannot_be_changed(root_client):
    r = rule("notifications")
    data = {
        "category": "sms_codes",
        "period_days": r.period_days,
        "clock": r.clock,
        "action": r.action,
        "legal_basis": r.legal_basis,
        "active": "on",
        "cap": r.cap,
    }

    root_client.post(rule_url(r), data)

    r.refresh_from_db()
    assert r.category == "notifications"


def test_a_rule_cannot_be_deleted_nor_added_while_every_category_has_one(root_client):
    r = rule("sms_codes")

    assert root_client.get(rule_url(r, "delete")).status_code == 403
    assert root_client.post(rule_url(r, "delete"), {"post": "yes"}).status_code == 403
    assert root_client.get(reverse("admin:lifecycle_retentionrule_add")).status_code == 403
    response = root_client.post(
        RULES, {"action": "delete_selected", "_selected_action": [r.pk], "post": "yes"}
    )
    assert RetentionRule.objects.filter(pk=r.pk).exists()
    assert response.status_code in (200, 302)


def test_a_missing_rule_can_be_added_again(root_client):
    RetentionRule.objects.filter(category="exports").delete()

    response = root_client.post(
        reverse("admin:lifecycle_retentionrule_add"),
        {
            "category": "exports",
            "period_days": 7,
            "clock": "created",
            "action": "delete",
            "legal_basis": "A download is kept only for the person to fetch it.",
            "active": "on",
            "cap": 10000,
        },
    )

    assert response.status_code == 302
    assert rule("exports").period_days == 7


def test_confirming_a_large_run_needs_the_permission(user):
    r = waiting()
    client, _staff = staff_client_with("view_retentionrule", "change_retentionrule")

    assert client.get(rule_url(r, "confirm")).status_code == 403
    assert client.post(rule_url(r, "confirm"), {"confirm": "on"}).status_code == 403

    r.refresh_from_db()
    assert r.confirmed_until is None


def test_a_rule_that_is_not_waiting_cannot_be_confirmed(root_client):
    r = rule("sms_codes")

    response = root_client.post(rule_url(r, "confirm"), {"confirm": "on"}, follow=True)

    assert "not waiting for a confirmation" in " ".join(flash(response))
    r.refresh_from_db()
    assert r.confirmed_until is None


def test_a_dpo_with_the_permission_confirms_a_waiting_rule():
    r = waiting()
    client, staff = staff_client_with(
        "view_retentionrule", "change_retentionrule", "confirm_retentionrule"
    )

    page = client.get(rule_url(r)).content.decode()
    assert "Confirm the large run" in page
    assert "5 rows, more than the cap" in page
    form = client.get(rule_url(r, "confirm"))
    assert form.status_code == 200
    assert "Confirm the large run" in form.content.decode()
    unconfirmed = client.post(rule_url(r, "confirm"), {"confirm": ""})
    assert unconfirmed.status_code == 200
    assert unconfirmed.context["form"].errors
    r.refresh_from_db()
    assert r.confirmed_until is None

    response = client.post(rule_url(r, "confirm"), {"confirm": "on"})

    assert response.status_code == 302
    r.refresh_from_db()
    assert r.confirmed_by == staff
    assert r.confirmed_until > timezone.now()


def test_confirming_a_large_run_is_audited_with_the_dpo(root_client, root):
    """Rules are audited (lifecycle/apps.py), waiting_count and waiting_since excepted: the
    DPO's confirmation of a large run is exactly the change the audit trail must show."""
    r = waiting()

    root_client.post(rule_url(r, "confirm"), {"confirm": "on"})

    r.refresh_from_db()
    assert r.confirmed_by == root
    entries = [e for e in audit_entries(r) if "confirmed_until" in (e.changes or {})]
    assert entries, "the confirmation left no entry in the audit log"
    assert entries[-1].actor == root


# --- Legal holds ----------------------------------------------------------------------------------


def hold_form(**overrides):
    start = timezone.localtime()
    end = start + timedelta(days=90)
    data = {
        "scope": "user",
        "user": "",
        "request": "",
        "category": "",
        "reason": "Court order 2026-0042: keep everything about this person.",
        "starts_at_0": start.strftime("%Y-%m-%d"),
        "starts_at_1": start.strftime("%H:%M:%S"),
        "ends_at_0": end.strftime("%Y-%m-%d"),
        "ends_at_1": end.strftime("%H:%M:%S"),
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ({"scope": "user"}, "user"),
        ({"scope": "request"}, "request"),
        ({"scope": "category"}, "category"),
        ({"scope": "category", "category": "sms_codes", "user": "{user}"}, "user"),
        ({"scope": "user", "user": "{user}", "category": "sms_codes"}, "category"),
        ({"scope": "user", "user": "{user}", "request": "{request}"}, "request"),
        ({"scope": "user", "user": "{user}", "ends_at_0": "2020-01-01"}, "ends_at"),
        ({"scope": "user", "user": "{user}", "reason": ""}, "reason"),
        ({"scope": "user", "user": "{user}", "reason": "   "}, "reason"),
        ({"scope": "user", "user": "999999"}, "user"),
        ({"scope": "category", "category": "no_such_category"}, "category"),
        ({"scope": "", "user": "{user}"}, "scope"),
        ({"scope": "user", "user": "{user}", "ends_at_0": "not a date"}, "ends_at"),
    ],
    ids=[
        "user scope without a user",
        "request scope without a request",
        "category scope without a category",
        "category scope with a user",
        "user scope with a category",
        "user scope with a request",
        "end before start",
        "blank reason",
        "reason of spaces",
        "unknown user",
        "unknown category",
        "no scope",
        "end not a date",
    ],
)
def test_a_bad_hold_is_a_form_error_not_a_server_error(root_client, user, case, field):
    req = closed_request(user, closed_days_ago=1)
    data = hold_form(
        **{k: v.format(user=user.pk, request=req.pk) for k, v in case.items()},
    )

    response = root_client.post(ADD_HOLD, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert not LegalHold.objects.exists()


def test_a_valid_hold_is_created_with_its_author_and_audited(root_client, root, user):
    response = root_client.post(ADD_HOLD, hold_form(user=str(user.pk)))

    assert response.status_code == 302
    created = LegalHold.objects.get()
    assert (created.scope, created.user, created.created_by) == ("user", user, root)
    entry = audit_entries(created).get()
    assert entry.action == AuditLogEntry.Action.CREATE
    assert entry.actor == root
    assert "reason" in entry.changes


@pytest.mark.parametrize("scope", ["request", "category"])
def test_holds_on_a_request_or_a_category_are_created_too(root_client, user, scope):
    req = closed_request(user, closed_days_ago=1)
    target = {"request": str(req.pk)} if scope == "request" else {"category": "requests"}

    response = root_client.post(ADD_HOLD, hold_form(scope=scope, **target))

    assert response.status_code == 302
    created = LegalHold.objects.get()
    assert created.scope == scope
    assert created.request == (req if scope == "request" else None)
    assert created.category == ("requests" if scope == "category" else "")


def test_a_holds_page_shows_what_it_keeps_from_erasure(root_client, user):
    sms_codes(user.phone, 2)
    h = hold(user=user)

    response = root_client.get(hold_url(h))

    assert response.status_code == 200
    page = response.content.decode()
    assert "accounts.PhoneCode: 2" in page
    assert "End the hold" in page


def test_changing_a_holds_end_date_is_audited(root_client, root, user):
    h = hold(user=user)
    new_end = timezone.localtime() + timedelta(days=400)
    data = hold_form(
        reason=h.reason,
        starts_at_0=timezone.localtime(h.starts_at).strftime("%Y-%m-%d"),
        starts_at_1=timezone.localtime(h.starts_at).strftime("%H:%M:%S"),
        ends_at_0=new_end.strftime("%Y-%m-%d"),
        ends_at_1=new_end.strftime("%H:%M:%S"),
    )

    response = root_client.post(hold_url(h), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    h.refresh_from_db()
    # The day where the portal is (the form's), not in UTC: from 16:00 UTC they differ.
    assert timezone.localtime(h.ends_at).date() == new_end.date()
    assert (h.scope, h.user) == ("user", user)
    entry = audit_entries(h).last()
    assert entry.action == AuditLogEntry.Action.UPDATE
    assert entry.actor == root
    assert "ends_at" in entry.changes


def test_ending_a_hold_sets_ended_at_and_is_audited(root_client, root, user):
    h = hold(user=user)

    page = root_client.get(hold_url(h, "end"))
    assert page.status_code == 200
    assert "End the hold" in page.content.decode()
    assert root_client.post(hold_url(h, "end"), {}).status_code == 200  # not confirmed
    h.refresh_from_db()
    assert h.ended_at is None

    response = root_client.post(hold_url(h, "end"), {"confirm": "on"})

    assert response.status_code == 302
    h.refresh_from_db()
    assert h.ended_at is not None
    entry = audit_entries(h).last()
    assert entry.action == AuditLogEntry.Action.UPDATE
    assert entry.actor == root
    assert "ended_at" in entry.changes
    assert "End the hold" not in root_client.get(hold_url(h)).content.decode()


def test_a_hold_no_longer_in_force_cannot_be_ended_again(root_client, user):
    h = hold(user=user, ended_at=timezone.now() - timedelta(days=1))
    ended_at = h.ended_at

    response = root_client.post(hold_url(h, "end"), {"confirm": "on"}, follow=True)

    assert "no longer in force" in " ".join(flash(response))
    h.refresh_from_db()
    assert h.ended_at == ended_at


def test_ending_a_hold_needs_the_change_permission(user):
    h = hold(user=user)
    client, _staff = staff_client_with("view_legalhold")

    assert client.post(hold_url(h, "end"), {"confirm": "on"}).status_code == 403
    h.refresh_from_db()
    assert h.ended_at is None


def test_a_hold_cannot_be_deleted(root_client, user):
    h = hold(user=user)

    assert root_client.get(hold_url(h, "delete")).status_code == 403
    assert root_client.post(hold_url(h, "delete"), {"post": "yes"}).status_code == 403
    root_client.post(
        HOLDS, {"action": "delete_selected", "_selected_action": [h.pk], "post": "yes"}
    )
    assert LegalHold.objects.filter(pk=h.pk).exists()


def test_the_holds_list_filters_those_in_force(root_client, user, other_user):
    current = hold(user=user)
    ended = hold(user=other_user, ended_at=timezone.now())
    expired = hold(category="sms_codes", starts_at=timezone.now() - timedelta(days=9), days=-1)

    in_force = root_client.get(HOLDS, {"current": "yes"})
    over = root_client.get(HOLDS, {"current": "no"})

    assert in_force.status_code == over.status_code == 200
    assert {h.pk for h in in_force.context["cl"].result_list} == {current.pk}
    assert {h.pk for h in over.context["cl"].result_list} == {ended.pk, expired.pk}
