"""Choosing the people affected by an incident (SEC-1): named registry queries and uploaded
lists, previewed before anything is written; bad files give form errors, never a 500, and
write nothing."""

from datetime import UTC, date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from incidents import selection
from incidents.models import AffectedPerson
from requests.models import DataSubjectRequest

from .factories import DataSubjectRequestFactory, DpoFactory, IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dpo_client(client):
    client.force_login(DpoFactory())
    return client


def people_url(incident):
    return reverse("admin:incidents_incident_people", args=[incident.pk])


# --- Named registry queries -----------------------------------------------------------------


def test_the_queries_come_from_the_registry_and_are_named():
    keys = {q.key for q in selection.registry_queries()}
    assert "requests.DataSubjectRequest:received_at" in keys
    assert "verification.VerificationDocument:created_at" in keys
    assert "accounts.User:date_joined" in keys
    assert selection.query_by_key("accounts.User:password") is None
    assert selection.query_by_key("1; DROP TABLE accounts_user") is None


def test_a_query_finds_the_active_owners_within_the_dates():
    inside, outside, inactive = UserFactory(), UserFactory(), UserFactory(is_active=True)
    for user, when in (
        (inside, datetime(2026, 3, 10, 20, 0, tzinfo=UTC)),  # 11 March 04:00 in Shanghai
        (outside, datetime(2026, 3, 5, 1, 0, tzinfo=UTC)),
        (inactive, datetime(2026, 3, 11, 1, 0, tzinfo=UTC)),
    ):
        req = DataSubjectRequestFactory(requester=user)
        DataSubjectRequest.objects.filter(pk=req.pk).update(received_at=when)
    DataSubjectRequestFactory(requester=inside)  # a second request counts the person once
    inactive.is_active = False
    inactive.save()
    query = selection.query_by_key("requests.DataSubjectRequest:received_at")
    found = selection.people_matching(query, date(2026, 3, 11), date(2026, 3, 11))
    assert list(found) == [inside]


def test_preview_then_confirm_a_query(dpo_client):
    incident = IncidentFactory()
    users = [UserFactory() for _ in range(3)]
    query = {
        "step": "preview_query",
        "q-query": "accounts.User:date_joined",
        "q-start": "2000-01-01",
        "q-end": "2099-12-31",
    }
    preview = dpo_client.post(people_url(incident), query)
    assert preview.status_code == 200
    count = preview.context["preview"]["count"]
    assert count >= 3
    assert not AffectedPerson.objects.exists()  # a preview writes nothing

    unconfirmed = dpo_client.post(people_url(incident), {**query, "step": "confirm_query"})
    assert unconfirmed.status_code == 200
    assert not AffectedPerson.objects.exists()

    done = dpo_client.post(
        people_url(incident), {**query, "step": "confirm_query", "c-confirm": "on"}
    )
    assert done.status_code == 302
    assert AffectedPerson.objects.filter(incident=incident).count() == count
    assert {u.pk for u in users} <= set(AffectedPerson.objects.values_list("user_id", flat=True))
    assert AffectedPerson.objects.filter(source="query").count() == count


@pytest.mark.parametrize(
    "fields",
    [
        {"q-query": "accounts.User:password", "q-start": "2026-01-01", "q-end": "2026-01-02"},
        {"q-query": "accounts.User:date_joined", "q-start": "2026-02-01", "q-end": "2026-01-01"},
        {"q-query": "accounts.User:date_joined", "q-start": "yesterday", "q-end": "2026-01-01"},
        {"q-query": "accounts.User:date_joined", "q-start": "0001-01-01", "q-end": "9999-12-31"},
        {"q-query": "", "q-start": "", "q-end": ""},
    ],
)
def test_bad_queries_are_form_errors(dpo_client, fields):
    incident = IncidentFactory()
    response = dpo_client.post(people_url(incident), {"step": "preview_query", **fields})
    assert response.status_code == 200
    assert response.context["query_form"].errors
    assert response.context["preview"] is None


# --- Uploaded lists ---------------------------------------------------------------------------


def upload(client, incident, content: bytes, **extra):
    data = {
        "step": "preview_file",
        "f-file": SimpleUploadedFile("people.csv", content, content_type="text/csv"),
        "f-encoding": "utf-8",
        **extra,
    }
    return client.post(people_url(incident), data)


def errors_of(response):
    return " ".join(str(e) for e in response.context["upload_form"].non_field_errors())


