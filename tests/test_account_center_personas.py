"""The account center seen by three personas (DESIGN: every query starts from request.user).

The requester reaches their own pages; another user and a staff member (who is just a user in
the account center) get 404 for objects that are not theirs, never 403 or 500; anonymous visitors
are sent to sign in. Then the requester's own journey: file, reply, read staff answers (never
internal notes), withdraw.
"""

import pytest
from django.urls import reverse

from lib.uploads import CleanFile
from requests import workflow
from requests.models import Attachment, DataSubjectRequest, RequestEvent, RequestMessage

from .factories import DataSubjectRequestFactory, UserFactory
from .uploads import MINIMAL_PDF, png_bytes, png_upload

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


@pytest.fixture
def req_with_file(user):
    """A request of ``user`` with a file sent along with it."""
    return DataSubjectRequestFactory(
        requester=user, files=[CleanFile("scan.png", "image/png", png_bytes())]
    )


def client_for(client, persona, user, other_user, staff):
    who = {"owner": user, "other": other_user, "staff": staff, "anonymous": None}[persona]
    if who is not None:
        client.force_login(who)
    return client


def object_call(client, endpoint, req):
    """Perform one account-center call on ``req``; returns the response."""
    ref = req.reference
    if endpoint == "detail":
        return client.get(reverse("requests:detail", args=[ref]))
    if endpoint == "reply":
        return client.post(reverse("requests:detail", args=[ref]), {"body": "Any news?"})
    if endpoint == "withdraw_get":
        return client.get(reverse("requests:withdraw", args=[ref]))
    if endpoint == "withdraw_post":
        return client.post(reverse("requests:withdraw", args=[ref]))
    if endpoint == "attachment":
        att = req.attachments.get()
        return client.get(reverse("requests:attachment", args=[ref, att.pk]))
    raise AssertionError(endpoint)


OBJECT_ENDPOINTS = ["detail", "reply", "withdraw_get", "withdraw_post", "attachment"]
OWNER_STATUS = {
    "detail": 200,
    "reply": 302,
    "withdraw_get": 200,
    "withdraw_post": 302,
    "attachment": 200,
}


@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS)
@pytest.mark.parametrize("persona", ["owner", "other", "staff", "anonymous"])
def test_object_urls_by_persona(client, user, other_user, staff, req_with_file, persona, endpoint):
    client = client_for(client, persona, user, other_user, staff)
    messages_before = RequestMessage.objects.count()

    response = object_call(client, endpoint, req_with_file)

    req_with_file.refresh_from_db()
    if persona == "owner":
        assert response.status_code == OWNER_STATUS[endpoint]
        if endpoint == "withdraw_post":
            assert req_with_file.state == "withdrawn"
        if endpoint == "reply":
            assert RequestMessage.objects.count() == messages_before + 1
        if endpoint == "attachment":
            assert response["Content-Disposition"].startswith("attachment")
        return
    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(f"{LOGIN}?next=")
    else:
        assert response.status_code == 404
        # A 404 page must not leak the request.
        assert req_with_file.subject not in response.content.decode(errors="replace")
    assert req_with_file.state == "submitted"
    assert RequestMessage.objects.count() == messages_before


@pytest.mark.parametrize(
    "url",
    [
        reverse("requests:list"),
        reverse("requests:new"),
        reverse("accounts:profile"),
        reverse("accounts:center"),
    ],
)
@pytest.mark.parametrize("persona", ["owner", "other", "staff", "anonymous"])
def test_personal_pages_by_persona(client, user, other_user, staff, dsr, persona, url):
    client = client_for(client, persona, user, other_user, staff)
    response = client.get(url)
    if persona == "anonymous":
        assert response.status_code == 302
        assert response.url == f"{LOGIN}?next={url}"
        return
    assert response.status_code == 200
    page = response.content.decode()
    # The pages that list requests list only the viewer's own.
    lists_requests = url in (reverse("requests:list"), reverse("accounts:center"))
    assert (dsr.reference in page) == (persona == "owner" and lists_requests)


def test_unknown_reference_is_404(user_client):
    response = user_client.get(reverse("requests:detail", args=["DSR-2026-999999"]))
    assert response.status_code == 404


def test_attachment_of_another_request_is_404_even_for_the_owner(user_client, user, other_user):
    mine = DataSubjectRequestFactory(requester=user)
    theirs = DataSubjectRequestFactory(
        requester=other_user, files=[CleanFile("x.pdf", "application/pdf", MINIMAL_PDF)]
    )
    att = theirs.attachments.get()
    response = user_client.get(reverse("requests:attachment", args=[mine.reference, att.pk]))
    assert response.status_code == 404


def test_staff_see_only_their_own_requests_in_the_account_center(client, staff, dsr):
    own = DataSubjectRequestFactory(requester=staff)
    client.force_login(staff)

    listing = client.get(reverse("requests:list")).content.decode()

    assert own.reference in listing
    assert dsr.reference not in listing
    assert client.get(reverse("requests:detail", args=[own.reference])).status_code == 200
    assert client.get(reverse("requests:detail", args=[dsr.reference])).status_code == 404


# --- The requester's journey ----------------------------------------------------------------------


