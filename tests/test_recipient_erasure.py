"""Erasure at the recipients (RET, PIPL art. 47): every recipient that received an erased
category is told, by a signed webhook (a real HTTP server on 127.0.0.1 stands in for it) or by
an e-mail to its privacy contact, acknowledges through a signed callback or is marked done by a
DPO, is escalated when late, and shows on the certificate and the erasure ledger."""

import hashlib
import hmac
import json
import re
import threading
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from consent.models import Recipient
from lifecycle import deletion, recipients
from lifecycle.models import ErasureRecord, RecipientErasure
from notifications import services
from notifications.models import Notification
from notifications.services import deliver_pending

from .factories import DpoFactory, RecipientFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=SHANGHAI)
SECRET = "recipient-shared-secret-0123456789"
RS = RecipientErasure.Status
N = Notification.Status
CERTIFICATE = reverse("lifecycle:certificate")


# --- A recipient's server -----------------------------------------------------------------------


class FakeRecipient:
    """An HTTP server in a thread that records every POST and answers with the next queued
    status (200 when none is queued). ``stop()`` takes it off the network; ``start()`` brings
    it back on the same port."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.port = 0
        self.server = None
        self.thread = None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                status = fake.statuses.pop(0) if fake.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format, *args):
                pass

        return Handler

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/erasure-hook"


@pytest.fixture
def server():
    fake = FakeRecipient()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def hook(server):
    """A recipient that receives the optional profile, told by webhook."""
    return RecipientFactory(
        name="Hook Analytics",
        data_categories=["profile", "verification"],
        erasure_channel="webhook",
        erasure_webhook_url=server.url,
        erasure_webhook_secret=SECRET,
        active_from=date(2020, 1, 1),
    )


@pytest.fixture
def person(clock):
    return UserFactory(phone="+8613912345678", email="person@example.com")


def signed(body: bytes, secret=SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_ack(client, url, body=b'{"erased": true}', signature=None, **extra):
    if signature is None:
        signature = signed(body)
    headers = {} if signature is False else {"X-Portal-Signature": signature}
    return client.post(
        urlsplit(url).path, data=body, content_type="application/json", headers=headers, **extra
    )


def outbox_row(notice):
    return Notification.objects.get(key=f"erasure-notice:{notice.pk}")


# --- Who is told, and what --------------------------------------------------------------------


def test_account_deletion_tells_the_recipient_of_an_erased_category_by_a_signed_webhook(
    client, server, hook, person, clock
):
    RecipientFactory(  # received only a category this person has no data in
        name="Verifier",
        data_categories=["verification"],
        erasure_channel="webhook",
        erasure_webhook_url=server.url,
        erasure_webhook_secret=SECRET,
        active_from=date(2020, 1, 1),
    )
    RecipientFactory(name="No channel", data_categories=["profile"], active_from=date(2020, 1, 1))
    done = deletion.delete_now(person)
    record = done.erasures.get()

    notice = RecipientErasure.objects.get()
    assert (notice.erasure, notice.recipient, notice.channel) == (record, hook, "webhook")
    assert "profile" in notice.categories and "verification" not in notice.categories
    assert notice.status == RS.PENDING

    assert deliver_pending() == 1
    assert len(server.requests) == 1
    sent = server.requests[0]
    assert sent["path"] == "/erasure-hook"
    payload = json.loads(sent["body"])
    assert payload["notice_id"] == notice.pk and payload["erasure_id"] == record.pk
    assert payload["categories"] == notice.categories
    assert payload["subjects"] == [recipients.subject_reference(hook.pk, person.pk)]
    assert len(payload["subjects"][0]) == 32
    raw = sent["body"].decode() + json.dumps(sent["headers"])
    for identifier in ("8613912345678", "13912345678", "person@example.com"):
        assert identifier not in json.dumps(payload["subjects"])
    # A keyed hash, not the account id: 32 hex digits (a short id such as "1162" may occur in
    # them by chance, so the check is the shape, not a substring).
    assert re.fullmatch(r"[0-9a-f]{32}", payload["subjects"][0])
    assert payload["subjects"][0] != str(person.pk)
    for identifier in ("13912345678", "person@example.com"):
        assert identifier not in raw
    assert sent["headers"]["Content-Type"] == "application/json"
    assert hmac.compare_digest(sent["headers"]["X-Portal-Signature"], signed(sent["body"]))

    notice.refresh_from_db()
    assert (notice.status, notice.sent_at) == (RS.SENT, T0)
    assert outbox_row(notice).status == N.SENT

    # The recipient acknowledges through its callback URL, once; a repeat changes nothing.
    clock.shift(timedelta(days=2))
    response = post_ack(client, payload["callback_url"])
    assert response.status_code == 200
    assert response.json() == {"status": "acknowledged"}
    notice.refresh_from_db()
    assert notice.status == RS.ACKNOWLEDGED
    assert notice.acknowledged_at == T0 + timedelta(days=2)
    assert notice.acknowledged_by is None
    clock.shift(timedelta(days=1))
    assert post_ack(client, payload["callback_url"]).json() == {"status": "acknowledged"}
    notice.refresh_from_db()
    assert notice.acknowledged_at == T0 + timedelta(days=2)
    assert deliver_pending() == 0
    assert len(server.requests) == 1


def test_subject_references_differ_per_recipient_and_do_not_reveal_the_account():
    first = recipients.subject_reference(1, 42)
    assert first == recipients.subject_reference(1, 42)
    assert first != recipients.subject_reference(2, 42)
    assert len(first) == 32 and int(first, 16) >= 0  # 128 opaque bits, not the number


def test_a_recipient_that_stopped_before_the_account_existed_is_not_told(server, clock):
    person = UserFactory()  # joined at T0
    common = {
        "data_categories": ["profile"],
        "erasure_channel": "webhook",
        "erasure_webhook_url": server.url,
        "erasure_webhook_secret": SECRET,
        "active_from": date(2020, 1, 1),
    }
    RecipientFactory(name="Gone before", active_to=date(2025, 12, 31), **common)
    during = RecipientFactory(name="Ended later", active_to=T0.date(), **common)
    RecipientFactory(name="Not yet started", **{**common, "active_from": date(2027, 1, 1)})
    deletion.delete_now(person)
    assert [n.recipient for n in RecipientErasure.objects.all()] == [during]


def test_no_people_or_no_recipient_means_no_notice(hook, clock):
    record = ErasureRecord.objects.create(
        reason=ErasureRecord.Reason.RULE, categories=["profile"], backups_expire_at=T0
    )
    assert recipients.notify(record, [], ["profile"]) == 0
    assert recipients.notify(record, [None], ["profile"]) == 0
    assert recipients.notify(record, [1], ["sessions"]) == 0
    assert RecipientErasure.objects.count() == 0
    assert Notification.objects.count() == 0


def test_a_batch_of_people_gives_one_notice_with_one_reference_each_and_never_twice(hook, clock):
    people = [UserFactory(), UserFactory()]
    record = ErasureRecord.objects.create(
        reason=ErasureRecord.Reason.RULE, categories=["profile"], backups_expire_at=T0
    )
    assert recipients.notify(record, [p.pk for p in people], ["profile"]) == 1
    assert recipients.notify(record, [p.pk for p in people], ["profile"]) == 0
    notice = RecipientErasure.objects.get()
    assert notice.subjects == [recipients.subject_reference(hook.pk, p.pk) for p in people]
    assert Notification.objects.filter(key__startswith="erasure-notice:").count() == 1


def test_the_outbox_hooks_are_registered_when_the_apps_start():
    hooks = services._hooks_for("erasure-notice:1")
    assert hooks is not None and hooks.wanted is not None and hooks.sent is not None
    assert services._hooks_for("erasure-overdue:1:2") is None


# --- Signatures and bad callbacks ---------------------------------------------------------------


@pytest.fixture
def told(server, hook, person, clock):
    """The person's account deleted and the notice delivered: (notice, callback URL)."""
    deletion.delete_now(person)
    assert deliver_pending() == 1
    payload = json.loads(server.requests[-1]["body"])
    return RecipientErasure.objects.get(), payload["callback_url"]


