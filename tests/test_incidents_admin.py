"""The incident pages of the admin (SEC-1): smoke (list, search, add, change, actions) as a DPO
signed in with the second factor, and who may do what (support agents nothing, auditors read)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from incidents import fanout, selection, tasks
from incidents.models import Incident, IncidentDelivery, NotificationRun
from privacyportal import roles

from .factories import DataSubjectRequestFactory, IncidentFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = reverse("admin:incidents_incident_changelist")
ADD = reverse("admin:incidents_incident_add")


def member(group_name):
    user = StaffFactory()
    user.user_permissions.clear()  # only what the role gives
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def dpo_client(client, settings):
    client.force_login(member(settings.DPO_GROUP_NAME))
    return client


@pytest.fixture
def incident():
    incident = IncidentFactory()
    selection.add_people(incident, [UserFactory().pk, UserFactory().pk], "query", None)
    return incident


def change_url(incident):
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def action_url(incident, name):
    return reverse("admin:incidents_incident_do", args=[incident.pk, name])


def test_changelist_search_and_filters(dpo_client, incident):
    closed = IncidentFactory(state=Incident.State.CLOSED, title="Old lost laptop")
    page = dpo_client.get(LIST)
    assert page.status_code == 200
    assert {incident.pk, closed.pk} <= {i.pk for i in page.context["cl"].result_list}
    assert "hours left" in page.content.decode()
    found = dpo_client.get(LIST, {"q": incident.reference})
    assert [i.pk for i in found.context["cl"].result_list] == [incident.pk]
    assert dpo_client.get(LIST, {"q": "laptop"}).context["cl"].result_count == 1
    only_closed = dpo_client.get(LIST, {"state__exact": "closed"})
    assert [i.pk for i in only_closed.context["cl"].result_list] == [closed.pk]
    assert dpo_client.get(LIST, {"severity__exact": "high"}).status_code == 200
    assert dpo_client.get(LIST, {"severity__exact": "%00abc"}).status_code in (200, 400)


def test_changelist_queries_do_not_grow_with_rows(dpo_client, django_assert_max_num_queries):
    for _ in range(3):
        IncidentFactory()
    dpo_client.get(LIST)
    for _ in range(10):
        IncidentFactory()
    with django_assert_max_num_queries(20):
        assert dpo_client.get(LIST).status_code == 200


def test_add_computes_the_clocks_and_shows_the_defaults(dpo_client, settings):
    settings.INCIDENT_REGULATOR_HOURS = 48
    form = dpo_client.get(ADD)
    assert form.status_code == 200
    assert "48 hours" in form.content.decode()  # the settings shown as help
    report = DataSubjectRequestFactory(kind="security_report")
    response = dpo_client.post(
        ADD,
        {
            "title": "Leaked export link",
            "severity": "critical",
            "state": "open",
            "detected_at_0": "2026-03-11",
            "detected_at_1": "10:00",
            "description": "A link was public.",
            "data_categories": ["account", "requests"],
            "containment": "Link revoked.",
            "reports": [report.pk],
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    incident = Incident.objects.get()
    assert incident.regulator_due_at - incident.detected_at == timedelta(hours=48)
    assert incident.people_due_at - incident.detected_at == timedelta(hours=72)
    assert list(incident.reports.all()) == [report]
    assert incident.data_categories == ["account", "requests"]
    assert incident.created_by is not None


def test_change_page_shows_clocks_progress_and_buttons(dpo_client, incident):
    page = dpo_client.get(change_url(incident))
    assert page.status_code == 200
    text = page.content.decode()
    assert "hours left" in text
    assert "not started" in text
    for target in (
        reverse("admin:incidents_incident_people", args=[incident.pk]),
        action_url(incident, "notify"),
        action_url(incident, "reported"),
        action_url(incident, "clear_people"),
    ):
        assert target in text
    assert (
        dpo_client.get(reverse("admin:incidents_incident_people", args=[incident.pk])).status_code
        == 200
    )
    # Incidents are evidence: never deleted.
    delete = reverse("admin:incidents_incident_delete", args=[incident.pk])
    assert dpo_client.get(delete).status_code == 403


def test_notify_action_confirms_then_starts_the_run(dpo_client, incident, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.run_notification, "delay", lambda pk: queued.append(pk))
    confirm = dpo_client.get(action_url(incident, "notify"))
    assert confirm.status_code == 200
    assert "To notify now" in confirm.content.decode()

    no_channel = dpo_client.post(action_url(incident, "notify"), {"confirm": "on"})
    assert no_channel.status_code == 200
    assert not NotificationRun.objects.exists()
    unconfirmed = dpo_client.post(action_url(incident, "notify"), {"by_sms": "on"})
    assert unconfirmed.status_code == 200
    assert not NotificationRun.objects.exists()

    started = dpo_client.post(
        action_url(incident, "notify"),
        {"confirm": "on", "by_email": "on", "by_announcement": "on"},
    )
    assert started.status_code == 302
    run = NotificationRun.objects.get()
    assert (run.by_email, run.by_sms, run.by_announcement) == (True, False, True)
    fanout.run(run.pk)
    assert IncidentDelivery.objects.count() == 2
    page = dpo_client.get(change_url(incident)).content.decode()
    assert "2 / 2 (100%)" in page
    # Nobody left: the action is refused.
    again = dpo_client.post(action_url(incident, "notify"), {"confirm": "on", "by_email": "on"})
    assert again.status_code == 302
    assert NotificationRun.objects.get().status == "done"


def test_notify_is_refused_without_the_notice_texts(dpo_client):
    incident = IncidentFactory(notice_measures_en="")
    selection.add_people(incident, [UserFactory().pk], "query", None)
    response = dpo_client.post(action_url(incident, "notify"), {"confirm": "on", "by_email": "on"})
    assert response.status_code == 200
    assert "texts" in response.content.decode()
    assert not NotificationRun.objects.exists()


def test_record_the_report_to_the_regulator(dpo_client):
    incident = IncidentFactory(detected_at=timezone.now() - timedelta(hours=2))
    early = (incident.detected_at - timedelta(hours=1)).astimezone(timezone.get_current_timezone())
    refused = dpo_client.post(
        action_url(incident, "reported"),
        {"confirm": "on", "reported_at": early.strftime("%Y-%m-%d %H:%M")},
    )
    assert refused.status_code == 200
    now = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    done = dpo_client.post(action_url(incident, "reported"), {"confirm": "on", "reported_at": now})
    assert done.status_code == 302
    incident.refresh_from_db()
    assert incident.regulator_reported_at is not None
    assert not incident.clock("regulator").running


def test_clear_the_people_not_yet_notified(dpo_client, incident):
    response = dpo_client.post(action_url(incident, "clear_people"), {"confirm": "on"})
    assert response.status_code == 302
    assert not incident.affected.exists()


# --- Roles ------------------------------------------------------------------------------------


def test_support_agents_get_nothing(client, incident):
    client.force_login(member(roles.SUPPORT_AGENTS))
    for url in (
        LIST,
        ADD,
        change_url(incident),
        reverse("admin:incidents_incident_people", args=[incident.pk]),
        action_url(incident, "notify"),
    ):
        assert client.get(url).status_code == 403, url


def test_auditors_view_but_neither_change_nor_notify(client, incident):
    client.force_login(member(roles.AUDITORS))
    assert client.get(LIST).status_code == 200
    page = client.get(change_url(incident))
    assert page.status_code == 200
    assert action_url(incident, "notify") not in page.content.decode()
    assert client.get(ADD).status_code == 403
    assert client.post(change_url(incident), {"title": "x"}).status_code == 403
    people = reverse("admin:incidents_incident_people", args=[incident.pk])
    assert client.get(people).status_code == 403
    notify = client.post(action_url(incident, "notify"), {"confirm": "on", "by_email": "on"})
    assert notify.status_code == 403
    assert not NotificationRun.objects.exists()


def test_notifying_needs_its_own_permission(client, incident):
    from django.contrib.auth.models import Permission

    staff = StaffFactory()
    staff.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="incidents",
            codename__in=["view_incident", "change_incident"],
        )
    )
    client.force_login(staff)
    assert client.get(change_url(incident)).status_code == 200
    assert client.post(action_url(incident, "notify"), {"confirm": "on"}).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="notify_affected"))
    client.force_login(staff)
    assert client.get(action_url(incident, "notify")).status_code == 200


def test_role_permissions(settings):
    def perms(name):
        return set(
            Group.objects.get(name=name)
            .permissions.filter(content_type__app_label="incidents")
            .values_list("codename", flat=True)
        )

    assert {"notify_affected", "change_incident", "view_incident"} <= perms(settings.DPO_GROUP_NAME)
    assert perms(roles.SUPPORT_AGENTS) == set()
    assert perms(roles.VERIFICATION_REVIEWERS) == set()
    assert perms(roles.AUDITORS) == {
        "view_incident",
        "view_affectedperson",
        "view_incidentdelivery",
        "view_notificationrun",
    }
