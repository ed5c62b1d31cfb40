"""Notifying the people affected by an incident (SEC-1): batches, nobody twice (a second run, a
crash half-way and its resumption), the three channels, the person's language, and the
announcement in the account center shown to the people affected only."""

from collections import Counter
from datetime import timedelta

import pytest
from django.urls import reverse

from incidents import fanout, notices, selection, tasks
from incidents.models import IncidentDelivery, NotificationRun
from notifications.models import Notification

from .factories import IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db


def affected(incident, users):
    selection.add_people(incident, [u.pk for u in users], "query", None)


def start(incident, **channels):
    options = {"by_email": False, "by_sms": False, "by_announcement": False, **channels}
    return fanout.start(incident, actor=None, **options)


def per_person():
    return Counter(IncidentDelivery.objects.values_list("user_id", flat=True))


def test_batches_notify_everyone_once(django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.run_notification, "delay", lambda pk: queued.append(pk))
    incident = IncidentFactory()
    users = [UserFactory() for _ in range(5)]
    affected(incident, users)
    with django_capture_on_commit_callbacks(execute=True):
        run = start(incident, by_email=True)
    assert queued == [run.pk]  # queued once the transaction commits

    done = fanout.run(run.pk, size=2)
    assert (done.status, done.audience, done.delivered) == ("done", 5, 5)
    assert per_person() == Counter({u.pk: 1 for u in users})
    keys = Notification.objects.values_list("key", flat=True)
    assert sorted(keys) == sorted(notices.key(incident.pk, u.pk, "email") for u in users)

    assert fanout.run(run.pk, size=2) is None  # a second run finds nothing to do
    assert Notification.objects.count() == 5
    incident.refresh_from_db()
    assert incident.people_notified_at is not None  # the people's clock stopped
    assert fanout.progress(done) == 100


def test_a_crash_mid_way_then_resume_notifies_each_person_exactly_once(monkeypatch):
    incident = IncidentFactory()
    users = [UserFactory() for _ in range(7)]
    affected(incident, users)
    run = start(incident, by_email=True, by_sms=True)
    real_enqueue = fanout.enqueue
    calls = []

    def crash_on_second_batch(drafts):
        calls.append(len(drafts))
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_enqueue(drafts)

    monkeypatch.setattr(fanout, "enqueue", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        fanout.run(run.pk, size=3)
    run.refresh_from_db()
    assert (run.status, run.delivered) == ("running", 3)  # the failed batch left nothing
    assert IncidentDelivery.objects.count() == 3

    monkeypatch.setattr(fanout, "enqueue", real_enqueue)
    assert tasks.resume_notifications.run.__name__  # the beat task exists
    assert fanout.unfinished_run_ids() == [run.pk]
    done = fanout.run(run.pk, size=3)
    assert (done.status, done.delivered) == ("done", 7)
    assert per_person() == Counter({u.pk: 1 for u in users})
    by_key = Counter(Notification.objects.values_list("recipient_id", "channel"))
    assert by_key == Counter({(u.pk, ch): 1 for u in users for ch in ("email", "sms")})
    fanout.run(run.pk, size=3)
    assert Notification.objects.count() == 14
    assert fanout.unfinished_run_ids() == []


def test_people_added_later_are_notified_by_a_new_run_and_nobody_twice():
    incident = IncidentFactory()
    first = [UserFactory() for _ in range(2)]
    affected(incident, first)
    fanout.run(start(incident, by_email=True).pk)
    assert not fanout.can_start(incident)  # nobody waits

    later = UserFactory()
    affected(incident, [*first, later])
    assert fanout.can_start(incident)
    run = fanout.run(start(incident, by_email=True).pk)
    assert (run.delivered, run.audience) == (3, 3)
    assert per_person() == Counter({u.pk: 1 for u in [*first, later]})
    assert Notification.objects.count() == 3


def test_starting_needs_texts_a_channel_and_nobody_running():
    incident = IncidentFactory(notice_summary_zh="")
    affected(incident, [UserFactory()])
    with pytest.raises(fanout.NotificationError, match="texts"):
        start(incident, by_email=True)
    with pytest.raises(fanout.NotificationError, match="at least one"):
        start(IncidentFactory())
    ready = IncidentFactory()
    affected(ready, [UserFactory()])
    start(ready, by_email=True)
    with pytest.raises(fanout.NotificationError, match="already running"):
        start(ready, by_sms=True)
    assert NotificationRun.objects.filter(incident=ready).count() == 1


# --- Channels and languages ---------------------------------------------------------------------


def test_email_sms_and_their_fallback():
    incident = IncidentFactory()
    with_email = UserFactory()
    without_email = UserFactory(email=None)
    affected(incident, [with_email, without_email])
    fanout.run(start(incident, by_email=True).pk)
    notes = {n.recipient_id: n for n in Notification.objects.all()}
    assert notes[with_email.pk].channel == "email"
    assert notes[with_email.pk].to_email == with_email.email
    # No e-mail address: the outbox sends the notice by SMS instead.
    assert notes[without_email.pk].channel == "sms"
    assert notes[without_email.pk].to_phone == str(without_email.phone)
    assert incident.reference in notes[without_email.pk].sms_text
    assert not IncidentDelivery.objects.filter(announced=True).exists()


def test_sms_only():
    incident = IncidentFactory()
    person = UserFactory()
    affected(incident, [person])
    fanout.run(start(incident, by_sms=True).pk)
    note = Notification.objects.get()
    assert (note.channel, note.to_phone, note.to_email) == ("sms", str(person.phone), "")
    assert "What happened" in note.body  # the whole notice, read in the account center


def test_announcement_only_queues_no_message():
    incident = IncidentFactory()
    affected(incident, [UserFactory()])
    run = fanout.run(start(incident, by_announcement=True).pk)
    assert run.delivered == 1
    assert not Notification.objects.exists()
    assert IncidentDelivery.objects.get().announced


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        ("zh-hans", "一个包含您部分账户数据的文件曾可被他人读取", "could be read by others"),
        ("en", "could be read by others", "一个包含您部分账户数据的文件曾可被他人读取"),
    ],
)
def test_the_notice_is_in_the_persons_language(settings, language, expected, absent):
    settings.DPO_EMAIL = "dpo-office@example.com"
    incident = IncidentFactory()
    affected(incident, [UserFactory(preferred_language=language)])
    fanout.run(start(incident, by_email=True).pk)
    note = Notification.objects.get()
    assert expected in note.body
    assert absent not in note.body
    assert "dpo-office@example.com" in note.body  # how to reach the DPO
    assert incident.reference in note.subject
    assert f"/account/incidents/{incident.pk}/" in note.body