@pytest.mark.parametrize(
    "signature",
    [
        False,  # no header
        "",
        "sha256=" + "0" * 64,
        "sha1=" + "0" * 40,
        signed(b'{"erased": true}', secret="another-secret-0123456789"),
        signed(b'{"erased": false}'),  # signs another body
        "sha256=ünïcode",
    ],
)
def test_a_wrong_or_missing_signature_is_a_401_and_records_nothing(client, told, signature):
    notice, url = told
    response = post_ack(client, url, signature=signature)
    assert response.status_code == 401
    notice.refresh_from_db()
    assert (notice.status, notice.acknowledged_at) == (RS.SENT, None)


def test_the_signature_is_checked_over_the_raw_body_in_any_case_of_hex(client, told):
    notice, url = told
    body = b"erased, thanks"
    assert (
        post_ack(
            client, url, body=body, signature=signed(body).upper().replace("SHA256", "sha256")
        ).status_code
        == 200
    )
    notice.refresh_from_db()
    assert notice.status == RS.ACKNOWLEDGED


def test_bad_callback_requests_are_4xx_and_never_500(client, told):
    notice, url = told
    path = urlsplit(url).path
    token = path.rstrip("/").rsplit("/", 1)[1]
    body = b"{}"

    assert client.get(path).status_code == 405
    assert client.put(path, body, content_type="application/json").status_code == 405
    # One character changed (a random token may already start with the one put in its place).
    changed = ("y" if token[0] == "x" else "x") + token[1:]
    wrong_token = reverse("lifecycle:recipient_ack", args=[notice.pk, changed])
    assert post_ack(client, wrong_token, body).status_code == 404
    unknown = reverse("lifecycle:recipient_ack", args=[notice.pk + 1000, token])
    assert post_ack(client, unknown, body).status_code == 404
    huge = b"x" * (70 * 1024)
    assert post_ack(client, url, huge).status_code == 413
    assert client.post(f"/privacy/erasure-ack/{notice.pk}/%00/").status_code == 400  # NUL
    notice.refresh_from_db()
    assert notice.status == RS.SENT


