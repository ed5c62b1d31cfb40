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


# -- every admin list and add page, and every custom view, for each role -------------------------

#: The lists each role opens besides the DPO (who opens all of them). The auditor reads all.
AGENT_LISTS = {
    "accounts.user",
    "requests.datasubjectrequest",
    "requests.requestmessage",
    "requests.calendaroverride",
}
REVIEWER_LISTS = {"accounts.user", "verification.verification", "verification.guardianconsent"}
#: The add pages a role other than the DPO opens.
AGENT_ADDS = {"requests.datasubjectrequest"}


def _registered():
    from django.contrib import admin

    return sorted(model._meta.label_lower for model in admin.site._registry)


@pytest.mark.parametrize("label", _registered())
@pytest.mark.parametrize("role", [AGENT, REVIEWER, AUDITOR])
def test_every_admin_list_is_open_to_exactly_its_roles(client, role, label):
    client.force_login(member(role))
    app_label, model_name = label.split(".")
    expected = {
        AGENT: label in AGENT_LISTS,
        REVIEWER: label in REVIEWER_LISTS,
        AUDITOR: True,
    }[role]
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    assert client.get(url).status_code == (200 if expected else 403)


@pytest.mark.parametrize("label", _registered())
@pytest.mark.parametrize("role", [AGENT, REVIEWER, AUDITOR])
def test_no_role_but_the_dpo_adds_anything_but_its_own(client, role, label):
    client.force_login(member(role))
    app_label, model_name = label.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_add")
    expected = 200 if (role == AGENT and label in AGENT_ADDS) else 403
    assert client.get(url).status_code == expected


CUSTOM_VIEWS = {
    # route: (dpo, agent, reviewer, auditor)
    "admin:index": (200, 200, 200, 200),
    "admin:personal_data_map": (200, 403, 403, 200),
    "admin:compliance_report": (200, 403, 403, 200),
    "admin:requests_csv": (200, 403, 403, 200),
    "admin:second_factor_backup_codes": (200, 200, 200, 200),
}


@pytest.mark.parametrize("route", CUSTOM_VIEWS)
@pytest.mark.parametrize("role", [DPO, AGENT, REVIEWER, AUDITOR])
def test_each_custom_admin_view_is_open_to_exactly_its_roles(client, role, route):
    client.force_login(member(role))
    expected = CUSTOM_VIEWS[route][[DPO, AGENT, REVIEWER, AUDITOR].index(role)]
    assert client.get(reverse(route)).status_code == expected


@pytest.mark.parametrize("role", [DPO, AGENT, REVIEWER, AUDITOR])
def test_the_person_page_opens_for_every_role_with_its_own_sections(client, role):
    from .factories import UserFactory

    person = UserFactory()
    DataSubjectRequestFactory(requester=person)
    client.force_login(member(role))
    page = client.get(reverse("admin:person", args=[person.pk])).content.decode()
    assert ('id="requests"' in page) == (role in (DPO, AGENT, AUDITOR))
    assert ('id="verifications"' in page) == (role in (DPO, REVIEWER, AUDITOR))
    assert ('id="audit"' in page) == (role in (DPO, AUDITOR))
    assert ('id="incidents"' in page) == (role in (DPO, AUDITOR))


@pytest.mark.parametrize(
    ("role", "status"), [(DPO, 200), (AGENT, 403), (REVIEWER, 403), (AUDITOR, 403)]
)
def test_only_the_dpo_chooses_and_notifies_the_people_affected(client, role, status):
    from .factories import IncidentFactory

    incident = IncidentFactory()
    client.force_login(member(role))
    for url in (
        reverse("admin:incidents_incident_people", args=[incident.pk]),
        reverse("admin:incidents_incident_do", args=[incident.pk, "notify"]),
    ):
        # The DPO reaches the page (or, with nobody to notify yet, is sent back with a message).
        assert client.get(url).status_code in ((200, 302) if status == 200 else (403,)), url