def test_a_list_is_previewed_then_added(dpo_client):
    incident = IncidentFactory()
    by_phone = UserFactory(phone="+8613912345678")
    by_email = UserFactory(email="Mixed.Case@Example.com")
    both = UserFactory(phone="+8613912340000", email="both@example.com")
    content = (
        b"phone or e-mail\n"
        b"139 1234 5678\n"
        b"mixed.case@example.com\n"
        b"+86 139-1234-0000\n"
        b"both@example.com\n"
        b"\n"
        b"13800000000\n"  # a valid number of nobody: counted, not created
        b"nobody@example.com\n"
    )
    preview = upload(dpo_client, incident, content)
    assert preview.status_code == 200, errors_of(preview)
    shown = preview.context["preview"]
    assert (shown["count"], shown["unknown"], shown["lines"]) == (3, 2, 6)
    assert not AffectedPerson.objects.exists()
    token = preview.context["confirm_form"].initial["token"]

    done = dpo_client.post(
        people_url(incident), {"step": "confirm_file", "c-token": token, "c-confirm": "on"}
    )
    assert done.status_code == 302
    added = set(AffectedPerson.objects.values_list("user_id", flat=True))
    assert added == {by_phone.pk, by_email.pk, both.pk}
    assert set(AffectedPerson.objects.values_list("source", flat=True)) == {"upload"}
    # The token is used up: sending the confirmation again adds nothing and says so.
    again = dpo_client.post(
        people_url(incident), {"step": "confirm_file", "c-token": token, "c-confirm": "on"}
    )
    assert again.status_code == 302
    assert AffectedPerson.objects.count() == 3


def test_gb18030_lists_are_read_when_chosen(dpo_client):
    incident = IncidentFactory()
    UserFactory(phone="+8613912345678")
    content = "手机号\n13912345678\n".encode("gb18030")
    assert "not valid" in errors_of(upload(dpo_client, incident, content))
    preview = upload(dpo_client, incident, content, **{"f-encoding": "gb18030"})
    assert preview.context["preview"]["count"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),  # Django refuses an empty upload itself
        (b"   \n\n", "empty"),
        (b"\xff\xfe1\x003\x009\x00", "not a text file"),
        (b"13912345678\n\xff\xff\n", "Line 2 is not valid UTF-8"),
        (b"hello\nworld\n12\n", "No line holds"),
        (b"13912345678\nnot-a-phone\n12345\nx@\n", "lines are neither"),
        (b'"unclosed\n13912345678\n', "cannot be read as CSV"),
        (b"call 13912345678 now\n", "No line holds"),
        (b"a" * 200_000, "cannot be read as CSV"),
    ],
    ids=[
        "zero-bytes",
        "blank",
        "binary",
        "bad-utf8",
        "junk-only",
        "junk-rows",
        "quote",
        "text-around-number",
        "huge",
    ],
)
def test_bad_lists_are_form_errors_and_write_nothing(dpo_client, content, message):
    incident = IncidentFactory()
    UserFactory(phone="+8613912345678")
    response = upload(dpo_client, incident, content)
    assert response.status_code == 200
    form = response.context["upload_form"]
    assert form.errors
    assert message in str(form.errors)
    assert response.context["preview"] is None
    assert not AffectedPerson.objects.exists()


def test_junk_lines_are_named_and_may_be_skipped(dpo_client):
    incident = IncidentFactory()
    UserFactory(phone="+8613912345678")
    content = b"13912345678\nnot-a-phone\n\n12345\n"
    refused = upload(dpo_client, incident, content)
    assert "2, 4" in errors_of(refused)
    skipped = upload(dpo_client, incident, content, **{"f-skip_bad_lines": "on"})
    assert skipped.context["preview"]["count"] == 1
    assert skipped.context["preview"]["bad_lines"] == "2, 4"


def test_oversized_and_overlong_lists_are_refused(dpo_client, settings):
    incident = IncidentFactory()
    settings.INCIDENT_UPLOAD_MAX_BYTES = 100
    assert "larger than" in errors_of(upload(dpo_client, incident, b"13912345678\n" * 20))
    settings.INCIDENT_UPLOAD_MAX_BYTES = 10_000
    settings.INCIDENT_UPLOAD_MAX_ROWS = 3
    assert "more than 3 lines" in errors_of(upload(dpo_client, incident, b"13912345678\n" * 4))
    assert not AffectedPerson.objects.exists()


def test_a_confirmation_without_a_preview_is_refused(dpo_client):
    incident = IncidentFactory()
    response = dpo_client.post(
        people_url(incident), {"step": "confirm_file", "c-token": "forged", "c-confirm": "on"}
    )
    assert response.status_code == 302
    assert response["Location"] == people_url(incident)
    assert not AffectedPerson.objects.exists()


def test_a_preview_of_one_incident_cannot_be_added_to_another(dpo_client):
    first, second = IncidentFactory(), IncidentFactory()
    UserFactory(phone="+8613912345678")
    token = upload(dpo_client, first, b"13912345678\n").context["confirm_form"].initial["token"]
    dpo_client.post(
        people_url(second), {"step": "confirm_file", "c-token": token, "c-confirm": "on"}
    )
    assert not AffectedPerson.objects.exists()


def test_adding_is_all_or_nothing(monkeypatch):
    incident = IncidentFactory()
    users = [UserFactory() for _ in range(3)]
    calls = []
    original = selection._insert

    def failing_insert(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database gone")
        return original(*args, **kwargs)

    monkeypatch.setattr(selection, "CHUNK", 2)
    monkeypatch.setattr(selection, "_insert", failing_insert)
    with pytest.raises(RuntimeError):
        selection.add_people(incident, [u.pk for u in users], "query", None)
    assert not AffectedPerson.objects.exists()