def test_a_bad_token_is_a_404_even_with_a_good_signature(client, told):
    notice, url = told
    other = reverse("lifecycle:recipient_ack", args=[notice.pk, "not-the-token"])
    assert post_ack(client, other).status_code == 404
    notice.refresh_from_db()
    assert notice.status == RS.SENT


# --- A recipient that is down -------------------------------------------------------------------


def test_a_recipient_that_is_down_is_retried_with_backoff_and_never_sent_twice(
    client, server, hook, person, clock
):
    deletion.delete_now(person)
    notice = RecipientErasure.objects.get()
    row = outbox_row(notice)
    assert (row.channel, row.url, row.to_email) == ("webhook", server.url, "")

    server.statuses = [500]
    assert deliver_pending() == 0
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (N.PENDING, 1, "HTTP 500")
    assert row.next_attempt_at == T0 + services.backoff(1)
    notice.refresh_from_db()
    assert (notice.status, notice.sent_at) == (RS.PENDING, None)

    server.stop()  # off the network: the connection is refused
    clock.shift(services.backoff(1))
    assert deliver_pending() == 0
    row.refresh_from_db()
    assert (row.status, row.attempts) == (N.PENDING, 2)
    assert row.last_error and "500" not in row.last_error
    assert deliver_pending() == 0  # too early for the next attempt

    server.start()  # back on the same port
    clock.shift(services.backoff(2))
    assert deliver_pending() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (N.SENT, 3)
    notice.refresh_from_db()
    assert (notice.status, notice.sent_at) == (
        RS.SENT,
        T0 + services.backoff(1) + services.backoff(2),
    )
    assert len(server.requests) == 2  # the refused one and the delivered one (none while down)
    assert server.requests[0]["body"] == server.requests[1]["body"]

    callback = json.loads(server.requests[-1]["body"])["callback_url"]
    assert post_ack(client, callback).status_code == 200
    clock.shift(timedelta(days=1))
    assert deliver_pending() == 0
    assert len(server.requests) == 2


