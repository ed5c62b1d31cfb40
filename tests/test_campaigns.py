"""Notification campaigns: one per significant version, delivered in batches, never twice, also
after a crash half-way; progress; a change of controller (POL-1, SHR-2)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from consent import campaigns, policies
from consent import tasks as consent_tasks
from consent.models import Campaign, CampaignDelivery
from notifications import services as notification_services
from notifications.models import Notification

from .factories import PolicyDocumentFactory, PolicyVersionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Record what would be queued instead of talking to a broker."""
    queued = []
    monkeypatch.setattr(consent_tasks.run_campaign, "delay", lambda *a, **k: queued.append(a))
    monkeypatch.setattr(notification_services, "schedule_delivery", lambda: None)
    return queued


@pytest.fixture
def admin_user(db):
    return UserFactory(is_staff=True, is_superuser=True, email="root@example.com")


@pytest.fixture
def people():
    """Five users who joined before the campaign: two in Chinese, one without e-mail."""
    joined = timezone.now() - timedelta(days=30)
    return [
        UserFactory(date_joined=joined),
        UserFactory(date_joined=joined),
        UserFactory(date_joined=joined, preferred_language="zh-hans"),
        UserFactory(date_joined=joined, preferred_language="zh-hans"),
        UserFactory(date_joined=joined, email=None),
    ]


def significant_version(actor, number=1, **kw):
    doc = PolicyDocumentFactory()
    defaults = {
        "significant": True,
        "significant_categories": ["recipients"],
        "summary_en": "We now share data with a new payment provider.",
        "summary_zh": "我们现在与新的支付服务商共享数据。",
    }
    version = PolicyVersionFactory(document=doc, number=number, **{**defaults, **kw})
    policies.publish(version, actor)
    return version


def campaign_notifications(campaign):
    return Notification.objects.filter(key__startswith=f"campaign:{campaign.pk}:")


def assert_each_user_notified_once(campaign, users):
    """Once each: by e-mail, or by SMS for those without an e-mail address."""
    reachable = [u for u in users if u.email or u.phone]
    keys = list(campaign_notifications(campaign).values_list("key", flat=True))
    assert sorted(keys) == sorted(campaigns.notification_key(campaign.pk, u.pk) for u in reachable)
    deliveries = list(
        CampaignDelivery.objects.filter(campaign=campaign).values_list("user_id", flat=True)
    )
    assert sorted(deliveries) == sorted(u.pk for u in users)


def everyone():
    from accounts.models import User

    return list(User.objects.filter(is_active=True))


# --- Creating -------------------------------------------------------------------------------------


def test_publishing_a_significant_version_creates_one_campaign_and_queues_it(
    dpo, people, django_capture_on_commit_callbacks, _no_broker
):
    with django_capture_on_commit_callbacks(execute=True):
        version = significant_version(dpo)
    campaign = Campaign.objects.get()
    assert campaign.kind == Campaign.Kind.POLICY_CHANGE
    assert campaign.policy_version == version
    assert campaign.status == Campaign.Status.PENDING
    assert campaign.created_by == dpo
    assert _no_broker == [(campaign.pk,)]
    assert "Privacy policy" in campaign.subject_en and "1" in campaign.subject_en
    assert "隐私政策" in campaign.subject_zh
    assert "new payment provider" in campaign.body_en
    assert "新的支付服务商" in campaign.body_zh
    assert reverse("consent:version", args=[version.document.slug, 1]) in campaign.body_en


def test_campaign_is_only_queued_after_commit(dpo, django_capture_on_commit_callbacks, _no_broker):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        significant_version(dpo)
    assert _no_broker == []
    assert len(callbacks) == 1


def test_rights_reduction_is_announced_in_the_message(dpo):
    significant_version(dpo, reduces_rights=True, significant_categories=["rights"])
    assert "accept it before you continue" in Campaign.objects.get().body_en


# --- Running --------------------------------------------------------------------------------------


def test_running_twice_notifies_each_user_once(dpo, people):
    version = significant_version(dpo)
    campaign = version.campaigns.get()
    users = everyone()
    first = campaigns.run_campaign(campaign.pk, batch_size=2)
    assert first.status == Campaign.Status.DONE
    assert first.audience == len(users) == first.delivered
    assert first.finished_at is not None
    assert campaigns.run_campaign(campaign.pk, batch_size=2) is None  # done: nothing to do
    assert_each_user_notified_once(campaign, users)