def test_the_notice_says_what_happened_which_data_what_we_did_and_what_to_do():
    incident = IncidentFactory(notice_advice_en="Change your password now.")
    sections = dict(notices.notice_sections(incident, "en"))
    assert set(sections) == {
        "What happened",
        "Which of your data",
        "What we have done",
        "What you can do",
        "How to reach us",
    }
    assert "Account" in sections["Which of your data"]
    assert sections["What you can do"] == "Change your password now."
    assert "never ask" in dict(notices.notice_sections(IncidentFactory(), "en"))["What you can do"]


# --- The account center -------------------------------------------------------------------------


def test_the_announcement_shows_to_the_people_affected_only(client):
    incident = IncidentFactory()
    person, other = UserFactory(), UserFactory()
    affected(incident, [person])
    fanout.run(start(incident, by_announcement=True).pk)
    center = reverse("accounts:center")

    client.force_login(other)
    assert incident.reference not in client.get(center).content.decode()
    assert client.get(reverse("incidents:notice", args=[incident.pk])).status_code == 404
    assert client.post(reverse("incidents:seen", args=[incident.pk])).status_code == 404

    client.force_login(person)
    page = client.get(center).content.decode()
    assert "incident-notice" in page and incident.reference in page
    notice = client.get(reverse("incidents:notice", args=[incident.pk]))
    assert notice.status_code == 200
    assert "could be read by others" in notice.content.decode()

    closed = client.post(
        reverse("incidents:seen", args=[incident.pk]), {"next": "https://evil.example/"}
    )
    assert closed.status_code == 302 and closed["Location"] == center
    assert "incident-notice" not in client.get(center).content.decode()
    assert IncidentDelivery.objects.get().seen_at is not None
    # The notice stays readable at its own address.
    assert client.get(reverse("incidents:notice", args=[incident.pk])).status_code == 200


def test_the_three_newest_announcements_show_newest_first(client):
    person = UserFactory()
    incidents = [IncidentFactory() for _ in range(4)]
    for incident in incidents:
        affected(incident, [person])
        fanout.run(start(incident, by_announcement=True).pk)
    IncidentDelivery.objects.filter(incident=incidents[1]).update(
        created_at=IncidentDelivery.objects.get(incident=incidents[3]).created_at
        + timedelta(minutes=1)
    )
    client.force_login(person)
    page = client.get(reverse("accounts:center")).content.decode()
    shown = [i for i in incidents if i.reference in page]
    assert shown == [incidents[1], incidents[2], incidents[3]]  # the oldest is not shown
    positions = [page.index(i.reference) for i in (incidents[1], incidents[3], incidents[2])]
    assert positions == sorted(positions)


def test_the_announcement_is_in_the_pages_language(client):
    incident = IncidentFactory()
    person = UserFactory(preferred_language="zh-hans")
    affected(incident, [person])
    fanout.run(start(incident, by_announcement=True).pk)
    client.force_login(person)
    page = client.get(reverse("accounts:center")).content.decode()
    assert "一个包含您部分账户数据的文件曾可被他人读取" in page


def test_anonymous_pages_run_no_announcement_query(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        assert client.get(reverse("accounts:login")).status_code == 200