def test_a_notice_acknowledged_before_it_was_delivered_is_not_sent_again(
    client, server, hook, person, clock
):
    """The recipient processed the notice but answered 500; it then acknowledges: the retry
    does not happen."""
    deletion.delete_now(person)
    notice = RecipientErasure.objects.get()
    server.statuses = [500]
    assert deliver_pending() == 0
    callback = json.loads(server.requests[0]["body"])["callback_url"]
    assert post_ack(client, callback).status_code == 200

    clock.shift(timedelta(hours=1))
    assert deliver_pending() == 0
    assert len(server.requests) == 1
    row = outbox_row(notice)
    assert row.status == N.FAILED and "no longer needed" in row.last_error
    notice.refresh_from_db()
    assert (notice.status, notice.sent_at) == (RS.ACKNOWLEDGED, None)


@pytest.mark.parametrize("status", [302, 404, 503])
def test_any_answer_but_2xx_is_a_failed_attempt(server, hook, person, clock, status):
    deletion.delete_now(person)
    notice = RecipientErasure.objects.get()
    server.statuses = [status]
    assert deliver_pending() == 0
    row = outbox_row(notice)
    assert (row.status, row.last_error) == (N.PENDING, f"HTTP {status}")
    clock.shift(services.backoff(1))
    assert deliver_pending() == 1
    assert len(server.requests) == 2


def test_the_outbox_takes_webhook_drafts_without_an_address_and_skips_them_without_a_url(db):
    webhook = services.Draft(
        "hook:1", None, "", "S", "{}", channel="webhook", url="https://h.example/x"
    )
    no_url = services.Draft("hook:2", None, "", "S", "{}", channel="webhook")
    assert services.enqueue([webhook, no_url, services.Draft("mail:1", None, "", "S", "B")]) == 1
    row = Notification.objects.get()
    assert (row.key, row.channel, row.url, row.headers) == ("hook:1", "webhook", webhook.url, {})


# --- E-mail recipients --------------------------------------------------------------------------


def test_an_email_recipient_gets_an_email_at_its_privacy_contact(person, clock):
    recipient = RecipientFactory(
        name="Mail Partner",
        data_categories=["profile"],
        erasure_channel="email",
        privacy_contact="privacy@partner.example",
        active_from=date(2020, 1, 1),
    )
    deletion.delete_now(person)
    notice = RecipientErasure.objects.get()
    assert notice.channel == "email"
    mail.outbox.clear()

    assert deliver_pending() == 1
    [message] = mail.outbox
    assert message.to == ["privacy@partner.example"]
    assert str(notice) in message.subject
    assert "Mail Partner" in message.body
    assert "Optional profile" in message.body
    assert recipients.subject_reference(recipient.pk, person.pk) in message.body
    assert "/privacy/erasure-ack/" in message.body
    assert "X-Portal-Signature" in message.body
    for identifier in ("13912345678", "person@example.com"):
        assert identifier not in message.body
    notice.refresh_from_db()
    assert (notice.status, notice.sent_at) == (RS.SENT, T0)


# --- Escalation ---------------------------------------------------------------------------------