def test_requester_files_a_request_with_a_png(user_client, user):
    response = user_client.post(
        reverse("requests:new"),
        {
            "kind": "copy",
            "subject": "Copy of my data",
            "description": "Please send me a copy.",
            "attachments": png_upload("my id.png"),
        },
    )

    req = DataSubjectRequest.objects.get(requester=user)
    assert response.status_code == 302
    assert response.url == reverse("requests:detail", args=[req.reference])
    assert req.kind == "copy" and req.state == "submitted" and req.channel == "web"
    att = req.attachments.get()
    assert att.message is None
    assert att.filename == "my id.png"
    assert att.content_type == "image/png"

    page = user_client.get(response.url).content.decode()
    assert "has been received" in page
    assert "my id.png" in page
    download = user_client.get(reverse("requests:attachment", args=[req.reference, att.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"\x89PNG")


def test_requester_replies_and_sees_public_staff_messages_but_never_internal_notes(
    user_client, user, staff, dsr
):
    public_file = CleanFile("answer.pdf", "application/pdf", MINIMAL_PDF)
    secret_file = CleanFile("fraud-check.pdf", "application/pdf", MINIMAL_PDF)
    workflow.post_message(dsr, staff, "Here is what we found.", files=[public_file])
    workflow.post_message(
        dsr, staff, "Internal: requester looks suspicious.", internal=True, files=[secret_file]
    )
    url = reverse("requests:detail", args=[dsr.reference])

    response = user_client.post(url, {"body": "Thank you, one more question."})
    assert response.status_code == 302

    page = user_client.get(url).content.decode()
    assert "Here is what we found." in page
    assert "answer.pdf" in page
    assert "Thank you, one more question." in page
    assert "requester looks suspicious" not in page
    assert "fraud-check.pdf" not in page
    assert "Internal note" not in page

    public_att = Attachment.objects.get(filename="answer.pdf")
    secret_att = Attachment.objects.get(filename="fraud-check.pdf")
    assert (
        user_client.get(
            reverse("requests:attachment", args=[dsr.reference, public_att.pk])
        ).status_code
        == 200
    )
    assert (
        user_client.get(
            reverse("requests:attachment", args=[dsr.reference, secret_att.pk])
        ).status_code
        == 404
    )
    reply = RequestMessage.objects.get(body="Thank you, one more question.")
    assert reply.author == user and not reply.from_staff and not reply.internal


def test_requester_reply_restarts_a_paused_clock(user_client, staff, dsr):
    workflow.ask_requester(dsr, staff, "Please send a copy of your ID.")
    url = reverse("requests:detail", args=[dsr.reference])
    assert "Please send a copy of your ID." in user_client.get(url).content.decode()

    user_client.post(url, {"body": "Attached.", "attachments": png_upload()})

    dsr.refresh_from_db()
    assert dsr.state == "in_progress"
    assert dsr.paused_at is None


def test_requester_withdraws_after_confirmation(user_client, user, dsr):
    url = reverse("requests:withdraw", args=[dsr.reference])

    confirm = user_client.get(url)
    dsr.refresh_from_db()
    assert confirm.status_code == 200
    assert f"Withdraw request {dsr.reference}?" in confirm.content.decode()
    assert dsr.state == "submitted"  # a GET changes nothing

    response = user_client.post(url, follow=True)

    dsr.refresh_from_db()
    assert dsr.state == "withdrawn"
    assert dsr.closed_at is not None
    assert "Your request has been withdrawn." in response.content.decode()
    assert dsr.events.filter(kind=RequestEvent.Kind.WITHDRAWN, actor=user).exists()


def _completed(dsr, staff):
    workflow.start(dsr, staff)
    return workflow.complete(dsr, staff, "Here is your data.")


def test_withdrawing_a_closed_request_only_shows_a_message(user_client, staff, dsr):
    req = _completed(dsr, staff)
    closed_at = req.closed_at
    url = reverse("requests:withdraw", args=[req.reference])

    confirm = user_client.get(url, follow=True)
    assert "This request is already closed." in confirm.content.decode()

    response = user_client.post(url, follow=True)

    req.refresh_from_db()
    assert response.status_code == 200
    assert "not possible while the request is “Completed”" in response.content.decode()
    assert req.state == "completed"
    assert req.closed_at == closed_at
    assert not req.events.filter(kind=RequestEvent.Kind.WITHDRAWN).exists()


def test_posting_to_a_closed_request_is_refused(user_client, staff, dsr):
    req = _completed(dsr, staff)
    url = reverse("requests:detail", args=[req.reference])

    response = user_client.post(url, {"body": "Wait, one more thing."}, follow=True)

    assert "This request is closed; file a new request instead." in response.content.decode()
    assert not RequestMessage.objects.filter(body="Wait, one more thing.").exists()


def test_list_paginates_only_own_requests(user_client, user):
    others = UserFactory()
    for _ in range(3):
        DataSubjectRequestFactory(requester=others)
    mine = DataSubjectRequestFactory(requester=user)
    response = user_client.get(reverse("requests:list"))
    assert [r.reference for r in response.context["page"].object_list] == [mine.reference]
