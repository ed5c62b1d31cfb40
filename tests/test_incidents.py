"""Breach incidents (SEC-1): the two clocks and their settings, the sweep's warnings to the DPO,
the dashboard summary, security reports linked, the registry, the audit log and the demo."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction

from audit.models import AuditLogEntry
from incidents import clocks, summary, sweep
from incidents.demo import seed_demo_incident
from incidents.forms import IncidentForm
from incidents.models import AffectedPerson, Incident, IncidentDelivery
from lib.registry import registry, undeclared
from notifications.models import Notification
from requests.models import RequestKind

from .factories import DataSubjectRequestFactory, DpoFactory, IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai


# --- Clocks -----------------------------------------------------------------------------------


def test_deadlines_follow_the_detection_and_the_hours_settings(settings):
    settings.INCIDENT_REGULATOR_HOURS = 72
    settings.INCIDENT_PEOPLE_HOURS = 96
    incident = IncidentFactory(detected_at=T0)
    assert incident.regulator_due_at == T0 + timedelta(hours=72)
    assert incident.people_due_at == T0 + timedelta(hours=96)
    assert incident.reference.startswith("INC-2026-")
    assert str(incident) == incident.reference  # no personal data in the audit log's copy

    # A later change of the settings does not move a saved deadline...
    settings.INCIDENT_REGULATOR_HOURS = 24
    incident.title = "Renamed"
    incident.save()
    incident.refresh_from_db()
    assert incident.regulator_due_at == T0 + timedelta(hours=72)
    # ...a corrected detection time does, with the hours in force then.
    incident.detected_at = T0 + timedelta(hours=1)
    incident.save(update_fields=["detected_at"])
    incident.refresh_from_db()
    assert incident.regulator_due_at == T0 + timedelta(hours=25)


def test_the_default_hours_are_72():
    from django.conf import settings

    assert settings.INCIDENT_REGULATOR_HOURS == 72
    assert settings.INCIDENT_PEOPLE_HOURS == 72


def test_clock_states():
    incident = IncidentFactory(detected_at=T0)
    running = incident.clock(clocks.REGULATOR, now=T0 + timedelta(hours=60))
    assert (running.running, running.hours_left, running.overdue) == (True, 12.0, False)
    overdue = incident.clock(clocks.REGULATOR, now=T0 + timedelta(hours=75))
    assert (overdue.overdue, overdue.hours_left) == (True, -3.0)

    incident.regulator_reported_at = T0 + timedelta(hours=80)
    stopped = incident.clock(clocks.REGULATOR, now=T0 + timedelta(hours=90))
    assert (stopped.running, stopped.hours_left, stopped.overdue, stopped.late) == (
        False,
        None,
        False,
        True,
    )
    incident.state = Incident.State.CLOSED
    closed = incident.clock(clocks.PEOPLE, now=T0 + timedelta(hours=90))
    assert (closed.running, closed.overdue) == (False, False)


def test_the_database_refuses_a_report_before_the_detection():
    incident = IncidentFactory(detected_at=T0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(
            regulator_reported_at=T0 - timedelta(hours=1)
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(severity="extreme")


def test_one_delivery_per_incident_and_person():
    incident, user = IncidentFactory(), UserFactory()
    IncidentDelivery.objects.create(incident=incident, user=user, channels="email")
    with pytest.raises(IntegrityError), transaction.atomic():
        IncidentDelivery.objects.create(incident=incident, user=user, channels="sms")


# --- The sweep --------------------------------------------------------------------------------


def _warnings():
    return sorted(
        Notification.objects.filter(key__contains=":clock:").values_list("key", flat=True)
    )


def test_the_sweep_warns_the_dpo_once_per_band_and_deadline():
    dpo = DpoFactory()
    incident = IncidentFactory(detected_at=T0)

    assert sweep.clock_sweep(now=T0 + timedelta(hours=10)) == 0  # 62 hours left: quiet

    now = T0 + timedelta(hours=50)  # 22 hours left on both clocks
    assert sweep.clock_sweep(now=now) == 2
    assert sweep.clock_sweep(now=now) == 0  # run twice: one message per clock
    assert sweep.clock_sweep(now=now + timedelta(minutes=15)) == 0
    keys = _warnings()
    assert len(keys) == 2
    assert all(f"incident:{incident.pk}:clock:" in k and ":24:" in k for k in keys)
    note = Notification.objects.get(key=keys[0])
    assert note.to_email == dpo.email
    assert incident.reference in note.subject
    assert f"/admin/incidents/incident/{incident.pk}/change/" in note.body

    assert sweep.clock_sweep(now=T0 + timedelta(hours=67)) == 2  # within 6 hours
    # The regulator was told: only the people's clock runs on.
    incident.regulator_reported_at = T0 + timedelta(hours=68)
    incident.save()
    assert sweep.clock_sweep(now=T0 + timedelta(hours=73)) == 1
    assert sweep.clock_sweep(now=T0 + timedelta(hours=74)) == 0
    assert any(":people:overdue:" in k for k in _warnings())
    assert not any(":regulator:overdue:" in k for k in _warnings())


def test_the_sweep_ignores_closed_incidents_and_goes_to_the_mailbox_without_a_dpo(settings):
    settings.DPO_EMAIL = "privacy-office@example.com"
    IncidentFactory(detected_at=T0, state=Incident.State.CLOSED)
    assert sweep.clock_sweep(now=T0 + timedelta(hours=100)) == 0
    IncidentFactory(detected_at=T0)
    assert sweep.clock_sweep(now=T0 + timedelta(hours=100)) == 2
    assert set(Notification.objects.values_list("to_email", flat=True)) == {
        "privacy-office@example.com"
    }


def test_the_sweep_task_is_scheduled_by_beat(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"incidents.tasks.incident_clock_sweep", "incidents.tasks.resume_notifications"} <= tasks


# --- The dashboard's summary ------------------------------------------------------------------


def test_open_incidents_in_one_query(django_assert_num_queries):
    late = IncidentFactory(detected_at=T0)
    soon = IncidentFactory(detected_at=T0 + timedelta(hours=10), severity="critical")
    IncidentFactory(detected_at=T0, state=Incident.State.CLOSED)
    soon.people_notified_at = T0 + timedelta(hours=20)
    soon.save()
    now = T0 + timedelta(hours=75)
    with django_assert_num_queries(1):
        rows = summary.open_incidents(now=now)
    assert [r["reference"] for r in rows] == [late.reference, soon.reference]
    first, second = rows
    assert first["regulator_overdue"] and first["people_overdue"]
    assert first["regulator_hours_left"] == -3.0
    assert first["url"] == f"/admin/incidents/incident/{late.pk}/change/"
    assert second["regulator_hours_left"] == 7.0 and not second["regulator_overdue"]
    assert second["people_hours_left"] is None and second["people_stopped"]
    assert second["severity"] == "critical"
    assert set(first) >= {
        "id",
        "reference",
        "title",
        "severity",
        "regulator_due_at",
        "people_due_at",
        "regulator_hours_left",
        "people_hours_left",
        "regulator_overdue",
        "people_overdue",
        "url",
    }
    assert summary.count_open() == 2


def test_open_incidents_are_at_most_ten():
    for _ in range(12):
        IncidentFactory()
    assert len(summary.open_incidents()) == 10
    assert summary.count_open() == 12


# --- Security reports -------------------------------------------------------------------------


def test_a_security_report_is_linked_and_other_requests_are_refused():
    report = DataSubjectRequestFactory(kind=RequestKind.SECURITY_REPORT)
    other = DataSubjectRequestFactory(kind=RequestKind.ACCESS)
    incident = IncidentFactory()
    data = {
        "title": incident.title,
        "severity": "high",
        "state": "open",
        "detected_at": "2026-03-11 10:00",
        "description": "x",
        "data_categories": ["account"],
        "reports": [report.pk],
    }
    form = IncidentForm(data, instance=incident)
    assert form.is_valid(), form.errors
    form.save()
    assert list(incident.reports.all()) == [report]
    assert list(report.incidents.all()) == [incident]

    refused = IncidentForm({**data, "reports": [other.pk]}, instance=incident)
    assert not refused.is_valid()
    assert "reports" in refused.errors


def test_unknown_data_categories_are_refused():
    incident = IncidentFactory()
    form = IncidentForm(
        {
            "title": "t",
            "severity": "low",
            "state": "open",
            "detected_at": "2026-03-11 10:00",
            "description": "x",
            "data_categories": ["no-such-category"],
        },
        instance=incident,
    )
    assert not form.is_valid()
    assert "data_categories" in form.errors


# --- Registry, retention and audit ------------------------------------------------------------


def test_incidents_are_declared_in_the_personal_data_registry():
    from incidents import models

    assert (
        undeclared(
            [
                models.Incident,
                models.AffectedPerson,
                models.IncidentDelivery,
                models.NotificationRun,
            ]
        )
        == []
    )
    assert registry.declaration("incidents.IncidentDelivery").owner == "user_id"
    assert "security_incidents" in {c.code for c in registry.subject_categories()}


def test_the_new_category_has_a_retention_rule():
    from lifecycle.retention import missing_rules

    assert "security_incidents" not in missing_rules()


def test_rows_of_an_affected_person_are_theirs_only():
    incident = IncidentFactory()
    alice, bob = UserFactory(), UserFactory()
    AffectedPerson.objects.create(incident=incident, user=alice, source="query")
    AffectedPerson.objects.create(incident=incident, user=bob, source="query")
    decl = registry.declaration("incidents.AffectedPerson")
    assert list(registry.rows_of(decl, alice).values_list("user_id", flat=True)) == [alice.pk]


def test_changes_are_audited_without_the_free_text():
    incident = IncidentFactory(description="Bucket opened by Zhang San")
    incident.state = Incident.State.CONTAINED
    incident.save()
    entries = AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Incident), object_id=incident.pk
    )
    assert entries.count() == 2
    assert all(e.object_repr == incident.reference for e in entries)
    created = entries.order_by("id").first()
    assert "Zhang San" not in str(created.changes)
    assert entries.order_by("id").last().changes["state"] == ["open", "contained"]


# --- The demo ---------------------------------------------------------------------------------


def test_the_demo_incident_is_created_once():
    alice = UserFactory(email="alice@example.com")
    bob = UserFactory(email="bob@example.com")
    UserFactory(email="carol@example.com")

    class Out:
        text = ""

        def write(self, value):
            self.text += value

    out = Out()
    with time_machine.travel(T0, tick=False):
        incident = seed_demo_incident(stdout=out)
        again = seed_demo_incident()
    assert again.pk == incident.pk
    assert Incident.objects.count() == 1
    assert set(incident.affected.values_list("user_id", flat=True)) == {alice.pk, bob.pk}
    assert incident.reports.get().requester == bob
    assert incident.reference in out.text
    assert not IncidentDelivery.objects.exists()  # the DPO runs the notification


def test_the_person_finds_the_incident_in_their_export_and_erasure_keeps_the_proof():
    from lifecycle import deletion, exports

    from .test_export import data_json, open_zip, plaintext_of

    incident = IncidentFactory()
    person, other = UserFactory(), UserFactory()
    AffectedPerson.objects.create(incident=incident, user=person, source="upload")
    AffectedPerson.objects.create(incident=incident, user=other, source="upload")
    IncidentDelivery.objects.create(incident=incident, user=person, channels="email")
    export = exports.request_export(person)
    exports.build(export.pk)
    export.refresh_from_db()
    records = data_json(open_zip(plaintext_of(export)))["categories"]["security_incidents"]
    records = records["records"]
    assert len(records["incidents.AffectedPerson"]) == 1
    assert len(records["incidents.IncidentDelivery"]) == 1
    assert incident.reference in str(records)

    deletion.delete_now(person)
    # The proof of notification stays (PIPL art. 57), pointing at the tombstone.
    assert AffectedPerson.objects.filter(user=person).exists()
    assert IncidentDelivery.objects.filter(user=person).exists()


def test_a_detection_time_before_2000_is_a_form_error_not_a_server_error():
    from django.core.exceptions import ValidationError

    incident = IncidentFactory.build(detected_at=datetime(1, 1, 2, tzinfo=UTC))
    with pytest.raises(ValidationError) as caught:
        incident.clean()
    assert "detected_at" in caught.value.message_dict


@pytest.mark.parametrize(
    "setting, value",
    [
        ("INCIDENT_REGULATOR_HOURS", -5),
        ("INCIDENT_PEOPLE_HOURS", 10**9),
        ("INCIDENT_NOTIFY_BATCH_SIZE", 0),
        ("INCIDENT_WARN_HOURS_BEFORE", [24, 0]),
    ],
)
def test_impossible_incident_settings_stop_the_start(settings, setting, value):
    from incidents.checks import check_incident_settings

    assert not check_incident_settings()
    setattr(settings, setting, value)
    errors = check_incident_settings()
    assert errors and errors[0].id.startswith("incidents.E")