def test_an_overdue_acknowledgement_is_escalated_to_the_dpo_group_once(told, clock, settings):
    notice, _url = told
    dpo = DpoFactory()
    settings.RECIPIENT_ACK_DAYS = 15

    clock.shift(timedelta(days=15) - timedelta(minutes=1))
    assert recipients.escalate_overdue() == 0
    clock.shift(timedelta(minutes=2))
    assert recipients.escalate_overdue() == 1
    assert recipients.escalate_overdue() == 0
    notice.refresh_from_db()
    assert notice.escalated_at == timezone.now()
    assert list(
        Notification.objects.filter(key__startswith="erasure-overdue:").values_list(
            "key", flat=True
        )
    ) == [f"erasure-overdue:{notice.pk}:{dpo.pk}"]

    mail.outbox.clear()
    assert deliver_pending() == 1
    [message] = mail.outbox
    assert message.to == [dpo.email]
    assert "Hook Analytics" in message.subject
    assert reverse("admin:lifecycle_recipienterasure_change", args=[notice.pk]) in message.body
    assert recipients.escalate_overdue() == 0
    assert deliver_pending() == 0


def test_an_acknowledged_or_recent_notice_is_not_escalated(told, client, clock):
    notice, url = told
    DpoFactory()
    post_ack(client, url)
    clock.shift(timedelta(days=60))
    assert recipients.escalate_overdue() == 0
    notice.refresh_from_db()
    assert notice.escalated_at is None


def test_the_escalation_task_runs_the_sweep(told, clock):
    from lifecycle.tasks import escalate_unacknowledged_erasures

    DpoFactory()
    clock.shift(timedelta(days=30))
    assert escalate_unacknowledged_erasures.apply().get() == 1


# --- The admin ----------------------------------------------------------------------------------


def staff_with(*codenames):
    staff = StaffFactory()
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


def test_dpo_marks_a_notice_as_acknowledged_through_a_confirmation(client, told):
    notice, _url = told
    dpo = staff_with("view_recipienterasure", "change_recipienterasure", "view_erasurerecord")
    client.force_login(dpo)
    change = reverse("admin:lifecycle_recipienterasure_change", args=[notice.pk])
    mark = reverse("admin:lifecycle_recipienterasure_mark_done", args=[notice.pk])

    listing = client.get(reverse("admin:lifecycle_recipienterasure_changelist"))
    assert listing.status_code == 200 and "Hook Analytics" in listing.content.decode()
    page = client.get(change)
    assert page.status_code == 200 and mark in page.content.decode()
    assert "Sent after 1 attempt" in page.content.decode()
    assert client.get(mark).status_code == 200
    assert client.post(mark, {}).status_code == 200  # no confirmation: nothing happens
    notice.refresh_from_db()
    assert notice.status == RS.SENT

    response = client.post(mark, {"confirm": "on"})
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.status == RS.ACKNOWLEDGED and notice.acknowledged_by == dpo
    assert mark not in client.get(change).content.decode()

    ledger = client.get(reverse("admin:lifecycle_erasurerecord_change", args=[notice.erasure_id]))
    assert ledger.status_code == 200
    assert "Hook Analytics" in ledger.content.decode()
    assert "Acknowledged" in ledger.content.decode()


def test_marking_as_acknowledged_needs_its_permission(client, told):
    notice, _url = told
    client.force_login(staff_with("view_recipienterasure"))
    mark = reverse("admin:lifecycle_recipienterasure_mark_done", args=[notice.pk])
    change = reverse("admin:lifecycle_recipienterasure_change", args=[notice.pk])
    assert client.post(mark, {"confirm": "on"}).status_code == 403
    assert mark not in client.get(change).content.decode()
    notice.refresh_from_db()
    assert notice.status == RS.SENT


def test_the_admin_list_filters_by_status_and_overdue(client, told, clock):
    notice, _url = told
    viewer = staff_with("view_recipienterasure")
    client.force_login(viewer)
    url = reverse("admin:lifecycle_recipienterasure_changelist")
    assert str(notice) not in client.get(url, {"overdue": "yes"}).content.decode()
    clock.shift(timedelta(days=40))
    client.force_login(viewer)  # a new session: the first one has expired
    assert str(notice) in client.get(url, {"overdue": "yes"}).content.decode()
    assert str(notice) in client.get(url, {"status__exact": "sent"}).content.decode()
    assert str(notice) not in client.get(url, {"status__exact": "pending"}).content.decode()
    assert client.get(url, {"q": "E-12x"}).status_code == 200