def test_a_run_stopped_half_way_continues_where_it_stopped(dpo, people):
    campaign = significant_version(dpo).campaigns.get()
    users = everyone()
    partial = campaigns.run_campaign(campaign.pk, batch_size=2, max_batches=1)
    assert partial.status == Campaign.Status.RUNNING
    assert partial.delivered == 2
    assert partial.audience == len(users)
    assert campaign_notifications(campaign).count() <= 2
    assert campaigns.progress(partial) == round(100 * 2 / len(users))

    done = campaigns.run_campaign(campaign.pk, batch_size=2)
    assert done.status == Campaign.Status.DONE
    assert done.delivered == done.audience == len(users)
    assert campaigns.progress(done) == 100
    campaigns.run_campaign(campaign.pk, batch_size=2)
    assert_each_user_notified_once(campaign, users)


def test_a_crash_inside_a_batch_rolls_the_batch_back(dpo, people, monkeypatch):
    campaign = significant_version(dpo).campaigns.get()
    users = everyone()
    real_enqueue = campaigns.enqueue
    calls = {"n": 0}

    def crash_on_second_batch(drafts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_enqueue(drafts)

    monkeypatch.setattr(campaigns, "enqueue", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        campaigns.run_campaign(campaign.pk, batch_size=2)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    assert campaign.delivered == 2
    assert CampaignDelivery.objects.filter(campaign=campaign).count() == 2

    monkeypatch.setattr(campaigns, "enqueue", real_enqueue)
    campaigns.run_campaign(campaign.pk, batch_size=2)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
    assert campaign.delivered == len(users)
    assert_each_user_notified_once(campaign, users)


def test_users_without_email_get_the_notice_by_sms(dpo, people):
    campaign = significant_version(dpo).campaigns.get()
    campaigns.run_campaign(campaign.pk)
    no_email = people[4]
    assert CampaignDelivery.objects.filter(campaign=campaign, user=no_email).exists()
    note = Notification.objects.get(recipient=no_email)
    assert (note.channel, note.to_phone, note.to_email) == ("sms", str(no_email.phone), "")
    assert note.priority == Notification.Priority.BULK
    assert Notification.objects.filter(channel="email", recipient__in=people[:4]).count() == 4


def test_users_get_the_message_in_their_language(dpo, people):
    campaign = significant_version(dpo).campaigns.get()
    campaigns.run_campaign(campaign.pk)
    zh = Notification.objects.get(key=campaigns.notification_key(campaign.pk, people[2].pk))
    en = Notification.objects.get(key=campaigns.notification_key(campaign.pk, people[0].pk))
    assert zh.subject == campaign.subject_zh
    assert campaign.body_zh in zh.body and "新的支付服务商" in zh.body
    assert en.subject == campaign.subject_en
    assert campaign.body_en in en.body and "隐私" not in en.body
    assert zh.to_email == people[2].email


def test_inactive_users_and_later_sign_ups_are_not_in_the_audience(dpo, people):
    people[0].is_active = False
    people[0].save()
    campaign = significant_version(dpo).campaigns.get()
    later = UserFactory(date_joined=timezone.now() + timedelta(minutes=1))
    done = campaigns.run_campaign(campaign.pk)
    delivered_to = set(
        CampaignDelivery.objects.filter(campaign=campaign).values_list("user_id", flat=True)
    )
    assert people[0].pk not in delivered_to and later.pk not in delivered_to
    assert done.audience == done.delivered == len(delivered_to)


def test_audience_is_counted_when_the_run_starts(dpo, people):
    campaign = significant_version(dpo).campaigns.get()
    assert campaign.audience == 0 and campaigns.progress(campaign) is None
    campaigns.run_campaign(campaign.pk, batch_size=1, max_batches=1)
    campaign.refresh_from_db()
    assert campaign.audience == len(everyone())
    # A user deactivated meanwhile does not change the audience already counted.
    people[1].is_active = False
    people[1].save()
    campaigns.run_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.audience == len(everyone()) + 1
    assert campaign.delivered == campaign.audience - 1


def test_a_bad_batch_size_is_refused(dpo):
    campaign = significant_version(dpo).campaigns.get()
    with pytest.raises(ValueError):
        campaigns.run_campaign(campaign.pk, batch_size=0)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PENDING


def test_an_unknown_campaign_does_nothing():
    assert campaigns.run_campaign(987654) is None


def test_the_celery_task_runs_the_same_code(dpo, people):
    campaign = significant_version(dpo).campaigns.get()
    assert consent_tasks.run_campaign(campaign.pk) == Campaign.Status.DONE
    assert_each_user_notified_once(campaign, everyone())
    assert consent_tasks.run_campaign.acks_late is True


def test_resume_requeues_unfinished_campaigns(dpo, people, _no_broker):
    pending = significant_version(dpo).campaigns.get()
    running = significant_version(dpo, number=2).campaigns.get()
    campaigns.run_campaign(running.pk, batch_size=1, max_batches=1)
    finished = significant_version(dpo, number=3).campaigns.get()
    campaigns.run_campaign(finished.pk)
    _no_broker.clear()
    assert sorted(consent_tasks.resume_campaigns()) == sorted([pending.pk, running.pk])
    assert sorted(a[0] for a in _no_broker) == sorted([pending.pk, running.pk])


# --- Change of controller (SHR-2) ---------------------------------------------------------------


def test_controller_change_is_announced_to_everyone(dpo, people):
    campaign = campaigns.announce_controller_change(
        "Our company has a new owner",
        "我们的公司有了新的所有者",
        "Example Holdings now controls your data.",
        "示例控股现在控制您的数据。",
        dpo,
    )
    assert campaign.kind == Campaign.Kind.CONTROLLER_CHANGE and campaign.policy_version is None
    campaigns.run_campaign(campaign.pk)
    assert_each_user_notified_once(campaign, everyone())
    zh = Notification.objects.get(key=campaigns.notification_key(campaign.pk, people[3].pk))
    assert zh.subject == "我们的公司有了新的所有者"


def test_controller_change_needs_both_languages(dpo):
    with pytest.raises(campaigns.CampaignError):
        campaigns.announce_controller_change("Subject", "  ", "Body", "正文", dpo)
    assert not Campaign.objects.exists()


def test_admin_announces_a_controller_change(client, admin_user, people):
    client.force_login(admin_user)
    url = reverse("admin:consent_campaign_announce")
    assert client.get(url).status_code == 200
    data = {
        "subject_en": "New controller",
        "subject_zh": "新的控制者",
        "body_en": "Example Holdings.",
        "body_zh": "示例控股。",
    }
    missing_confirmation = client.post(url, data)
    assert missing_confirmation.status_code == 200
    assert "confirm" in missing_confirmation.context["form"].errors
    assert not Campaign.objects.exists()
    response = client.post(url, {**data, "confirm": "on"})
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:consent_campaign_change", args=[campaign.pk])
    assert campaign.kind == Campaign.Kind.CONTROLLER_CHANGE
    assert campaign.created_by == admin_user


def test_announcing_needs_the_add_permission(client, staff):
    client.force_login(staff)
    response = client.post(reverse("admin:consent_campaign_announce"), {"confirm": "on"})
    assert response.status_code == 403
    assert not Campaign.objects.exists()


def test_admin_campaign_list_shows_progress_and_is_read_only(client, admin_user, dpo, people):
    campaign = significant_version(dpo).campaigns.get()
    campaigns.run_campaign(campaign.pk, batch_size=2, max_batches=1)
    campaign.refresh_from_db()
    client.force_login(admin_user)
    page = client.get(reverse("admin:consent_campaign_changelist"))
    text = page.content.decode()
    assert f"{campaign.delivered} / {campaign.audience}" in text
    assert reverse("admin:consent_campaign_announce") in text
    assert client.get(reverse("admin:consent_campaign_add")).status_code == 403
    change = client.get(reverse("admin:consent_campaign_change", args=[campaign.pk]))
    assert change.status_code == 200 and 'name="subject_en"' not in change.content.decode()
    delete = client.post(
        reverse("admin:consent_campaign_delete", args=[campaign.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert Campaign.objects.filter(pk=campaign.pk).exists()
