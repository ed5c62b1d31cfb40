"""SMS through the outbox (issue 11): people without an e-mail address get their notices by
SMS, with retries, priorities and a record of each delivery, and read them in full in the
account center."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import sms
from accounts.sms import BaseSmsBackend, SmsDeliveryError
from notifications import services
from notifications.models import Notification

from .factories import UserFactory

pytestmark = pytest.mark.django_db
N = Notification.Status


class RefusingSmsBackend(BaseSmsBackend):
    def send(self, phone, message, params=None):
        raise SmsDeliveryError("provider answered 503")


def notice(user, key="notice:1", priority=Notification.Priority.SERVICE, sms_text=""):
    return services.Draft(
        key=key,
        recipient_id=user.pk,
        to_email=user.email or "",
        subject="Your request DSR-2026-ABCD-EFGH-J has been answered",
        body="The whole answer, with everything in it.",
        priority=priority,
        sms=sms_text,
    )


def test_a_person_without_email_gets_the_notice_by_sms_with_a_link_to_read_it():
    user = UserFactory(email=None)
    assert services.enqueue([notice(user, sms_text="Answered: DSR-2026-ABCD-EFGH-J")]) == 1
    assert services.deliver_pending() == 1
    note = Notification.objects.get()
    assert (note.channel, note.status, note.to_phone) == ("sms", N.SENT, str(user.phone))
    [(phone, text)] = sms.outbox
    assert phone == str(user.phone)
    assert text.startswith("Answered: DSR-2026-ABCD-EFGH-J ")
    assert text.endswith(reverse("notifications:messages"))
    assert mail.outbox == []


def test_a_person_with_email_still_gets_an_email():
    user = UserFactory(email="reader@example.com")
    services.enqueue([notice(user)])
    assert services.deliver_pending() == 1
    assert Notification.objects.get().channel == "email"
    assert sms.outbox == []
    assert len(mail.outbox) == 1


def test_marketing_never_turns_into_an_sms():
    user = UserFactory(email=None)
    assert services.enqueue([notice(user, priority=Notification.Priority.MARKETING)]) == 0
    assert not Notification.objects.exists()


def test_marketing_in_the_same_batch_as_a_notice_stays_unsent_while_the_notice_goes_by_sms():
    user = UserFactory(email=None)
    marketing = notice(user, key="m", priority=Notification.Priority.MARKETING)
    drafts = [notice(user, key="n"), marketing]
    assert services.enqueue(drafts) == 1
    assert list(Notification.objects.values_list("key", "channel")) == [("n", "sms")]


def test_a_refused_sms_is_retried_after_a_pause_and_recorded(settings):
    user = UserFactory(email=None)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        services.enqueue([notice(user)])
        settings.SMS_BACKEND = f"{__name__}.RefusingSmsBackend"
        assert services.deliver_pending() == 0
        note = Notification.objects.get()
        assert (note.status, note.attempts) == (N.PENDING, 1)
        assert "503" in note.last_error
        settings.SMS_BACKEND = "accounts.sms.LocmemSmsBackend"
        assert services.deliver_pending() == 0  # the pause first
        clock.shift(services.backoff(1) + timedelta(seconds=1))
        assert services.deliver_pending() == 1
    note.refresh_from_db()
    assert (note.status, note.attempts) == (N.SENT, 2)
    assert len(sms.outbox) == 1


def test_sms_notices_go_in_priority_order_like_mail():
    user = UserFactory(email=None)
    services.enqueue(
        [
            notice(user, key="campaign:1", priority=Notification.Priority.BULK),
            notice(user, key="dsr:1:ack", sms_text="Received"),
        ]
    )
    assert services.deliver_pending(batch_size=1) == 1
    assert [text.split(" ")[0] for _phone, text in sms.outbox] == ["Received"]


def test_the_messages_page_shows_a_persons_own_messages_in_full(client):
    reader, other = UserFactory(email=None), UserFactory(email=None)
    services.enqueue([notice(reader, key="a"), notice(other, key="b")])
    Notification.objects.filter(key="b").update(body="Someone else's answer.")
    services.deliver_pending()
    client.force_login(reader)
    page = client.get(reverse("notifications:messages"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "The whole answer, with everything in it." in html
    assert "sent by SMS" in html
    assert "Someone else" not in html


def test_the_messages_page_needs_a_signed_in_person(client):
    response = client.get(reverse("notifications:messages"))
    assert response.status_code == 302
    assert "/account/login/" in response["Location"]


def test_the_messages_page_costs_the_same_queries_for_5_and_25_messages(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reader = UserFactory(email=None)
    client.force_login(reader)
    url = reverse("notifications:messages")

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    services.enqueue([notice(reader, key=f"k{i}") for i in range(5)])
    client.get(url)
    few = queries()
    services.enqueue([notice(reader, key=f"m{i}") for i in range(20)])
    assert queries() == few


def test_providers_send_notices_with_their_notice_template(settings):
    from accounts.sms_providers import AliyunSmsBackend

    from .test_sms_backends import aliyun_settings

    aliyun_settings(settings)
    params = {"template": "notice", "subject": "Answered", "link": "https://p.example/m/"}
    parameters = AliyunSmsBackend().request_parameters("+8613900000001", params)
    assert parameters["TemplateCode"] == settings.SMS_ALIYUN_NOTICE_TEMPLATE_CODE
    assert parameters["TemplateParam"] == '{"subject":"Answered","link":"https://p.example/m/"}'
    code = AliyunSmsBackend().request_parameters("+8613900000001", {"code": "123456"})
    assert code["TemplateCode"] == settings.SMS_ALIYUN_TEMPLATE_CODE


def test_without_a_notice_template_the_notice_is_not_sent_and_stays_for_a_retry(settings):
    from .test_sms_backends import aliyun_settings

    aliyun_settings(settings, SMS_ALIYUN_NOTICE_TEMPLATE_CODE="")
    user = UserFactory(email=None)
    services.enqueue([notice(user)])
    assert services.deliver_pending() == 0
    note = Notification.objects.get()
    assert note.status == N.PENDING
    assert "SMS_ALIYUN_NOTICE_TEMPLATE_CODE" in note.last_error