# --- The certificate ----------------------------------------------------------------------------


def test_the_certificate_shows_each_recipients_status(client, server, hook, person, clock):
    done = deletion.delete_now(person)
    page = client.get(CERTIFICATE, {"code": done.code}).content.decode()
    assert "Hook Analytics" in page and "Being told" in page

    deliver_pending()
    page = client.get(CERTIFICATE, {"code": done.code}).content.decode()
    assert "Waiting for confirmation" in page

    callback = json.loads(server.requests[0]["body"])["callback_url"]
    clock.shift(timedelta(days=3))
    post_ack(client, callback)
    page = client.get(CERTIFICATE, {"code": done.code}).content.decode()
    assert "Waiting for confirmation" not in page
    for identifier in ("13912345678", "person@example.com"):
        assert identifier not in page


# --- The recipient's erasure channel in the admin -----------------------------------------------


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def recipient_form_data(recipient, **changes):
    data = {
        "name": recipient.name,
        "legal_entity": recipient.legal_entity,
        "purpose_en": recipient.purpose_en,
        "purpose_zh": recipient.purpose_zh,
        "scenario_en": "",
        "scenario_zh": "",
        "method": recipient.method,
        "data_fields_en": recipient.data_fields_en,
        "data_fields_zh": recipient.data_fields_zh,
        "link": "",
        "country": recipient.country,
        "data_categories": ["profile"],
        "active_from": "2020-01-01",
        "active_to": "",
        "erasure_channel": "",
        "erasure_webhook_url": "",
        "erasure_webhook_secret": "",
        "privacy_contact": "",
    }
    return {**data, **changes}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"erasure_channel": "webhook", "erasure_webhook_secret": SECRET},
            "erasure_webhook_url",
            "address",
        ),
        (
            {"erasure_channel": "webhook", "erasure_webhook_url": "https://x.example/h"},
            "erasure_webhook_secret",
            "secret",
        ),
        (
            {
                "erasure_channel": "webhook",
                "erasure_webhook_url": "https://x.example/h",
                "erasure_webhook_secret": "short",
            },
            "erasure_webhook_secret",
            "at least",
        ),
        ({"erasure_channel": "email"}, "privacy_contact", "privacy contact"),
    ],
)
def test_an_incomplete_erasure_channel_is_a_form_error(superuser_client, changes, field, message):
    recipient = RecipientFactory(data_categories=["profile"])
    url = reverse("admin:consent_recipient_change", args=[recipient.pk])
    response = superuser_client.post(url, recipient_form_data(recipient, **changes))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors and message in str(errors[field])
    recipient.refresh_from_db()
    assert recipient.erasure_channel == ""


def test_the_webhook_secret_is_never_shown_and_kept_when_left_empty(superuser_client):
    recipient = RecipientFactory(data_categories=["profile"])
    url = reverse("admin:consent_recipient_change", args=[recipient.pk])
    hook = {"erasure_channel": "webhook", "erasure_webhook_url": "https://hook.example/erase"}

    response = superuser_client.post(
        url, recipient_form_data(recipient, erasure_webhook_secret=SECRET, **hook)
    )
    assert response.status_code == 302
    recipient.refresh_from_db()
    assert recipient.erasure_webhook_secret == SECRET

    page = superuser_client.get(url).content.decode()
    assert SECRET not in page and 'type="password"' in page

    response = superuser_client.post(url, recipient_form_data(recipient, **hook))
    assert response.status_code == 302
    recipient.refresh_from_db()
    assert recipient.erasure_webhook_secret == SECRET

    new_secret = "another-long-secret-9876543210"
    superuser_client.post(
        url, recipient_form_data(recipient, erasure_webhook_secret=new_secret, **hook)
    )
    recipient.refresh_from_db()
    assert recipient.erasure_webhook_secret == new_secret
    assert Recipient.objects.filter(erasure_channel="webhook").count() == 1
