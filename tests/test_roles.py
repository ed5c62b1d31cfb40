"""The staff roles (privacyportal/roles.py): groups kept in sync after migrate, and a table of
what each role may open and do in the admin (issue 12)."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from privacyportal import roles
from requests.models import RequestState
from verification.models import Verification

from .factories import (
    DataSubjectRequestFactory,
    PolicyVersionFactory,
    StaffFactory,
    VerificationFactory,
)

pytestmark = pytest.mark.django_db

DPO, AGENT, REVIEWER, AUDITOR = "dpo", "agent", "reviewer", "auditor"
GROUPS = {
    DPO: settings.DPO_GROUP_NAME,
    AGENT: roles.SUPPORT_AGENTS,
    REVIEWER: roles.VERIFICATION_REVIEWERS,
    AUDITOR: roles.AUDITORS,
}


def member(role):
    user = StaffFactory()
    user.user_permissions.clear()  # only what the role gives
    user.groups.add(Group.objects.get(name=GROUPS[role]))
    return user


def perms(role):
    return set(
        Group.objects.get(name=GROUPS[role]).permissions.values_list(
            "content_type__app_label", "codename"
        )
    )


def test_the_groups_exist_after_migrate_with_their_roles_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= set(GROUPS.values())
    assert ("verification", "view_sensitive_data") in perms(DPO)
    assert ("requests", "change_datasubjectrequest") in perms(AGENT)
    assert ("verification", "view_sensitive_data") not in perms(AGENT)
    assert not any(app == "lifecycle" for app, _codename in perms(AGENT))  # no retention
    assert {("verification", "approve_verification"), ("verification", "view_sensitive_data")} <= (
        perms(REVIEWER)
    )
    auditor = perms(AUDITOR)
    reports = ("requests", "export_reports")  # the monthly report and CSV lists
    assert reports in auditor and reports not in perms(AGENT)
    assert all(codename.startswith("view_") for _app, codename in auditor - {reports})
    assert {("audit", "view_auditlogentry"), ("lifecycle", "view_erasurerecord")} <= auditor
    assert ("verification", "view_sensitive_data") not in auditor


def test_an_edited_group_is_put_back_by_sync_roles(capsys):
    agents = Group.objects.get(name=roles.SUPPORT_AGENTS)
    agents.permissions.clear()
    call_command("sync_roles")
    assert ("requests", "change_datasubjectrequest") in perms(AGENT)
    assert "Support agents:" in capsys.readouterr().out


PAGES = {
    # page: (dpo, agent, reviewer, auditor) status codes of a GET
    "admin:requests_datasubjectrequest_changelist": (200, 200, 403, 200),
    "admin:verification_verification_changelist": (200, 403, 200, 200),
    "admin:verification_guardianconsent_changelist": (200, 403, 200, 200),
    "admin:audit_auditlogentry_changelist": (200, 403, 403, 200),
    "admin:lifecycle_erasurerecord_changelist": (200, 403, 403, 200),
    "admin:lifecycle_retentionrule_changelist": (200, 403, 403, 200),
    "admin:lifecycle_legalhold_changelist": (200, 403, 403, 200),
    "admin:consent_consentevent_changelist": (200, 403, 403, 200),
    "admin:consent_policyversion_changelist": (200, 403, 403, 200),
    "admin:accounts_user_changelist": (200, 200, 200, 200),
    "admin:auth_group_changelist": (200, 403, 403, 200),
    "admin:personal_data_map": (200, 403, 403, 200),
    "admin:requests_datasubjectrequest_add": (200, 200, 403, 403),
}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", [DPO, AGENT, REVIEWER, AUDITOR])
def test_each_role_opens_exactly_its_pages(client, role, page):
    client.force_login(member(role))
    expected = PAGES[page][[DPO, AGENT, REVIEWER, AUDITOR].index(role)]
    assert client.get(reverse(page)).status_code == expected


@pytest.mark.parametrize(
    ("role", "allowed"), [(DPO, True), (AGENT, True), (REVIEWER, False), (AUDITOR, False)]
)
def test_who_may_start_work_on_a_request(client, role, allowed):
    client.force_login(member(role))
    dsr = DataSubjectRequestFactory()
    url = reverse("admin:requests_datasubjectrequest_transition", args=[dsr.pk, "start"])
    response = client.post(url, {"confirm": "on"})
    dsr.refresh_from_db()
    assert (response.status_code, dsr.state != RequestState.SUBMITTED) == (
        (302, True) if allowed else (403, False)
    )


@pytest.mark.parametrize(
    ("role", "allowed"), [(DPO, True), (AGENT, False), (REVIEWER, True), (AUDITOR, False)]
)
def test_who_may_approve_a_verification(client, role, allowed):
    client.force_login(member(role))
    verification = VerificationFactory()
    url = reverse("admin:verification_verification_decide", args=[verification.pk, "approve"])
    response = client.post(url, {"confirm": "on"})
    verification.refresh_from_db()
    approved = verification.status == Verification.Status.APPROVED
    assert (response.status_code, approved) == ((302, True) if allowed else (403, False))


@pytest.mark.parametrize(
    ("role", "status"), [(DPO, 200), (AGENT, 403), (REVIEWER, 403), (AUDITOR, 403)]
)
def test_only_the_dpo_may_publish_a_policy_version(client, role, status):
    version = PolicyVersionFactory()  # a draft
    client.force_login(member(role))
    url = reverse("admin:consent_policyversion_publish", args=[version.pk])
    assert client.get(url).status_code == status


def test_the_demo_has_a_staff_member_in_each_role():
    from accounts.models import User

    call_command("seed_demo", "--password", "a-demo-pass-2026")
    names = {
        email: set(User.objects.get(email=email).groups.values_list("name", flat=True))
        for email in ("dpo@example.com", "agent@example.com", "auditor@example.com")
    }
    assert settings.DPO_GROUP_NAME in names["dpo@example.com"]
    assert names["agent@example.com"] == {roles.SUPPORT_AGENTS, roles.VERIFICATION_REVIEWERS}
    assert names["auditor@example.com"] == {roles.AUDITORS}
    assert not User.objects.get(email="auditor@example.com").is_superuser
